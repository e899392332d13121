"""``SplitterConformance``: what every ``splitter`` component must do.

The splitter splits ``dataset()`` (blobs whose first column is the row index, so the
suite can tell which row went where); override it for a splitter that needs more.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hyperplug.data import Dataset, DataSplits
from hyperplug.interfaces import DataSplitter
from hyperplug.testing.base import ComponentConformance
from hyperplug.testing.data import blobs


class SplitterConformance(ComponentConformance):
    """Subclass as ``class TestMySplitter(SplitterConformance)`` and set ``component``."""

    kind = "splitter"

    def dataset(self) -> Dataset:
        """The dataset to split: 3 blob classes of 30 rows whose first column is the row's index."""
        return blobs(n_per_class=30, index_column=True)

    @pytest.fixture(scope="class")
    @classmethod
    def data(cls) -> Dataset:
        """Fixture: ``dataset()``, made once per suite."""
        return cls().dataset()

    def test_builds_a_data_splitter(self, build: Any) -> None:
        """The factory builds a ``DataSplitter``."""
        assert isinstance(build(), DataSplitter)

    def test_parts_are_disjoint_non_empty_and_cover_the_dataset(
        self, build: Any, data: Dataset
    ) -> None:
        """Train, val and test are non-empty, share no row, and together hold every row with its
        label."""
        splits = build().split_data(data)
        assert isinstance(splits, DataSplits)
        parts = (splits.train, splits.val, splits.test)
        assert all(len(part) > 0 for part in parts)
        rows = np.concatenate([part.x[:, 0] for part in parts]).astype(np.int64)
        assert sorted(rows.tolist()) == list(range(len(data))), "rows lost or repeated"
        for part in parts:
            index = part.x[:, 0].astype(np.int64)
            np.testing.assert_array_equal(part.x, data.x[index])
            np.testing.assert_array_equal(part.y, data.y[index])

    def test_keeps_the_classes_and_fingerprints_the_split(self, build: Any, data: Dataset) -> None:
        """The splits keep the dataset's ``classes`` and have a fingerprint."""
        splits = build().split_data(data)
        assert splits.classes == data.classes
        assert isinstance(splits.fingerprint, str) and splits.fingerprint

    def test_is_deterministic(self, build: Any, data: Dataset) -> None:
        """Two splits of the same dataset are the same, fingerprint included."""
        first, second = build().split_data(data), build().split_data(data)
        assert first.fingerprint == second.fingerprint
        for a, b in zip(
            (first.train, first.val, first.test),
            (second.train, second.val, second.test),
            strict=True,
        ):
            np.testing.assert_array_equal(a.x, b.x)
