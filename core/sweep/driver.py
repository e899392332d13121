"""The study process's side of the sweeper: Hydra jobs as the trials of a study, run by
any registered backend (``hydra.sweeper.backend``).

A trial is one Hydra job. The engine composes its config when it opens the trial and
hands it to the backend as a ``HydraJob``; the job's ``hyperplug.report`` calls come
back as the trial's epochs, and its end brings Hydra's JobReturn and the metrics its
return value stands for (``worker.returned_metrics``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from hyperplug.engine import Engine
from hyperplug.errors import ConfigError
from hyperplug.interfaces import Backend, TrialEnd, TrialRecord, TrialTask
from hyperplug.sweep.worker import HydraJob, JobResult

#: the metric the task function's return value is recorded as
OBJECTIVE = "objective"


class EpochReportsMissing(ConfigError):
    """The optimizer stops trials on per-epoch values that the app never reports."""


class SeveralObjectives(ConfigError):
    """The task function returned several objectives; a sweep optimises one."""


class SweepEngine(Engine):
    """The study engine with Hydra jobs for trials: ``compose(record, config)`` is a
    trial's job config; ``needs_reports`` the optimizer's name when it decides on
    ``perf_metric`` each epoch. ``returns``: trial id -> its job's cloudpickled
    JobReturn."""

    def __init__(
        self,
        *,
        compose: Callable[[TrialRecord, Mapping[str, Any]], Any],
        needs_reports: str | None = None,
        **engine: Any,
    ) -> None:
        super().__init__(**engine)
        self.compose = compose
        self.needs_reports = needs_reports
        self.returns: dict[int, bytes] = {}

    def _task(
        self, record: TrialRecord, algo: Any, params: Mapping[str, Any], config: Mapping[str, Any]
    ) -> TrialTask:
        task = super()._task(record, algo, params, config)
        return attrs.evolve(task, algo=HydraJob(self.compose(record, config)))

    def on_report(self, trial_id: int, epoch: int, metrics: Mapping[str, float]) -> bool:
        if self.needs_reports and self.perf_metric not in metrics:
            raise EpochReportsMissing(
                f"optimizer {self.needs_reports} decides on hydra.sweeper.metric="
                f"{self.perf_metric} each epoch, but the app reports "
                f"{', '.join(sorted(metrics))}: set hydra.sweeper.metric to one of them"
            )
        return super().on_report(trial_id, epoch, metrics)

    def on_end(self, end: TrialEnd) -> TrialRecord:
        result = end.result
        if isinstance(result, JobResult):
            self.returns[end.trial_id] = result.job_return
            if result.completed:
                self._returned(end.trial_id, result)
        return super().on_end(end)

    def _returned(self, trial_id: int, result: JobResult) -> None:
        """A completed job's return value: refused when it is several objectives, or when
        the optimizer needed epochs it never reported; else recorded as its last epoch."""
        if result.objectives:
            raise SeveralObjectives(
                f"the task function returned {result.objectives} numbers (several "
                "objectives); the sweep optimises one: return one number, or a dict of "
                "named numbers and choose one with hydra.sweeper.metric=NAME"
            )
        if self.needs_reports and result.reports == 0:
            raise EpochReportsMissing(
                f"optimizer {self.needs_reports} needs per-epoch metrics: call "
                "hyperplug.report(epoch=..., <metric>=...) in the task function, or use "
                "random/bo/tpe/grid"
            )
        if result.metrics:
            super().on_report(trial_id, result.epoch, result.metrics)


def build_backend(name: str, config: Mapping[str, Any], n_workers: int) -> Backend:
    """The registered backend ``name`` with ``config``; ``n_workers`` jobs at once where its
    config has ``n_workers`` (a backend without it runs one job at a time)."""
    from hyperplug.api import build
    from hyperplug.plugin_manager import get_plugin_manager

    try:
        component = get_plugin_manager().registry.get("backend", name).component
    except ConfigError as exc:
        raise ConfigError(f"hydra.sweeper.backend={name}: {exc}") from exc
    node = {**config, "name": name}
    if "n_workers" in attrs.fields_dict(component.config_class):
        node.setdefault("n_workers", n_workers)
    elif n_workers != 1:
        raise ConfigError(
            f"hydra.sweeper.n_workers={n_workers}: backend {name} runs one job at a time"
        )
    try:
        return build("backend", **node)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("backend.", "hydra.sweeper.backend_config.", 1)) from exc
