"""The ``ray`` backend on a real Ray cluster (a head on loopback, see conftest.py), driven
from this process: the backend conformance suite, long-lived actors, faults (a trial
that raises, reports NaN, or kills its actor's process) and the resource checks."""

from __future__ import annotations

import pickle
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from faulty_trainer import FaultyTrainer
from ray_testing import SLOT, alive_actors, wait_for

from hyperplug.config import configure
from hyperplug.errors import ConfigError
from hyperplug.interfaces import TrialEnd
from hyperplug.plugin_manager import get_plugin_manager
from hyperplug.plugins.ray.actor import actors_folder, trial_root
from hyperplug.plugins.ray.files import pack, unpack
from hyperplug.testing import BackendConformance
from hyperplug.testing.backend import RecordingDriver, drive, task
from hyperplug.tuner import Tuner


def build(**node: Any) -> Any:
    component, config = configure("backend", {"name": "ray", **node}, get_plugin_manager())
    return component.build(config)


@pytest.fixture(autouse=True)
def connected(ray_driver: Any) -> Any:
    return ray_driver


class TestRayBackend(BackendConformance):
    component = "ray"
    invalid_config = {"n_workers": 0, "resources_per_trial": {"cpu": -1}}

    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"n_workers": 1}


class TimingDriver(RecordingDriver):
    """Records when each trial was submitted and first reported."""

    def __init__(self) -> None:
        super().__init__()
        self.first: dict[int, float] = {}

    def on_report(self, trial_id: int, epoch: int, metrics: Any) -> bool:
        self.first.setdefault(trial_id, time.monotonic())
        return super().on_report(trial_id, epoch, metrics)


def test_one_actor_runs_trial_after_trial_without_starting_again(
    digits_splits: Any, connected: Any
) -> None:
    """The actor imports torch and takes the data once: after its first trial, the next
    ones report their first epoch within tenths of a second of ending the last; the data
    is in the object store, and what a trial sends is its task, not the data."""
    backend = build(n_workers=1)
    driver = TimingDriver()
    ends: dict[int, float] = {}
    on_end = driver.on_end

    def timed_end(end: TrialEnd) -> None:
        ends[end.trial_id] = time.monotonic()
        on_end(end)

    driver.on_end = timed_end  # type: ignore[method-assign]
    started = time.monotonic()
    data_ref: list[Any] = []
    on_report = driver.on_report

    def keep_ref(trial_id: int, epoch: int, metrics: Any) -> bool:
        data_ref.append(backend.data_ref)
        return on_report(trial_id, epoch, metrics)

    driver.on_report = keep_ref  # type: ignore[method-assign]
    drive(backend, [task(i) for i in range(4)], driver, digits_splits)
    assert [e.error for i in range(4) for e in driver.ends[i]] == [None] * 4
    assert driver.first[0] - started > 1.0  # the actor's start: plugins, torch, data
    gaps = [driver.first[i] - ends[i - 1] for i in range(1, 4)]
    assert max(gaps) < 0.5, gaps
    assert backend.replaced == 0
    assert len({ref.hex() for ref in data_ref}) == 1  # one object for the whole study
    assert connected.get(data_ref[0]).data.fingerprint == digits_splits.fingerprint
    assert len(pickle.dumps(task(1))) < 2_000 < digits_splits.train.x.nbytes


def tuner(tracker: Any, store: Any, tmp_path: Path, params: dict[str, Any], **kw: Any) -> Tuner:
    return Tuner(
        metadata_tracker=tracker,
        metrics_tracker=tracker,
        resource_version_control=store,
        training_params={FaultyTrainer: {"hidden_layers": [[16]], "epochs": 3, **params}},
        home=tmp_path,
        model_name="faulty",
        **kw,
    )


def test_faults_fail_their_trial_and_a_dead_actor_is_replaced(
    tracker: Any, store: Any, tmp_path: Path, digits_splits: Any, connected: Any
) -> None:
    backend = build(n_workers=2)
    faults = ["none", "raise", "nan", "kill", "none"]
    study = tuner(tracker, store, tmp_path, {"fault": faults}, backend=backend)
    study.run_experiment(digits_splits)
    by_number = {t.number: t for t in tracker.list_trials(study.study.id)}
    statuses = [by_number[i].status for i in range(5)]
    assert statuses == ["completed", "failed", "failed", "failed", "completed"]
    assert by_number[1].error == "RuntimeError: boom at epoch 2"
    assert by_number[2].error == "val_loss is nan at epoch 2"
    killed = by_number[3].error
    assert killed.startswith("Ray actor (pid ") and " died: " in killed, killed
    assert "\n" not in killed
    # the killed actor's trial files are removed by the next actor that starts on the
    # node (the replacement may have, before the study's end killed it)
    left = actors_folder() / killed.removeprefix("Ray actor (pid ").split()[0]
    shutil.rmtree(trial_root())  # what an actor's start does, here in this process
    assert not left.exists()
    assert backend.replaced == 2  # retried once (optimizer.max_retries=1), killed again
    # what the killed trial reported before it died is in the tracker
    assert {m.epoch for m in tracker.get_metrics(by_number[3].id)} == {1}
    assert study.study.winner_trial_id in (by_number[0].id, by_number[4].id)
    assert backend.slots == []  # shut down
    wait_for(lambda: not alive_actors(connected), 30, "the study's actors to end")


def test_a_killed_actor_s_trial_is_retried_on_another_from_its_checkpoint(
    tracker: Any, store: Any, tmp_path: Path, digits_splits: Any
) -> None:
    """The actor's process dies at epoch 2 once: the trial runs again on the other actor,
    from the epoch-1 checkpoint that travelled to the driver with its report (the dead
    actor's own files are gone), and completes with each epoch recorded once."""
    backend = build(n_workers=2)
    once = str(tmp_path / "faulted")
    study = tuner(tracker, store, tmp_path, {"fault": ["kill"], "once": [once]}, backend=backend)
    study.run_experiment(digits_splits)
    [trial] = tracker.list_trials(study.study.id)
    assert (trial.status, trial.error) == ("completed", None)
    assert Path(once).read_text().split() == ["1", "2", "2", "3"]
    records = tracker.get_metrics(trial.id)
    assert sorted((m.epoch, m.name) for m in records) == sorted(
        (e, n) for e in (1, 2, 3) for n in ("train_loss", "val_accuracy", "val_loss")
    )
    assert backend.replaced == 1  # the retry ran on another actor: the other, or a new one
    directory = tmp_path / "studies" / study.study_name / "trials" / str(trial.id)
    assert (directory / "staged.json").exists()  # the winner's weights came back
    assert not (directory / "checkpoint").exists()


def test_a_starting_actor_removes_the_trial_files_of_dead_actors_only() -> None:
    """A killed actor leaves its trials' files under its pid; they go when the next actor
    starts on the node, while those of live actors stay."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    alive = subprocess.Popen(["sleep", "60"])
    folders = [actors_folder() / str(p.pid) / "7" / "checkpoint" for p in (dead, alive)]
    try:
        for folder in folders:
            folder.mkdir(parents=True)
            (folder / "arrays-1.safetensors").write_bytes(b"a1")
        shutil.rmtree(trial_root())
        assert not folders[0].parents[1].exists()
        assert (folders[1] / "arrays-1.safetensors").exists()
    finally:
        alive.kill()
        alive.wait()
        for folder in folders:
            shutil.rmtree(folder.parents[1], ignore_errors=True)


def test_resources_no_node_has_and_unknown_keys_are_errors_before_any_trial() -> None:
    with pytest.raises(ConfigError, match=r"backend.resources_per_trial: a trial asks for CPU=64"):
        build(resources_per_trial={"cpu": 64}).check()
    with pytest.raises(ConfigError, match=r"more than any node .*largest: .*GPU|GPU=1"):
        build(resources_per_trial={"cpu": 1, "gpu": 1}).check()
    with pytest.raises(
        ConfigError, match=rf"backend.resources_per_trial.tpu: .* no resource 'tpu'.*{SLOT}"
    ):
        build(resources_per_trial={"cpu": 1, "tpu": 1}).check()
    # as many actors as the nodes hold, when n_workers is not given
    backend = build(resources_per_trial={"cpu": 1})
    backend.check()
    assert backend.n_workers == 2  # the head's 2 CPUs


def test_trial_files_travel_whole_and_replace_the_older_snapshot(tmp_path: Path) -> None:
    source, target = tmp_path / "actor", tmp_path / "driver"
    (source / "checkpoint").mkdir(parents=True)
    (source / "checkpoint" / "arrays-2.safetensors").write_bytes(b"a2")
    (source / "checkpoint" / "checkpoint.json").write_text('{"epoch": 2}')
    (target / "checkpoint").mkdir(parents=True)
    (target / "checkpoint" / "arrays-1.safetensors").write_bytes(b"a1")
    unpack(target, pack(source, "checkpoint"))
    assert sorted(p.name for p in (target / "checkpoint").iterdir()) == [
        "arrays-2.safetensors",
        "checkpoint.json",
    ]
    with pytest.raises(ValueError, match="must stay in its directory"):
        unpack(target, {"../escape": b"x"})
