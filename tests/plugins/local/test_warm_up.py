"""Local workers started before the study has its data (``Backend.warm_up``): they import
the study's trainers while the study process loads the data, then receive the data once
instead of rebuilding it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

from hyperplug import Tuner, build, hookimpl
from hyperplug.commands import compose
from hyperplug.plugin_manager import PluginManager
from hyperplug.plugins.torch.configs import MLPConfig
from hyperplug.plugins.torch.mlp import MLPTrainer
from hyperplug.study import run_study

#: the folder the gated trainer's warm-up watches (set by the test, inherited by workers)
GATE_ENV = "HYPERPLUG_TEST_GATE"


def loaded_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def test_warmed_up_workers_import_the_trainer_before_they_have_data() -> None:
    # spawned: a fork of a test process that imported torch would have it from the start
    backend = build("backend", name="local", n_workers=1, start_method="spawn")
    backend.warm_up(["mlp"])
    try:
        worker = backend.workers[0]
        deadline = time.monotonic() + 120
        while "libtorch" not in loaded_libraries(worker.process.pid):
            assert time.monotonic() < deadline, "the warmed-up worker never imported torch"
            assert worker.process.is_alive()
            time.sleep(0.1)
        assert not worker.conn.poll(), "a worker without data must not say it is ready"
    finally:
        backend.shutdown()
    assert not worker.process.is_alive()


class DataRemover:
    """Deletes the dataset's file once the study process has loaded it, before any
    worker has the data: a worker that rebuilt the data from its recipe would fail."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @hookimpl
    def on_study_start(self, study: Any, config: Any) -> None:
        self.path.unlink()


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_a_study_hands_its_data_to_warmed_up_workers_without_rebuilding_it(
    tmp_path: Path, start_method: str
) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    data_file = tmp_path / "data.npz"
    np.savez(data_file, x=x, y=y)
    manager = PluginManager()  # not the process-wide one: the remover is this test's
    manager.load_entry_points()
    manager.register(DataRemover(data_file), name="data-remover")
    where = tmp_path / "hp"
    cfg = compose(
        [
            f"home={where}",
            f"tracker.path={where}/hp.db",
            f"vcs.root={where}/models",
            "dataset=npz",
            f"dataset.path={data_file}",
            "backend.n_workers=2",
            f"backend.start_method={start_method}",
            "trainer.hidden_layers=[8]",
            "trainer.epochs=2",
            "trainer.threads=1",
            "+training_params.mlp.lr=[0.1,0.01]",
        ]
    )
    result = run_study(cfg, manager, restore=False)
    assert not data_file.exists()
    assert [t.status for t in result.trials] == ["completed", "completed"]


def test_auto_forks_only_a_single_threaded_study_process_without_torch() -> None:
    import sys
    import threading

    backend = build("backend", name="local")
    torch_loaded = "torch" in sys.modules
    assert backend.start_method() == ("spawn" if torch_loaded else "fork")
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert backend.start_method() == "spawn"
    finally:
        release.set()
        thread.join()
    assert build("backend", name="local", start_method="fork").start_method() == "fork"


@attrs.define
class GatedConfig(MLPConfig):
    name: str = "gated"


class GatedTrainer(MLPTrainer):
    """The real MLP trainer, whose warm-up lets the first worker through and holds every
    other one until the file ``open`` appears in the gate folder (at most 5 minutes: the
    first worker's start-up takes a minute on a loaded 2-core machine)."""

    name = "gated"
    config_class = GatedConfig

    def warm_up(self) -> None:
        gate = Path(os.environ[GATE_ENV])
        try:
            (gate / "first").open("x").close()
            return
        except FileExistsError:
            pass
        started = time.monotonic()
        deadline = started + 300
        while not (gate / "open").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        opened = (gate / "open").exists()
        (gate / "held").write_text(
            f"{'opened' if opened else 'timed out'} after {time.monotonic() - started:.1f} s"
        )


class GateOpener:
    """Opens the gate when the first trial ends."""

    def __init__(self, gate: Path) -> None:
        self.gate = gate

    @hookimpl
    def on_trial_end(self, study: Any, trial: Any) -> None:
        (self.gate / "open").touch()


def test_trials_run_on_the_first_ready_worker_while_another_still_starts(
    tracker: Any, store: Any, tmp_path: Path, digits_splits: Any, monkeypatch: Any
) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    monkeypatch.setenv(GATE_ENV, str(gate))
    manager = PluginManager()
    manager.load_entry_points()
    manager.register(GateOpener(gate), name="gate-opener")
    backend = build("backend", name="local", n_workers=2)
    backend.warm_up([GatedTrainer])
    study = Tuner(
        metadata_tracker=tracker,
        metrics_tracker=tracker,
        resource_version_control=store,
        training_params={GatedTrainer: {"lr": [0.1, 0.03, 0.01], "hidden_layers": [[8]]}},
        trainer_configs={"gated": {"name": "gated", "epochs": 1, "threads": 1}},
        backend=backend,
        plugin_manager=manager,
        home=tmp_path,
        model_name="gated",
    )
    study.run_experiment(digits_splits)
    # the held worker was still held when a trial had ended: the engine did not wait
    assert (gate / "held").read_text().startswith("opened"), (gate / "held").read_text()
    assert [t.status for t in tracker.list_trials(study.study.id)] == ["completed"] * 3


def test_forked_workers_end_when_the_study_process_is_gone() -> None:
    backend = build("backend", name="local", n_workers=2, start_method="fork")
    backend.warm_up()
    workers = list(backend.workers)
    for worker in workers:  # what the death of the study process does to its pipe ends
        worker.conn.close()
    for worker in workers:  # a sibling that held this worker's pipe open would keep it
        worker.process.join(60)
        assert worker.process.exitcode is not None, "an orphaned worker kept running"
