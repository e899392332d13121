"""Configs of the scikit-learn datasets and splitters (no sklearn import here)."""

from __future__ import annotations

from typing import Any

import attrs


def _fraction(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"splitter.{attribute.name} must be in (0, 1), got {value!r}")


def _integer(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"splitter.{attribute.name} must be an integer, got {value!r}")


@attrs.define
class DigitsConfig:
    """scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes), shipped with it."""

    name: str = "digits"


@attrs.define
class StratifiedSplitConfig:
    """Random train/val/test split keeping each class's share in every part."""

    name: str = "stratified"
    val_size: float = attrs.field(default=0.15, validator=_fraction)
    test_size: float = attrs.field(default=0.15, validator=_fraction)
    seed: int = attrs.field(default=0, validator=_integer)

    def __attrs_post_init__(self) -> None:
        if self.val_size + self.test_size >= 1:
            raise ValueError(
                "splitter.val_size + splitter.test_size must be < 1 to leave training data, "
                f"got {self.val_size} + {self.test_size}"
            )
