"""Durable, atomic file operations for the local store.

A write lands in a temporary name, is fsynced, and is then renamed over its final name, so a
reader sees either the old file or the new one, never part of one, even after a crash.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

#: prefix of every temporary entry; such entries are never read as versions
TMP_PREFIX = ".tmp-"


def temp_path(directory: Path) -> Path:
    """A fresh, unused name inside ``directory`` for a temporary file or directory."""
    return directory / f"{TMP_PREFIX}{uuid.uuid4().hex}"


def write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file and flush it to disk."""
    with open(path, "xb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries, so a rename inside it survives a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with a file holding ``data``, all at once."""
    tmp = temp_path(path.parent)
    try:
        write_durably(tmp, data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


@contextlib.contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_file``: one holder across processes and threads."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
