"""A trainer that goes wrong the way user code does, for the backends' fault tests: the
real MLP trainer, with a fault injected into its second epoch. Workers of every backend
import it by this module's name (``tests/`` is on their path)."""

from __future__ import annotations

import math
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from hyperplug.plugins.torch.configs import MLPConfig
from hyperplug.plugins.torch.mlp import MLPTrainer


@attrs.define
class FaultyConfig(MLPConfig):
    name: str = "faulty"
    #: what goes wrong at epoch 2: none, raise, nan or kill (SIGKILL of its own process)
    fault: str = "none"
    #: a file every epoch trained is appended to; with it, the fault happens only the first
    #: time (a transient fault, gone when the trial is retried)
    once: str = ""


@attrs.define
class FaultyReporter:
    report: Any
    fault: str
    perf_metric: str
    mode: str
    checkpoint: Any = None
    once: str = ""

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        if self.once:
            path = Path(self.once)
            faulted = path.exists() and "2" in path.read_text().split()
            with open(path, "a") as log:
                log.write(f"{epoch}\n")
            if faulted or epoch != 2:
                return self.report(epoch, metrics)
        if epoch == 2 and self.fault == "raise":
            raise RuntimeError("boom at epoch 2\nsecond line")
        if epoch == 2 and self.fault == "nan":
            metrics = {**metrics, "val_loss": math.nan}
        if epoch == 2 and self.fault == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        return self.report(epoch, metrics)


class FaultyTrainer(MLPTrainer):
    """The real MLP trainer, with a fault injected into its second epoch."""

    name = "faulty"
    config_class = FaultyConfig

    def fit(self, data: Any, report: Any) -> None:
        wrapped = FaultyReporter(
            report,
            self.config.fault,
            report.perf_metric,
            report.mode,
            report.checkpoint,
            self.config.once,
        )
        super().fit(data, wrapped)
