"""Built-in torch trainers (``mlp``, and the timm image classifiers ``resnet`` and
``vit``) and the updaters that retrain them on new data (``fine_tuning``, ``joint``,
``er``, ``der``, ``offline_er``, ``gdumb``, ``ewc``, ``lwf``).

Importing this module must not import torch (plugin listing and ``--help`` stay fast):
configs are torch-free, and each factory imports its module when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug.plugins.torch.configs import MLPConfig, ResNetConfig, ViTConfig
from hyperplug.plugins.torch.update_configs import (
    DERConfig,
    ERConfig,
    EWCConfig,
    FineTuningConfig,
    GDumbConfig,
    JointConfig,
    LwFConfig,
    OfflineERConfig,
)

#: the extra this plugin needs; without it the plugin registers nothing
HYPERPLUG_EXTRA = "torch"

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


#: updater name -> (config class, class name in ``updaters``, description)
UPDATERS: dict[str, tuple[type, str, str]] = {
    "fine_tuning": (FineTuningConfig, "FineTuning", "Continue training on the new chunk only."),
    "joint": (JointConfig, "Joint", "Retrain from scratch on all data seen so far."),
    "er": (ERConfig, "ER", "Experience replay from a memory buffer."),
    "der": (DERConfig, "DER", "Dark experience replay (DER++): replayed rows and their logits."),
    "offline_er": (
        OfflineERConfig,
        "OfflineER",
        "Replay of earlier chunks only; the chunk joins the memory after training.",
    ),
    "gdumb": (GDumbConfig, "GDumb", "Retrain from scratch on a class-balanced memory."),
    "ewc": (EWCConfig, "EWC", "Elastic weight consolidation (Fisher-weighted penalty)."),
    "lwf": (LwFConfig, "LwF", "Learning without forgetting (distils the previous model)."),
}


def build_updater(config: Any) -> Any:
    from hyperplug.plugins.torch import updaters

    return getattr(updaters, UPDATERS[config.name][1])(config)


@hookimpl
def register_updaters() -> list[Component]:
    return [
        Component(
            kind="updater",
            name=name,
            factory=build_updater,
            config_class=config_class,
            description=description,
        )
        for name, (config_class, _, description) in UPDATERS.items()
    ]
