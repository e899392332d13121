"""Running one trial where a backend puts it: in the study process or in a worker.

``execute_trial`` builds the trainer from its config, fits it with a reporter that hands
every epoch to ``report`` (the engine, directly or through a pipe) and stages the best
weights. Whatever the trainer raises becomes the trial's one-line error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from hyperplug.checkpoint import TrialCheckpoint
from hyperplug.config import make_config
from hyperplug.data import DataSplits
from hyperplug.interfaces import ModelTrainer, TrialEnd, TrialTask
from hyperplug.plugin_manager import PluginManager
from hyperplug.staging import stage
from hyperplug.trainers import trainer_spec

ReportFn = Callable[[int, Mapping[str, float]], bool]


@attrs.define
class TrialReporter:
    """The ``Reporter`` a trainer calls every epoch."""

    perf_metric: str
    mode: str
    report: ReportFn
    epochs: int = 0
    #: where the trainer may keep the trial's state after each epoch (None: nowhere)
    checkpoint: TrialCheckpoint | None = None

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        self.epochs += 1
        return bool(self.report(int(epoch), {k: float(v) for k, v in metrics.items()}))


def first_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return text[0] if text else type(exc).__name__


def execute_trial(
    task: TrialTask, data: DataSplits, report: ReportFn, manager: PluginManager
) -> tuple[TrialEnd, ModelTrainer | None]:
    """Train the task's trainer on ``data``; stage its best weights in ``task.stage_dir``."""
    try:
        model, reporter = fit_trainer(task, data, report, manager)
        resumed = reporter.checkpoint is not None and reporter.checkpoint.resumed_epoch
        if reporter.epochs == 0 and not resumed:
            return TrialEnd(task.trial_id, "the trainer reported no epoch"), None
        if task.stage_dir is not None:
            stage(Path(task.stage_dir), model, task.params, data)
    except Exception as exc:  # a failing trial is data, not a crash of the study
        return TrialEnd(task.trial_id, first_line(exc)), None
    return TrialEnd(task.trial_id, None, staged=task.stage_dir is not None), model


def fit_trainer(
    task: TrialTask, data: DataSplits, report: ReportFn, manager: PluginManager
) -> tuple[ModelTrainer, TrialReporter]:
    """Build the task's trainer from its config and fit it; whatever it raises propagates.
    The reporter carries the trial's checkpoint (in its stage directory) for trainers
    that keep one."""
    checkpoint = None if task.stage_dir is None else TrialCheckpoint(task.stage_dir)
    reporter = TrialReporter(task.perf_metric, task.mode, report, checkpoint=checkpoint)
    spec = trainer_spec(manager, task.algo)
    config = make_config(spec.config_class, task.trainer_config, f"trainer {spec.name}")
    model = spec.factory(config)
    model.fit(data, reporter)
    return model, reporter
