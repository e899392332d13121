"""The study's data written once and mapped by each worker (``shared_data``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hyperplug.plugins.local.shared_data import read_shared, write_shared


def test_workers_map_the_data_from_one_file_and_their_writes_stay_their_own(
    digits_splits: Any, tmp_path: Path
) -> None:
    path = write_shared(digits_splits, str(tmp_path))
    assert path.parent == tmp_path
    splits = (digits_splits.train, digits_splits.val, digits_splits.test)
    array_bytes = sum(s.x.nbytes + s.y.nbytes for s in splits)
    # the arrays as they are in memory, plus a small pickle of the rest
    assert array_bytes < path.stat().st_size < array_bytes + 4096
    first, second = read_shared(path), read_shared(path)
    assert first.fingerprint == digits_splits.fingerprint
    assert first.classes == digits_splits.classes
    for split in ("train", "val", "test"):
        for part in ("x", "y"):
            mapped = getattr(getattr(first, split), part)
            assert np.array_equal(mapped, getattr(getattr(digits_splits, split), part))
            assert not mapped.flags.owndata  # a view of the mapping, not a copy
    first.train.x[0, 0] = 123.0  # copy-on-write: the file and other workers keep theirs
    assert second.train.x[0, 0] == digits_splits.train.x[0, 0]
    assert read_shared(path).train.x[0, 0] == digits_splits.train.x[0, 0]
