"""The tuner's spec API, and a whole grid study through the Python API (no Hydra)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import pytest

from hyperplug import hookimpl
from hyperplug.errors import ConfigError, HyperplugError
from hyperplug.interfaces import ModelTrainer
from hyperplug.plugin_manager import PluginManager, get_plugin_manager
from hyperplug.tuner import Tuner, build_training_grid


def make_tuner(tracker: Any, store: Any, training_params: Mapping[Any, Any], **kw: Any) -> Tuner:
    kw = {
        "metrics": ["train_loss", "val_loss", "val_accuracy"],
        "perf_metric": "val_accuracy",
        **kw,
    }
    return Tuner(
        metadata_tracker=tracker,
        metrics_tracker=tracker,
        resource_version_control=store,
        training_params=training_params,
        **kw,
    )


def test_build_training_grid_matches_the_spec_example() -> None:
    assert build_training_grid({"key_1": [1], "key_2": [1, 2]}) == [
        {"key_1": 1, "key_2": 1},
        {"key_1": 1, "key_2": 2},
    ]
    assert build_training_grid({}) == [{}]


@pytest.mark.parametrize(
    ("params", "message"),
    [({"lr": []}, "'lr' is an empty grid"), ({"lr": 0.1}, "'lr' must be a list of values")],
)
def test_bad_grids_are_named(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_training_grid(params)


def test_get_winning_experiment(tracker: Any, store: Any) -> None:
    tuner = make_tuner(tracker, store, {"mlp": {}})
    exp_list = {"a": 0.3, "b": 0.1, "c": float("nan"), "d": 0.2}
    assert tuner._get_winning_experiment(exp_list) == "b"
    assert tuner._get_winning_experiment(exp_list, reverse=True) == "a"
    assert tuner._get_winning_experiment({"x": 1.0, "y": 1.0}) == "x"
    assert tuner._get_winning_experiment({"x": float("nan")}) is None


def test_perf_metric_must_be_among_metrics(tracker: Any, store: Any) -> None:
    with pytest.raises(ConfigError, match="perf_metric 'f1' is not among metrics"):
        make_tuner(tracker, store, {"mlp": {}}, perf_metric="f1")


def test_python_api_grid_study_returns_and_versions_the_best_model(
    tracker: Any, store: Any, digits_splits: Any
) -> None:
    from hyperplug.plugins.torch.mlp import MLPTrainer

    tuner = make_tuner(
        tracker,
        store,
        {MLPTrainer: {"lr": [0.01, 0.0001], "hidden_layers": [[32]]}},
        trainer_configs={"mlp": {"epochs": 3}},
        model_name="digits",
    )
    model = tuner.run_experiment(digits_splits)

    trials = tracker.list_trials(tuner.study.id)
    assert [t.params for t in trials] == [
        {"lr": 0.01, "hidden_layers": [32]},
        {"lr": 0.0001, "hidden_layers": [32]},
    ]
    assert all(t.status == "completed" for t in trials)
    best = max(trials, key=lambda t: t.metrics["val_accuracy"])
    assert tuner.study.winner_trial_id == best.id
    assert tuner.study.winner_version == "digits:v1"
    assert len(tracker.get_metrics(best.id)) == 3 * 3  # 3 epochs x 3 metrics

    weights, version = store.load("digits:best")
    assert version.meta.trial_id == best.id
    assert version.meta.params == best.params
    assert version.meta.data_fingerprint == digits_splits.fingerprint
    assert version.meta.study == tuner.study.name
    assert "test_accuracy" in version.meta.metrics
    reloaded = MLPTrainer.restore(model.config, weights, version.meta.info)
    x = digits_splits.test.x
    assert np.array_equal(reloaded.predict(x), model.predict(x))


@attrs.define
class FlakyConfig:
    name: str = "flaky"
    fail_with: str = "raise"
    epochs: int = 2
    #: a file: while it exists every epoch fails as on a full disk (a fault whose cause
    #: the user fixes before running the study again)
    disk_full_while: str = ""


class FlakyTrainer(ModelTrainer):
    """A real trainer whose training goes wrong the way user code does."""

    name = "flaky"
    config_class = FlakyConfig

    def fit(self, data: Any, report: Any) -> None:
        for epoch in range(self.config.epochs):
            full = self.config.disk_full_while
            if full and os.path.exists(full):
                raise OSError(28, "No space left on device")
            if self.config.fail_with == "raise" and epoch == 1:
                raise RuntimeError("CUDA out of memory\nsecond line")
            loss = float("nan") if self.config.fail_with == "nan" else 1.0 / (epoch + 1)
            if not report(epoch, {"train_loss": loss, "val_loss": loss, "val_accuracy": 0.5}):
                return

    def evaluate(self, split: Any) -> dict[str, float]:
        return {"loss": 1.0, "accuracy": 0.5}

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(len(x), dtype=np.int64)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"w": np.zeros(1, dtype=np.float32)}

    def model_info(self) -> dict[str, Any]:
        return {}

    @classmethod
    def restore(cls, config: Any, state: Any, info: Any) -> FlakyTrainer:
        return cls(config)


def test_failing_trials_are_recorded_and_the_study_goes_on(
    tracker: Any, store: Any, digits_splits: Any
) -> None:
    tuner = make_tuner(
        tracker, store, {FlakyTrainer: {"fail_with": ["raise", "nan", "none"]}}, model_name="m"
    )
    tuner.run_experiment(digits_splits)
    trials = {t.params["fail_with"]: t for t in tracker.list_trials(tuner.study.id)}
    assert trials["raise"].status == "failed"
    assert trials["raise"].error == "RuntimeError: CUDA out of memory"
    assert trials["nan"].status == "failed"
    assert trials["nan"].error == "train_loss is nan at epoch 0"
    assert trials["none"].status == "completed"
    assert tuner.study.winner_trial_id == trials["none"].id


def test_a_study_where_every_trial_fails_is_an_error_and_saves_nothing(
    tracker: Any, store: Any, digits_splits: Any
) -> None:
    tuner = make_tuner(tracker, store, {FlakyTrainer: {"fail_with": ["raise"]}}, model_name="m")
    with pytest.raises(HyperplugError, match="none of its 1 trials reached perf_metric"):
        tuner.run_experiment(digits_splits)
    assert tracker.get_study(tuner.study.name).status == "failed"
    assert store.list_versions() == []


def test_bad_grid_values_fail_before_any_trial(
    tracker: Any, store: Any, digits_splits: Any
) -> None:
    tuner = make_tuner(tracker, store, {"mlp": {"lr": [0.1, -1.0]}})
    with pytest.raises(ConfigError, match="lr"):
        tuner.run_experiment(digits_splits)
    assert tracker.list_studies() == []


@pytest.mark.hooks(
    "on_study_start",
    "on_trial_start",
    "on_trial_report",
    "on_trial_end",
    "on_study_end",
)
def test_lifecycle_hooks_see_the_whole_study(tracker: Any, store: Any, digits_splits: Any) -> None:
    calls: list[tuple[str, Any]] = []

    class Observer:
        @hookimpl
        def on_study_start(self, study: Any, config: Any) -> None:
            calls.append(("on_study_start", study.name))

        @hookimpl
        def on_trial_start(self, study: Any, trial: Any) -> None:
            calls.append(("on_trial_start", trial.number))

        @hookimpl
        def on_trial_report(self, study: Any, trial: Any, epoch: int, metrics: Any) -> None:
            calls.append(("on_trial_report", (trial.number, epoch, sorted(metrics))))

        @hookimpl
        def on_trial_end(self, study: Any, trial: Any) -> None:
            calls.append(("on_trial_end", (trial.number, trial.status)))

        @hookimpl
        def on_study_end(self, study: Any, winner: Any) -> None:
            calls.append(("on_study_end", winner.ref))

    class Broken:
        @hookimpl
        def on_trial_start(self, study: Any, trial: Any) -> None:
            raise RuntimeError("observer bug")

    manager = PluginManager()
    for name, plugin in get_plugin_manager().loaded():
        manager.register(plugin, name)
    manager.register(Observer(), "observer")
    manager.register(Broken(), "broken")
    tuner = make_tuner(
        tracker,
        store,
        {FlakyTrainer: {"fail_with": ["none"]}},
        plugin_manager=manager,
        study_name="watched",
        model_name="m",
    )
    tuner.run_experiment(digits_splits)
    metrics = ["train_loss", "val_accuracy", "val_loss"]
    assert calls == [
        ("on_study_start", "watched"),
        ("on_trial_start", 0),
        ("on_trial_report", (0, 0, metrics)),
        ("on_trial_report", (0, 1, metrics)),
        ("on_trial_end", (0, "completed")),
        ("on_study_end", "m:v1"),
    ]
    assert (
        "hook on_trial_start raised RuntimeError: observer bug" in manager.plugins["broken"].error
    )


def test_an_unwritable_store_fails_before_any_trial(
    tracker: Any, tmp_path: Any, digits_splits: Any
) -> None:
    from hyperplug.api import build
    from hyperplug.errors import StorageError

    (tmp_path / "blocker").write_text("a file where the store wants a directory")
    store = build("vcs", name="store", root=str(tmp_path / "blocker" / "models"))
    tuner = make_tuner(tracker, store, {"mlp": {"epochs": [1]}}, home=tmp_path)
    with pytest.raises(StorageError, match=r"vcs\.root: model store .* is not writable"):
        tuner.run_experiment(digits_splits)
    assert tracker.list_studies() == []


def test_a_failed_save_ends_the_study_as_failed(
    tracker: Any, store: Any, tmp_path: Any, digits_splits: Any
) -> None:
    from hyperplug.errors import StorageError

    (store.root / "m" / ".lock").mkdir(parents=True)  # the store cannot lock model 'm'
    tuner = make_tuner(tracker, store, {"mlp": {"epochs": [1]}}, model_name="m", home=tmp_path)
    with pytest.raises(StorageError, match="cannot save model 'm'"):
        tuner.run_experiment(digits_splits)
    [study] = tracker.list_studies()
    assert study.status == "failed" and study.winner_version is None


def test_promotion_is_idempotent_after_a_crash_between_save_and_study_end(
    tracker: Any, store: Any, tmp_path: Any, digits_splits: Any
) -> None:
    """The state a kill -9 leaves after the winner was saved and before the study ended:
    a version of the study's winning trial, the study still running. The rerun finds the
    version (keyed by study and trial) instead of saving the same winner twice."""
    params = {FlakyTrainer: {"fail_with": ["none"], "epochs": [2, 3]}}
    crashed = make_tuner(tracker, store, params, model_name="m", home=tmp_path, study_name="s")
    crashed.start_study()
    crashed.run_trials(crashed.search_space(), digits_splits)
    [winner, _] = tracker.list_trials(crashed.study.id)
    saved = crashed.save_weights(
        {"w": np.zeros(1, np.float32)}, {}, winner, winner.params, "flaky", {}
    )
    assert (saved.ref, tracker.get_study("s").status) == ("m:v1", "running")

    rerun = make_tuner(tracker, store, params, model_name="m", home=tmp_path, study_name="s")
    rerun.run_experiment(digits_splits)
    assert [v.ref for v in store.list_versions("m")] == ["m:v1"]
    assert rerun.winner.ref == "m:v1" and set(rerun.winner.aliases) == {"best", "latest"}
    assert tracker.get_study("s").winner_version == "m:v1"


def test_a_rerun_retries_the_failed_trials_once_the_cause_is_fixed(
    tracker: Any, store: Any, tmp_path: Any, digits_splits: Any
) -> None:
    full = tmp_path / "disk-is-full"
    full.touch()
    params = {
        FlakyTrainer: {"fail_with": ["none"], "epochs": [2, 3], "disk_full_while": [str(full)]}
    }
    first = make_tuner(tracker, store, params, model_name="m", home=tmp_path, study_name="s")
    with pytest.raises(HyperplugError, match="none of its 2 trials reached perf_metric"):
        first.run_experiment(digits_splits)
    failed = tracker.list_trials(first.study.id)
    assert [t.status for t in failed] == ["failed", "failed"]
    assert failed[0].error == "OSError: [Errno 28] No space left on device"

    full.unlink()  # the cause is fixed; the same command again
    rerun = make_tuner(tracker, store, params, model_name="m", home=tmp_path, study_name="s")
    rerun.run_experiment(digits_splits)
    trials = tracker.list_trials(rerun.study.id)
    assert [(t.id, t.status, t.error) for t in trials] == [
        (t.id, "completed", None) for t in failed
    ]
    assert rerun.study.status == "completed" and rerun.winner.ref == "m:v1"


def test_a_study_resumed_with_another_search_is_refused_in_one_line(
    tracker: Any, store: Any, tmp_path: Any, digits_splits: Any
) -> None:
    params = {FlakyTrainer: {"fail_with": ["none"], "epochs": [2, 3]}}
    first = make_tuner(tracker, store, params, model_name="m", home=tmp_path, study_name="s")
    first.data = digits_splits
    first.start_study()  # interrupted before its first trial ended
    study = tracker.get_study("s")

    other_data = attrs.evolve(digits_splits, fingerprint="0" * 64)
    for changed, kwargs, data, what in (
        ({FlakyTrainer: {"fail_with": ["none"], "epochs": [5]}}, {}, digits_splits, "search space"),
        (params, {"trainer_configs": {"flaky": {"epochs": 9}}}, digits_splits, "trainer config"),
        (params, {}, other_data, "data"),
    ):
        rerun = make_tuner(
            tracker, store, changed, model_name="m", home=tmp_path, study_name="s", **kwargs
        )
        with pytest.raises(ConfigError) as error:
            rerun.run_experiment(data)
        message = str(error.value)
        assert message.startswith(f"study 's' was started with another {what}"), message
        assert "study=<new name>" in message and "\n" not in message
    assert tracker.list_trials(study.id) == [] and tracker.get_study("s") == study


@attrs.define
class RoundsConfig:
    """No ``epochs`` key: the trainer decides how long it trains (``rounds``)."""

    name: str = "rounds"
    rounds: int = 12
    step: float = 0.3


class RoundsCentroid(ModelTrainer):
    """Nearest class mean, each round moving every mean ``step`` of the way to its class's
    training mean: a real trainer that learns, with its own notion of epochs."""

    name = "rounds"
    config_class = RoundsConfig

    def fit(self, data: Any, report: Any) -> None:
        x, y = data.train.x.reshape(len(data.train.x), -1), data.train.y
        targets = np.stack([x[y == c].mean(axis=0) for c in range(data.n_classes)])
        self.means = np.zeros_like(targets)
        for epoch in range(1, self.config.rounds + 1):
            self.means += self.config.step * (targets - self.means)
            scores = self.evaluate(data.val)
            metrics = {"train_loss": 1 - self.evaluate(data.train)["accuracy"]}
            metrics.update(val_loss=scores["loss"], val_accuracy=scores["accuracy"])
            if not report(epoch, metrics):
                return

    def evaluate(self, split: Any) -> dict[str, float]:
        accuracy = float(np.mean(self.predict(split.x) == split.y))
        return {"loss": 1.0 - accuracy, "accuracy": accuracy}

    def predict(self, x: np.ndarray) -> np.ndarray:
        flat = x.reshape(len(x), -1)
        return ((flat[:, None, :] - self.means[None]) ** 2).sum(axis=2).argmin(axis=1)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"means": self.means}

    def model_info(self) -> dict[str, Any]:
        return {}

    @classmethod
    def restore(cls, config: Any, state: Any, info: Any) -> RoundsCentroid:
        trainer = cls(config)
        trainer.means = np.asarray(state["means"])
        return trainer


def test_a_trainer_without_epochs_completes_at_the_budget_of_an_epoch_optimizer(
    tracker: Any, store: Any, digits_splits: Any
) -> None:
    """ASHA stops every trial at max_epochs; a trainer with no ``epochs`` key (nothing to
    set to the budget) that gets there has completed its budget, not been stopped."""
    from hyperplug.api import build

    asha = build("optimizer", name="asha", max_epochs=3, max_trials=6, seed=0)
    tuner = make_tuner(
        tracker, store, {RoundsCentroid: {"step": "uniform(0.05, 0.9)"}}, optimizer=asha
    )
    tuner.run_experiment(digits_splits)
    trials = tracker.list_trials(tuner.study.id)
    epochs = {t.id: max(r.epoch for r in tracker.get_metrics(t.id)) for t in trials}
    assert max(epochs.values()) == 3, "a trial trained past the budget's max_epochs"
    finished = [t for t in trials if epochs[t.id] == 3]
    assert finished and all(t.status == "completed" for t in finished), trials
    early = [t for t in trials if epochs[t.id] < 3]
    assert all(t.status == "stopped" for t in early)
    assert tuner.study.status == "completed" and tuner.winner is not None
