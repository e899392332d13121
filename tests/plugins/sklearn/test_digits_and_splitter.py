"""The ``digits`` dataset and the ``stratified`` splitter."""

from __future__ import annotations

import numpy as np
import pluggy
import pytest

import hyperplug.plugins.sklearn as sklearn_plugin
from hyperplug import hookspecs
from hyperplug.config import make_config
from hyperplug.data import Dataset
from hyperplug.errors import ConfigError, DataError
from hyperplug.interfaces import DatasetSource, DataSplitter
from hyperplug.plugins.sklearn.configs import DigitsConfig, StratifiedSplitConfig


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return sklearn_plugin.build_digits(DigitsConfig()).load()


def split(dataset: Dataset, **config: object):
    return sklearn_plugin.build_stratified(StratifiedSplitConfig(**config)).split_data(dataset)


def test_hookimpls_register_digits_and_stratified() -> None:
    manager = pluggy.PluginManager("hyperplug")
    manager.add_hookspecs(hookspecs)
    manager.register(sklearn_plugin)
    [[dataset]] = manager.hook.register_datasets()
    [[splitter]] = manager.hook.register_splitters()
    assert (dataset.kind, dataset.name, dataset.config_class) == ("dataset", "digits", DigitsConfig)
    assert (splitter.kind, splitter.name, splitter.config_class) == (
        "splitter",
        "stratified",
        StratifiedSplitConfig,
    )
    assert isinstance(dataset.build(DigitsConfig()), DatasetSource)
    assert isinstance(splitter.build(StratifiedSplitConfig()), DataSplitter)


def test_digits_are_scaled_float32_with_ten_classes(digits: Dataset) -> None:
    assert digits.name == "digits"
    assert digits.x.shape == (1797, 64) and digits.x.dtype == np.float32
    assert digits.x.min() == 0.0 and digits.x.max() == 1.0
    assert digits.y.dtype == np.int64 and set(digits.y) == set(range(10))
    assert digits.classes == tuple(str(d) for d in range(10))
    assert digits.fingerprint == sklearn_plugin.build_digits(DigitsConfig()).load().fingerprint


def test_split_sizes_and_class_proportions(digits: Dataset) -> None:
    splits = split(digits, val_size=0.2, test_size=0.1)
    sizes = [len(splits.train), len(splits.val), len(splits.test)]
    assert sum(sizes) == len(digits)
    assert sizes == pytest.approx([0.7 * len(digits), 0.2 * len(digits), 0.1 * len(digits)], abs=2)
    overall = np.bincount(digits.y) / len(digits)
    for part in (splits.train, splits.val, splits.test):
        share = np.bincount(part.y, minlength=10) / len(part)
        assert np.abs(share - overall).max() < 0.01
    assert splits.classes == digits.classes
    assert splits.input_shape == (64,)


def test_parts_are_disjoint_and_cover_the_dataset(digits: Dataset) -> None:
    splits = split(digits)
    rows = np.concatenate([splits.train.x, splits.val.x, splits.test.x])
    labels = np.concatenate([splits.train.y, splits.val.y, splits.test.y])
    order = np.lexsort(np.column_stack([rows, labels]).T)
    expected = np.lexsort(np.column_stack([digits.x, digits.y]).T)
    np.testing.assert_array_equal(rows[order], digits.x[expected])


def test_same_seed_same_split_and_fingerprint(digits: Dataset) -> None:
    first, again, other = split(digits, seed=3), split(digits, seed=3), split(digits, seed=4)
    np.testing.assert_array_equal(first.train.y, again.train.y)
    np.testing.assert_array_equal(first.test.x, again.test.x)
    assert first.fingerprint == again.fingerprint
    assert not np.array_equal(first.train.y, other.train.y)
    assert first.fingerprint != other.fingerprint
    assert first.fingerprint != split(digits, seed=3, val_size=0.2).fingerprint
    assert len(first.fingerprint) == 64 and first.fingerprint != digits.fingerprint


def test_class_with_too_few_samples_is_named() -> None:
    y = np.array(["a"] * 10 + ["b"] * 2)
    dataset = Dataset.from_arrays("tiny", np.zeros((12, 2), np.float32), y)
    with pytest.raises(
        DataError,
        match=r"^splitter\.stratified: class 'b' of dataset 'tiny' has 2 sample\(s\); "
        r"stratifying into train/val/test needs at least 3 per class$",
    ):
        split(dataset)


def test_split_too_small_for_the_classes_is_a_data_error() -> None:
    y = np.repeat(np.arange(10), 3)
    dataset = Dataset.from_arrays("small", np.zeros((30, 2), np.float32), y)
    with pytest.raises(
        DataError,
        match=r"^splitter\.stratified: cannot split dataset 'small' \(30 samples, 10 classes\) "
        r"with val_size=0\.15, test_size=0\.15: .*number of classes",
    ):
        split(dataset)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"val_size": 0.0}, r"splitter\.val_size must be in \(0, 1\), got 0\.0"),
        ({"test_size": 1.5}, r"splitter\.test_size must be in \(0, 1\), got 1\.5"),
        (
            {"seed": "x"},
            r"splitter\.seed: Value 'x' of type 'str' could not be converted to Integer",
        ),
        (
            {"val_size": 0.5, "test_size": 0.5},
            r"splitter\.val_size \+ test_size must be < 1 to leave training data, "
            r"got 0\.5 \+ 0\.5",
        ),
    ],
)
def test_splitter_validators_name_the_field(config: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_config(StratifiedSplitConfig, config, "splitter")
