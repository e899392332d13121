"""Configs of the Syne Tune optimizers (no Syne Tune import here); the budget keys they
share with every optimizer are ``hyperplug.optimizer_config.OptimizerConfig``'s.
Cross-field rules (an epoch budget for ASHA, a reference study for RUSH) are
checked when the optimizer is built, before any trial runs.
"""

from __future__ import annotations

from typing import Optional

import attrs

from hyperplug.optimizer_config import OptimizerConfig, above_one, positive_int


@attrs.define
class RandomConfig(OptimizerConfig):
    name: str = "random"
    max_trials: Optional[int] = attrs.field(default=20, validator=positive_int)  # noqa: UP045


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
    grace_period: int = attrs.field(default=1, validator=positive_int)
    reduction_factor: float = attrs.field(default=3.0, validator=above_one)
    brackets: int = attrs.field(default=1, validator=positive_int)


@attrs.define
class HyperbandConfig(ASHAConfig):
    """ASHA with several brackets (Syne Tune's asynchronous Hyperband);
    ``brackets: null`` uses as many as the rungs allow."""

    name: str = "hyperband"
    brackets: Optional[int] = attrs.field(default=None, validator=positive_int)  # noqa: UP045


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
    n_reference: int = attrs.field(default=3, validator=positive_int)
