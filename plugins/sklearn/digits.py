"""The ``digits`` dataset."""

from __future__ import annotations

import numpy as np

from hyperplug.data import Dataset
from hyperplug.interfaces import DatasetSource
from hyperplug.plugins.sklearn.configs import DigitsConfig


class DigitsDataset(DatasetSource):
    """scikit-learn's digits: x is float32 (n, 64) in [0, 1], classes are "0".."9"."""

    def __init__(self, config: DigitsConfig) -> None:
        self.config = config

    def load(self) -> Dataset:
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = (digits.data / 16.0).astype(np.float32)
        classes = tuple(str(c) for c in digits.target_names)
        return Dataset.from_arrays("digits", x, digits.target, classes=classes)
