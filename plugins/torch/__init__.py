"""Built-in torch trainers: ``mlp``, and the timm image classifiers ``resnet`` and ``vit``.

Importing this module must not import torch (plugin listing and ``--help`` stay fast):
configs are torch-free, and each factory imports its trainer module when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug.plugins.torch.configs import MLPConfig, ResNetConfig, ViTConfig

if TYPE_CHECKING:
    from hyperplug.plugins.torch.image import ResNetTrainer, ViTTrainer
    from hyperplug.plugins.torch.mlp import MLPTrainer


def build_mlp_trainer(config: MLPConfig) -> MLPTrainer:
    from hyperplug.plugins.torch.mlp import MLPTrainer

    return MLPTrainer(config)


def build_resnet_trainer(config: ResNetConfig) -> ResNetTrainer:
    from hyperplug.plugins.torch.image import ResNetTrainer

    return ResNetTrainer(config)


def build_vit_trainer(config: ViTConfig) -> ViTTrainer:
    from hyperplug.plugins.torch.image import ViTTrainer

    return ViTTrainer(config)


@hookimpl
def register_trainers() -> list[Component]:
    return [
        Component(
            kind="trainer",
            name="mlp",
            factory=build_mlp_trainer,
            config_class=MLPConfig,
            description="Multi-layer perceptron on flattened inputs (PyTorch).",
        ),
        Component(
            kind="trainer",
            name="resnet",
            factory=build_resnet_trainer,
            config_class=ResNetConfig,
            description="timm ResNet image classifier: resnet18/34/50, *_cifar, any timm CNN.",
        ),
        Component(
            kind="trainer",
            name="vit",
            factory=build_vit_trainer,
            config_class=ViTConfig,
            description="timm Vision Transformer classifier: vit_tiny/small/base, any timm ViT.",
        ),
    ]
