"""The settings every optimizer config has: its name, seed and the study's budget.

Budgets live in the optimizer's config: ``max_trials`` (grid: every point), ``max_wall_time_s``,
``max_failures``, ``max_epochs`` (the epoch budget of one trial; the trainer's ``epochs``
is set to it) and ``max_retries`` (runs of a failed trial before it counts as failed).
An optimizer plugin subclasses ``OptimizerConfig`` for its own keys.
"""

from __future__ import annotations

from typing import Any, Optional

import attrs


def value_check(test: Any, requirement: str) -> Any:
    """An attrs validator: None passes; any other value must pass ``test`` (never a bool)."""

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and (isinstance(value, bool) or not test(value)):
            raise ValueError(f"optimizer.{attribute.name} must be {requirement}, got {value!r}")

    return validate


positive_int = value_check(lambda v: isinstance(v, int) and v > 0, "an integer > 0")
non_negative_int = value_check(lambda v: isinstance(v, int) and v >= 0, "an integer >= 0")
positive = value_check(lambda v: isinstance(v, int | float) and v > 0, "> 0")
above_one = value_check(lambda v: isinstance(v, int | float) and v > 1, "> 1")
integer = value_check(lambda v: isinstance(v, int), "an integer")

# Optional[...] rather than `X | None`: OmegaConf reads these annotations as strings.


@attrs.define
class OptimizerConfig:
    name: str = "grid"
    seed: int = attrs.field(default=0, validator=integer)
    max_trials: Optional[int] = attrs.field(default=None, validator=positive_int)  # noqa: UP045
    max_wall_time_s: Optional[float] = attrs.field(default=None, validator=positive)  # noqa: UP045
    max_failures: Optional[int] = attrs.field(default=10, validator=non_negative_int)  # noqa: UP045
    max_epochs: Optional[int] = attrs.field(default=None, validator=positive_int)  # noqa: UP045
    #: how many times a failed trial is run again (from its checkpoint) before it counts
    #: as failed, in each run of the study; a rerun retries the study's failed trials
    max_retries: int = attrs.field(default=1, validator=non_negative_int)
