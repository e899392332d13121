"""Configs of the scikit-learn datasets and splitters (no sklearn import here)."""

from __future__ import annotations

import attrs

from hyperplug.validators import integer, open_fraction


@attrs.define
class DigitsConfig:
    """scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes), shipped with it."""

    name: str = "digits"


@attrs.define
class StratifiedSplitConfig:
    """Random train/val/test split keeping each class's share in every part."""

    name: str = "stratified"
    val_size: float = attrs.field(default=0.15, validator=open_fraction)
    test_size: float = attrs.field(default=0.15, validator=open_fraction)
    seed: int = attrs.field(default=0, validator=integer)

    def __attrs_post_init__(self) -> None:
        if self.val_size + self.test_size >= 1:
            raise ValueError(
                "val_size + test_size must be < 1 to leave training data, "
                f"got {self.val_size} + {self.test_size}"
            )
