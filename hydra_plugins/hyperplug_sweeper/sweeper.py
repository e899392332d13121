"""The ``hyperplug`` Hydra sweeper: keeps what Hydra hands it; the sweep itself lives in
``hyperplug.sweep.runner``, imported when a sweep starts (never at Hydra's plugin scan)."""

from __future__ import annotations

import sys
from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf


class HyperplugSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        self.settings = {
            key: OmegaConf.to_container(value, resolve=True)
            if OmegaConf.is_config(value)
            else value
            for key, value in settings.items()
        }
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None
        self.config: DictConfig | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.hydra_context = hydra_context
        self.task_function = task_function
        self.config = config

    def sweep(self, arguments: list[str]) -> Any:
        """Run the sweep; return the JobReturns of the jobs it ran, as one batch.

        Run from the command line (``@hydra.main``), a user error (bad space, unknown key,
        too many failed jobs) ends the process with one line on stderr and exit code 2,
        and Ctrl-C with one line and exit code 130. Called through Hydra's Python API,
        the error is raised to the caller."""
        from hyperplug.hydra_app import user_errors_exit
        from hyperplug.sweep.runner import Sweep, settings_of

        assert self.hydra_context is not None and self.config is not None

        sampler = self.config.hydra.runtime.choices.get("hydra/sweeper/sampler")

        def run() -> Any:
            settings = settings_of(self.settings, sampler)
            return Sweep(settings, self.hydra_context, self.task_function, self.config).run(
                arguments
            )

        if not _run_from_command_line():
            return run()
        resume = f"run it again with hydra.sweep.dir={self.config.hydra.sweep.dir} to resume"
        with user_errors_exit("hyperplug sweeper", resume):
            return run()


def _run_from_command_line() -> bool:
    """Whether ``@hydra.main`` started this sweep: Hydra's command-line entry
    (``_run_hydra``) is on the call stack."""
    from hydra._internal.utils import _run_hydra

    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is _run_hydra.__code__:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False
