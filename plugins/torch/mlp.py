"""The ``mlp`` trainer: a multi-layer perceptron on flattened inputs."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from hyperplug.plugins.torch.configs import MLPConfig
from hyperplug.plugins.torch.trainer import TorchTrainer

ACTIVATION_MODULES: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
    "silu": nn.SiLU,
}


def build_mlp(
    in_features: int,
    hidden_layers: list[int],
    n_classes: int,
    activation: str = "relu",
    dropout: float = 0.0,
) -> nn.Sequential:
    """``Linear -> activation [-> Dropout]`` per hidden layer, then a ``Linear`` to logits."""
    layers: list[nn.Module] = []
    width = in_features
    for size in hidden_layers:
        layers += [nn.Linear(width, size), ACTIVATION_MODULES[activation]()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, n_classes))
    return nn.Sequential(*layers)


class MLPTrainer(TorchTrainer):
    """Trains an MLP classifier; inputs of any shape are flattened to vectors."""

    name = "mlp"
    config: MLPConfig

    def build_model(self, input_shape: tuple[int, ...], n_classes: int) -> nn.Module:
        return build_mlp(
            math.prod(input_shape),
            self.config.hidden_layers,
            n_classes,
            self.config.activation,
            self.config.dropout,
        )

    def prepare_inputs(self, x: np.ndarray) -> torch.Tensor:
        return super().prepare_inputs(x.reshape(len(x), -1))
