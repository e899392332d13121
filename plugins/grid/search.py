"""The grid optimizer's search: a queue of the grid's points."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from hyperplug.interfaces import Budget, Optimizer, Search, SearchContext
from hyperplug.optimizer_config import OptimizerConfig
from hyperplug.search_space import not_run

Point = tuple[str, dict[str, Any]]


class GridOptimizer(Optimizer):
    def __init__(self, config: OptimizerConfig) -> None:
        self.config = config

    def budget(self) -> Budget:
        c = self.config
        return Budget(c.max_trials, c.max_wall_time_s, c.max_failures, c.max_epochs, c.max_retries)

    def needs_finite_space(self) -> bool:
        return True

    def search(self, context: SearchContext) -> Search:
        return GridSearch(not_run(context.space.grid(), context.history))


class GridSearch(Search):
    """Proposes each point once, in order, then None. A trial that starts without having
    been proposed (a resumed study's interrupted or retried trial) takes its point off
    the queue, so it is not proposed again."""

    def __init__(self, points: Sequence[Point]) -> None:
        self.queue: deque[Point] = deque(points)
        self.running: set[int] = set()
        self._proposed: Point | None = None

    def suggest(self) -> Point | None:
        self._proposed = self.queue.popleft() if self.queue else None
        return self._proposed

    def on_start(self, trial_id: int, trainer: str, params: Mapping[str, Any]) -> None:
        point = (trainer, dict(params))
        if point != self._proposed and point in self.queue:
            self.queue.remove(point)
        self._proposed = None
        self.running.add(trial_id)

    def on_report(self, trial_id: int, epoch: int, metrics: Mapping[str, float]) -> bool:
        return True

    def on_end(self, trial_id: int, status: str, last: Mapping[str, float] | None) -> None:
        self.running.discard(trial_id)

    def pending(self) -> set[int]:
        return set(self.running)
