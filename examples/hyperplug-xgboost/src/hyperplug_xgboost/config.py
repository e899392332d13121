"""The ``xgboost`` trainer's config: defaults and validators, no xgboost import."""

from __future__ import annotations

import attrs

from hyperplug.validators import (
    integer,
    is_number,
    non_negative,
    non_negative_int,
    positive,
    positive_int,
    require,
)

fraction = require(lambda v: is_number(v) and 0 < v <= 1, "in (0, 1]")


@attrs.define
class XGBoostConfig:
    """Gradient-boosted trees (``multi:softprob``). Training reports every
    ``rounds_per_epoch`` boosting rounds as one epoch, up to ``n_estimators`` rounds;
    the model keeps the rounds up to its best epoch. ``threads=0``: XGBoost's default."""

    name: str = "xgboost"
    n_estimators: int = attrs.field(default=100, validator=positive_int)
    rounds_per_epoch: int = attrs.field(default=10, validator=positive_int)
    max_depth: int = attrs.field(default=6, validator=positive_int)
    learning_rate: float = attrs.field(default=0.3, validator=positive)
    subsample: float = attrs.field(default=1.0, validator=fraction)
    colsample_bytree: float = attrs.field(default=1.0, validator=fraction)
    min_child_weight: float = attrs.field(default=1.0, validator=non_negative)
    reg_lambda: float = attrs.field(default=1.0, validator=non_negative)
    reg_alpha: float = attrs.field(default=0.0, validator=non_negative)
    seed: int = attrs.field(default=0, validator=integer)
    threads: int = attrs.field(default=0, validator=non_negative_int)
