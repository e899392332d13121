"""Built-in torch trainers.

Importing this module must not import torch (plugin listing and ``--help`` stay fast):
configs are torch-free, and each factory imports its trainer module when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug.plugins.torch.configs import MLPConfig

if TYPE_CHECKING:
    from hyperplug.plugins.torch.mlp import MLPTrainer


def build_mlp_trainer(config: MLPConfig) -> MLPTrainer:
    from hyperplug.plugins.torch.mlp import MLPTrainer

    return MLPTrainer(config)


@hookimpl
def register_trainers() -> list[Component]:
    return [
        Component(
            kind="trainer",
            name="mlp",
            factory=build_mlp_trainer,
            config_class=MLPConfig,
            description="Multi-layer perceptron on flattened inputs (PyTorch).",
        )
    ]
