"""attrs validators for component configs, with messages that name the field.

A validator says ``lr must be > 0, got -0.1``; ``hyperplug.config.make_config`` puts
the config path in front (``trainer.lr must be > 0, got -0.1``, or
``training_params.mlp.lr ...`` for a grid point), so a plugin's config class does not
need to know which group it is used in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from hyperplug.errors import did_you_mean

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]
"""What attrs calls a validator with: ``(instance, attribute, value)``; it raises ``ValueError``."""


def is_number(value: Any) -> bool:
    """An int or a float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_int(value: Any) -> bool:
    """An int, not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def require(test: Callable[[Any], bool], requirement: str) -> Validator:
    """A validator raising ``<field> must be <requirement>, got <value>``."""

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not test(value):
            raise ValueError(f"{attribute.name} must be {requirement}, got {value!r}")

    return validate


def one_of(choices: Sequence[str]) -> Validator:
    """A validator accepting only ``choices``, suggesting the closest on a typo."""

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in choices:
            raise ValueError(
                f"{attribute.name} must be one of {', '.join(choices)}, got {value!r}"
                + did_you_mean(str(value), choices)
            )

    return validate


positive = require(lambda v: is_number(v) and v > 0, "> 0")
"""``> 0``: a number."""
non_negative = require(lambda v: is_number(v) and v >= 0, ">= 0")
"""``>= 0``: a number."""
positive_int = require(lambda v: is_int(v) and v > 0, "an integer > 0")
"""An integer ``> 0``."""
non_negative_int = require(lambda v: is_int(v) and v >= 0, "an integer >= 0")
"""An integer ``>= 0``."""
integer = require(is_int, "an integer")
"""An integer (not a bool)."""
probability = require(lambda v: is_number(v) and 0 <= v < 1, "in [0, 1)")
"""A number in ``[0, 1)``."""
open_fraction = require(lambda v: is_number(v) and 0 < v < 1, "in (0, 1)")
"""A number in ``(0, 1)``."""
string = require(lambda v: isinstance(v, str), "a string")
"""A string."""
non_empty_string = require(lambda v: isinstance(v, str) and bool(v), "a non-empty string")
"""A non-empty string."""
single_character = require(lambda v: isinstance(v, str) and len(v) == 1, "a single character")
"""A string of one character."""
