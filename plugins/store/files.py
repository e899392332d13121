"""The local store's lock: one holder at a time across processes and threads, on any OS.

Its writes go through ``hyperplug.atomic`` (temporary name, fsync, rename).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from hyperplug.errors import StorageError


@contextlib.contextmanager
def locked(lock_file: Path, timeout_s: float) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file``; waiting longer than ``timeout_s`` for it
    (another process holds it: a stuck or very slow save) is an error naming the file."""
    from filelock import FileLock, Timeout

    lock = FileLock(lock_file, timeout=timeout_s)
    try:
        lock.acquire()
    except Timeout:
        raise StorageError(
            f"model store: lock file '{lock_file}' still held by another process after "
            f"{timeout_s:g} s (vcs.lock_timeout_s); if no hyperplug process uses this store, "
            "delete the file and run again"
        ) from None
    try:
        yield
    finally:
        lock.release()
