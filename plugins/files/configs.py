"""Configs of the file datasets.

``path`` defaults to "" so that the config class has a usable default instance (Hydra
stores one); an empty path is reported when the dataset is built, before any trial.
"""

from __future__ import annotations

from typing import Any

import attrs


def _non_empty(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"dataset.{attribute.name} must be a non-empty string, got {value!r}")


def _single_character(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or len(value) != 1:
        raise ValueError(f"dataset.{attribute.name} must be a single character, got {value!r}")


def _string(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise ValueError(f"dataset.{attribute.name} must be a string, got {value!r}")


@attrs.define
class CSVConfig:
    """A CSV file with a header row: one label column, every other column a numeric feature."""

    name: str = "csv"
    path: str = attrs.field(default="", validator=_string)
    label_column: str = attrs.field(default="label", validator=_non_empty)
    delimiter: str = attrs.field(default=",", validator=_single_character)


@attrs.define
class NPZConfig:
    """A numpy ``.npz`` archive holding features under ``x_key`` and labels under ``y_key``."""

    name: str = "npz"
    path: str = attrs.field(default="", validator=_string)
    x_key: str = attrs.field(default="x", validator=_non_empty)
    y_key: str = attrs.field(default="y", validator=_non_empty)
