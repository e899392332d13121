"""The ``inline`` backend: trials run one after another in the study process, with no
process or thread in between, so a debugger sees every trial."""

from __future__ import annotations

from collections import deque

import attrs

from hyperplug.data import DataSplits
from hyperplug.interfaces import Backend, DataRecipe, TrialDriver, TrialTask
from hyperplug.plugin_manager import get_plugin_manager
from hyperplug.trial_runner import execute_trial, load_recipe


@attrs.define
class InlineBackendConfig:
    name: str = "inline"


class InlineBackend(Backend):
    def __init__(self, config: InlineBackendConfig) -> None:
        self.config = config
        self.pending: deque[TrialTask] = deque()
        self.stopping: set[int] = set()
        self.data: DataSplits | None = None
        self.driver: TrialDriver | None = None

    def start(self, recipe: DataRecipe, driver: TrialDriver) -> None:
        self.data = load_recipe(recipe)
        self.driver = driver

    def free_slots(self) -> int:
        return 0 if self.pending else 1

    def submit(self, task: TrialTask) -> None:
        self.pending.append(task)

    def poll(self, timeout: float) -> None:
        """Run the submitted trial to its end (reports go straight to the driver)."""
        if not self.pending:
            return
        assert self.driver is not None and self.data is not None
        task = self.pending.popleft()
        driver = self.driver

        def report(epoch: int, metrics: dict[str, float]) -> bool:
            keep = driver.on_report(task.trial_id, epoch, metrics)
            return keep and task.trial_id not in self.stopping

        end, _ = execute_trial(task, self.data, report, get_plugin_manager())
        self.stopping.discard(task.trial_id)
        driver.on_end(end)

    def stop(self, trial_id: int) -> None:
        self.stopping.add(trial_id)

    def shutdown(self) -> None:
        self.pending.clear()
