"""Configs of the optimizers (no Syne Tune import here).

Budgets live in the optimizer's config: ``max_trials`` (grid: every point), ``max_wall_time_s``,
``max_failures``, ``max_epochs`` (the epoch budget of one trial; the trainer's ``epochs``
is set to it) and ``max_retries`` (runs of a failed trial before it counts as failed).
Cross-field rules (an epoch budget for ASHA, a reference study for RUSH) are
checked when the optimizer is built, before any trial runs.
"""

from __future__ import annotations

from typing import Any, Optional

import attrs


def _check(test: Any, requirement: str) -> Any:
    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and (isinstance(value, bool) or not test(value)):
            raise ValueError(f"optimizer.{attribute.name} must be {requirement}, got {value!r}")

    return validate


_positive_int = _check(lambda v: isinstance(v, int) and v > 0, "an integer > 0")
_non_negative_int = _check(lambda v: isinstance(v, int) and v >= 0, "an integer >= 0")
_positive = _check(lambda v: isinstance(v, int | float) and v > 0, "> 0")
_above_one = _check(lambda v: isinstance(v, int | float) and v > 1, "> 1")
_int = _check(lambda v: isinstance(v, int), "an integer")

# Optional[...] rather than `X | None`: OmegaConf reads these annotations as strings.


@attrs.define
class OptimizerConfig:
    name: str = "grid"
    seed: int = attrs.field(default=0, validator=_int)
    max_trials: Optional[int] = attrs.field(default=None, validator=_positive_int)  # noqa: UP045
    max_wall_time_s: Optional[float] = attrs.field(default=None, validator=_positive)  # noqa: UP045
    max_failures: Optional[int] = attrs.field(default=10, validator=_non_negative_int)  # noqa: UP045
    max_epochs: Optional[int] = attrs.field(default=None, validator=_positive_int)  # noqa: UP045
    #: how many times a failed trial is run again (from its checkpoint) before it counts
    #: as failed, in each run of the study; a rerun retries the study's failed trials
    max_retries: int = attrs.field(default=1, validator=_non_negative_int)


@attrs.define
class GridConfig(OptimizerConfig):
    """Every point of every trainer's grid, once, in order."""

    name: str = "grid"


@attrs.define
class RandomConfig(OptimizerConfig):
    name: str = "random"
    max_trials: Optional[int] = attrs.field(default=20, validator=_positive_int)  # noqa: UP045


@attrs.define
class BOConfig(RandomConfig):
    name: str = "bo"


@attrs.define
class TPEConfig(RandomConfig):
    name: str = "tpe"


@attrs.define
class ASHAConfig(RandomConfig):
    """Asynchronous successive halving: rungs at grace_period * reduction_factor^k epochs."""

    name: str = "asha"
    grace_period: int = attrs.field(default=1, validator=_positive_int)
    reduction_factor: float = attrs.field(default=3.0, validator=_above_one)
    brackets: int = attrs.field(default=1, validator=_positive_int)


@attrs.define
class HyperbandConfig(ASHAConfig):
    """ASHA with several brackets (Syne Tune's asynchronous Hyperband);
    ``brackets: null`` uses as many as the rungs allow."""

    name: str = "hyperband"
    brackets: Optional[int] = attrs.field(default=None, validator=_positive_int)  # noqa: UP045


@attrs.define
class BOHBConfig(ASHAConfig):
    name: str = "bohb"


@attrs.define
class RUSHConfig(ASHAConfig):
    """ASHA warm-started from ``reference_study`` (null in an update: the studies that
    made its model): their ``n_reference`` best configurations run first, and at each
    rung another trial must do as well as they did on this study's data."""

    name: str = "rush"
    reference_study: Optional[str] = None  # noqa: UP045
    n_reference: int = attrs.field(default=3, validator=_positive_int)
