"""``OptimizerConformance``: what every ``optimizer`` component must do.

The suite drives the optimizer's ``Search`` the way the study engine does (``suggest``,
``on_start``, ``on_report`` each epoch, ``on_end``) on a small space of two trainers,
with synthetic learning curves instead of training, so a suite runs in seconds. The
loss of a point falls with the epochs and grows with its lr's distance from 0.03 (in
log space), so a clearly worse trial is clearly worse from its first epoch on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest

from hyperplug.interfaces import Budget, Optimizer, PastTrial, Search, SearchContext
from hyperplug.search_space import SearchSpace
from hyperplug.testing.base import ComponentConformance

PERF_METRIC = "val_loss"
#: a finite space (what a grid enumerates): 8 + 2 points
FINITE_SPACE = {
    "mlp": {"lr": [0.3, 0.1, 0.03, 0.003], "width": [16, 64]},
    "resnet": {"lr": [0.1, 0.01]},
}
#: a space with ranges, choices and a fixed value
MIXED_SPACE = {
    "mlp": {"lr": "loguniform(0.001, 0.3)", "width": "randint(8, 64)", "act": ["relu", "gelu"]},
    "resnet": {"lr": "uniform(0.01, 0.1)", "depth": 18},
}


def loss(params: Mapping[str, Any], epoch: int) -> float:
    """The synthetic val_loss of ``params`` after ``epoch`` epochs."""
    return 0.1 + abs(math.log10(float(params["lr"]) / 0.03)) + 1.0 / epoch


@attrs.frozen
class SimulatedTrial:
    trainer: str
    params: dict[str, Any]
    status: str
    curve: dict[int, dict[str, float]]

    def past(self) -> PastTrial:
        last = self.curve[max(self.curve)] if self.curve else {}
        return PastTrial(self.trainer, self.params, self.status, self.curve, dict(last))


class OptimizerConformance(ComponentConformance):
    """Subclass as ``class TestMyOptimizer(OptimizerConformance)`` and set ``component``;
    ``config`` gives the budget (``max_trials``, ``max_epochs`` where it needs one)."""

    kind = "optimizer"
    #: how many trials the simulated studies run at most
    trials: ClassVar[int] = 8

    def tracker(self, tmp_path: Path) -> Any:
        """The tracker the optimizer may query (RUSH's reference study); None: none."""
        return None

    # ------------------------------------------------------------------ fixtures

    @pytest.fixture
    def optimizer(self, build: Any) -> Optimizer:
        return build()

    @pytest.fixture
    def context(self, optimizer: Optimizer, tmp_path: Path) -> Iterator[SearchContext]:
        """The search context of a fresh study (min val_loss) over this optimizer's space."""
        finite = optimizer.needs_finite_space()
        space = SearchSpace.parse(FINITE_SPACE if finite else MIXED_SPACE)
        tracker = self.tracker(tmp_path)
        yield SearchContext(space, PERF_METRIC, "min", optimizer.budget(), (), tracker)
        if tracker is not None:
            tracker.close()

    def search(self, optimizer: Optimizer, context: SearchContext) -> Search:
        optimizer.check(context)
        return optimizer.search(context)

    def run(
        self, search: Search, budget: Budget, trials: int, failing: int = 0
    ) -> list[SimulatedTrial]:
        """Run up to ``trials`` trials one after another; the first ``failing`` fail."""
        epochs = budget.max_epochs or 3
        done = []
        for trial_id in range(trials):
            suggestion = search.suggest()
            if suggestion is None:
                break
            trainer, params = suggestion
            search.on_start(trial_id, trainer, params)
            curve: dict[int, dict[str, float]] = {}
            status, last = "completed", None
            if trial_id < failing:
                status = "failed"
            for epoch in range(1, epochs + 1 if status != "failed" else 1):
                curve[epoch] = {PERF_METRIC: loss(params, epoch)}
                last = {**curve[epoch], "epoch": epoch}
                if not search.on_report(trial_id, epoch, curve[epoch]):
                    status = "stopped"
                    break
            search.on_end(trial_id, status, last)
            done.append(SimulatedTrial(trainer, dict(params), status, curve))
        return done

    # ------------------------------------------------------------------ tests

    def test_builds_an_optimizer_with_a_budget(self, optimizer: Optimizer) -> None:
        assert isinstance(optimizer, Optimizer)
        budget = optimizer.budget()
        assert isinstance(budget, Budget)
        if optimizer.needs_epoch_reports():
            assert budget.max_epochs, "an optimizer that stops trials by epoch needs max_epochs"

    def test_suggests_points_of_the_space(
        self, optimizer: Optimizer, context: SearchContext
    ) -> None:
        trials = self.run(self.search(optimizer, context), context.budget, self.trials)
        assert trials, "the search suggested nothing"
        for trial in trials:
            assert context.space.contains(trial.trainer, trial.params), trial
            assert set(trial.params) == set(context.space.trainers[trial.trainer]), trial

    def test_failed_trials_do_not_end_the_search(
        self, optimizer: Optimizer, context: SearchContext
    ) -> None:
        trials = self.run(self.search(optimizer, context), context.budget, 4, failing=2)
        assert [t.status for t in trials[:2]] == ["failed", "failed"]
        assert len(trials) == 4, "the search gave up after failed trials"

    def test_runs_several_trials_at_once(
        self, optimizer: Optimizer, context: SearchContext
    ) -> None:
        """Asynchronous: trials start before others end, report interleaved, end in any
        order, as with several workers."""
        search = self.search(optimizer, context)
        started = {}
        for trial_id in range(3):
            suggestion = search.suggest()
            assert suggestion is not None
            search.on_start(trial_id, *suggestion)
            started[trial_id] = suggestion[1]
        assert len({repr(sorted(p.items())) for p in started.values()}) == 3, started
        for trial_id in (2, 0, 1):
            metrics = {PERF_METRIC: loss(started[trial_id], 1)}
            assert isinstance(search.on_report(trial_id, 1, metrics), bool)
        for trial_id in (1, 2, 0):
            last = {PERF_METRIC: loss(started[trial_id], 1), "epoch": 1}
            search.on_end(trial_id, "completed", last)
        assert search.suggest() is not None

    def test_resumes_from_the_history_of_its_study(
        self, optimizer: Optimizer, context: SearchContext
    ) -> None:
        first = self.run(self.search(optimizer, context), context.budget, 3)
        history = tuple(trial.past() for trial in first)
        resumed = self.run(
            self.search(optimizer, attrs.evolve(context, history=history)),
            context.budget,
            self.trials,
        )
        for trial in resumed:
            assert context.space.contains(trial.trainer, trial.params), trial
        if optimizer.needs_finite_space():
            ran = [(t.trainer, t.params) for t in first]
            assert not [t for t in resumed if (t.trainer, t.params) in ran], "points run twice"

    def test_enumerates_a_finite_space_once(
        self, optimizer: Optimizer, context: SearchContext
    ) -> None:
        if not optimizer.needs_finite_space():
            pytest.skip("the optimizer samples its space; it need not enumerate it")
        trials = self.run(self.search(optimizer, context), context.budget, 100)
        points = sorted(repr((t.trainer, sorted(t.params.items()))) for t in trials)
        grid = sorted(repr((t, sorted(p.items()))) for t, p in context.space.grid())
        assert points == grid

    def test_stops_clearly_worse_trials_early(
        self, optimizer: Optimizer, context: SearchContext
    ) -> None:
        if not optimizer.needs_epoch_reports():
            pytest.skip("the optimizer does not decide on per-epoch results")
        trials = self.run(self.search(optimizer, context), context.budget, 3 * self.trials)
        assert any(t.status == "stopped" for t in trials), [t.params for t in trials]
