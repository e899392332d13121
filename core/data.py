"""In-memory data passed between datasets, splitters, trainers and the tuner.

Arrays are numpy so that core/ never imports torch; trainers convert them.
``DataSplits`` is what a splitter's ``split_data`` returns and what
``BaseHyperparameterTuner.run_experiment(data)`` takes.
"""

from __future__ import annotations

import hashlib

import attrs
import numpy as np

from hyperplug.errors import DataError


def fingerprint_arrays(*arrays: np.ndarray) -> str:
    """sha256 over the dtype, shape and bytes of each array: identifies the data a model saw."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


@attrs.frozen
class Dataset:
    """A labelled classification dataset: ``x`` is (n, *features), ``y`` is (n,) class indices."""

    name: str
    x: np.ndarray = attrs.field(repr=False)
    y: np.ndarray = attrs.field(repr=False)
    classes: tuple[str, ...]
    fingerprint: str
    #: names of the feature columns of tabular data (``x[:, i]``), when the source has them
    features: tuple[str, ...] = ()

    @classmethod
    def from_arrays(
        cls,
        name: str,
        x: np.ndarray,
        y: np.ndarray,
        classes: tuple[str, ...] | None = None,
        features: tuple[str, ...] = (),
    ) -> Dataset:
        """Build a dataset, encoding labels to 0..k-1 if ``classes`` is not given."""
        x = np.asarray(x)
        y = np.asarray(y)
        if classes is None:
            labels, y = np.unique(y, return_inverse=True)
            classes = tuple(str(label) for label in labels)
        y = y.astype(np.int64)
        return cls(name, x, y, tuple(classes), fingerprint_arrays(x, y), tuple(features))

    def __len__(self) -> int:
        return len(self.y)


@attrs.frozen
class ArraySplit:
    """One part of a split: features and class indices."""

    x: np.ndarray = attrs.field(repr=False)
    y: np.ndarray = attrs.field(repr=False)

    def __len__(self) -> int:
        return len(self.y)


@attrs.frozen
class DataSplits:
    """Train, validation and test parts of one dataset, with what a model needs to know."""

    train: ArraySplit
    val: ArraySplit
    test: ArraySplit
    classes: tuple[str, ...]
    fingerprint: str

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.train.x.shape[1:])


def check_learnable(data: DataSplits) -> None:
    """Refuse data a classifier cannot learn anything from: training labels of one class
    (a model that always answers it scores perfectly and would be versioned as perfect)."""
    present = np.unique(np.asarray(data.train.y))
    if len(present) == 1:
        index = int(present[0])
        name = data.classes[index] if 0 <= index < len(data.classes) else index
        raise DataError(
            f"the training data has one class ({name!r}): a classifier needs at least two; "
            "check the dataset's label column or files"
        )
