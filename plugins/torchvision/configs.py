"""Configs of the image datasets (torch-free: the plugin registers them at import time)."""

from __future__ import annotations

from typing import Any

import attrs


def _choice(*choices: Any) -> Any:
    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in choices:
            raise ValueError(
                f"dataset.{attribute.name} must be one of {', '.join(map(str, choices))}, "
                f"got {value!r}"
            )

    return validate


def _non_negative_int(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"dataset.{attribute.name} must be an integer >= 0, got {value!r}")


def _string(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise ValueError(f"dataset.{attribute.name} must be a string, got {value!r}")


@attrs.define
class ImageOptions:
    """How images are delivered: float32 (n, C, H, W) in [0, 1].

    ``img_size=0`` keeps the stored size, otherwise images are resized (bilinear) to
    img_size x img_size. ``channels=0`` keeps the stored channels; 1 or 3 converts
    (grey repeated to RGB, RGB to luminance). ``max_samples>0`` keeps the first that many.
    """

    img_size: int = attrs.field(default=0, validator=_non_negative_int)
    channels: int = attrs.field(default=0, validator=_choice(0, 1, 3))
    max_samples: int = attrs.field(default=0, validator=_non_negative_int)


@attrs.define
class DigitsImagesConfig(ImageOptions):
    """scikit-learn's digits as 1-channel 8x8 images (1,797 of them, 10 classes)."""

    name: str = "digits_images"


@attrs.define
class TorchvisionConfig(ImageOptions):
    """A torchvision dataset under ``root``; ``download=true`` fetches it if missing."""

    root: str = attrs.field(default="data", validator=_string)
    download: bool = False
    split: str = attrs.field(default="train", validator=_choice("train", "test"))


@attrs.define
class MNISTConfig(TorchvisionConfig):
    """MNIST: 28x28 grey digits, idx files in ``<root>/MNIST/raw/``."""

    name: str = "mnist"


@attrs.define
class FashionMNISTConfig(TorchvisionConfig):
    """Fashion-MNIST: 28x28 grey clothing, idx files in ``<root>/FashionMNIST/raw/``."""

    name: str = "fashion_mnist"


@attrs.define
class CIFAR10Config(TorchvisionConfig):
    """CIFAR-10: 32x32 RGB, python batches in ``<root>/cifar-10-batches-py/``.

    ``verify`` checks every file's md5 against torchvision's (false: for re-packed files).
    """

    name: str = "cifar10"
    verify: bool = True


@attrs.define
class CIFAR100Config(TorchvisionConfig):
    """CIFAR-100 (fine labels): 32x32 RGB, python files in ``<root>/cifar-100-python/``."""

    name: str = "cifar100"
    verify: bool = True


@attrs.define
class ImageFolderConfig(ImageOptions):
    """A folder with one sub-folder of images per class (torchvision's ImageFolder).

    Images of different sizes need ``img_size`` so they can be stacked.
    """

    name: str = "image_folder"
    path: str = attrs.field(default="", validator=_string)
