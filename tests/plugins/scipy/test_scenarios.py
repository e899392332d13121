"""The scenarios cut real datasets into the chunks their names promise, the same every
time for a seed; a dataset a scenario cannot cut is a one-line error naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import build
from scipy.ndimage import rotate

from hyperplug.data import Dataset
from hyperplug.errors import DataError


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return build("dataset", name="digits").load()


@pytest.fixture(scope="module")
def images() -> Dataset:
    return build("dataset", name="digits_images").load()


def chunks(dataset: Dataset, **config: Any) -> list[Dataset]:
    return build("scenario", **config).chunks(dataset)


def rows_of(chunk: Dataset, dataset: Dataset) -> set[bytes]:
    return {row.tobytes() for row in chunk.x.reshape(len(chunk), -1)}


def test_class_incremental_gives_each_chunk_its_own_classes(digits: Dataset) -> None:
    cut = chunks(digits, name="class_incremental", n_chunks=4)
    assert [sorted(set(c.y.tolist())) for c in cut] == [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9]]
    assert sum(len(c) for c in cut) == len(digits)
    assert all(c.classes == digits.classes for c in cut)
    named = chunks(digits, name="class_incremental", groups=[["9", "0"], ["5"]])
    assert [sorted(set(c.y.tolist())) for c in named] == [[0, 9], [5]]


def test_iid_deals_every_class_evenly_and_reproducibly(digits: Dataset) -> None:
    cut = chunks(digits, name="iid", n_chunks=5, seed=3)
    assert sum(len(c) for c in cut) == len(digits)
    for chunk in cut:
        counts = np.bincount(chunk.y, minlength=10)
        assert counts.min() >= 34 and counts.max() <= 37  # ~ 1/5 of each class
    again = chunks(digits, name="iid", n_chunks=5, seed=3)
    other = chunks(digits, name="iid", n_chunks=5, seed=4)
    assert [c.fingerprint for c in cut] == [c.fingerprint for c in again]
    assert [c.fingerprint for c in cut] != [c.fingerprint for c in other]
    seen = [rows_of(c, digits) for c in cut]
    assert all(not (a & b) for i, a in enumerate(seen) for b in seen[i + 1 :])


def test_data_incremental_follows_the_arrival_order_or_a_column(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    lines = ["when,size,label"]
    stamps = rng.permutation(60)
    for i, stamp in enumerate(stamps):
        lines.append(f"{stamp},{rng.normal():.3f},{i % 2}")
    path = tmp_path / "events.csv"
    path.write_text("\n".join(lines) + "\n")
    dataset = build("dataset", name="csv", path=str(path)).load()
    assert dataset.features == ("when", "size")
    by_time = chunks(dataset, name="data_incremental", n_chunks=3, column="when")
    assert [(c.x[:, 0].min(), c.x[:, 0].max()) for c in by_time] == [(0, 19), (20, 39), (40, 59)]
    arrival = chunks(dataset, name="data_incremental", n_chunks=3)
    np.testing.assert_array_equal(arrival[0].x, dataset.x[:20])
    with pytest.raises(DataError, match=r"^scenario.column: 'whence' is not a column .*when, size"):
        chunks(dataset, name="data_incremental", column="whence")


def test_feature_sorting_orders_rows_by_a_feature_or_brightness(digits: Dataset) -> None:
    bright = chunks(digits, name="feature_sorting", n_chunks=3)
    means = [c.x.mean(axis=1) for c in bright]
    assert means[0].max() <= means[1].min() and means[1].max() <= means[2].min()
    by_pixel = chunks(digits, name="feature_sorting", n_chunks=3, feature=20)
    assert by_pixel[0].x[:, 20].max() <= by_pixel[2].x[:, 20].min()


def test_rotation_turns_each_chunk_by_its_angle(images: Dataset) -> None:
    cut = chunks(images, name="rotation", n_chunks=3, max_degrees=60, seed=1)
    rows = build("scenario", name="iid", n_chunks=3, seed=1).chunks(images)  # same dealing
    np.testing.assert_array_equal(cut[0].x, rows[0].x)  # 0 degrees
    expected = rotate(rows[2].x.astype(np.float64), 60.0, axes=(-1, -2), reshape=False, order=1)
    np.testing.assert_allclose(cut[2].x, expected.astype(np.float32), atol=1e-6)
    assert cut[1].x.dtype == images.x.dtype and not np.allclose(cut[1].x, rows[1].x)
    assert [c.y.tolist() for c in cut] == [c.y.tolist() for c in rows]


def test_permutation_shuffles_features_the_same_way_within_a_chunk(digits: Dataset) -> None:
    # column c holds 1000 c + the row's number: a value tells its column and its row
    x = np.arange(64)[None, :] * 1000.0 + np.arange(90)[:, None]
    tabular = Dataset.from_arrays("columns", x, np.arange(90) % 3)
    cut = chunks(tabular, name="permutation", n_chunks=3, seed=2)
    rows = chunks(tabular, name="iid", n_chunks=3, seed=2)
    np.testing.assert_array_equal(cut[0].x, rows[0].x)
    orders = []
    for permuted, original in zip(cut[1:], rows[1:], strict=True):
        np.testing.assert_array_equal(permuted.x % 1000, original.x % 1000)  # rows stay
        source = permuted.x // 1000  # the column each value came from
        assert (source == source[0]).all()  # one order for every row of the chunk
        orders.append(source[0].astype(int).tolist())
    assert all(sorted(o) == list(range(64)) and o != list(range(64)) for o in orders)
    assert orders[0] != orders[1]  # each chunk an order of its own
    assert chunks(digits, name="permutation", n_chunks=3, seed=2)[1].x.shape[1:] == (64,)


def colour_images(n: int = 60) -> Dataset:
    """Saturated colour squares: 3 classes by dominant channel."""
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    x = np.full((n, 3, 4, 4), 0.1, dtype=np.float32)
    x[np.arange(n), y] = 0.9 + 0.05 * rng.random((n, 4, 4))
    return Dataset.from_arrays("squares", x, y)


def test_hue_shift_turns_colours_and_keeps_brightness() -> None:
    from matplotlib.colors import rgb_to_hsv

    dataset = colour_images()
    cut = chunks(dataset, name="hue_shift", n_chunks=3)
    rows = chunks(dataset, name="iid", n_chunks=3)
    np.testing.assert_array_equal(cut[0].x, rows[0].x)
    before = rgb_to_hsv(np.moveaxis(rows[1].x, 1, -1))
    after = rgb_to_hsv(np.moveaxis(cut[1].x, 1, -1))
    np.testing.assert_allclose((after[..., 0] - before[..., 0]) % 1.0, 1 / 3, atol=1e-5)
    np.testing.assert_allclose(after[..., 2], before[..., 2], atol=1e-5)


@pytest.mark.parametrize(
    ("config", "data", "message"),
    [
        ({"name": "class_incremental", "n_chunks": 11}, "digits", "scenario.n_chunks=11: a"),
        ({"name": "class_incremental", "groups": [["0"], ["x"]]}, "digits", "'x' is not a class"),
        ({"name": "class_incremental", "groups": [["0"], ["0"]]}, "digits", "is in two chunks"),
        ({"name": "iid", "n_chunks": 100}, "digits", "scenario.n_chunks=100: class"),
        ({"name": "data_incremental", "n_chunks": 900}, "digits", "too few for 900 chunks"),
        ({"name": "rotation"}, "digits", "scenario=rotation needs images shaped"),
        ({"name": "hue_shift"}, "images", "scenario=hue_shift needs colour images"),
        ({"name": "feature_sorting", "feature": 64}, "digits", "scenario.feature=64"),
    ],
)
def test_what_a_scenario_cannot_cut_is_a_one_line_error(
    config: dict[str, Any], data: str, message: str, digits: Dataset, images: Dataset
) -> None:
    with pytest.raises(DataError) as error:
        chunks(digits if data == "digits" else images, **config)
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"name": "iid", "n_chunks": 1}, "scenario.n_chunks"),
        ({"name": "rotation", "degrees": ["a"]}, "scenario.degrees"),
        ({"name": "class_incremental", "groups": [[]]}, "scenario.groups"),
        ({"name": "rotation", "max_degrees": -1}, "scenario.max_degrees"),
    ],
)
def test_bad_scenario_configs_name_the_key(config: dict[str, Any], key: str) -> None:
    from hyperplug.errors import ConfigError

    with pytest.raises(ConfigError, match=key):
        build("scenario", **config)
