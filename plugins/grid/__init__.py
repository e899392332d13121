"""The ``grid`` optimizer: every point of every trainer's grid, once, in config order.

It needs no library: a bare install runs a grid study (``GridTuner``, the default
``optimizer=grid``) without Syne Tune.
"""

from __future__ import annotations

import attrs

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug.optimizer_config import OptimizerConfig


@attrs.define
class GridConfig(OptimizerConfig):
    """Every point of every trainer's grid, once, in order."""

    name: str = "grid"


def build_grid(config: GridConfig) -> object:
    from hyperplug.plugins.grid.search import GridOptimizer

    return GridOptimizer(config)


@hookimpl
def register_optimizers() -> list[Component]:
    return [
        Component(
            kind="optimizer",
            name="grid",
            factory=build_grid,
            config_class=GridConfig,
            description="every point of every trainer's grid, once, in order (default)",
        )
    ]
