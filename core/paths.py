"""Directories that config keys name: an error naming the key when one cannot be made."""

from __future__ import annotations

from pathlib import Path

from hyperplug.errors import StorageError


def file_in_the_way(directory: str | Path) -> Path | None:
    """The regular file (``directory`` itself or a parent) that keeps ``directory`` from
    being made, or None."""
    directory = Path(directory).expanduser()
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def check_directory(key: str, value: str | Path, directory: str | Path | None = None) -> None:
    """Raise a ``StorageError`` naming ``key`` when the directory its ``value`` needs (the
    value itself, or ``directory``: a file's folder) cannot be made because a regular file
    is in the way; ``mkdir`` would only say "Not a directory" or "File exists"."""
    blocker = file_in_the_way(value if directory is None else directory)
    if blocker is None:
        return
    where = "is a file" if blocker == Path(value).expanduser() else f"is under the file '{blocker}'"
    raise StorageError(f"{key}: '{value}' {where}, not a directory: point {key} elsewhere")
