"""Configs of the file datasets.

``path`` defaults to "" so that the config class has a usable default instance (Hydra
stores one); an empty path is reported when the dataset is built, before any trial.
"""

from __future__ import annotations

import attrs

from hyperplug.validators import non_empty_string, single_character, string


@attrs.define
class CSVConfig:
    """A CSV file with a header row: one label column, every other column a numeric feature."""

    name: str = "csv"
    path: str = attrs.field(default="", validator=string)
    label_column: str = attrs.field(default="label", validator=non_empty_string)
    delimiter: str = attrs.field(default=",", validator=single_character)


@attrs.define
class NPZConfig:
    """A numpy ``.npz`` archive holding features under ``x_key`` and labels under ``y_key``."""

    name: str = "npz"
    path: str = attrs.field(default="", validator=string)
    x_key: str = attrs.field(default="x", validator=non_empty_string)
    y_key: str = attrs.field(default="y", validator=non_empty_string)
