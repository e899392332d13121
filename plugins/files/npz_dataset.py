"""The ``npz`` dataset: features and labels stored in a numpy ``.npz`` archive."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from hyperplug.data import Dataset
from hyperplug.errors import DataError
from hyperplug.interfaces import DatasetSource
from hyperplug.plugins.files.configs import NPZConfig
from hyperplug.plugins.files.paths import existing_file, require_path


class NPZDataset(DatasetSource):
    """``x`` numeric, shaped (n, *features); ``y`` shaped (n,). Loaded without pickle."""

    def __init__(self, config: NPZConfig) -> None:
        require_path(config.path)
        self.config = config

    def load(self) -> Dataset:
        cfg = self.config
        path = existing_file(cfg.path)
        x, y = self._read(path)
        if x.ndim < 2 or x.dtype.kind not in "biuf":
            raise DataError(
                f"dataset.x_key: {cfg.x_key!r} in {cfg.path} must be a numeric array shaped "
                f"(n, features...), got dtype {x.dtype} and shape {x.shape}"
            )
        if y.ndim != 1:
            raise DataError(
                f"dataset.y_key: {cfg.y_key!r} in {cfg.path} must be 1-D labels, "
                f"got shape {y.shape}"
            )
        if len(x) != len(y):
            raise DataError(
                f"dataset: {cfg.path} holds {len(x)} samples in {cfg.x_key!r} but {len(y)} "
                f"labels in {cfg.y_key!r}"
            )
        if len(y) == 0:
            raise DataError(f"dataset.path: {cfg.path} holds no samples")
        return Dataset.from_arrays(path.stem, x, y)

    def _read(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        try:
            archive = np.load(path, allow_pickle=False)
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise DataError(
                f"dataset.path: {self.config.path} is not a readable .npz file"
            ) from error
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise DataError(
                f"dataset.path: {self.config.path} is a .npy array, not an .npz archive"
            )
        with archive:
            return (
                self._array(archive, "x_key", self.config.x_key),
                self._array(archive, "y_key", self.config.y_key),
            )

    def _array(self, archive: np.lib.npyio.NpzFile, field: str, key: str) -> np.ndarray:
        if key not in archive.files:
            raise DataError(
                f"dataset.{field}: key {key!r} not in {self.config.path}; "
                f"available keys: {', '.join(archive.files) or '(none)'}"
            )
        try:
            return archive[key]
        except ValueError as error:  # object arrays need pickle, which is refused
            raise DataError(
                f"dataset.{field}: {key!r} in {self.config.path} is an object array, which "
                "cannot be loaded without pickle"
            ) from error
