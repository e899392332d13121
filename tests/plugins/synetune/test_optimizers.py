"""Each optimizer runs a small real study: Syne Tune schedulers, torch MLPs on digits."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from hyperplug.config import configure
from hyperplug.errors import ConfigError
from hyperplug.plugin_manager import get_plugin_manager
from hyperplug.tuner import Tuner

SPACE = {"mlp": {"lr": "loguniform(1e-4, 3e-1)", "hidden_layers": [[16]], "batch_size": 128}}


def optimizer(**node: Any) -> Any:
    component, config = configure("optimizer", node, get_plugin_manager())
    return component.build(config)


def study(
    tracker: Any, store: Any, tmp_path: Path, opt: Any, space: Any = SPACE, **kw: Any
) -> Tuner:
    return Tuner(
        metadata_tracker=tracker,
        metrics_tracker=tracker,
        resource_version_control=store,
        training_params=space,
        optimizer=opt,
        home=tmp_path,
        model_name="digits",
        trainer_configs={"mlp": {"epochs": 2}},
        **kw,
    )


@pytest.mark.parametrize("name", ["random", "bo", "tpe", "hyperband", "bohb"])
def test_each_optimizer_runs_a_study_and_versions_its_winner(
    name: str, tracker: Any, store: Any, tmp_path: Path, digits_splits: Any
) -> None:
    budget = {"max_epochs": 3} if name in ("hyperband", "bohb") else {}
    tuner = study(tracker, store, tmp_path, optimizer(name=name, max_trials=3, seed=1, **budget))
    model = tuner.run_experiment(digits_splits)
    trials = tracker.list_trials(tuner.study.id)
    assert len(trials) == 3
    assert {t.status for t in trials} <= {"completed", "stopped"}
    assert len({t.params["lr"] for t in trials}) == 3
    assert all(1e-4 <= t.params["lr"] <= 3e-1 for t in trials)
    assert tuner.study.status == "completed" and tuner.winner.ref == "digits:v1"
    assert model.predict(digits_splits.test.x).shape == (len(digits_splits.test),)
    # only the winner's staged weights are kept
    staged = sorted(p.name for p in (tmp_path / "studies" / tuner.study_name / "trials").iterdir())
    assert staged == [str(tuner.study.winner_trial_id)]


def test_asha_stops_poor_trials_and_every_metric_is_tracked(
    tracker: Any, store: Any, tmp_path: Path, digits_splits: Any
) -> None:
    opt = optimizer(name="asha", max_epochs=9, max_trials=8, seed=3, grace_period=1)
    tuner = study(tracker, store, tmp_path, opt)
    tuner.run_experiment(digits_splits)
    trials = tracker.list_trials(tuner.study.id)
    stopped = [t for t in trials if t.status == "stopped"]
    assert stopped, [t.status for t in trials]
    for trial in trials:
        epochs = {m.epoch for m in tracker.get_metrics(trial.id)}
        assert trial.trainer_config["epochs"] == 9  # the epoch budget
        assert epochs == set(range(1, len(epochs) + 1))
        if trial.status == "stopped":
            assert len(epochs) < 9
            assert len(tracker.get_metrics(trial.id)) == 3 * len(epochs)
    winner = next(t for t in trials if t.id == tuner.study.winner_trial_id)
    assert winner.status in ("completed", "stopped")


def test_rush_starts_from_the_reference_best_whose_results_here_stop_bad_trials(
    tracker: Any, store: Any, tmp_path: Path, digits_splits: Any
) -> None:
    grid_space = {"mlp": {"lr": [0.2, 1e-4], "hidden_layers": [[16]], "batch_size": 128}}
    reference = study(
        tracker,
        store,
        tmp_path,
        optimizer(name="grid", max_epochs=4),
        grid_space,
        study_name="reference",
    )
    reference.run_experiment(digits_splits)
    best = next(
        t
        for t in tracker.list_trials(reference.study.id)
        if t.id == reference.study.winner_trial_id
    )
    assert best.params["lr"] == 0.2

    space = {
        "mlp": {
            "lr": "choice(0.2, 0.0001, 0.00011, 0.00012)",
            "hidden_layers": [[16]],
            "batch_size": 128,
        }
    }
    opt = optimizer(
        name="rush",
        max_epochs=4,
        max_trials=3,
        seed=0,
        grace_period=2,
        reference_study="reference",
        n_reference=1,
    )
    tuner = study(tracker, store, tmp_path, opt, space, study_name="rushed")
    tuner.run_experiment(digits_splits)
    trials = tracker.list_trials(tuner.study.id)
    assert trials[0].params == best.params and trials[0].status == "completed"
    slow = [t for t in trials if t.params["lr"] < 0.001]
    assert slow and all(t.status == "stopped" for t in slow)
    # the reference config's value at the rung (epoch 2) on this study's data is the
    # threshold; with one trial at a time ASHA alone would have nothing to compare with
    assert all(max(m.epoch for m in tracker.get_metrics(t.id)) == 2 for t in slow)


def test_rush_without_a_reference_outside_an_update_is_a_one_line_error(
    tracker: Any, store: Any, tmp_path: Path
) -> None:
    opt = optimizer(name="rush", max_epochs=3)
    with pytest.raises(ConfigError, match=r"^optimizer.reference_study: optimizer=rush needs"):
        study(tracker, store, tmp_path, opt).validate()


def test_rush_names_close_studies_when_the_reference_is_unknown(
    tracker: Any, store: Any, tmp_path: Path
) -> None:
    tracker.start_study("digits-grid-a", "val_accuracy", "max", {})
    opt = optimizer(name="rush", max_epochs=2, reference_study="digits-grid")
    with pytest.raises(ConfigError, match="study 'digits-grid' not found; close names: digits-gr"):
        study(tracker, store, tmp_path, opt).validate()


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"name": "asha"}, "optimizer.max_epochs: optimizer=asha needs an epoch budget"),
        ({"name": "asha", "max_epochs": 3, "grace_period": 5}, "grace_period=5 must be <="),
        ({"name": "asha", "max_epochs": 3, "reduction_factor": 1}, "reduction_factor must be > 1"),
        ({"name": "random", "max_trials": 0}, "optimizer.max_trials must be an integer > 0"),
        ({"name": "tpe", "max_failures": -1}, "optimizer.max_failures"),
    ],
)
def test_bad_optimizer_configs_are_one_line_errors(node: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        optimizer(**node)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_resumed_random_search_runs_new_configs_and_counts_the_old_ones(
    tracker: Any, store: Any, tmp_path: Path, digits_splits: Any
) -> None:
    first = study(
        tracker,
        store,
        tmp_path,
        optimizer(name="random", max_trials=2, seed=5),
        study_name="resumed",
    )
    first.start_study()
    first.run_trials(first.search_space(), digits_splits)  # the process "dies" here
    before = [t.params["lr"] for t in tracker.list_trials(first.study.id)]

    second = study(
        tracker,
        store,
        tmp_path,
        optimizer(name="random", max_trials=4, seed=5),
        study_name="resumed",
    )
    second.run_experiment(digits_splits)
    lrs = [t.params["lr"] for t in tracker.list_trials(second.study.id)]
    assert len(lrs) == 4 and lrs[:2] == before and len(set(lrs)) == 4


def test_a_wall_time_budget_ends_the_study_early(
    tracker: Any, store: Any, tmp_path: Path, digits_splits: Any
) -> None:
    space = {"mlp": {"lr": [0.01 + i / 1000 for i in range(30)], "hidden_layers": [[16]]}}
    opt = optimizer(name="grid", max_wall_time_s=0.3)
    tuner = study(tracker, store, tmp_path, opt, space)
    tuner.run_experiment(digits_splits)
    assert 1 <= len(tracker.list_trials(tuner.study.id)) < 30
    assert tuner.study.status == "completed"


@pytest.mark.parametrize("name", ["random", "asha"])
def test_a_failed_trial_is_not_logged_again_by_syne_tune(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    from hyperplug.interfaces import SearchContext
    from hyperplug.search_space import SearchSpace

    space = SearchSpace.parse(SPACE)
    opt = optimizer(name=name, max_trials=2, max_epochs=2)
    search = opt.search(SearchContext(space, "val_accuracy", "max", opt.budget()))
    trainer, params = search.suggest()
    search.on_start(7, trainer, params)
    with caplog.at_level(logging.INFO):
        search.on_end(7, "failed", None)  # its reason is the study's to show, with our id
    assert not [r for r in caplog.records if "Evaluation failed" in r.getMessage()]
    assert search.suggest() is not None  # the scheduler heard of it and goes on
    assert logging.getLogger("syne_tune.optimizer.schedulers.asha").level == logging.NOTSET
