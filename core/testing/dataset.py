"""``DatasetConformance``: what every ``dataset`` component must do.

``config()`` points the dataset at real data (write a small file under ``tmp_path``);
``broken_config()`` may point it at unreadable data, which must raise ``DataError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hyperplug.data import Dataset, fingerprint_arrays
from hyperplug.errors import DataError
from hyperplug.interfaces import DatasetSource
from hyperplug.testing.base import ComponentConformance


class DatasetConformance(ComponentConformance):
    """Subclass as ``class TestMyDataset(DatasetConformance)`` and set ``component``."""

    kind = "dataset"

    def broken_config(self, tmp_path: Path) -> dict[str, Any] | None:
        """Config keys under which loading must fail with ``DataError`` (None: not tested)."""
        return None

    def test_builds_a_dataset_source(self, build: Any) -> None:
        """The factory builds a ``DatasetSource``."""
        assert isinstance(build(), DatasetSource)

    def test_loads_labelled_numeric_data(self, build: Any) -> None:
        """``load`` gives a non-empty ``Dataset``: numeric ``x``, int64 labels within ``classes``,
        class names as strings."""
        dataset = build().load()
        assert isinstance(dataset, Dataset)
        assert len(dataset.x) == len(dataset.y) > 0
        assert np.issubdtype(dataset.x.dtype, np.number), dataset.x.dtype
        assert dataset.y.dtype == np.int64 and dataset.y.ndim == 1
        assert dataset.classes and all(isinstance(c, str) for c in dataset.classes)
        assert dataset.y.min() >= 0 and dataset.y.max() < len(dataset.classes)

    def test_fingerprint_identifies_the_data(self, build: Any) -> None:
        """The fingerprint is ``fingerprint_arrays(x, y)``, and two loads give the same data."""
        first, second = build().load(), build().load()
        assert first.fingerprint == fingerprint_arrays(first.x, first.y)
        assert second.fingerprint == first.fingerprint
        np.testing.assert_array_equal(first.x, second.x)

    def test_unreadable_data_is_a_data_error(self, build: Any, tmp_path: Path) -> None:
        """Loading under ``broken_config`` raises a one-line ``DataError`` (skipped when it gives
        None)."""
        broken = self.broken_config(tmp_path)
        if broken is None:
            pytest.skip("broken_config() gives no unreadable data for this dataset")
        with pytest.raises(DataError) as error:
            build(**broken).load()
        assert str(error.value) and "\n" not in str(error.value)
