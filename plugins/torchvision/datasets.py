"""The image datasets: digits as images, torchvision's MNIST family and CIFAR, image folders.

Nothing downloads unless ``dataset.download=true``. CIFAR's python batches are pickles:
they are read with an unpickler that only rebuilds numpy arrays and plain containers.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hyperplug.data import Dataset
from hyperplug.errors import ConfigError, DataError
from hyperplug.interfaces import DatasetSource
from hyperplug.plugins.torchvision.configs import (
    CIFAR10Config,
    DigitsImagesConfig,
    ImageFolderConfig,
    TorchvisionConfig,
)
from hyperplug.plugins.torchvision.images import image_dataset, resize, to_nchw


class DigitsImages(DatasetSource):
    """scikit-learn's digits, shaped (n, 1, 8, 8) in [0, 1]."""

    def __init__(self, config: DigitsImagesConfig) -> None:
        self.config = config

    def load(self) -> Dataset:
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = torch.from_numpy((digits.images / 16.0).astype(np.float32))
        classes = tuple(str(c) for c in digits.target_names)
        return image_dataset(
            "digits_images", to_nchw(x, False), digits.target, classes, self.config
        )


def _not_found(config: TorchvisionConfig, where: Path) -> DataError:
    return DataError(
        f"dataset {config.name}: not found under {where} (dataset.root={config.root}); "
        "set dataset.download=true to fetch it, or dataset.root to where it is"
    )


class MNISTFamily(DatasetSource):
    """MNIST or Fashion-MNIST, read by torchvision from the idx files in ``<root>/<Class>/raw``."""

    def __init__(self, config: TorchvisionConfig) -> None:
        self.config = config

    def load(self) -> Dataset:
        from torchvision import datasets

        cfg = self.config
        cls = datasets.MNIST if cfg.name == "mnist" else datasets.FashionMNIST
        root = Path(cfg.root).expanduser()
        try:
            data = cls(str(root), train=cfg.split == "train", download=cfg.download)
        except RuntimeError as error:
            if "not found" in str(error).lower():
                raise _not_found(cfg, root / cls.__name__ / "raw") from error
            raise DataError(f"dataset {cfg.name}: {str(error).splitlines()[0]}") from error
        return image_dataset(
            cfg.name, to_nchw(data.data, False), data.targets.numpy(), tuple(data.classes), cfg
        )


class _ArrayUnpickler(pickle.Unpickler):
    """Rebuilds dicts, lists, strings, bytes and numpy arrays; refuses any other global."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def read_batch(path: Path) -> dict[str, Any]:
    """One CIFAR python batch file, without running arbitrary pickled code."""
    try:
        entry = _ArrayUnpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as error:
        raise DataError(f"dataset: {path} is not a CIFAR python batch: {error}") from error
    if not isinstance(entry, dict):
        raise DataError(f"dataset: {path} is not a CIFAR python batch (no dict inside)")
    return entry


class CIFAR(DatasetSource):
    """CIFAR-10 or CIFAR-100 in torchvision's on-disk layout, md5-checked like torchvision."""

    def __init__(self, config: CIFAR10Config) -> None:
        self.config = config

    def load(self) -> Dataset:
        from torchvision import datasets
        from torchvision.datasets.utils import check_integrity

        cfg = self.config
        cls = datasets.CIFAR10 if cfg.name == "cifar10" else datasets.CIFAR100
        root = Path(cfg.root).expanduser()
        folder = root / cls.base_folder
        files = cls.train_list if cfg.split == "train" else cls.test_list
        wanted = [*files, [cls.meta["filename"], cls.meta["md5"]]]
        if cfg.download and not all(check_integrity(str(folder / f), md5) for f, md5 in wanted):
            cls(str(root), train=cfg.split == "train", download=True)
        for filename, md5 in wanted:
            path = folder / filename
            if not path.is_file():
                raise _not_found(cfg, folder)
            if cfg.verify and not check_integrity(str(path), md5):
                raise DataError(
                    f"dataset {cfg.name}: {path} does not match torchvision's md5 {md5} "
                    "(corrupted? set dataset.verify=false for re-packed files)"
                )
        label_key = "labels" if cfg.name == "cifar10" else "fine_labels"
        images, labels = [], []
        for filename, _ in files:
            entry = read_batch(folder / filename)
            images.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.extend(entry[label_key])
        classes = tuple(read_batch(folder / cls.meta["filename"])[cls.meta["key"]])
        x = to_nchw(np.concatenate(images), False)
        return image_dataset(cfg.name, x, np.asarray(labels), classes, cfg)


class ImageFolder(DatasetSource):
    """torchvision's ImageFolder: ``<path>/<class>/<image>``, classes in sorted order."""

    def __init__(self, config: ImageFolderConfig) -> None:
        if not config.path:
            raise ConfigError("dataset.path is required")
        self.config = config

    def load(self) -> Dataset:
        from torchvision.datasets import ImageFolder as TorchvisionImageFolder
        from torchvision.transforms.functional import pil_to_tensor

        cfg = self.config
        root = Path(cfg.path).expanduser()
        if not root.is_dir():
            raise DataError(f"dataset.path: folder not found: {cfg.path}")
        try:
            folder = TorchvisionImageFolder(str(root))
        except FileNotFoundError as error:
            raise DataError(f"dataset.path: {str(error).splitlines()[0]}") from error
        images = [pil_to_tensor(folder.loader(path)) for path, _ in folder.samples]
        shapes = {tuple(image.shape) for image in images}
        if len(shapes) > 1 and not cfg.img_size:
            raise DataError(
                f"dataset.img_size: the images in {cfg.path} have {len(shapes)} different "
                "sizes; set dataset.img_size to resize them to one"
            )
        size = cfg.img_size
        x = torch.cat([resize(to_nchw(image[None], False), size) for image in images])
        y = np.array([label for _, label in folder.samples])
        return image_dataset("image_folder", x, y, tuple(folder.classes), cfg)
