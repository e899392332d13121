"""Our schedulers on Syne Tune's ``TrialScheduler`` API, and the adapter that lets the
engine drive any Syne Tune scheduler trial by trial (imports syne_tune: load lazily)."""

from __future__ import annotations

import contextlib
import datetime
import itertools
import json
import logging
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from syne_tune.backend.trial_status import Trial
from syne_tune.optimizer.baselines import ASHA
from syne_tune.optimizer.scheduler import SchedulerDecision, TrialScheduler

from hyperplug.interfaces import PastTrial, Search
from hyperplug.plugins.synetune.space import config_space, decode, encode
from hyperplug.search_space import Choice, SearchSpace

#: the ``time_attr`` of multi-fidelity schedulers: trials report epochs 1, 2, ...
EPOCH = "epoch"


class RUSH(ASHA):
    """ASHA warm-started from earlier studies, as Zappella, Salinas and Archambeau's
    RUSH (and Syne Tune's RUSHScheduler) does it: the earlier studies' best configs
    (``candidates``) run first, and at every rung level another trial must be at least
    as good as the best candidate was at that level *on this study's data*, or it stops.
    Thresholds come from this study, not from the earlier one's curves: an update's data
    differs from its parent's, so old curves would be no measure."""

    def __init__(self, *, candidates: Sequence[Mapping[str, Any]], **asha: Any) -> None:
        super().__init__(**asha)
        self.candidates = [dict(c) for c in candidates]
        self.rung_levels = _rung_levels(
            asha["grace_period"], asha["reduction_factor"], asha["max_t"]
        )
        self.thresholds: dict[int, float] = {}
        self.candidate_ids: set[Any] = set()

    def on_trial_add(self, trial: Trial) -> None:
        super().on_trial_add(trial)
        if any(all(trial.config.get(k) == v for k, v in c.items()) for c in self.candidates):
            self.candidate_ids.add(trial.trial_id)

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> str:
        action = super().on_trial_result(trial, result)
        level = int(result[self.time_attr])
        value = result[self.metric]
        if trial.trial_id in self.candidate_ids:
            best = self.thresholds.get(level)
            if best is None or _worse(best, value, self.do_minimize):
                self.thresholds[level] = value
            return action
        threshold = self.thresholds.get(level)
        checked = action == SchedulerDecision.CONTINUE and level in self.rung_levels
        if checked and threshold is not None and _worse(value, threshold, self.do_minimize):
            self.num_stopped += 1
            return SchedulerDecision.STOP
        return action


def _worse(value: float, than: float, minimize: bool) -> bool:
    return value > than if minimize else value < than


def _rung_levels(grace_period: int, reduction_factor: float, max_t: int) -> set[int]:
    """ASHA's rung levels: grace_period * reduction_factor^k below max_t."""
    levels = set()
    level = float(grace_period)
    while level < max_t:
        levels.add(round(level))
        level *= reduction_factor
    return levels


class Randomness:
    """The random state of one search, kept apart from the process's global generators.

    Syne Tune 0.16's searchers draw random configs (and ASHA its brackets) from numpy's
    global generator, and the BoTorch searcher seeds and draws from torch's: whatever else
    ran in the process changed the proposals, and ``optimizer.seed`` had no effect. Every
    call into the scheduler runs inside ``active()``, which swaps the search's own states
    (seeded from the seed) in for the global ones and back out: the same seed gives the
    same proposals in any fresh study, and the search leaves the process's generators
    as they were.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.numpy = np.random.RandomState(seed).get_state()
        self.torch: Any = None  # torch's state, once torch is in use

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        saved_numpy = np.random.get_state()
        np.random.set_state(self.numpy)
        torch = sys.modules.get("torch")
        saved_torch = None
        if torch is not None:
            saved_torch = torch.random.get_rng_state()
            torch.random.set_rng_state(self._torch_state(torch))
        try:
            yield
        finally:
            self.numpy = np.random.get_state()
            np.random.set_state(saved_numpy)
            torch = sys.modules.get("torch")  # possibly imported inside the block
            if torch is not None:
                self.torch = torch.random.get_rng_state()
                torch.random.set_rng_state(
                    saved_torch if saved_torch is not None else torch.Generator().get_state()
                )

    def _torch_state(self, torch: Any) -> Any:
        if self.torch is None:
            self.torch = torch.Generator().manual_seed(self.seed).get_state()
        return self.torch


#: random draws tried for an unseen point of a space with ranges before it counts as
#: exhausted
MAX_DRAWS = 1000


class SchedulerSearch(Search):
    """The engine's ``Search`` on a Syne Tune scheduler: trial ids are the tracker's; a
    resumed study's finished trials are replayed first (negative ids). No point the study
    started is proposed again: a repeat is skipped (a seeded searcher proposes the points
    of the run it resumes first), and a finite space, once every point ran, ends the
    search. A repeat is replaced by an unseen point drawn at random (asking a model-based
    searcher again would mostly give its optimum again, at the cost of another fit)."""

    def __init__(
        self,
        scheduler: TrialScheduler,
        space: SearchSpace,
        metric: str,
        history: Sequence[PastTrial] = (),
        randomness: Randomness | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.space = space
        self.metric = metric
        self.randomness = randomness or Randomness(0)
        self.trials: dict[int, Trial] = {}
        self._pending: dict[str, Any] | None = None
        #: every point the study started (replayed or run here), as ``point_key``
        self.started: set[str] = set()
        self._draws = np.random.RandomState(self.randomness.seed + 1)
        for index, past in zip(itertools.count(1), history):
            self.started.add(point_key(past.trainer, past.params))
            self._replay(-index, past)

    def _replay(self, trial_id: int, past: PastTrial) -> None:
        if not self.space.contains(past.trainer, past.params):
            return
        self.on_start(trial_id, past.trainer, past.params)
        last = None
        for epoch in sorted(past.curve):
            values = past.curve[epoch]
            if self.metric in values:
                last = {**values, EPOCH: epoch}
                with self.randomness.active():
                    self.scheduler.on_trial_result(self.trials[trial_id], last)
        self.on_end(trial_id, past.status, last)

    def suggest(self) -> tuple[str, dict[str, Any]] | None:
        size = space_size(self.space)
        if size is not None and len(self.started) >= size:
            return None
        with self.randomness.active():
            suggestion = self.scheduler.suggest()
        if suggestion is None:
            return None
        point = decode(self.space, suggestion.config)
        if point_key(*point) not in self.started:
            self._pending = suggestion.config
            return point
        return self._unseen_at_random()

    def _unseen_at_random(self) -> tuple[str, dict[str, Any]] | None:
        """A point of the space no trial of the study ran, drawn uniformly at random."""
        if self.space.finite:
            unseen = [p for p in self.space.grid() if point_key(*p) not in self.started]
            if not unseen:
                return None
            point = unseen[self._draws.randint(len(unseen))]
            self._pending = encode(self.space, *point)
            return point
        space = config_space(self.space)
        for _ in range(MAX_DRAWS):
            config = {
                k: v.sample(random_state=self._draws) if hasattr(v, "sample") else v
                for k, v in space.items()
            }
            point = decode(self.space, config)
            if point_key(*point) not in self.started:
                self._pending = encode(self.space, *point)
                return point
        return None

    def on_start(self, trial_id: int, trainer: str, params: Mapping[str, Any]) -> None:
        config = self._pending or encode(self.space, trainer, params)
        self._pending = None
        self.started.add(point_key(trainer, params))
        trial = Trial(trial_id=trial_id, config=config, creation_time=datetime.datetime.now())
        self.trials[trial_id] = trial
        with self.randomness.active():
            self.scheduler.on_trial_add(trial)

    def on_report(self, trial_id: int, epoch: int, metrics: Mapping[str, float]) -> bool:
        if self.metric not in metrics:
            return True
        result = {**metrics, EPOCH: epoch}
        with self.randomness.active():
            decision = self.scheduler.on_trial_result(self.trials[trial_id], result)
        return decision == SchedulerDecision.CONTINUE

    def on_end(self, trial_id: int, status: str, last: Mapping[str, float] | None) -> None:
        trial = self.trials.pop(trial_id)
        with self.randomness.active():
            if status == "failed" or last is None or self.metric not in last:
                with _quiet(type(self.scheduler)):
                    self.scheduler.on_trial_error(trial)
            else:
                self.scheduler.on_trial_complete(trial, dict(last))

    def pending(self) -> set[int]:
        """The searcher's own pending set where it keeps one (BO), else the started and
        not ended trials this adapter handed to the scheduler."""
        searcher = getattr(self.scheduler, "searcher", None)
        held = getattr(searcher, "pending_trials", None)
        return set(held) if held is not None else set(self.trials)


@contextlib.contextmanager
def _quiet(scheduler_class: type) -> Iterator[None]:
    """Syne Tune's schedulers log "trial_id N: Evaluation failed!" for a failed trial, with
    their own trial ids (a resumed study's replayed trials are negative); the study
    already records and shows the failure with its reason. Keep the modules of the
    scheduler's classes quiet below ERROR while it hears of it."""
    loggers = [
        logging.getLogger(cls.__module__)
        for cls in scheduler_class.__mro__
        if cls.__module__.startswith("syne_tune.")
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def point_key(trainer: str, params: Mapping[str, Any]) -> str:
    """A point's identity: equal for equal trainer and params (of any JSON-able type)."""
    return json.dumps([trainer, params], sort_keys=True, default=str)


def space_size(space: SearchSpace) -> int | None:
    """How many points a finite space has (None: it has ranges)."""
    if not space.finite:
        return None
    return sum(
        math.prod(len(dim.values) if isinstance(dim, Choice) else 1 for dim in params.values())
        for params in space.trainers.values()
    )
