"""The image datasets, read from small files the tests write in each dataset's on-disk format."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import build, write_cifar
from PIL import Image

from hyperplug.errors import DataError, HyperplugError
from hyperplug.plugins.torchvision.datasets import read_batch


def load(**node: Any) -> Any:
    return build("dataset", **node).load()


def test_digits_images_shapes_resize_and_channels() -> None:
    data = load(name="digits_images")
    assert data.x.shape == (1797, 1, 8, 8) and data.x.dtype == np.float32
    assert data.x.min() >= 0 and data.x.max() <= 1 and data.classes == tuple("0123456789")
    small = load(name="digits_images", img_size=16, channels=3, max_samples=20)
    assert small.x.shape == (20, 3, 16, 16)
    np.testing.assert_array_equal(small.x[:, 0], small.x[:, 2])


# --------------------------------------------------------------------------- MNIST idx files


def write_idx(path: Path, array: np.ndarray) -> None:
    """An idx file as MNIST ships it: magic (0, 0, 0x08 = ubyte, ndim), big-endian dims."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(root: Path, folder: str, n: int = 12) -> np.ndarray:
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = np.arange(n) % 10
    for prefix in ("train", "t10k"):  # torchvision checks that all four files exist
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return images


@pytest.mark.parametrize(
    ("name", "folder"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")]
)
def test_mnist_family_reads_idx_files(name: str, folder: str, tmp_path: Path) -> None:
    images = write_mnist(tmp_path, folder)
    data = load(name=name, root=str(tmp_path), split="test")
    assert data.x.shape == (12, 1, 28, 28) and len(data.classes) == 10
    np.testing.assert_allclose(data.x[:, 0], images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(data.y, np.arange(12) % 10)
    resized = load(name=name, root=str(tmp_path), img_size=14, channels=3, max_samples=5)
    assert resized.x.shape == (5, 3, 14, 14)


def test_missing_dataset_names_the_root_and_the_flag(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"dataset mnist: not found under .*MNIST/raw .*download=true"
    ):
        load(name="mnist", root=str(tmp_path))
    with pytest.raises(DataError, match=r"dataset cifar10: not found under .*cifar-10-batches-py"):
        load(name="cifar10", root=str(tmp_path))


# --------------------------------------------------------------------------- CIFAR batches


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_checks_md5_and_reads_batches(name: str, tmp_path: Path) -> None:
    cls, first = write_cifar(tmp_path, name)
    with pytest.raises(
        DataError, match=r"does not match torchvision's md5 .*dataset\.verify=false"
    ):
        load(name=name, root=str(tmp_path))
    data = load(name=name, root=str(tmp_path), verify=False)
    assert data.x.shape == (4 * len(cls.train_list), 3, 32, 32)
    np.testing.assert_allclose(data.x[0], first[0].reshape(3, 32, 32) / 255.0, rtol=1e-6)
    assert data.y[:4].tolist() == [0, 1, 2, 1] and data.classes[2] == "class2"
    gray = load(name=name, root=str(tmp_path), verify=False, split="test", channels=1)
    assert gray.x.shape == (4, 1, 32, 32)


def test_cifar_batches_are_not_unpickled_beyond_arrays(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> Any:
            return (print, ("pwned",))

    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": Evil()}))
    with pytest.raises(DataError, match=r"refusing to load builtins\.print"):
        read_batch(path)


# --------------------------------------------------------------------------- image folders


def write_png(path: Path, size: int, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), value, dtype=np.uint8)).save(path)


def test_image_folder_reads_one_class_per_sub_folder(tmp_path: Path) -> None:
    for i in range(3):
        write_png(tmp_path / "cat" / f"{i}.png", 6, 10)
        write_png(tmp_path / "dog" / f"{i}.png", 6, 200)
    data = load(name="image_folder", path=str(tmp_path))
    assert data.x.shape == (6, 3, 6, 6) and data.classes == ("cat", "dog")
    assert data.y.tolist() == [0, 0, 0, 1, 1, 1]
    assert data.x[3].min() == pytest.approx(200 / 255)
    write_png(tmp_path / "dog" / "big.png", 10, 200)
    with pytest.raises(DataError, match=r"dataset\.img_size: the images in .* have 2 different"):
        load(name="image_folder", path=str(tmp_path))
    assert load(name="image_folder", path=str(tmp_path), img_size=8).x.shape == (7, 3, 8, 8)


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"dataset\.path: folder not found"):
        load(name="image_folder", path=str(tmp_path / "nope"))
    with pytest.raises(DataError, match=r"dataset\.path: Couldn't find any class folder"):
        load(name="image_folder", path=str(tmp_path))
    write_png(tmp_path / "cat" / "0.png", 4, 1)
    (tmp_path / "dog").mkdir()
    with pytest.raises(DataError, match=r"dataset\.path: Found no valid file for the classes dog"):
        load(name="image_folder", path=str(tmp_path))
    with pytest.raises(HyperplugError, match=r"dataset\.path is required"):
        build("dataset", name="image_folder")
