"""Turning a ``DataRecipe`` into data, once per process (cached by fingerprint)."""

from __future__ import annotations

from hyperplug.config import configure
from hyperplug.data import DataSplits
from hyperplug.errors import DataError
from hyperplug.interfaces import DataRecipe
from hyperplug.plugin_manager import get_plugin_manager

_CACHE: dict[str, DataSplits] = {}


def load_recipe(recipe: DataRecipe) -> DataSplits:
    """The recipe's data: handed over, cached, or built from the dataset and splitter
    configs (and checked against the fingerprint the study process computed)."""
    if recipe.data is not None:
        return recipe.data
    if recipe.fingerprint in _CACHE:
        return _CACHE[recipe.fingerprint]
    manager = get_plugin_manager()
    if recipe.dataset is None or recipe.splitter is None:
        raise DataError("a data recipe needs the data or the dataset and splitter configs")
    component, config = configure("dataset", recipe.dataset, manager)
    dataset = component.build(config).load()
    component, config = configure("splitter", recipe.splitter, manager)
    data = component.build(config).split_data(dataset)
    if data.fingerprint != recipe.fingerprint:
        raise DataError(
            f"dataset {recipe.dataset.get('name')!r} gave other data in a worker "
            f"(fingerprint {data.fingerprint[:12]} != {recipe.fingerprint[:12]})"
        )
    _CACHE.clear()
    _CACHE[recipe.fingerprint] = data
    return data
