"""Durable, atomic file writes: the one way hyperplug replaces a file.

A write lands in a temporary name beside its target, is flushed to disk (fsync), and is
then renamed over the target, so a reader sees either the old file or the new one, never
part of one, even after a crash; the directory is flushed too, so the rename survives.
Temporary names are unique (not per process: two threads or two jobs of one process may
write the same file at once).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

#: prefix of every temporary entry; readers of a directory skip such entries
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


def fsync_file(path: Path) -> None:
    with open(path, "rb+") as file:
        os.fsync(file.fileno())


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries, so a rename inside it survives a crash (POSIX; on
    Windows a directory cannot be opened for it, and NTFS journals renames)."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for the block to write the new file to (for
    writers that want a file name: safetensors, OmegaConf, SQLite). When the block ends,
    the file is flushed and renamed over ``path``; if the block raises, ``path`` is left
    as it was and the temporary file is removed."""
    path = Path(path)
    tmp = temp_path(path.parent)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # gone already once renamed
    fsync_dir(path.parent)


def replace_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with a file holding ``data``, all at once."""
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)
