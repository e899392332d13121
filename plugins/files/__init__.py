"""Built-in datasets read from the user's files: ``csv`` and ``npz``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug.plugins.files.configs import CSVConfig, NPZConfig

if TYPE_CHECKING:
    from hyperplug.plugins.files.csv_dataset import CSVDataset
    from hyperplug.plugins.files.npz_dataset import NPZDataset


def build_csv(config: CSVConfig) -> CSVDataset:
    from hyperplug.plugins.files.csv_dataset import CSVDataset

    return CSVDataset(config)


def build_npz(config: NPZConfig) -> NPZDataset:
    from hyperplug.plugins.files.npz_dataset import NPZDataset

    return NPZDataset(config)


@hookimpl
def register_datasets() -> list[Component]:
    return [
        Component(
            kind="dataset",
            name="csv",
            factory=build_csv,
            config_class=CSVConfig,
            description="A CSV file with a header: numeric features and a label column.",
        ),
        Component(
            kind="dataset",
            name="npz",
            factory=build_npz,
            config_class=NPZConfig,
            description="A numpy .npz archive with features and labels (no pickle).",
        ),
    ]
