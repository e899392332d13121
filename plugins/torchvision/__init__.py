"""Built-in image datasets: digits as images, MNIST, Fashion-MNIST, CIFAR-10/100 and image
folders, read through torchvision.

Importing this module imports neither torch nor torchvision; each factory imports the
dataset module when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug.plugins.torchvision.configs import (
    CIFAR10Config,
    CIFAR100Config,
    DigitsImagesConfig,
    FashionMNISTConfig,
    ImageFolderConfig,
    MNISTConfig,
)

#: the extra this plugin needs; without it the plugin registers nothing
HYPERPLUG_EXTRA = "vision"

if TYPE_CHECKING:
    from hyperplug.interfaces import DatasetSource


def build_digits_images(config: DigitsImagesConfig) -> DatasetSource:
    from hyperplug.plugins.torchvision.datasets import DigitsImages

    return DigitsImages(config)


def build_mnist_family(config: Any) -> DatasetSource:
    from hyperplug.plugins.torchvision.datasets import MNISTFamily

    return MNISTFamily(config)


def build_cifar(config: Any) -> DatasetSource:
    from hyperplug.plugins.torchvision.datasets import CIFAR

    return CIFAR(config)


def build_image_folder(config: ImageFolderConfig) -> DatasetSource:
    from hyperplug.plugins.torchvision.datasets import ImageFolder

    return ImageFolder(config)


@hookimpl
def register_datasets() -> list[Component]:
    def dataset(name: str, factory: Any, config_class: type, description: str) -> Component:
        return Component("dataset", name, factory, config_class, description)

    return [
        dataset(
            "digits_images",
            build_digits_images,
            DigitsImagesConfig,
            "scikit-learn's digits as 1x8x8 images (resize, channels in config).",
        ),
        dataset(
            "mnist",
            build_mnist_family,
            MNISTConfig,
            "MNIST 28x28 grey digits (torchvision; root, download).",
        ),
        dataset(
            "fashion_mnist",
            build_mnist_family,
            FashionMNISTConfig,
            "Fashion-MNIST 28x28 grey clothing (torchvision; root, download).",
        ),
        dataset(
            "cifar10",
            build_cifar,
            CIFAR10Config,
            "CIFAR-10 32x32 RGB, 10 classes (torchvision layout; root, download).",
        ),
        dataset(
            "cifar100",
            build_cifar,
            CIFAR100Config,
            "CIFAR-100 32x32 RGB, 100 fine classes (torchvision layout; root, download).",
        ),
        dataset(
            "image_folder",
            build_image_folder,
            ImageFolderConfig,
            "A folder with one sub-folder of images per class (torchvision).",
        ),
    ]
