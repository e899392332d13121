"""``optimizer=bo``: Syne Tune's BoTorch GP searcher, keyed by the trial ids it is told.

Syne Tune 0.16's ``BoTorchSearcher`` numbers trials itself (0, 1, ... per suggestion) and
pairs configs with results by those numbers, while its scheduler reports results under
the caller's trial ids. Driven trial by trial by the study engine (tracker ids, replayed
history, resumed trials), no result ever matched a suggestion: every trial stayed
pending, the GP never got data and every suggestion was random. Here a trial is
registered when the scheduler is told it started (``on_trial_add``), under its own id;
the observations are paired with their configs by id (Syne Tune pairs them by insertion
order, which breaks when trials end out of order); a failed trial leaves the data.

Imports botorch and torch: load lazily.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from syne_tune.backend.trial_status import Trial
from syne_tune.config_space import remove_constant_and_cast
from syne_tune.optimizer.schedulers.searchers.botorch.botorch_searcher import BoTorchSearcher
from syne_tune.optimizer.schedulers.single_objective_scheduler import SingleObjectiveScheduler


class GPSearcher(BoTorchSearcher):
    """GP Bayesian optimisation (log expected improvement, pending trials fantasised)."""

    def suggest(self) -> dict[str, Any] | None:
        config = self._next_points_to_evaluate()
        if config is None:
            if len(self.trial_observations) < self.num_minimum_observations:
                config = self._get_random_config()
            else:
                config = self._sample_next_candidate()
        return config

    def add_trial(self, trial_id: int, config: dict[str, Any]) -> None:
        """A trial started with ``config`` (suggested here or not): pending until it ends."""
        self.trial_configs[trial_id] = config
        self.pending_trials.add(trial_id)

    def on_trial_complete(self, trial_id: int, config: dict[str, Any], metric: float) -> None:
        self.trial_configs.setdefault(trial_id, config)
        self.trial_observations[trial_id] = metric
        self.pending_trials.discard(trial_id)

    def on_trial_error(self, trial_id: int) -> None:
        self.pending_trials.discard(trial_id)
        self.trial_configs.pop(trial_id, None)

    def _observed(self) -> list[int]:
        return [t for t in self.trial_configs if t in self.trial_observations]

    def objectives(self) -> np.ndarray:
        return np.array([self.trial_observations[t] for t in self._observed()])

    def _configs_with_results(self) -> list[dict[str, Any]]:
        return [self.trial_configs[t] for t in self._observed()]


class GPScheduler(SingleObjectiveScheduler):
    """Tells its ``GPSearcher`` of every trial that starts; fits and optimises on one torch
    thread (a GP of a few hundred points is fastest so, and the study process leaves the
    cores to the trials: on our 2 loaded cores a suggestion took 2-4 s on two threads,
    0.2 s on one)."""

    searcher: GPSearcher

    def suggest(self) -> Any:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return super().suggest()
        finally:
            torch.set_num_threads(threads)

    def on_trial_add(self, trial: Trial) -> None:
        self.searcher.add_trial(
            trial.trial_id, remove_constant_and_cast(trial.config, self.config_space)
        )


def gp_scheduler(
    config_space: dict[str, Any], metric: str, do_minimize: bool, random_seed: int
) -> GPScheduler:
    return GPScheduler(
        config_space=config_space,
        metric=metric,
        do_minimize=do_minimize,
        searcher=GPSearcher(config_space, random_seed=random_seed),
        random_seed=random_seed,
    )
