"""The study's data written once and mapped by each worker (``shared_data``)."""

from __future__ import annotations

import signal
import subprocess
import sys
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


def test_a_killed_study_process_s_data_file_is_removed_by_the_next_one(
    digits_splits: Any, tmp_path: Path
) -> None:
    """A study process killed before its shutdown leaves its data file; the next study
    writing there removes it, and leaves a live process's file alone."""
    killed = (
        "import os, sys\n"
        "from hyperplug.plugins.local.shared_data import write_shared\n"
        "print(write_shared({'x': 1}, sys.argv[1]), flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", killed, str(tmp_path)], capture_output=True, text=True
    )
    assert run.returncode == -signal.SIGKILL
    left = Path(run.stdout.strip())
    assert left.exists()
    live = write_shared(digits_splits, str(tmp_path))
    assert not left.exists()
    write_shared(digits_splits, str(tmp_path))
    assert live.exists()  # this process is alive: its file stays until it removes it
