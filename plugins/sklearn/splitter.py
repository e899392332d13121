"""The ``stratified`` splitter."""

from __future__ import annotations

import hashlib
import json

import attrs
import numpy as np

from hyperplug.data import ArraySplit, Dataset, DataSplits
from hyperplug.errors import DataError
from hyperplug.interfaces import DataSplitter
from hyperplug.plugins.sklearn.configs import StratifiedSplitConfig

#: a class needs one sample for each of train, val and test
MIN_PER_CLASS = 3


class StratifiedSplitter(DataSplitter):
    """Two stratified ``train_test_split`` calls: test off the whole, then val off the rest.

    The same dataset, sizes and seed always give the same split; its fingerprint hashes
    the dataset's fingerprint with those parameters.
    """

    def __init__(self, config: StratifiedSplitConfig) -> None:
        self.config = config

    def split_data(self, dataset: Dataset) -> DataSplits:
        from sklearn.model_selection import train_test_split

        cfg = self.config
        y = np.asarray(dataset.y)
        self._check_class_counts(dataset)
        indices = np.arange(len(y))
        try:
            rest, test = train_test_split(
                indices, test_size=cfg.test_size, stratify=y, random_state=cfg.seed
            )
            train, val = train_test_split(
                rest,
                test_size=cfg.val_size / (1 - cfg.test_size),
                stratify=y[rest],
                random_state=cfg.seed,
            )
        except ValueError as error:
            raise DataError(
                f"splitter.stratified: cannot split dataset {dataset.name!r} ({len(y)} samples, "
                f"{len(dataset.classes)} classes) with val_size={cfg.val_size}, "
                f"test_size={cfg.test_size}: {error}"
            ) from error
        return DataSplits(
            train=self._part(dataset, train),
            val=self._part(dataset, val),
            test=self._part(dataset, test),
            classes=dataset.classes,
            fingerprint=self._fingerprint(dataset),
        )

    @staticmethod
    def _check_class_counts(dataset: Dataset) -> None:
        counts = np.bincount(dataset.y, minlength=len(dataset.classes))
        for index, count in enumerate(counts):
            # a class with no rows is just absent (a chunk of a class-incremental stream)
            if 0 < count < MIN_PER_CLASS:
                raise DataError(
                    f"splitter.stratified: class {dataset.classes[index]!r} of dataset "
                    f"{dataset.name!r} has {count} sample(s); stratifying into train/val/test "
                    f"needs at least {MIN_PER_CLASS} per class"
                )

    @staticmethod
    def _part(dataset: Dataset, indices: np.ndarray) -> ArraySplit:
        return ArraySplit(dataset.x[indices], dataset.y[indices])

    def _fingerprint(self, dataset: Dataset) -> str:
        params = json.dumps(attrs.asdict(self.config), sort_keys=True)
        return hashlib.sha256(f"{dataset.fingerprint}\n{params}".encode()).hexdigest()
