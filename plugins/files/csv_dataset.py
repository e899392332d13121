"""The ``csv`` dataset: numeric feature columns and one label column, read with stdlib csv."""

from __future__ import annotations

import csv
import math
from typing import TextIO

import numpy as np

from hyperplug.data import Dataset
from hyperplug.errors import DataError
from hyperplug.interfaces import DatasetSource
from hyperplug.plugins.files.configs import CSVConfig
from hyperplug.plugins.files.paths import existing_file, require_path


def _labels(values: list[str]) -> np.ndarray:
    """Integer labels when every label is an integer (so classes sort 1, 2, 10), else text."""
    try:
        return np.array([int(v) for v in values], dtype=np.int64)
    except ValueError:
        return np.array(values)


def _number(cell: str, column: str, where: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataError(f"{where}: column {column!r} is not a finite number: {cell!r}")
    return value


class CSVDataset(DatasetSource):
    """Rows of a CSV file with a header row. Labels become classes in sorted order.

    Errors name the file, and for a bad value its data row (1 = first row after the
    header), the file's line number and the column.
    """

    def __init__(self, config: CSVConfig) -> None:
        require_path(config.path)
        self.config = config

    def load(self) -> Dataset:
        path = existing_file(self.config.path)
        try:
            with path.open(newline="", encoding="utf-8-sig") as file:
                features, labels, names = self._read(file)
        except (UnicodeDecodeError, csv.Error) as error:
            raise DataError(
                f"dataset.path: cannot read {self.config.path} as CSV: {error}"
            ) from error
        return Dataset.from_arrays(path.stem, features, _labels(labels), features=names)

    def _read(self, file: TextIO) -> tuple[np.ndarray, list[str], tuple[str, ...]]:
        source, label = self.config.path, self.config.label_column
        reader = csv.reader(file, delimiter=self.config.delimiter)
        header = [name.strip() for name in next(reader, [])]
        if not header:
            raise DataError(f"dataset.path: {source} is empty (a header row is needed)")
        if label not in header:
            raise DataError(
                f"dataset.label_column: column {label!r} is not in the header of {source}; "
                f"columns: {', '.join(header)}"
            )
        label_index = header.index(label)
        feature_columns = [(i, name) for i, name in enumerate(header) if i != label_index]
        if not feature_columns:
            raise DataError(f"dataset.path: {source} has no feature columns besides {label!r}")
        rows: list[list[float]] = []
        labels: list[str] = []
        for row in reader:
            if not row:
                continue
            where = f"{source}, row {len(rows) + 1} (line {reader.line_num})"
            if len(row) != len(header):
                raise DataError(f"{where}: expected {len(header)} fields, got {len(row)}")
            rows.append([_number(row[i], name, where) for i, name in feature_columns])
            labels.append(row[label_index].strip())
        if not rows:
            raise DataError(f"dataset.path: {source} has a header but no data rows")
        return np.array(rows, dtype=np.float32), labels, tuple(n for _, n in feature_columns)
