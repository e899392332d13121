"""The sweeper's backend: Hydra jobs in the ``local`` backend's long-lived worker pool.

A trial is one Hydra job. The study process composes its config (``compose``) and hands
it to a free worker with the trial; the worker runs the task function, whose
``hyperplug.report`` calls come back as the trial's epochs, and whose return value comes
back as Hydra's JobReturn and as the metrics it stands for (``worker.returned_metrics``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from hyperplug.errors import ConfigError
from hyperplug.interfaces import DataRecipe, TrialDriver, TrialTask
from hyperplug.plugins.local.local import LocalBackend, LocalBackendConfig, Worker
from hyperplug.sweep.worker import JobWorkerSetup, job_worker_main

#: the metric the task function's return value is recorded as
OBJECTIVE = "objective"


class EpochReportsMissing(ConfigError):
    """The optimizer stops trials on per-epoch values that the app never reports."""


class SeveralObjectives(ConfigError):
    """The task function returned several objectives; a sweep optimises one."""


class HydraJobBackend(LocalBackend):
    worker_target = staticmethod(job_worker_main)
    label: ClassVar[str] = "hydra.sweeper"

    def __init__(
        self,
        n_workers: int,
        payload: bytes,
        compose: Callable[[TrialTask], Any],
        needs_reports: str | None = None,
        metric: str = OBJECTIVE,
    ) -> None:
        """``payload``: what ``JobWorkerSetup`` carries; ``compose``: a trial's job config;
        ``needs_reports``: the optimizer's name when it decides on ``metric`` each epoch."""
        super().__init__(LocalBackendConfig(n_workers=n_workers, start_method="spawn"))
        self.payload = payload
        self.compose = compose
        self.needs_reports = needs_reports
        self.metric = metric
        #: trial id -> its job's cloudpickled JobReturn
        self.returns: dict[int, bytes] = {}

    def start(self, recipe: DataRecipe, driver: TrialDriver) -> None:
        self.driver = driver
        self.workers = [self._spawn(i) for i in range(self.config.n_workers)]

    def worker_setup(self, index: int) -> Any:
        return JobWorkerSetup(self.payload)

    def job_message(self, task: TrialTask) -> tuple[Any, ...]:
        return ("trial", task, self.compose(task))

    def _handle(self, worker: Worker, message: tuple[Any, ...]) -> None:
        if message[0] == "report" and self.needs_reports and self.metric not in message[3]:
            raise EpochReportsMissing(
                f"optimizer {self.needs_reports} decides on hydra.sweeper.metric="
                f"{self.metric} each epoch, but the app reports "
                f"{', '.join(sorted(message[3]))}: set hydra.sweeper.metric to one of them"
            )
        if message[0] == "return":
            self.returns[message[1]] = message[2]
            return
        if message[0] != "result":
            super()._handle(worker, message)
            return
        assert self.driver is not None
        _, trial_id, epoch, metrics, objectives, reports = message
        if objectives:
            raise SeveralObjectives(
                f"the task function returned {objectives} numbers (several objectives); "
                "the sweep optimises one: return one number, or a dict of named numbers "
                "and choose one with hydra.sweeper.metric=NAME"
            )
        if self.needs_reports and reports == 0:
            raise EpochReportsMissing(
                f"optimizer {self.needs_reports} needs per-epoch metrics: call "
                "hyperplug.report(epoch=..., <metric>=...) in the task function, or use "
                "random/bo/tpe/grid"
            )
        if metrics:
            self.driver.on_report(trial_id, epoch, metrics)
