"""tracker=mlflow and vcs=mlflow on a plain ``sqlite:///`` MLflow store, read back through
MLflow's own client.

Both components pass their conformance suites. One small study (three trials, one of
which fails) runs once for the module with both; the tests read its runs, metrics and
registry version back with ``MlflowClient``, load the version and update it twice from
the registry, and break MLflow mid-study.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import pickle
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

import hyperplug
from hyperplug import hookimpl
from hyperplug.config import configure
from hyperplug.data import ArraySplit, DataSplits, fingerprint_arrays
from hyperplug.errors import ConfigError, StorageError
from hyperplug.interfaces import VersionMeta
from hyperplug.plugin_manager import PluginManager, get_plugin_manager
from hyperplug.plugins.mlflow.session import Batch
from hyperplug.testing import TrackerConformance, VcsConformance
from hyperplug.tuner import GridTuner

mlflow = pytest.importorskip(
    "mlflow", reason="MLflow is the optional extra [mlflow]: pip install 'hyperplug[mlflow]'"
)

GRID = {"mlp": {"lr": [0.05, 1e30, 0.01]}}  # lr 1e30: the loss turns NaN, the trial fails
BASE = {"mlp": {"epochs": 2, "hidden_layers": [16], "optimizer": "sgd", "momentum": 0.0}}


def build(kind: str, **node: Any) -> Any:
    component, config = configure(kind, node, get_plugin_manager())
    return component.build(config)


def sqlite_uri(path: Path) -> str:
    return f"sqlite:///{path}"


@functools.cache
def empty_store() -> bytes:
    """An empty MLflow sqlite store as MLflow makes it, made once: MLflow builds a new
    store's tables through its 68 schema migrations (MLflow 3.17), about 9 s each time
    on a loaded 2-core machine. The module's study (``written``) starts from no store."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "empty.db"
        mlflow.MlflowClient(sqlite_uri(path)).search_experiments()
        return path.read_bytes()


def store_uri(path: Path) -> str:
    """The URI of an MLflow sqlite store at ``path``: a copy of ``empty_store`` when there
    is none yet. Tests whose subject is a store that does not exist use ``sqlite_uri``."""
    if not path.exists():
        path.write_bytes(empty_store())
    return sqlite_uri(path)


@pytest.fixture(autouse=True, scope="module")
def no_mlflow_environment() -> Any:
    with pytest.MonkeyPatch.context() as mp:
        for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_NAME"):
            mp.delenv(variable, raising=False)
        yield


class TestMlflowTracker(TrackerConformance):
    component = "mlflow"
    invalid_config = {
        "uri": "ftp://mlflow.example.com",
        "experiment": "",
        "tags": {"mlflow.user": "someone"},
    }

    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"path": str(tmp_path / "hp.db"), "uri": store_uri(tmp_path / "mlflow.db")}


class TestMlflowRegistry(VcsConformance):
    component = "mlflow"
    invalid_config = {"uri": "localhost:5000", "registry_uri": "http://", "experiment": ""}

    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"uri": store_uri(tmp_path / "mlflow.db")}


def run_study(root: Path, data: Any, vcs: Any, manager: PluginManager | None = None) -> GridTuner:
    tracker = build(
        "tracker",
        name="mlflow",
        path=str(root / "hp.db"),
        uri=sqlite_uri(root / "mlflow.db"),
        tags={"team": "ci"},
    )
    tuner = GridTuner(
        metadata_tracker=tracker,
        metrics_tracker=tracker,
        resource_version_control=vcs,
        training_params=GRID,
        trainer_configs=BASE,
        model_name="digits",
        plugin_manager=manager,
    )
    try:
        tuner.model = tuner.run_experiment(data)
    finally:
        tracker.close()
    return tuner


@attrs.frozen
class Written:
    tuner: GridTuner
    root: Path

    @property
    def uri(self) -> str:
        return sqlite_uri(self.root / "mlflow.db")

    def client(self) -> Any:
        return mlflow.MlflowClient(self.uri)

    def runs(self) -> dict[str, Any]:
        """hyperplug.role -> the runs of that role (study, trial, model-version)."""
        client = self.client()
        experiment = client.get_experiment_by_name("hyperplug").experiment_id
        found: dict[str, list[Any]] = {}
        for run in client.search_runs([experiment]):
            found.setdefault(run.data.tags["hyperplug.role"], []).append(run)
        return found

    def registry(self) -> Any:
        return build("vcs", name="mlflow", uri=self.uri)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, digits_splits: Any) -> Written:
    root = tmp_path_factory.mktemp("mlflow-study")
    vcs = build("vcs", name="mlflow", uri=sqlite_uri(root / "mlflow.db"))
    return Written(run_study(root, digits_splits, vcs), root)


def test_each_trial_is_a_run_nested_under_the_study_run(written: Written) -> None:
    tracker = build("tracker", name="sqlite", path=str(written.root / "hp.db"))
    study = written.tuner.study
    trials = tracker.list_trials(study.id)
    runs = written.runs()
    [parent] = runs["study"]
    assert parent.info.run_name == study.name and parent.info.status == "FINISHED"
    assert parent.data.tags["hyperplug.perf_metric"] == "val_accuracy"
    by_trial = {int(r.data.tags["hyperplug.trial_id"]): r for r in runs["trial"]}
    assert sorted(by_trial) == [t.id for t in trials]
    client = written.client()
    for trial in trials:
        run = by_trial[trial.id]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.info.run_name == f"{study.name}-trial-{trial.number}"
        assert run.data.tags["team"] == "ci"
        assert run.data.params["lr"] == str(trial.params["lr"])
        assert run.data.params["trainer"] == "mlp"
        assert run.data.params["trainer_config.hidden_layers"] == "[16]"
        # every epoch's values with the epoch as the step: what SQLite holds
        recorded = {(m.epoch, m.name): m.value for m in tracker.get_metrics(trial.id)}
        logged = {
            (point.step, name): point.value
            for name in {name for _, name in recorded}
            for point in client.get_metric_history(run.info.run_id, name)
        }
        assert logged.keys() == recorded.keys()
        for key, value in recorded.items():
            assert logged[key] == pytest.approx(value, nan_ok=True)
        # the final values are MLflow's latest; the best epoch's are best/<metric>
        last = max(epoch for epoch, _ in recorded)
        final = {name: v for (epoch, name), v in recorded.items() if epoch == last}
        assert {k: run.data.metrics[k] for k in final} == pytest.approx(final, nan_ok=True)
        best = {k: v for k, v in trial.metrics.items() if np.isfinite(v)}
        assert {k: run.data.metrics[f"best/{k}"] for k in best} == pytest.approx(best)
        # the status: finished, or failed with its error
        expected = {"completed": "FINISHED", "failed": "FAILED"}[trial.status]
        assert (run.info.status, run.data.tags["hyperplug.status"]) == (expected, trial.status)
        assert ("hyperplug.error" in run.data.tags) == (trial.status == "failed")
    assert [t.status for t in trials] == ["completed", "failed", "completed"]
    tracker.close()


def test_only_the_winner_is_tagged_and_the_study_run_holds_its_result(written: Written) -> None:
    study = written.tuner.study
    runs = written.runs()
    tagged = [r for r in runs["trial"] if r.data.tags.get("hyperplug.winner") == "true"]
    assert [int(r.data.tags["hyperplug.trial_id"]) for r in tagged] == [study.winner_trial_id]
    assert tagged[0].data.tags["hyperplug.model_version"] == "digits:v1"
    [parent] = runs["study"]
    assert parent.data.tags["hyperplug.winner_run_id"] == tagged[0].info.run_id
    assert parent.data.tags["hyperplug.model_version"] == "digits:v1"
    assert parent.data.metrics["best/val_accuracy"] == pytest.approx(
        tagged[0].data.metrics["best/val_accuracy"]
    )
    config = written.client().download_artifacts(parent.info.run_id, "study_config.json")
    assert json.loads(Path(config).read_text()) == study.config  # what SQLite holds


def test_the_winner_is_a_registry_version_with_lineage_tags_and_safetensors(
    written: Written,
) -> None:
    client = written.client()
    [version] = client.search_model_versions("name = 'digits'")
    winner = written.tuner.winner
    assert version.version == 1 and winner.ref == "digits:v1"
    model = client.get_registered_model("digits")
    assert {a: int(v) for a, v in model.aliases.items()} == {"best": 1, "hp-latest": 1, "hp-v1": 1}
    tags = version.tags
    assert tags["hyperplug.study"] == written.tuner.study.name
    assert tags["hyperplug.trial_id"] == str(written.tuner.study.winner_trial_id)
    assert tags["hyperplug.data_fingerprint"] == written.tuner.data.fingerprint
    assert tags["hyperplug.trainer"] == "mlp" and "hyperplug.parent" not in tags
    assert tags["hyperplug.sha256"] == winner.sha256
    assert tags["hyperplug.params"] in ('{"lr": 0.05}', '{"lr": 0.01}')
    # the source run holds the weights, no MLmodel, nothing pickled
    [register] = written.runs()["model-version"]
    assert version.run_id == register.info.run_id
    assert version.source.endswith("/model")
    listed = [a.path for a in client.list_artifacts(register.info.run_id, "model")]
    assert listed == ["model/weights.safetensors"]
    assert register.data.metrics["val_accuracy"] == pytest.approx(
        winner.meta.metrics["val_accuracy"]
    )


def test_best_from_the_registry_predicts_like_the_trained_model(written: Written) -> None:
    restored = hyperplug.load_model("digits:best", vcs=written.registry())
    x = written.tuner.data.test.x
    np.testing.assert_array_equal(restored.predict(x), written.tuner.model.predict(x))


def half(data: DataSplits, part: int) -> DataSplits:
    """Every other row of each split: two chunks of new data with the same classes."""
    parts = [ArraySplit(s.x[part::2], s.y[part::2]) for s in (data.train, data.val, data.test)]
    fingerprint = fingerprint_arrays(*(a for p in parts for a in (p.x, p.y)))
    return DataSplits(*parts, classes=data.classes, fingerprint=fingerprint)


def test_updates_are_registry_versions_whose_lineage_names_the_parent(
    written: Written, tmp_path: Path
) -> None:
    """An update from ``digits:best`` in the registry, then an update of that update: each
    reads its parent's weights and update state back from MLflow."""
    registry = written.registry()
    data = written.tuner.data
    common = {"vcs": registry, "home": tmp_path, "updater": "er", "trainer": {"threads": 1}}
    second = hyperplug.update(half(data, 0), model="digits:best", **common).winner
    third = hyperplug.update(half(data, 1), model="digits:v2", **common).winner
    assert (second.ref, second.meta.parent, second.meta.updater) == ("digits:v2", "digits:v1", "er")
    assert (third.ref, third.meta.parent) == ("digits:v3", "digits:v2")
    client = written.client()
    for version, parent in ((2, "digits:v1"), (3, "digits:v2")):
        tags = client.get_model_version("digits", str(version)).tags
        assert (tags["hyperplug.parent"], tags["hyperplug.updater"]) == (parent, "er")
        assert '"index"' in tags["hyperplug.update"]
    arrays, loaded = registry.load("digits:v2")
    assert loaded == registry.get("digits:v2")
    assert attrs.evolve(loaded, aliases=()) == attrs.evolve(second, aliases=())  # aliases moved
    assert any(key.startswith("__update__/updater/") for key in arrays)  # the ER buffer
    assert int(client.get_model_version_by_alias("digits", "hp-latest").version) == 3


class BreakMlflowStore:
    """An observer that, after the first trial, overwrites MLflow's database with junk."""

    def __init__(self, database: Path) -> None:
        self.database = database

    @hookimpl
    def on_trial_end(self, study: Any, trial: Any) -> None:
        if trial.number == 0:
            with open(self.database, "r+b") as file:
                file.write(b"\0junk" * 20000)


def test_a_failing_mlflow_is_reported_once_and_the_study_goes_on(
    tmp_path: Path, digits_splits: Any, caplog: pytest.LogCaptureFixture
) -> None:
    manager = PluginManager()
    manager.load_entry_points()
    manager.register(BreakMlflowStore(tmp_path / "mlflow.db"), name="break-mlflow")
    store = build("vcs", name="store", root=str(tmp_path / "models"))
    store_uri(tmp_path / "mlflow.db")
    with caplog.at_level(logging.WARNING):
        tuner = run_study(tmp_path, digits_splits, store, manager)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in warnings] == ["hyperplug.plugins.mlflow.tracker"], warnings
    message = warnings[0].getMessage()
    assert message.startswith("MLflow tracker mirror failed, it records nothing more")
    assert str(tmp_path / "hp.db") in message
    tracker = build("tracker", name="sqlite", path=str(tmp_path / "hp.db"))
    trials = tracker.list_trials(tuner.study.id)
    assert [t.status for t in trials] == ["completed", "failed", "completed"]
    assert all(tracker.get_metrics(t.id) for t in trials)
    assert tracker.get_study(tuner.study.name).winner_version == "digits:v1"
    tracker.close()


@pytest.mark.parametrize(
    ("kind", "node", "message"),
    [
        ("tracker", {"uri": "ftp://host"}, r"tracker\.uri 'ftp://host' is not an MLflow tracking"),
        ("tracker", {"uri": "sqlite://"}, r"tracker\.uri .* names no database file"),
        ("tracker", {"tags": {"a=b": "x"}}, r"tracker\.tags: 'a=b' is not a tag key"),
        ("vcs", {"uri": "http:///nohost"}, r"vcs\.uri 'http:///nohost' .* names no host"),
        ("vcs", {"experiment": "x" * 501}, r"vcs\.experiment .* \(1 to 500 characters\)"),
    ],
)
def test_bad_config_is_refused_before_anything_is_written(
    tmp_path: Path, kind: str, node: dict[str, Any], message: str
) -> None:
    where = {"path": str(tmp_path / "x.db")} if kind == "tracker" else {}
    with pytest.raises(ConfigError, match=message):
        build(kind, name="mlflow", **where, **node)
    assert not list(tmp_path.iterdir())


def test_an_mlflow_uri_from_the_environment_is_checked_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "mlruns")
    with pytest.raises(ConfigError, match=r"tracker\.uri is null and MLFLOW_TRACKING_URI='mlruns'"):
        build("tracker", name="mlflow", path=str(tmp_path / "x.db"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", sqlite_uri(tmp_path / "env.db"))
    registry = build("vcs", name="mlflow")
    assert registry.uri == registry.registry_uri == sqlite_uri(tmp_path / "env.db")
    assert registry.list_versions() == [] and not list(
        tmp_path.iterdir()
    )  # reading creates nothing


def test_aliases_mlflow_refuses_are_refused_in_one_line(tmp_path: Path) -> None:
    registry = build("vcs", name="mlflow", uri=store_uri(tmp_path / "m.db"))
    weights = {"w": np.zeros(2, dtype=np.float32)}
    meta = VersionMeta(trainer="mlp", trainer_config={"name": "mlp"})
    for alias in ("prod.1", "hp-v3", "hp-latest"):
        with pytest.raises(ConfigError, match=f"alias '{alias}' is invalid in the MLflow registry"):
            registry.save("m", weights, meta, aliases=("latest", alias))
    assert registry.list_versions() == []


def mlflow_tracker(root: Path) -> Any:
    return build("tracker", name="mlflow", path=str(root / "hp.db"), uri=store_uri(root / "m.db"))


def runs_by_role(root: Path) -> dict[str, list[Any]]:
    client = mlflow.MlflowClient(sqlite_uri(root / "m.db"))
    experiment = client.get_experiment_by_name("hyperplug").experiment_id
    found: dict[str, list[Any]] = {}
    for run in client.search_runs([experiment]):
        found.setdefault(run.data.tags["hyperplug.role"], []).append(run)
    return found


def test_a_rerun_that_retries_a_trial_writes_to_its_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A second process resumes the study and retries the failed trial under its id: the
    study's run and the trial's run are found again by their tags, not made twice."""
    first = mlflow_tracker(tmp_path)
    study = first.start_study("retried", "val_loss", "min", {"lr": 0.1})
    trial = first.start_trial(study.id, "mlp", {"lr": 0.1}, {"name": "mlp", "lr": 0.1})
    first.log_metrics(trial.id, 1, {"val_loss": 1.0})
    first.end_trial(trial.id, "failed", "OSError: [Errno 28] No space left on device")
    stopped = first.start_trial(study.id, "mlp", {"lr": 0.2}, {"name": "mlp", "lr": 0.2})
    first.end_trial(stopped.id, "stopped")  # early-stopped by the optimizer
    first.close()
    statuses = {
        r.data.tags["hyperplug.trial_id"]: r.info.status for r in runs_by_role(tmp_path)["trial"]
    }
    assert statuses == {str(trial.id): "FAILED", str(stopped.id): "KILLED"}
    rerun = mlflow_tracker(tmp_path)
    with caplog.at_level(logging.WARNING):
        study = rerun.start_study("retried", "val_loss", "min", {"lr": 0.1})
        rerun.reopen_trial(trial.id)
        rerun.log_metrics(trial.id, 2, {"val_loss": 0.5})
        rerun.end_trial(trial.id, "completed")
        rerun.end_study(study.id, "completed", trial.id, "model:v1")
        rerun.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    runs = runs_by_role(tmp_path)
    [parent] = runs["study"]
    [retried] = [r for r in runs["trial"] if r.data.tags["hyperplug.trial_id"] == str(trial.id)]
    assert len(runs["trial"]) == 2  # the retried trial's run was found again, not made anew
    assert (retried.info.status, retried.data.tags["hyperplug.status"]) == ("FINISHED", "completed")
    assert retried.data.tags["hyperplug.winner"] == "true"
    client = mlflow.MlflowClient(sqlite_uri(tmp_path / "m.db"))
    history = client.get_metric_history(retried.info.run_id, "val_loss")
    assert [(p.step, p.value) for p in history] == [(1, 1.0), (2, 0.5)]
    assert retried.data.metrics["best/val_loss"] == 0.5
    assert parent.info.status == "FINISHED" and parent.data.tags["hyperplug.status"] == "completed"


def test_a_trial_retried_after_mlflow_was_added_gets_its_run(tmp_path: Path) -> None:
    """The study began under tracker=sqlite (same database); its rerun under
    tracker=mlflow retries the failed trial: MLflow had no run for it, so one is made."""
    plain = build("tracker", name="sqlite", path=str(tmp_path / "hp.db"))
    study = plain.start_study("late", "val_loss", "min", {})
    trial = plain.start_trial(study.id, "mlp", {"lr": 0.1}, {"name": "mlp", "lr": 0.1})
    plain.end_trial(trial.id, "failed", "RuntimeError: out of memory")
    plain.close()
    tracker = mlflow_tracker(tmp_path)
    tracker.start_study("late", "val_loss", "min", {})
    tracker.reopen_trial(trial.id)
    tracker.log_metrics(trial.id, 1, {"val_loss": 0.5})
    tracker.end_trial(trial.id, "completed")
    tracker.close()
    [run] = runs_by_role(tmp_path)["trial"]
    assert run.data.tags["hyperplug.trial_id"] == str(trial.id)
    assert (run.info.status, run.data.params["lr"], run.data.metrics["val_loss"]) == (
        "FINISHED",
        "0.1",
        0.5,
    )


def test_jobs_that_start_one_study_at_once_share_its_run(tmp_path: Path) -> None:
    """Two processes of a sweep start the same study at the same moment: whichever way
    their searches and creations interleave, one study run remains, holding both trials
    (here both usually miss each other's run and create one: 3 runs in 5 deleted one)."""
    trackers = [mlflow_tracker(tmp_path) for _ in range(2)]
    study = trackers[0].start_study("swept", "val_loss", "min", {})
    barrier = threading.Barrier(2)

    def job(tracker: Any) -> None:
        barrier.wait()
        record = tracker.start_study("swept", "val_loss", "min", {})
        trial = tracker.start_trial(record.id, "mlp", {}, {"name": "mlp"})
        tracker.end_trial(trial.id, "completed")
        tracker.close()

    threads = [threading.Thread(target=job, args=(t,)) for t in trackers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    runs = runs_by_role(tmp_path)
    [parent] = runs["study"]
    assert parent.data.tags["hyperplug.study"] == study.name
    assert len(runs["trial"]) == 2
    assert {r.data.tags["mlflow.parentRunId"] for r in runs["trial"]} == {parent.info.run_id}


def test_a_batch_goes_out_within_mlflows_limits_and_in_order() -> None:
    batch = Batch(params=list(range(250)), metrics=list(range(2000)), tags=list(range(50)))
    sent = []
    while not batch.empty():
        sent.append(batch.take())
    assert [(len(s["params"]), len(s["tags"]), len(s["metrics"])) for s in sent] == [
        (100, 50, 850),
        (100, 0, 900),
        (50, 0, 250),
    ]
    for kind, total in (("params", 250), ("metrics", 2000), ("tags", 50)):
        assert [x for s in sent for x in s[kind]] == list(range(total))


def test_once_the_thread_catches_up_every_trials_epoch_is_live(tmp_path: Path) -> None:
    """Two trials log an epoch while the MLflow thread is held up (as by a slow server):
    their writes wait, and once the thread has caught up both trials' epochs are in
    MLflow while the trials still run, not only the one whose write came last."""
    tracker = mlflow_tracker(tmp_path)
    study = tracker.start_study("live", "val_loss", "min", {})
    [mirror] = tracker.mirrors
    gate = threading.Event()
    mirror.submit(gate.wait)  # the thread is busy until the gate opens
    trials = [tracker.start_trial(study.id, "mlp", {"lr": lr}, {"name": "mlp"}) for lr in (1, 2)]
    for trial in trials:
        tracker.log_metrics(trial.id, 1, {"val_loss": float(trial.id)})
    gate.set()
    client = mlflow.MlflowClient(sqlite_uri(tmp_path / "m.db"))
    experiment = None
    live: dict[str, list[Any]] = {}
    runs: list[Any] = []
    deadline = time.monotonic() + 30
    while len(live) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
        experiment = experiment or client.get_experiment_by_name("hyperplug")
        if experiment is None:
            continue
        runs = client.search_runs([experiment.experiment_id], "tags.`hyperplug.role` = 'trial'")
        live = {
            r.data.tags["hyperplug.trial_id"]: [
                (p.step, p.value) for p in client.get_metric_history(r.info.run_id, "val_loss")
            ]
            for r in runs
            if "val_loss" in r.data.metrics
        }
    assert live == {str(t.id): [(1, float(t.id))] for t in trials}
    assert all(r.info.status == "RUNNING" for r in runs)
    for trial in trials:
        tracker.end_trial(trial.id, "completed")
    tracker.close()


class Planted:
    """Unpickling this writes ``marker``: a pickle payload planted in place of weights."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "unpickled"))


def test_weights_swapped_in_the_artifact_store_are_refused_never_unpickled(
    tmp_path: Path,
) -> None:
    """A pickle written over a version's safetensors artifact fails its sha256 check; with
    the sha256 tag rewritten to match it, it fails to parse as safetensors: neither load
    runs it."""
    uri = store_uri(tmp_path / "m.db")
    registry = build("vcs", name="mlflow", uri=uri)
    meta = VersionMeta(trainer="mlp", trainer_config={"name": "mlp"})
    registry.save("m", {"w": np.arange(4, dtype=np.float32)}, meta)
    [artifact] = (tmp_path / "mlartifacts").rglob("weights.safetensors")
    marker = tmp_path / "marker"
    payload = pickle.dumps(Planted(marker))
    artifact.write_bytes(payload)
    with pytest.raises(StorageError, match=r"'m:v1' do not match their sha256"):
        registry.load("m:v1")
    sha256 = hashlib.sha256(payload).hexdigest()
    mlflow.MlflowClient(uri).set_model_version_tag("m", "1", "hyperplug.sha256", sha256)
    with pytest.raises(StorageError, match=r"cannot parse weights of model version 'm:v1'"):
        registry.load("m:v1")
    assert not marker.exists()
