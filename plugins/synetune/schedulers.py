"""Our schedulers on Syne Tune's ``TrialScheduler`` API, and the adapter that lets the
engine drive any Syne Tune scheduler trial by trial (imports syne_tune: load lazily)."""

from __future__ import annotations

import contextlib
import datetime
import itertools
import logging
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from syne_tune.backend.trial_status import Trial
from syne_tune.optimizer.baselines import ASHA
from syne_tune.optimizer.scheduler import SchedulerDecision, TrialScheduler, TrialSuggestion

from hyperplug.interfaces import PastTrial, Search
from hyperplug.plugins.synetune.space import decode, encode
from hyperplug.search_space import SearchSpace

#: the ``time_attr`` of multi-fidelity schedulers: trials report epochs 1, 2, ...
EPOCH = "epoch"


class GridScheduler(TrialScheduler):
    """Proposes each given config once, in order, then says it is done (None)."""

    def __init__(self, configs: Sequence[dict[str, Any]], metric: str, mode: str) -> None:
        super().__init__(random_seed=0)
        self.queue = deque(configs)
        self.metric = metric
        self.mode = mode

    def suggest(self) -> TrialSuggestion | None:
        return TrialSuggestion.start_suggestion(self.queue.popleft()) if self.queue else None

    def metric_names(self) -> list[str]:
        return [self.metric]

    def metric_mode(self) -> str:
        return self.mode


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


class SchedulerSearch(Search):
    """The engine's ``Search`` on a Syne Tune scheduler: trial ids are the tracker's;
    a resumed study's finished trials are replayed first (negative ids)."""

    def __init__(
        self,
        scheduler: TrialScheduler,
        space: SearchSpace,
        metric: str,
        history: Sequence[PastTrial] = (),
    ) -> None:
        self.scheduler = scheduler
        self.space = space
        self.metric = metric
        self.trials: dict[int, Trial] = {}
        self._pending: dict[str, Any] | None = None
        #: configs the study ran before: a seeded searcher proposes them again first
        self._ran = [(past.trainer, past.params) for past in history]
        for index, past in zip(itertools.count(1), history):
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
                self.scheduler.on_trial_result(self.trials[trial_id], last)
        self.on_end(trial_id, past.status, last)

    def suggest(self) -> tuple[str, dict[str, Any]] | None:
        while True:
            suggestion = self.scheduler.suggest()
            if suggestion is None:
                return None
            point = decode(self.space, suggestion.config)
            if point not in self._ran:
                self._pending = suggestion.config
                return point
            self._ran.remove(point)

    def on_start(self, trial_id: int, trainer: str, params: Mapping[str, Any]) -> None:
        config = self._pending or encode(self.space, trainer, params)
        self._pending = None
        trial = Trial(trial_id=trial_id, config=config, creation_time=datetime.datetime.now())
        self.trials[trial_id] = trial
        self.scheduler.on_trial_add(trial)

    def on_report(self, trial_id: int, epoch: int, metrics: Mapping[str, float]) -> bool:
        if self.metric not in metrics:
            return True
        result = {**metrics, EPOCH: epoch}
        decision = self.scheduler.on_trial_result(self.trials[trial_id], result)
        return decision == SchedulerDecision.CONTINUE

    def on_end(self, trial_id: int, status: str, last: Mapping[str, float] | None) -> None:
        trial = self.trials.pop(trial_id)
        if status == "failed" or last is None or self.metric not in last:
            with _quiet(type(self.scheduler)):
                self.scheduler.on_trial_error(trial)
        else:
            self.scheduler.on_trial_complete(trial, dict(last))


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
