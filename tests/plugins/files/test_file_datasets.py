"""The ``csv`` and ``npz`` datasets, on small files written by the tests."""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import pluggy
import pytest

import hyperplug.plugins.files as files_plugin
from hyperplug import hookspecs
from hyperplug.config import make_config
from hyperplug.data import Dataset
from hyperplug.errors import ConfigError, DataError
from hyperplug.plugins.files.configs import CSVConfig, NPZConfig


def load_csv(path: Path, text: str, **config: object) -> Dataset:
    path.write_text(text, encoding="utf-8")
    return files_plugin.build_csv(CSVConfig(path=str(path), **config)).load()


def load_npz(path: Path, **config: object) -> Dataset:
    return files_plugin.build_npz(NPZConfig(path=str(path), **config)).load()


def raises(error: type[Exception], message: str) -> AbstractContextManager[Any]:
    return pytest.raises(error, match="^" + re.escape(message) + "$")


def test_hookimpl_registers_csv_and_npz() -> None:
    manager = pluggy.PluginManager("hyperplug")
    manager.add_hookspecs(hookspecs)
    manager.register(files_plugin)
    [components] = manager.hook.register_datasets()
    assert [(c.kind, c.name, c.config_class) for c in components] == [
        ("dataset", "csv", CSVConfig),
        ("dataset", "npz", NPZConfig),
    ]


# --------------------------------------------------------------------------- csv


def test_csv_features_and_integer_labels(tmp_path: Path) -> None:
    text = "a,label,b\n0.5,10,1\n1.5,2,-2e-1\n\n2,10,3\n"
    dataset = load_csv(tmp_path / "points.csv", text)
    assert dataset.name == "points"
    np.testing.assert_array_equal(dataset.x, np.array([[0.5, 1], [1.5, -0.2], [2, 3]], np.float32))
    assert dataset.x.dtype == np.float32
    assert dataset.classes == ("2", "10")  # numeric order, not text order
    np.testing.assert_array_equal(dataset.y, [1, 0, 1])


def test_csv_text_labels_delimiter_and_label_column(tmp_path: Path) -> None:
    text = "\ufeff x ; target ; y\n1;cat;2\n3; dog ;4\n"
    dataset = load_csv(tmp_path / "pets.csv", text, delimiter=";", label_column="target")
    assert dataset.classes == ("cat", "dog")
    np.testing.assert_array_equal(dataset.x, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(dataset.y, [0, 1])


def test_csv_path_is_required() -> None:
    with raises(ConfigError, "dataset.path is required"):
        files_plugin.build_csv(CSVConfig())


def test_csv_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    source = files_plugin.build_csv(CSVConfig(path=str(path)))
    with raises(DataError, f"dataset.path: file not found: {path}"):
        source.load()


def test_csv_missing_label_column_lists_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    with raises(
        DataError,
        f"dataset.label_column: column 'label' is not in the header of {path}; columns: a, b, y",
    ):
        load_csv(path, "a,b,y\n1,2,0\n")


def test_csv_non_numeric_feature_names_column_and_row(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    with raises(DataError, f"{path}, row 2 (line 3): column 'b' is not a finite number: 'abc'"):
        load_csv(path, "a,b,label\n1,2,0\n3,abc,1\n")


def test_csv_non_finite_feature(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    with raises(DataError, f"{path}, row 1 (line 2): column 'a' is not a finite number: 'nan'"):
        load_csv(path, "a,label\nnan,0\n")


def test_csv_wrong_number_of_fields(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    with raises(DataError, f"{path}, row 1 (line 2): expected 3 fields, got 2"):
        load_csv(path, "a,b,label\n1,0\n")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "is empty (a header row is needed)"),
        ("a,label\n", "has a header but no data rows"),
        ("label\n0\n", "has no feature columns besides 'label'"),
    ],
)
def test_csv_without_usable_data(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "d.csv"
    with raises(DataError, f"dataset.path: {path} {problem}"):
        load_csv(path, text)


def test_csv_delimiter_must_be_one_character() -> None:
    with raises(ConfigError, "dataset.delimiter must be a single character, got ';;'"):
        make_config(CSVConfig, {"path": "x.csv", "delimiter": ";;"}, "dataset")


# --------------------------------------------------------------------------- npz


def test_npz_images_and_text_labels(tmp_path: Path) -> None:
    path = tmp_path / "images.npz"
    x = np.arange(24, dtype=np.uint8).reshape(4, 2, 3)
    np.savez(path, images=x, labels=np.array(["b", "a", "b", "a"]))
    dataset = load_npz(path, x_key="images", y_key="labels")
    assert dataset.name == "images"
    np.testing.assert_array_equal(dataset.x, x)
    assert dataset.classes == ("a", "b")
    np.testing.assert_array_equal(dataset.y, [1, 0, 1, 0])


def test_npz_path_is_required() -> None:
    with raises(ConfigError, "dataset.path is required"):
        files_plugin.build_npz(NPZConfig())


def test_npz_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.npz"
    with raises(DataError, f"dataset.path: file not found: {path}"):
        load_npz(path)


@pytest.mark.parametrize(("field", "key"), [("x_key", "features"), ("y_key", "target")])
def test_npz_missing_key_lists_the_keys(tmp_path: Path, field: str, key: str) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((2, 3)), y=np.zeros(2))
    with raises(DataError, f"dataset.{field}: key {key!r} not in {path}; available keys: x, y"):
        load_npz(path, **{field: key})


def test_npz_lengths_must_match(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((3, 2)), y=np.zeros(2))
    with raises(DataError, f"dataset: {path} holds 3 samples in 'x' but 2 labels in 'y'"):
        load_npz(path)


def test_npz_labels_must_be_one_dimensional(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((2, 2)), y=np.zeros((2, 1)))
    with raises(DataError, f"dataset.y_key: 'y' in {path} must be 1-D labels, got shape (2, 1)"):
        load_npz(path)


def test_npz_features_must_be_numeric_with_a_feature_axis(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros(2), y=np.zeros(2))
    with raises(
        DataError,
        f"dataset.x_key: 'x' in {path} must be a numeric array shaped (n, features...), "
        "got dtype float64 and shape (2,)",
    ):
        load_npz(path)


def test_npz_object_arrays_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x=np.array([[{}]], dtype=object), y=np.zeros(1))
    with raises(
        DataError,
        f"dataset.x_key: 'x' in {path} is an object array, which cannot be loaded without pickle",
    ):
        load_npz(path)


@pytest.mark.parametrize(
    ("name", "problem"),
    [("d.npz", "is not a readable .npz file"), ("d.npy", "is a .npy array, not an .npz archive")],
)
def test_npz_not_an_archive(tmp_path: Path, name: str, problem: str) -> None:
    path = tmp_path / name
    if name.endswith(".npy"):
        np.save(path, np.zeros(3))
    else:
        path.write_text("not numpy")
    with raises(DataError, f"dataset.path: {path} {problem}"):
        load_npz(path)
