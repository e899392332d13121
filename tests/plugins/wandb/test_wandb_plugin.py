"""tracker=wandb and vcs=wandb, run offline, checked by reading back W&B's own run files.

One small study (three trials, one of which fails) runs once for the module; the tests
read what it wrote: the SQLite record, the offline runs' config/history/summary/tags/exit
code, and the model artifact's manifest and metadata.
"""

from __future__ import annotations

import hashlib
import http.server
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

from hyperplug import hookimpl
from hyperplug.config import configure
from hyperplug.errors import ConfigError
from hyperplug.netprobe import server_problem
from hyperplug.plugin_manager import PluginManager, get_plugin_manager
from hyperplug.plugins.wandb.configs import resolve_mode
from hyperplug.plugins.wandb.offline import OfflineRun, read_run, run_dirs
from hyperplug.plugins.wandb.session import decide_mode
from hyperplug.tuner import GridTuner

GRID = {"mlp": {"lr": [0.05, 1e30, 0.01]}}  # lr 1e30: the loss turns NaN, the trial fails
BASE = {"mlp": {"epochs": 2, "hidden_layers": [16], "optimizer": "sgd", "momentum": 0.0}}


def build(kind: str, **node: Any) -> Any:
    component, config = configure(kind, node, get_plugin_manager())
    return component.build(config)


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """W&B offline and silent, every file it writes under a temporary directory."""
    home = tmp_path_factory.mktemp("wandb-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WANDB_MODE", "offline")
        mp.setenv("WANDB_SILENT", "true")
        mp.delenv("WANDB_API_KEY", raising=False)
        for var in ("WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR"):
            mp.setenv(var, str(home / var.lower()))
        yield home


def run_tuner(root: Path, digits_splits: Any, manager: PluginManager | None = None) -> GridTuner:
    tracker = build(
        "tracker", name="wandb", path=str(root / "hp.db"), dir=str(root / "wb"), tags=["ci"]
    )
    vcs = build("vcs", name="wandb", dir=str(root / "wb"), root=str(root / "models"))
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
        tuner.model = tuner.run_experiment(digits_splits)
    finally:
        tracker.close()
    return tuner


@attrs.frozen
class Written:
    tuner: GridTuner
    root: Path
    runs: list[OfflineRun]

    def trial_runs(self) -> dict[int, OfflineRun]:
        """Trial id -> the run, folding a reopened run into its first part."""
        found: dict[int, OfflineRun] = {}
        for run in self.runs:
            if run.job_type == "trial" or run.config.get("hyperplug"):
                found.setdefault(run.config["hyperplug"]["trial_id"], run)
        return found


@pytest.fixture(scope="module")
def written(offline: Path, tmp_path_factory: pytest.TempPathFactory, digits_splits: Any) -> Written:
    root = tmp_path_factory.mktemp("study")
    tuner = run_tuner(root, digits_splits)
    return Written(tuner, root, [read_run(d) for d in run_dirs(root / "wb")])


def test_sqlite_keeps_the_whole_record_and_answers_queries(written: Written) -> None:
    tracker = build("tracker", name="sqlite", path=str(written.root / "hp.db"))
    study = tracker.get_study(written.tuner.study.name)
    trials = tracker.list_trials(study.id)
    assert [t.status for t in trials] == ["completed", "failed", "completed"]
    assert study.winner_version == "digits:v1"
    assert all(tracker.get_metrics(t.id) for t in trials)
    tracker.close()


def test_each_trial_is_a_run_of_the_study_group(written: Written) -> None:
    tracker = build("tracker", name="sqlite", path=str(written.root / "hp.db"))
    trials = tracker.list_trials(written.tuner.study.id)
    runs = written.trial_runs()
    assert sorted(runs) == [t.id for t in trials]
    for trial in trials:
        run = runs[trial.id]
        assert run.group == written.tuner.study.name
        assert run.job_type == "trial"
        assert run.project == "hyperplug"
        assert run.config["lr"] == trial.params["lr"]
        assert run.config["trainer"] == "mlp"
        assert run.config["trainer_config"]["hidden_layers"] == [16]
        # history: one row per epoch, step = epoch, the values SQLite holds
        recorded = {(m.epoch, m.name): m.value for m in tracker.get_metrics(trial.id)}
        logged = {
            (row["epoch"], name): value
            for row in run.history
            for name, value in row.items()
            if not name.startswith("_") and name != "epoch"
        }
        assert [row["_step"] for row in run.history] == [row["epoch"] for row in run.history]
        assert logged.keys() == recorded.keys()
        for key, value in recorded.items():
            assert logged[key] == pytest.approx(value, nan_ok=True)
        # summary: status, best-epoch metrics; tags: the status; exit code 1 when failed
        assert run.summary["status"] == trial.status
        best = {k: v for k, v in trial.metrics.items() if np.isfinite(v)}
        assert {k: run.summary[f"best/{k}"] for k in best} == pytest.approx(best)
        assert (len(best) == len(trial.metrics)) == (trial.status != "failed")
        assert trial.status in run.tags and "ci" in run.tags
        assert run.exit_code == (1 if trial.status == "failed" else 0)
    tracker.close()


def test_only_the_winner_is_tagged(written: Written) -> None:
    study = written.tuner.study
    tagged = {tid for tid, run in written.trial_runs().items() if "winner" in run.tags}
    assert tagged == {study.winner_trial_id}
    winner = written.trial_runs()[study.winner_trial_id]
    assert winner.summary["winner"] is True
    assert winner.summary["model_version"] == "digits:v1"


def test_the_model_version_is_an_artifact_with_metadata_and_manifest(written: Written) -> None:
    [register] = [r for r in written.runs if r.job_type == "register-model"]
    [artifact] = register.artifacts
    version = written.tuner.winner
    assert register.group == written.tuner.study.name
    assert artifact["type"] == "model" and artifact["name"] == "digits"
    assert set(artifact["aliases"]) == {"latest", "best", "hp-v1"}
    meta = artifact["metadata"]
    assert meta["ref"] == "digits:v1" and meta["sha256"] == version.sha256
    assert meta["meta"]["params"] == {"lr": 0.05} or meta["meta"]["params"] == {"lr": 0.01}
    assert meta["meta"]["data_fingerprint"] == written.tuner.data.fingerprint
    assert meta["meta"]["trial_id"] == written.tuner.study.winner_trial_id
    assert meta["meta"]["info"]["n_classes"] == 10
    [entry] = artifact["manifest"]
    assert entry["path"] == "weights.safetensors"
    payload = Path(entry["local"]).read_bytes()
    assert entry["size"] == len(payload)
    assert hashlib.sha256(payload).hexdigest() == version.sha256


def test_a_loaded_version_predicts_like_the_trained_model(written: Written) -> None:
    vcs = build(
        "vcs", name="wandb", dir=str(written.root / "wb"), root=str(written.root / "models")
    )
    assert [v.ref for v in vcs.list_versions()] == ["digits:v1"]
    weights, version = vcs.load("digits:best")
    component, config = configure("trainer", version.meta.trainer_config, get_plugin_manager())
    restored = type(component.build(config)).restore(config, weights, version.meta.info)
    x = written.tuner.data.test.x
    np.testing.assert_array_equal(restored.predict(x), written.tuner.model.predict(x))


def test_offline_an_alias_moves_in_the_local_index(written: Written, tmp_path: Path) -> None:
    vcs = build("vcs", name="wandb", dir=str(tmp_path), root=str(written.root / "models"))
    assert "prod" in vcs.set_alias("digits:v1", "prod").aliases
    assert vcs.get("digits:prod").ref == "digits:v1"
    assert not run_dirs(tmp_path)  # W&B cannot move an alias offline: nothing logged


def test_mode_auto_is_online_only_with_an_api_key() -> None:
    key = "0123456789abcdef0123456789abcdef01234567"
    assert resolve_mode("auto", {"WANDB_API_KEY": key}) == "online"
    assert resolve_mode("auto", {}) == "offline"
    assert resolve_mode("auto", {"WANDB_API_KEY": key, "WANDB_MODE": "offline"}) == "offline"
    assert resolve_mode("auto", {"WANDB_MODE": "dryrun"}) == "offline"
    assert resolve_mode("disabled", {"WANDB_API_KEY": key}) == "disabled"


def test_a_wandb_mode_wandb_does_not_know_is_an_error_unless_wandb_is_off() -> None:
    for mode in ("auto", "offline"):  # W&B reads WANDB_MODE whatever mode it is given
        with pytest.raises(ConfigError, match=r"WANDB_MODE='cloud' in the environment is not"):
            resolve_mode(mode, {"WANDB_MODE": "cloud"})
    with pytest.raises(ConfigError, match="WANDB_MODE='OFFLINE'"):
        resolve_mode("auto", {"WANDB_MODE": "OFFLINE"})
    assert resolve_mode("disabled", {"WANDB_MODE": "cloud"}) == "disabled"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_wandb_server_is_asked_for_a_few_seconds_at_most() -> None:
    assert "refused" in str(server_problem(f"http://127.0.0.1:{closed_port()}", timeout=2))
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.monotonic()
        problem = server_problem(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
        assert problem is not None and time.monotonic() - started < 1.5

    class Unauthorized(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self.send_response(401)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    with http.server.HTTPServer(("127.0.0.1", 0), Unauthorized) as server:
        threading.Thread(target=server.handle_request, daemon=True).start()
        assert server_problem(f"http://127.0.0.1:{server.server_address[1]}", timeout=5) is None


def test_auto_with_a_key_and_no_server_runs_offline_and_says_so_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    environ = {"WANDB_API_KEY": "0" * 40, "WANDB_BASE_URL": url}
    assert [decide_mode("auto", environ) for _ in range(2)] == ["offline", "offline"]
    assert decide_mode("online", environ) == "online"  # asked for: not second-guessed
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"hyperplug: W&B server {url} did not answer (")
    assert line.endswith("W&B runs offline (tracker.mode/vcs.mode=auto)")


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"mode": "cloud"}, r"tracker\.mode must be one of online, offline, disabled, auto"),
        ({"project": "team/models"}, r"tracker\.project 'team/models' is not a valid W&B"),
        ({"project": "x" * 129}, r"tracker\.project .* 1 to 128 characters"),
    ],
)
def test_bad_config_is_refused_before_anything_is_written(
    tmp_path: Path, node: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        configure(
            "tracker",
            {"name": "wandb", "path": str(tmp_path / "x.db"), **node},
            get_plugin_manager(),
        )
    assert not list(tmp_path.iterdir())


class BreakWandbDir:
    """An observer that, after the first trial, puts a file where W&B writes its runs."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @hookimpl
    def on_trial_end(self, study: Any, trial: Any) -> None:
        if trial.number == 0:
            import shutil

            shutil.rmtree(self.directory / "wandb")
            (self.directory / "wandb").write_text("not a directory")


def test_a_failing_wandb_is_reported_once_and_the_study_goes_on(
    offline: Path, tmp_path: Path, digits_splits: Any, caplog: pytest.LogCaptureFixture
) -> None:
    manager = PluginManager()
    manager.load_entry_points()
    manager.register(BreakWandbDir(tmp_path / "wb"), name="break-wandb")
    with caplog.at_level(logging.WARNING):
        tuner = run_tuner(tmp_path, digits_splits, manager)
    # one line from each W&B component (tracker, vcs)
    warnings = [
        r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("hyperplug")
    ]
    assert sorted(r.name for r in warnings) == [
        "hyperplug.plugins.wandb.tracker",
        "hyperplug.plugins.wandb.vcs",
    ], [r.getMessage() for r in warnings]
    messages = " ".join(r.getMessage() for r in warnings)
    assert "local tracker's record" in messages and "saved locally" in messages
    tracker = build("tracker", name="sqlite", path=str(tmp_path / "hp.db"))
    trials = tracker.list_trials(tuner.study.id)
    assert [t.status for t in trials] == ["completed", "failed", "completed"]
    assert all(tracker.get_metrics(t.id) for t in trials)
    assert tracker.get_study(tuner.study.name).winner_version == "digits:v1"
    tracker.close()
