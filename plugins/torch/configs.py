"""Configs of the torch trainers.

Torch-free on purpose: the plugin registers these classes at import time, and
importing the plugin must stay cheap. attrs validators run when the instance is
created (``OmegaConf.to_object``), so a bad value fails before any trial starts
with a message naming the ``trainer.<field>`` key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from hyperplug.errors import did_you_mean

ACTIVATIONS: tuple[str, ...] = ("relu", "gelu", "tanh", "sigmoid", "leaky_relu", "silu")
OPTIMIZERS: tuple[str, ...] = ("adam", "adamw", "sgd")

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require(test: Callable[[Any], bool], requirement: str) -> Validator:
    """A validator raising ``trainer.<field> must be <requirement>, got <value>``."""

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not test(value):
            raise ValueError(f"trainer.{attribute.name} must be {requirement}, got {value!r}")

    return validate


def one_of(choices: tuple[str, ...]) -> Validator:
    """A validator accepting only ``choices``, suggesting the closest on a typo."""

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in choices:
            raise ValueError(
                f"trainer.{attribute.name} must be one of {', '.join(choices)}, got {value!r}"
                + did_you_mean(str(value), choices)
            )

    return validate


positive = _require(lambda v: _is_number(v) and v > 0, "> 0")
non_negative = _require(lambda v: _is_number(v) and v >= 0, ">= 0")
positive_int = _require(lambda v: _is_int(v) and v > 0, "an integer > 0")
non_negative_int = _require(lambda v: _is_int(v) and v >= 0, "an integer >= 0")
integer = _require(_is_int, "an integer")
probability = _require(lambda v: _is_number(v) and 0 <= v < 1, "in [0, 1)")
layer_sizes = _require(
    lambda v: isinstance(v, (list, tuple)) and all(_is_int(n) and n > 0 for n in v),
    "a list of integers > 0",
)


@attrs.define
class MLPConfig:
    """A multi-layer perceptron on flattened inputs.

    ``hidden_layers=[]`` is a linear (softmax regression) model. ``momentum`` is used by
    ``sgd`` only. ``threads=0`` leaves torch's thread count as it is.
    """

    name: str = "mlp"
    hidden_layers: list[int] = attrs.field(factory=lambda: [128, 64], validator=layer_sizes)
    activation: str = attrs.field(default="relu", validator=one_of(ACTIVATIONS))
    dropout: float = attrs.field(default=0.0, validator=probability)
    optimizer: str = attrs.field(default="adam", validator=one_of(OPTIMIZERS))
    lr: float = attrs.field(default=1e-3, validator=positive)
    weight_decay: float = attrs.field(default=0.0, validator=non_negative)
    momentum: float = attrs.field(default=0.9, validator=non_negative)
    batch_size: int = attrs.field(default=64, validator=positive_int)
    epochs: int = attrs.field(default=10, validator=positive_int)
    seed: int = attrs.field(default=0, validator=integer)
    threads: int = attrs.field(default=0, validator=non_negative_int)
