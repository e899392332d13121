"""The ``local`` backend's workers and the engine's fault handling, with a real MLP trainer
that goes wrong the way user code does (raises, reports NaN, gets its process killed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from faulty_trainer import FaultyTrainer

from hyperplug.config import configure
from hyperplug.errors import HyperplugError
from hyperplug.plugin_manager import get_plugin_manager
from hyperplug.tuner import Tuner


def build(kind: str, **node: Any) -> Any:
    component, config = configure(kind, node, get_plugin_manager())
    return component.build(config)


def tuner(tracker: Any, store: Any, tmp_path: Path, faults: list[str], **kw: Any) -> Tuner:
    return Tuner(
        metadata_tracker=tracker,
        metrics_tracker=tracker,
        resource_version_control=store,
        training_params={FaultyTrainer: {"fault": faults, "hidden_layers": [[16]], "epochs": 3}},
        home=tmp_path,
        model_name="faulty",
        **kw,
    )


def test_faults_in_workers_fail_their_trial_and_a_killed_worker_is_replaced(
    tracker: Any, store: Any, tmp_path: Path, digits_splits: Any
) -> None:
    backend = build("backend", name="local", n_workers=2)
    study = tuner(
        tracker, store, tmp_path, ["none", "raise", "nan", "kill", "none"], backend=backend
    )
    model = study.run_experiment(digits_splits)
    trials = tracker.list_trials(study.study.id)
    by_number = {t.number: t for t in trials}
    assert [t.status for t in trials] == ["completed", "failed", "failed", "failed", "completed"]
    assert by_number[1].error == "RuntimeError: boom at epoch 2"
    assert by_number[2].error == "val_loss is nan at epoch 2"
    assert by_number[3].error.startswith("worker process ")
    assert by_number[3].error.endswith("died (SIGKILL)")
    assert backend.replaced == 2  # retried once (optimizer.max_retries=1), killed again
    # what the killed trial reported before it died is in the tracker
    assert {m.epoch for m in tracker.get_metrics(by_number[3].id)} == {1}
    assert study.study.winner_trial_id in (by_number[0].id, by_number[4].id)
    assert model.predict(digits_splits.test.x[:3]).shape == (3,)
    assert backend.workers == []  # shut down


def test_more_failures_than_max_failures_end_the_study(
    tracker: Any, store: Any, tmp_path: Path, digits_splits: Any
) -> None:
    opt = build("optimizer", name="grid", max_failures=1)
    study = tuner(tracker, store, tmp_path, ["raise", "raise", "raise", "none"], optimizer=opt)
    with pytest.raises(
        HyperplugError, match=r"2 trials failed, more than optimizer.max_failures=1"
    ):
        study.run_experiment(digits_splits)
    trials = tracker.list_trials(study.study.id)
    assert [t.status for t in trials] == ["failed", "failed"]
    assert store.list_versions() == []
    assert tracker.get_study(study.study_name).status == "failed"

    # running it again ends at once: the failures already spent count, no new trial runs
    again = tuner(tracker, store, tmp_path, ["raise", "raise", "raise", "none"], optimizer=opt)
    again.study_name = study.study_name
    with pytest.raises(HyperplugError, match=r"2 trials failed, more than"):
        again.run_experiment(digits_splits)
    assert len(tracker.list_trials(study.study.id)) == 2


@pytest.mark.parametrize(("fault", "backend_name"), [("kill", "local"), ("raise", "inline")])
def test_a_transient_fault_is_retried_on_another_worker_from_the_checkpoint(
    tracker: Any, store: Any, tmp_path: Path, digits_splits: Any, fault: str, backend_name: str
) -> None:
    """The trial dies (or raises) at epoch 2 once: it runs again (on the other worker),
    from its epoch-1 checkpoint, and completes; its epochs are recorded once each."""
    backend = build("backend", name=backend_name, **({"n_workers": 2} if fault == "kill" else {}))
    once = str(tmp_path / "faulted")
    params = {"fault": [fault], "once": [once], "hidden_layers": [[16]], "epochs": 3}
    study = Tuner(
        metadata_tracker=tracker,
        metrics_tracker=tracker,
        resource_version_control=store,
        training_params={FaultyTrainer: params},
        home=tmp_path,
        model_name="faulty",
        backend=backend,
    )
    study.run_experiment(digits_splits)
    [trial] = tracker.list_trials(study.study.id)
    assert (trial.status, trial.error) == ("completed", None)
    # epochs trained: 1, 2 (the fault), then 2 and 3 from the epoch-1 checkpoint
    assert Path(once).read_text().split() == ["1", "2", "2", "3"]
    records = tracker.get_metrics(trial.id)
    assert sorted((m.epoch, m.name) for m in records) == sorted(
        (e, n) for e in (1, 2, 3) for n in ("train_loss", "val_accuracy", "val_loss")
    )
    if fault == "kill":
        assert backend.replaced == 1
        assert backend.ran_on[trial.id] == 1  # the retry ran on the other worker
    # the trial has ended: its checkpoint is gone, its staged weights were promoted
    assert not (
        tmp_path / "studies" / study.study_name / "trials" / str(trial.id) / "checkpoint"
    ).exists()
