"""The SQLite tracker against real database files, including several writing processes."""

from __future__ import annotations

import math
import multiprocessing
import re
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from hyperplug.errors import ConfigError, NotFoundError, StorageError
from hyperplug.interfaces import MetadataTracker, MetricsTracker, StudyRecord, TrialRecord
from hyperplug.plugins.sqlite import SQLiteTracker, SQLiteTrackerConfig, register_trackers
from hyperplug.plugins.sqlite.tracker import SCHEMA_VERSION


def make(path: Path, timeout_s: float = 30.0) -> SQLiteTracker:
    return SQLiteTracker(SQLiteTrackerConfig(path=str(path), timeout_s=timeout_s))


@pytest.fixture
def tracker(tmp_path):
    tracker = make(tmp_path / "db" / "hp.db")
    yield tracker
    tracker.close()


def test_component_is_registered():
    (component,) = register_trackers()
    assert (component.kind, component.name) == ("tracker", "sqlite")
    built = component.build(SQLiteTrackerConfig(path=":memory:"))
    assert isinstance(built, MetadataTracker)
    assert isinstance(built, MetricsTracker)


def test_the_first_write_creates_directory_and_versioned_wal_schema(tmp_path):
    path = tmp_path / "a" / "b" / "hp.db"
    tracker = make(path)
    # reading creates nothing: a refused command leaves no empty database behind
    assert tracker.list_studies() == []
    with pytest.raises(NotFoundError):
        tracker.get_study("s")
    assert not (tmp_path / "a").exists()
    tracker.start_study("s", "acc", "max", {})
    tracker.close()
    assert path.is_file()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_round_trip_survives_reopening(tmp_path):
    path = tmp_path / "hp.db"
    tracker = make(path)
    study = tracker.start_study("digits", "val_accuracy", "max", {"seed": 1, "grid": [1, 2]})
    assert isinstance(study, StudyRecord)
    assert (study.name, study.perf_metric, study.mode, study.status) == (
        "digits",
        "val_accuracy",
        "max",
        "running",
    )
    assert study.config == {"seed": 1, "grid": [1, 2]}

    first = tracker.start_trial(study.id, "mlp", {"lr": 0.1}, {"name": "mlp", "lr": 0.1})
    second = tracker.start_trial(study.id, "mlp", {"lr": 0.01}, {"name": "mlp", "lr": 0.01})
    assert isinstance(first, TrialRecord)
    assert (first.number, second.number) == (0, 1)
    assert (first.status, first.metrics, first.ended_at) == ("running", {}, None)

    tracker.log_metrics(first.id, 0, {"val_loss": 1.0, "val_accuracy": 0.5})
    tracker.log_metrics(first.id, 1, {"val_loss": 0.5, "val_accuracy": 0.75})
    ended = tracker.end_trial(first.id, "completed")
    assert ended.status == "completed"
    assert ended.ended_at >= ended.started_at
    assert ended.metrics == {"val_loss": 0.5, "val_accuracy": 0.75}
    failed = tracker.end_trial(second.id, "failed", error="ValueError: boom")
    assert failed.error == "ValueError: boom"

    final = tracker.end_study(
        study.id, "completed", winner_trial_id=first.id, winner_version="m:v1"
    )
    assert (final.status, final.winner_trial_id, final.winner_version) == (
        "completed",
        first.id,
        "m:v1",
    )
    tracker.close()

    reopened = make(path)
    assert reopened.get_study("digits") == final
    assert reopened.list_studies() == [final]
    trials = reopened.list_trials(study.id)
    assert [t.number for t in trials] == [0, 1]
    assert trials[0] == ended
    assert trials[0].params == {"lr": 0.1}
    assert trials[0].trainer_config == {"name": "mlp", "lr": 0.1}
    records = reopened.get_metrics(first.id)
    assert [(r.epoch, r.name, r.value) for r in records] == [
        (0, "val_accuracy", 0.5),
        (0, "val_loss", 1.0),
        (1, "val_accuracy", 0.75),
        (1, "val_loss", 0.5),
    ]
    assert reopened.check_integrity()
    reopened.close()


def test_metrics_are_last_reported_even_when_epochs_are_sparse(tracker):
    study = tracker.start_study("s", "val_loss", "min", {})
    trial = tracker.start_trial(study.id, "mlp", {}, {})
    tracker.log_metrics(trial.id, 0, {"val_loss": 3.0, "train_loss": 4.0})
    tracker.log_metrics(trial.id, 1, {"val_loss": 2.0})
    tracker.log_metrics(trial.id, 1, {"val_loss": 1.5})  # the same epoch again replaces it
    assert tracker.list_trials(study.id)[0].metrics == {"val_loss": 1.5, "train_loss": 4.0}


@pytest.mark.parametrize(("mode", "best"), [("max", 0.9), ("min", 0.6)])
def test_trial_metrics_are_those_of_its_best_epoch(tracker, mode, best):
    study = tracker.start_study("s", "val_accuracy", mode, {})
    trial = tracker.start_trial(study.id, "mlp", {}, {})
    for epoch, (accuracy, loss) in enumerate([(0.7, 3.0), (0.9, 2.0), (0.6, 2.5), (0.9, 1.0)]):
        tracker.log_metrics(trial.id, epoch, {"val_accuracy": accuracy, "val_loss": loss})
    tracker.log_metrics(trial.id, 4, {"test_accuracy": 0.8})
    expected_loss = {"max": 2.0, "min": 2.5}[mode]  # the first of equal best epochs
    assert tracker.end_trial(trial.id, "completed").metrics == {
        "val_accuracy": best,
        "val_loss": expected_loss,
        "test_accuracy": 0.8,
    }


def test_resume_returns_the_same_study_and_keeps_numbering(tmp_path):
    path = tmp_path / "hp.db"
    first = make(path)
    study = first.start_study("s", "val_accuracy", "max", {"run": 1})
    first.start_trial(study.id, "mlp", {}, {})
    first.end_study(study.id, "completed", winner_version="m:v1")
    first.close()

    second = make(path)
    resumed = second.start_study("s", "val_accuracy", "max", {"run": 2})
    assert resumed.id == study.id
    assert resumed.config == {"run": 1}
    assert second.start_trial(resumed.id, "mlp", {}, {}).number == 1
    # ending without a winner keeps the winner recorded before
    assert second.end_study(resumed.id, "failed").winner_version == "m:v1"
    second.close()


@pytest.mark.parametrize(
    ("perf_metric", "mode", "key"),
    [("val_loss", "max", "perf_metric"), ("val_accuracy", "min", "mode")],
)
def test_resume_with_other_objective_is_refused(tracker, perf_metric, mode, key):
    tracker.start_study("digits", "val_accuracy", "max", {})
    with pytest.raises(ConfigError, match=rf"study 'digits' exists with {key}="):
        tracker.start_study("digits", perf_metric, mode, {})


def test_unknown_names_and_ids(tracker):
    tracker.start_study("digits_grid", "val_accuracy", "max", {})
    with pytest.raises(NotFoundError, match=r"study 'digits_gird' not found \(did you mean"):
        tracker.get_study("digits_gird")
    with pytest.raises(NotFoundError, match="study id 99 not found"):
        tracker.start_trial(99, "mlp", {}, {})
    with pytest.raises(NotFoundError, match="study id 99 not found"):
        tracker.list_trials(99)
    with pytest.raises(NotFoundError, match="trial id 7 not found"):
        tracker.log_metrics(7, 0, {"loss": 1.0})
    with pytest.raises(NotFoundError, match="trial id 7 not found"):
        tracker.get_metrics(7)
    with pytest.raises(NotFoundError, match="trial id 7 not found"):
        tracker.end_trial(7, "completed")


def test_winner_must_belong_to_the_study(tracker):
    one = tracker.start_study("one", "acc", "max", {})
    two = tracker.start_study("two", "acc", "max", {})
    trial = tracker.start_trial(one.id, "mlp", {}, {})
    with pytest.raises(NotFoundError, match=f"winner trial id {trial.id} is not a trial"):
        tracker.end_study(two.id, "completed", winner_trial_id=trial.id)


def test_statuses_and_modes_are_validated(tracker):
    with pytest.raises(ConfigError, match="mode of study 's' must be 'max' or 'min'"):
        tracker.start_study("s", "acc", "maximize", {})
    study = tracker.start_study("s", "acc", "max", {})
    trial = tracker.start_trial(study.id, "mlp", {}, {})
    with pytest.raises(ConfigError, match="must be one of completed, stopped, failed"):
        tracker.end_trial(trial.id, "done")
    with pytest.raises(ConfigError, match="must be one of"):
        tracker.end_study(study.id, "running")
    assert tracker.end_trial(trial.id, "stopped").status == "stopped"


def test_nan_inf_and_numpy_values(tracker):
    study = tracker.start_study("s", "acc", "max", {"lr": np.float32(0.5)})
    assert study.config == {"lr": 0.5}
    trial = tracker.start_trial(study.id, "mlp", {"width": np.int64(8)}, {"w": np.arange(2)})
    assert tracker.list_trials(study.id)[0].params == {"width": 8}
    assert tracker.list_trials(study.id)[0].trainer_config == {"w": [0, 1]}
    tracker.log_metrics(
        trial.id, np.int64(0), {"loss": float("nan"), "grad": math.inf, "acc": np.float32(0.25)}
    )
    values = {r.name: r.value for r in tracker.get_metrics(trial.id)}
    assert math.isnan(values["loss"])
    assert values["grad"] == math.inf
    assert values["acc"] == 0.25
    assert math.isnan(tracker.end_trial(trial.id, "completed").metrics["loss"])


def test_omegaconf_containers_are_stored_as_plain_json(tracker):
    config = OmegaConf.create({"trainer": {"name": "mlp", "widths": [8, 16]}})
    study = tracker.start_study("s", "acc", "max", config)
    assert study.config == {"trainer": {"name": "mlp", "widths": [8, 16]}}
    trial = tracker.start_trial(study.id, "mlp", config.trainer, config.trainer)
    assert trial.params == {"name": "mlp", "widths": [8, 16]}


def test_non_numeric_metric_is_refused_and_nothing_is_written(tracker):
    study = tracker.start_study("s", "acc", "max", {})
    trial = tracker.start_trial(study.id, "mlp", {}, {})
    with pytest.raises(ConfigError, match="metric 'acc' must be a real number"):
        tracker.log_metrics(trial.id, 0, {"loss": 1.0, "acc": "0.5"})
    with pytest.raises(ConfigError, match="metric 'ok' must be a real number"):
        tracker.log_metrics(trial.id, 0, {"ok": True})
    with pytest.raises(ConfigError, match="epoch of trial id"):
        tracker.log_metrics(trial.id, 1.5, {"loss": 1.0})
    assert tracker.get_metrics(trial.id) == []


def test_non_json_params_are_refused(tracker):
    study = tracker.start_study("s", "acc", "max", {})
    with pytest.raises(ConfigError, match=r"params of a trial of study id .* not JSON"):
        tracker.start_trial(study.id, "mlp", {"fn": object()}, {})
    assert tracker.list_trials(study.id) == []


def test_path_under_a_file_is_a_storage_error(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match=re.escape(f"'{blocker / 'sub' / 'hp.db'}'")):
        make(blocker / "sub" / "hp.db")


def test_directory_or_foreign_file_is_a_storage_error(tmp_path):
    with pytest.raises(StorageError, match=re.escape(f"cannot open tracker database '{tmp_path}'")):
        make(tmp_path)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is no database" * 100)
    with pytest.raises(StorageError, match=re.escape(str(junk))):
        make(junk)


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "hp.db"
    make(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StorageError, match="upgrade hyperplug"):
        make(path)


def test_integrity_check_detects_a_damaged_file(tmp_path):
    path = tmp_path / "hp.db"
    tracker = make(path)
    assert tracker.check_integrity()
    study = tracker.start_study("s", "acc", "max", {})
    for _ in range(50):
        trial = tracker.start_trial(study.id, "mlp", {"pad": "x" * 200}, {})
        tracker.log_metrics(trial.id, 0, {"acc": 0.5})
    tracker.close()  # the last connection checkpoints the WAL into the file
    assert not (tmp_path / "hp.db-wal").exists()

    # Claim 65535 cells in the header of the last page, a leaf of the trials table.
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    last_page = len(data) - page_size
    assert data[last_page] == 0x0D  # a table leaf page
    data[last_page + 3 : last_page + 5] = b"\xff\xff"
    path.write_bytes(bytes(data))
    damaged = path.read_bytes()
    # refused when opened, before anything is written; the error says how to go on
    with pytest.raises(StorageError) as error:
        make(path)
    message = str(error.value)
    assert f"tracker database '{path}' is damaged" in message and "\n" not in message
    assert ".recover" in message and "tracker.path" in message  # no backup yet
    assert path.read_bytes() == damaged


def test_a_damaged_file_is_left_as_it_is_and_its_backup_restores_it(tmp_path):
    path = tmp_path / "hp.db"
    tracker = make(path)
    study = tracker.start_study("kept", "acc", "max", {})
    tracker.end_study(study.id, "completed")  # the backup is made here
    tracker.close()
    backup = tmp_path / "hp.db.backup"
    assert [s.name for s in make(backup).list_studies()] == ["kept"]

    data = bytearray(path.read_bytes())
    data[100:] = b"\xee" * (len(data) - 100)  # every page after the header: garbage
    path.write_bytes(bytes(data))
    with pytest.raises(StorageError, match="is damaged"):
        make(path).start_study("fresh", "acc", "max", {})
    assert path.read_bytes() == bytes(data)
    path.write_bytes(backup.read_bytes())
    assert [s.name for s in make(path).list_studies()] == ["kept"]


def _write_trials(path: str, process: int, n: int) -> None:
    tracker = make(Path(path), timeout_s=60)
    study = tracker.start_study("shared", "acc", "max", {"from": process})
    for i in range(n):
        trial = tracker.start_trial(study.id, "mlp", {"process": process, "i": i}, {})
        tracker.log_metrics(trial.id, 0, {"acc": i / n})
        tracker.end_trial(trial.id, "completed")
    tracker.close()


def _run_processes(context: str, target, args_list) -> None:
    ctx = multiprocessing.get_context(context)
    processes = [ctx.Process(target=target, args=args) for args in args_list]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0] * len(processes)


def test_processes_create_the_database_and_write_concurrently(tmp_path):
    """Four fresh processes race to create the file, the study and 20 trials each."""
    path = tmp_path / "new" / "hp.db"
    _run_processes("spawn", _write_trials, [(str(path), p, 20) for p in range(4)])

    tracker = make(path)
    (study,) = tracker.list_studies()
    trials = tracker.list_trials(study.id)
    assert sorted(t.number for t in trials) == list(range(80))
    assert sorted((t.params["process"], t.params["i"]) for t in trials) == [
        (p, i) for p in range(4) for i in range(20)
    ]
    assert all(t.status == "completed" and "acc" in t.metrics for t in trials)
    assert tracker.check_integrity()
    tracker.close()


def _use_inherited(tracker: SQLiteTracker, study_id: int, process: int) -> None:
    for i in range(10):
        trial = tracker.start_trial(study_id, "mlp", {"process": process, "i": i}, {})
        tracker.log_metrics(trial.id, i, {"acc": 1.0})


def test_forked_children_reconnect(tracker):
    study = tracker.start_study("s", "acc", "max", {})
    tracker.start_trial(study.id, "mlp", {}, {})  # the parent's connection is open and used
    _run_processes("fork", _use_inherited, [(tracker, study.id, p) for p in range(3)])
    assert sorted(t.number for t in tracker.list_trials(study.id)) == list(range(31))
    assert tracker.check_integrity()


def test_threads_share_one_tracker(tracker):
    study = tracker.start_study("s", "acc", "max", {})
    threads = [
        threading.Thread(target=_use_inherited, args=(tracker, study.id, t)) for t in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(t.number for t in tracker.list_trials(study.id)) == list(range(40))
