"""``OptimizerConformance``: what every ``optimizer`` component must do.

The suite drives the optimizer's ``Search`` the way the study engine does (``suggest``,
``on_start``, ``on_report`` each epoch, ``on_end``) on a small space of two trainers,
with synthetic learning curves instead of training, so a suite runs in seconds. The
loss of a point falls with the epochs and grows with its lr's distance from 0.03 (in
log space), so a clearly worse trial is clearly worse from its first epoch on. Trial ids
are the tracker's (shared by every study, so neither 0-based nor consecutive).

Beyond the contract, an optimizer must do what its name says: the same seed gives the
same proposals in a fresh study; no point is proposed twice unless the space is
exhausted; the search's own bookkeeping holds exactly the running trials; one that
stops trials by epoch spends clearly fewer epochs than running every trial to the end;
one that learns from results (``learns = True``) beats uniform random search on a smooth
function (Branin) over several seeds.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest

from hyperplug.interfaces import Budget, Optimizer, PastTrial, Search, SearchContext
from hyperplug.search_space import Range, SearchSpace
from hyperplug.testing.base import ComponentConformance

PERF_METRIC = "val_loss"
FINITE_SPACE = {
    "mlp": {"lr": [0.3, 0.1, 0.03, 0.003], "width": [16, 64]},
    "resnet": {"lr": [0.1, 0.01]},
}
"""A finite space (what a grid enumerates): 8 + 2 points."""
MIXED_SPACE = {
    "mlp": {"lr": "loguniform(0.001, 0.3)", "width": "randint(8, 64)", "act": ["relu", "gelu"]},
    "resnet": {"lr": "uniform(0.01, 0.1)", "depth": 18},
}
"""A space with ranges, choices and a fixed value."""


BRANIN_SPACE = {"branin": {"x1": "uniform(-5, 10)", "x2": "uniform(0, 15)"}}
"""A smooth function of two ranges, minimum 0.397887 (Branin)."""
FIRST_ID, ID_STEP = 101, 3
"""The first trial id of a simulated study, and the step between ids."""


def loss(params: Mapping[str, Any], epoch: int) -> float:
    """The synthetic val_loss of ``params`` after ``epoch`` epochs."""
    return 0.1 + abs(math.log10(float(params["lr"]) / 0.03)) + 1.0 / epoch


def branin(params: Mapping[str, Any], epoch: int) -> float:
    """Branin at (x1, x2), plus a learning curve that falls with the epochs."""
    x1, x2 = float(params["x1"]), float(params["x2"])
    value = (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
    return value + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10 + 1.0 / epoch


def random_search_best(space: SearchSpace, trials: int, seed: int) -> float:
    """The best final Branin value of ``trials`` points drawn uniformly at random."""
    rng = random.Random(seed)
    best = math.inf
    for _ in range(trials):
        params = {}
        for key, dim in space.trainers["branin"].items():
            assert isinstance(dim, Range)
            params[key] = rng.uniform(dim.low, dim.high)
        best = min(best, branin(params, 3))
    return best


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
    trials: ClassVar[int] = 8
    """How many trials the simulated studies run at most."""
    learns: ClassVar[bool] = False
    """The optimizer learns from results: it must beat random search on Branin."""
    learning_trials: ClassVar[int] = 20
    """The budget and the seeds of that comparison (the config needs a ``seed`` key)."""
    learning_seeds: ClassVar[tuple[int, ...]] = tuple(range(10))
    """The seeds of that comparison."""
    learning_margin: ClassVar[float] = 0.75
    """The median best over the seeds must be below this fraction of random search's."""

    def tracker(self, tmp_path: Path) -> Any:
        """The tracker the optimizer may query (RUSH's reference study); None: none."""
        return None

    # ------------------------------------------------------------------ fixtures

    @pytest.fixture
    def optimizer(self, build: Any) -> Optimizer:
        """Fixture: the optimizer under test, built from ``config``."""
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
        """A ``Search`` for ``context``, after the optimizer's ``check``."""
        optimizer.check(context)
        return optimizer.search(context)

    def run(
        self,
        search: Search,
        budget: Budget,
        trials: int,
        failing: int = 0,
        objective: Callable[[Mapping[str, Any], int], float] = loss,
    ) -> list[SimulatedTrial]:
        """Run up to ``trials`` trials one after another; the first ``failing`` fail."""
        epochs = budget.max_epochs or 3
        done = []
        for index in range(trials):
            suggestion = search.suggest()
            if suggestion is None:
                break
            trainer, params = suggestion
            trial_id = FIRST_ID + ID_STEP * index
            search.on_start(trial_id, trainer, params)
            curve: dict[int, dict[str, float]] = {}
            status, last = "completed", None
            if index < failing:
                status = "failed"
            for epoch in range(1, epochs + 1 if status != "failed" else 1):
                curve[epoch] = {PERF_METRIC: objective(params, epoch)}
                last = {**curve[epoch], "epoch": epoch}
                if not search.on_report(trial_id, epoch, curve[epoch]):
                    status = "stopped"
                    break
            search.on_end(trial_id, status, last)
            done.append(SimulatedTrial(trainer, dict(params), status, curve))
        return done

    # ------------------------------------------------------------------ tests

    def test_builds_an_optimizer_with_a_budget(self, optimizer: Optimizer) -> None:
        """The factory builds an ``Optimizer`` with a ``Budget``; one that decides per epoch has
        ``max_epochs``."""
        assert isinstance(optimizer, Optimizer)
        budget = optimizer.budget()
        assert isinstance(budget, Budget)
        if optimizer.needs_epoch_reports():
            assert budget.max_epochs, "an optimizer that stops trials by epoch needs max_epochs"

    def test_suggests_points_of_the_space(
        self, optimizer: Optimizer, context: SearchContext
    ) -> None:
        """Every suggestion is a point of the space, with exactly its trainer's params."""
        trials = self.run(self.search(optimizer, context), context.budget, self.trials)
        assert trials, "the search suggested nothing"
        for trial in trials:
            assert context.space.contains(trial.trainer, trial.params), trial
            assert set(trial.params) == set(context.space.trainers[trial.trainer]), trial

    def test_failed_trials_do_not_end_the_search(
        self, optimizer: Optimizer, context: SearchContext
    ) -> None:
        """The search goes on suggesting after trials fail."""
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
        """A search built with the study's history suggests points of the space and none it already
        ran."""
        first = self.run(self.search(optimizer, context), context.budget, 3)
        history = tuple(trial.past() for trial in first)
        resumed = self.run(
            self.search(optimizer, attrs.evolve(context, history=history)),
            context.budget,
            self.trials,
        )
        for trial in resumed:
            assert context.space.contains(trial.trainer, trial.params), trial
        ran = [(t.trainer, t.params) for t in first]
        assert not [t for t in resumed if (t.trainer, t.params) in ran], "points run twice"

    def test_enumerates_a_finite_space_once(
        self, optimizer: Optimizer, context: SearchContext
    ) -> None:
        """An optimizer that enumerates (``needs_finite_space``) runs each grid point once."""
        if not optimizer.needs_finite_space():
            pytest.skip("the optimizer samples its space; it need not enumerate it")
        trials = self.run(self.search(optimizer, context), context.budget, 100)
        points = sorted(repr((t.trainer, sorted(t.params.items()))) for t in trials)
        grid = sorted(repr((t, sorted(p.items()))) for t, p in context.space.grid())
        assert points == grid

    def test_stops_clearly_worse_trials_early(
        self, optimizer: Optimizer, context: SearchContext
    ) -> None:
        """An optimizer that decides per epoch (``needs_epoch_reports``) stops some trials."""
        if not optimizer.needs_epoch_reports():
            pytest.skip("the optimizer does not decide on per-epoch results")
        trials = self.run(self.search(optimizer, context), context.budget, 3 * self.trials)
        assert any(t.status == "stopped" for t in trials), [t.params for t in trials]

    def test_the_same_seed_gives_the_same_proposals_in_a_fresh_study(
        self, build: Any, context: SearchContext
    ) -> None:
        """Whatever else draws random numbers in the process between two studies."""
        first = self.run(self.search(build(), context), context.budget, self.trials)
        _disturb_global_generators()
        second = self.run(self.search(build(), context), context.budget, self.trials)
        assert [(t.trainer, t.params) for t in first] == [(t.trainer, t.params) for t in second]

    def test_never_proposes_a_point_twice_until_the_space_is_exhausted(
        self, build: Any, context: SearchContext
    ) -> None:
        """On a finite space no point is proposed twice, and no more points than it has."""
        space = SearchSpace.parse(FINITE_SPACE)
        optimizer = build()
        search = self.search(optimizer, attrs.evolve(context, space=space))
        size = len(space.grid())
        trials = self.run(search, context.budget, size + 5)
        points = [repr((t.trainer, sorted(t.params.items()))) for t in trials]
        assert len(set(points)) == len(points), f"a point proposed twice: {points}"
        assert len(points) <= size

    def test_a_trial_resumed_without_a_proposal_is_not_proposed_again(
        self, build: Any, context: SearchContext
    ) -> None:
        """A rerun continues its interrupted trials (``on_start`` with no ``suggest``)."""
        space = SearchSpace.parse(FINITE_SPACE)
        search = self.search(build(), attrs.evolve(context, space=space))
        resumed = space.grid()[1]
        search.on_start(FIRST_ID - ID_STEP, *resumed)
        trials = self.run(search, context.budget, len(space.grid()) + 5)
        assert resumed not in [(t.trainer, t.params) for t in trials]

    def test_its_bookkeeping_holds_exactly_the_running_trials(
        self, optimizer: Optimizer, context: SearchContext
    ) -> None:
        """``pending()`` holds the started, not ended trials, whatever their ids (skipped when it
        returns None)."""
        search = self.search(optimizer, context)
        if search.pending() is None:
            pytest.skip("the search does not report its pending trials")
        ids = [FIRST_ID + ID_STEP * i for i in range(3)]
        started = {}
        for trial_id in ids:
            suggestion = search.suggest()
            assert suggestion is not None
            search.on_start(trial_id, *suggestion)
            started[trial_id] = suggestion[1]
        assert search.pending() == set(ids)
        last = {PERF_METRIC: loss(started[ids[1]], 1), "epoch": 1}
        search.on_report(ids[1], 1, {PERF_METRIC: last[PERF_METRIC]})
        search.on_end(ids[1], "completed", last)
        search.on_end(ids[0], "failed", None)
        assert search.pending() == {ids[2]}
        search.on_end(ids[2], "stopped", {**last, PERF_METRIC: loss(started[ids[2]], 1)})
        assert search.pending() == set()

    def test_stopping_by_epoch_spends_fewer_epochs(
        self, optimizer: Optimizer, context: SearchContext
    ) -> None:
        """Deciding per epoch spends at most 70% of the epochs of running every trial to
        ``max_epochs``."""
        if not optimizer.needs_epoch_reports():
            pytest.skip("the optimizer does not decide on per-epoch results")
        budget = context.budget
        assert budget.max_epochs is not None
        trials = self.run(self.search(optimizer, context), budget, 3 * self.trials)
        spent = sum(len(t.curve) for t in trials)
        full = len(trials) * budget.max_epochs
        assert spent <= 0.7 * full, f"{spent} epochs of {full} for every trial to the end"

    def test_learning_from_results_beats_random_search(
        self, build: Any, context: SearchContext
    ) -> None:
        """With ``learns``: its median best on Branin over ``learning_seeds`` is below
        ``learning_margin`` times random search's."""
        if not self.learns:
            pytest.skip("the optimizer does not claim to learn from results (learns=False)")
        space = SearchSpace.parse(BRANIN_SPACE)
        ours = []
        for seed in self.learning_seeds:
            optimizer = build(seed=seed)
            search = self.search(optimizer, attrs.evolve(context, space=space))
            done = self.run(search, optimizer.budget(), self.learning_trials, objective=branin)
            ours.append(min(t.curve[max(t.curve)][PERF_METRIC] for t in done if t.curve))
        # random search's median, over enough seeds to be its true median
        baseline = statistics.median(
            random_search_best(space, self.learning_trials, 1000 + seed) for seed in range(201)
        )
        assert statistics.median(ours) < self.learning_margin * baseline, (ours, baseline)


def _disturb_global_generators() -> None:
    """Draw from every global generator a search might use by mistake."""
    import sys

    import numpy as np

    random.seed(12345)
    np.random.seed(12345)
    np.random.random(17)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(12345)
        torch.rand(17)
