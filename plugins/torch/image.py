"""The ``resnet`` and ``vit`` trainers: timm image classifiers on (n, C, H, W) arrays.

Inputs shaped (n, H, W) count as one channel. Shape, channel and patch-size problems
are reported before the first epoch, naming the config key to change.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from hyperplug.data import DataSplits
from hyperplug.interfaces import Reporter
from hyperplug.plugins.torch import loop
from hyperplug.plugins.torch.augment import Normalized, flip_crop
from hyperplug.plugins.torch.configs import ImageModelConfig, ResNetConfig, ViTConfig
from hyperplug.plugins.torch.runtime import Runtime
from hyperplug.plugins.torch.timm_models import create_model
from hyperplug.plugins.torch.trainer import TorchTrainer


class ImageTrainer(TorchTrainer):
    """A timm model, optionally behind per-channel normalisation."""

    config: ImageModelConfig

    @property
    def eval_batch_size(self) -> int:  # type: ignore[override]
        return 4 * self.config.batch_size

    def prepare_inputs(self, x: np.ndarray) -> torch.Tensor:
        tensor = super().prepare_inputs(x)
        if tensor.dim() == 3:
            tensor = tensor.unsqueeze(1)
        size = self.config.img_size
        if size and tuple(tensor.shape[-2:]) != (size, size):
            tensor = F.interpolate(
                tensor, size=(size, size), mode="bilinear", antialias=True, align_corners=False
            )
        return tensor

    # ------------------------------------------------------------------ model

    def timm_kwargs(self, shape: tuple[int, int, int]) -> dict[str, Any]:
        """Extra ``timm.create_model`` arguments for inputs of ``shape``."""
        return {}

    def build_model(self, input_shape: tuple[int, ...], n_classes: int) -> nn.Module:
        shape = self.config.image_shape(input_shape)
        net = create_model(
            self.config.variant,
            n_classes,
            shape[0],
            pretrained=self.config.pretrained,
            allow_download=self.config.allow_download,
            model_kwargs=self.config.model_kwargs,
            **self.timm_kwargs(shape),
        )
        return Normalized(net, shape[0]) if self.config.normalize else net

    def fit(self, data: DataSplits, report: Reporter) -> None:
        self.config.check_data(data)  # bad shapes fail before any tensor is made
        super().fit(data, report)

    def prepare_model(self, model: nn.Module, train_x: torch.Tensor) -> None:
        if isinstance(model, Normalized):
            model.set_statistics(train_x.to(model.mean.device))

    # ------------------------------------------------------------------ training

    def make_runtime(self) -> Runtime:
        return Runtime.create(self.config.device, self.config.precision, self.config.channels_last)

    def training_transform(self) -> loop.Transform | None:
        return flip_crop if self.config.augment == "flip_crop" else None

    def loader_options(self) -> dict[str, Any]:
        return {"workers": self.config.workers, "pin_memory": self.config.pin_memory}

    @classmethod
    def restore(cls, config: Any, state: Any, info: Any) -> TorchTrainer:
        # the saved weights replace any pretrained ones: do not look for those again
        return super().restore(attrs.evolve(config, pretrained=False), state, info)


class ResNetTrainer(ImageTrainer):
    """A timm ResNet (or any timm CNN); ``*_cifar`` variants suit small images."""

    name = "resnet"
    config: ResNetConfig


class ViTTrainer(ImageTrainer):
    """A timm Vision Transformer built for the input size."""

    name = "vit"
    config: ViTConfig

    def timm_kwargs(self, shape: tuple[int, int, int]) -> dict[str, Any]:
        _, height, width = shape  # the config checked them against the patch size
        return {"img_size": (height, width)}
