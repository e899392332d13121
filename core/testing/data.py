"""Small, deterministic data and a recording reporter for conformance tests."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np

from hyperplug.data import ArraySplit, Dataset, DataSplits, fingerprint_arrays


def blobs(
    n_per_class: int = 40,
    n_classes: int = 3,
    n_features: int = 4,
    seed: int = 0,
    index_column: bool = False,
) -> Dataset:
    """Gaussian blobs, one per class, easy to separate, in shuffled order. With
    ``index_column`` feature 0 is the row's index instead, so that a test can tell which
    rows a split put where."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 3.0, size=(n_classes, n_features))
    y = np.repeat(np.arange(n_classes), n_per_class)
    x = centers[y] + rng.normal(0.0, 1.0, size=(len(y), n_features))
    order = rng.permutation(len(y))
    x, y = x[order].astype(np.float32), y[order]
    if index_column:
        x[:, 0] = np.arange(len(y))
    classes = tuple(f"c{i}" for i in range(n_classes))
    return Dataset.from_arrays("blobs", x, y, classes=classes)


def blobs_splits(dataset: Dataset | None = None) -> DataSplits:
    """``blobs()`` cut 60/20/20 into train, val and test, in row order."""
    dataset = dataset or blobs()
    n = len(dataset)
    cuts = [0, int(n * 0.6), int(n * 0.8), n]
    parts = [ArraySplit(dataset.x[a:b], dataset.y[a:b]) for a, b in itertools.pairwise(cuts)]
    return DataSplits(
        *parts, classes=dataset.classes, fingerprint=fingerprint_arrays(dataset.x, dataset.y)
    )


class RecordingReporter:
    """A ``Reporter`` that records every epoch and asks to stop after ``stop_after`` of them."""

    def __init__(
        self, perf_metric: str = "val_accuracy", mode: str = "max", stop_after: int | None = None
    ) -> None:
        self.perf_metric = perf_metric
        """The metric ``best`` looks at."""
        self.mode = mode
        """``"max"`` or ``"min"``."""
        self.stop_after = stop_after
        """Answer False to the report of this many epochs (None: never)."""
        self.epochs: list[int] = []
        """Every reported epoch, in order."""
        self.metrics: list[dict[str, float]] = []
        """Every reported epoch's metrics, in order."""

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        self.epochs.append(epoch)
        self.metrics.append(dict(metrics))
        return self.stop_after is None or len(self.epochs) < self.stop_after

    def best(self) -> float:
        """The best reported value of the perf_metric, by ``mode``."""
        values = [m[self.perf_metric] for m in self.metrics]
        return max(values) if self.mode == "max" else min(values)
