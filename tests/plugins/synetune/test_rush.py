"""RUSH (Zappella et al., 2021, as Syne Tune implements it) on top of ASHA: the warm-start
configs set a threshold at each rung from their results in this study, and a trial
below it stops even where ASHA's own rule would let it go on."""

from __future__ import annotations

import datetime
from typing import Any

from syne_tune.backend.trial_status import Trial
from syne_tune.config_space import uniform
from syne_tune.optimizer.baselines import ASHA
from syne_tune.optimizer.scheduler import SchedulerDecision

from hyperplug.plugins.synetune.schedulers import RUSH

CANDIDATE = {"lr": 0.5}
COMMON: dict[str, Any] = {
    "config_space": {"lr": uniform(0.0, 1.0)},
    "metric": "val_accuracy",
    "do_minimize": False,
    "random_seed": 0,
    "time_attr": "epoch",
    "max_t": 9,
    "grace_period": 1,
    "reduction_factor": 3,
    "brackets": 1,
}


def trial(trial_id: int, lr: float) -> Trial:
    return Trial(trial_id=trial_id, config={"lr": lr}, creation_time=datetime.datetime.now())


def decisions(scheduler: Any) -> dict[int, str]:
    """Feed the same story to a scheduler: the candidate (trial 0) reaches 0.9 at the
    first rung, three others 0.5-0.7, then trial 4 reports 0.8 there."""
    results = {0: 0.9, 1: 0.5, 2: 0.6, 3: 0.7, 4: 0.8}
    out = {}
    for trial_id, value in results.items():
        t = trial(trial_id, 0.5 if trial_id == 0 else 0.1 * trial_id)
        scheduler.on_trial_add(t)
        out[trial_id] = scheduler.on_trial_result(t, {"epoch": 1, "val_accuracy": value})
    return out


def test_rush_stops_a_trial_below_the_candidates_result_that_asha_keeps() -> None:
    asha = decisions(ASHA(**COMMON))
    rush = decisions(RUSH(candidates=[CANDIDATE], points_to_evaluate=[CANDIDATE], **COMMON))
    assert asha[4] == SchedulerDecision.CONTINUE  # top third among the five
    assert rush[4] == SchedulerDecision.STOP  # below the candidate's 0.9
    assert rush[0] == SchedulerDecision.CONTINUE


def test_thresholds_apply_at_rung_levels_only_and_never_stop_a_candidate() -> None:
    rush = RUSH(candidates=[CANDIDATE], points_to_evaluate=[CANDIDATE], **COMMON)
    assert rush.rung_levels == {1, 3}
    candidate, other = trial(0, 0.5), trial(1, 0.2)
    rush.on_trial_add(candidate)
    rush.on_trial_add(other)
    for epoch, value in ((1, 0.9), (2, 0.92), (3, 0.95)):
        assert rush.on_trial_result(candidate, {"epoch": epoch, "val_accuracy": value}) == (
            SchedulerDecision.CONTINUE
        )
    assert rush.thresholds == {1: 0.9, 2: 0.92, 3: 0.95}
    # epoch 2 is not a rung: below the candidate there, the trial goes on
    assert rush.on_trial_result(other, {"epoch": 1, "val_accuracy": 0.91}) == "CONTINUE"
    assert rush.on_trial_result(other, {"epoch": 2, "val_accuracy": 0.5}) == "CONTINUE"
    assert rush.on_trial_result(other, {"epoch": 3, "val_accuracy": 0.94}) == "STOP"
