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
    """A labelled classification dataset: ``x`` is (n, *features), ``y`` is (n,) class indices.

    Build one with ``Dataset.from_arrays``, which encodes the labels and computes the
    fingerprint.
    """

    name: str
    """The dataset's name (a file's stem, ``digits``)."""
    x: np.ndarray = attrs.field(repr=False)
    """The inputs, shaped (n, *features): flat rows or images (n, H, W, C)."""
    y: np.ndarray = attrs.field(repr=False)
    """The labels as int64 class indices into ``classes``, shaped (n,)."""
    classes: tuple[str, ...]
    """The class names; label ``i`` is ``classes[i]``."""
    fingerprint: str
    """``fingerprint_arrays(x, y)``: identifies the data."""
    features: tuple[str, ...] = ()
    """Names of the feature columns of tabular data (``x[:, i]``), when the source has them."""

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
    """The inputs, shaped (n, *features)."""
    y: np.ndarray = attrs.field(repr=False)
    """The labels, int64 class indices, shaped (n,)."""

    def __len__(self) -> int:
        return len(self.y)


@attrs.frozen
class DataSplits:
    """Train, validation and test parts of one dataset, with what a model needs to know.

    A splitter builds it (``DataSplitter.split_data``); from Python, so may you:
    ``DataSplits(ArraySplit(x1, y1), ArraySplit(x2, y2), ArraySplit(x3, y3), classes,
    fingerprint_arrays(x1, y1, x2, y2, x3, y3))``.
    """

    train: ArraySplit
    """What the trainer trains on."""
    val: ArraySplit
    """What picks the best epoch and the winner."""
    test: ArraySplit
    """Held out: the winner is evaluated on it once (``test_loss``, ``test_accuracy``)."""
    classes: tuple[str, ...]
    """The class names, shared by the three parts."""
    fingerprint: str
    """Identifies the split: the dataset's fingerprint hashed with what decided the cut
    (sizes, seed). A model version records it as ``data_fingerprint``, and a worker
    checks that the data it built has it."""

    @property
    def n_classes(self) -> int:
        """``len(classes)``."""
        return len(self.classes)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one training input (``x.shape[1:]``)."""
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
