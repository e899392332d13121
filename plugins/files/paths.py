"""Checks of ``dataset.path`` shared by the file datasets."""

from __future__ import annotations

from pathlib import Path

from hyperplug.errors import ConfigError, DataError


def require_path(path: str) -> None:
    """Fail when the dataset is built without a path (the config's default is "")."""
    if not path:
        raise ConfigError("dataset.path is required")


def existing_file(path: str) -> Path:
    """The file ``path`` names (``~`` expanded), or a ``DataError`` if there is none."""
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise DataError(f"dataset.path: file not found: {path}")
    return resolved
