"""Built-in scikit-learn components: the ``digits`` dataset and the ``stratified`` splitter.

scikit-learn is imported only when a dataset is loaded or data is split.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug.plugins.sklearn.configs import DigitsConfig, StratifiedSplitConfig

#: the extra this plugin needs; without it the plugin registers nothing
HYPERPLUG_EXTRA = "sklearn"

if TYPE_CHECKING:
    from hyperplug.plugins.sklearn.digits import DigitsDataset
    from hyperplug.plugins.sklearn.splitter import StratifiedSplitter


def build_digits(config: DigitsConfig) -> DigitsDataset:
    from hyperplug.plugins.sklearn.digits import DigitsDataset

    return DigitsDataset(config)


def build_stratified(config: StratifiedSplitConfig) -> StratifiedSplitter:
    from hyperplug.plugins.sklearn.splitter import StratifiedSplitter

    return StratifiedSplitter(config)


@hookimpl
def register_datasets() -> list[Component]:
    return [
        Component(
            kind="dataset",
            name="digits",
            factory=build_digits,
            config_class=DigitsConfig,
            description="scikit-learn's 8x8 handwritten digits: 1,797 images, 10 classes.",
        )
    ]


@hookimpl
def register_splitters() -> list[Component]:
    return [
        Component(
            kind="splitter",
            name="stratified",
            factory=build_stratified,
            config_class=StratifiedSplitConfig,
            description="Stratified random train/val/test split (scikit-learn).",
        )
    ]
