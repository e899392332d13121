"""Configs of the torch trainers.

Torch-free on purpose: the plugin registers these classes at import time, and
importing the plugin must stay cheap. attrs validators run when the instance is
created (``OmegaConf.to_object``), so a bad value fails before any trial starts
with a message naming the ``trainer.<field>`` key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import attrs

from hyperplug.data import DataSplits
from hyperplug.errors import DataError
from hyperplug.plugins.torch.variants import check_variant, patch_size
from hyperplug.validators import (
    Validator,
    integer,
    is_int,
    non_negative,
    non_negative_int,
    one_of,
    positive,
    positive_int,
    probability,
    require,
)

ACTIVATIONS: tuple[str, ...] = ("relu", "gelu", "tanh", "sigmoid", "leaky_relu", "silu")
OPTIMIZERS: tuple[str, ...] = ("adam", "adamw", "sgd")

layer_sizes = require(
    lambda v: isinstance(v, list | tuple) and all(is_int(n) and n > 0 for n in v),
    "a list of integers > 0",
)


DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")
LR_SCHEDULES: tuple[str, ...] = ("none", "cosine", "step")
AUGMENTS: tuple[str, ...] = ("none", "flip_crop")
#: weight files ``trainer.pretrained`` may name: never unpickled beyond tensors
WEIGHT_SUFFIXES: tuple[str, ...] = (".safetensors", ".pth", ".pt", ".bin")
#: timm arguments the trainer sets itself, from the data or its own keys
MANAGED_KWARGS: dict[str, str] = {
    "num_classes": "the number of classes comes from the data",
    "in_chans": "set trainer.in_chans",
    "img_size": "set trainer.img_size",
    "pretrained": "set trainer.pretrained",
}


def _device_exists(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    one_of(DEVICES)(instance, attribute, value)
    if value in ("cuda", "mps"):
        from hyperplug.plugins.torch.runtime import require_device

        require_device(value)


def _weights(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """``false``, ``true`` (timm's weights, from the cache) or a local weight file."""
    if isinstance(value, bool):
        return
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"trainer.pretrained must be false, true or a path to a weight file, got {value!r}"
        )
    path = Path(value).expanduser()
    if path.suffix not in WEIGHT_SUFFIXES:
        raise ValueError(
            f"trainer.pretrained: {value} must be a {', '.join(WEIGHT_SUFFIXES)} weight file"
        )
    if not path.is_file():
        raise ValueError(f"trainer.pretrained: weight file not found: {value}")


def _model_kwargs(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError(
            f"trainer.model_kwargs must map timm argument names to values, got {value!r}"
        )
    for key, why in MANAGED_KWARGS.items():
        if key in value:
            raise ValueError(f"trainer.model_kwargs.{key} is not allowed: {why}")


def _variant(family: str) -> Validator:
    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError(f"trainer.variant must be a model name, got {value!r}")
        check_variant(family, value)

    return validate


@attrs.define
class TrainingConfig:
    """Options of the training loop shared by every torch trainer.

    ``threads=0`` leaves torch's thread count as it is. ``device=auto`` takes CUDA, then
    MPS, then the CPU. ``precision`` bf16/fp16 trains under autocast (fp16 with a
    gradient scaler, on a GPU only). ``grad_clip`` is a max gradient norm (0: off).
    ``lr_schedule`` is applied per epoch after ``warmup_epochs`` of linear warm-up;
    ``step`` multiplies the lr by ``lr_gamma`` every ``lr_step_size`` epochs.
    """

    optimizer: str = attrs.field(default="adam", validator=one_of(OPTIMIZERS))
    lr: float = attrs.field(default=1e-3, validator=positive)
    weight_decay: float = attrs.field(default=0.0, validator=non_negative)
    momentum: float = attrs.field(default=0.9, validator=non_negative)
    batch_size: int = attrs.field(default=64, validator=positive_int)
    epochs: int = attrs.field(default=10, validator=positive_int)
    seed: int = attrs.field(default=0, validator=integer)
    threads: int = attrs.field(default=0, validator=non_negative_int)
    device: str = attrs.field(default="auto", validator=_device_exists)
    precision: str = attrs.field(default="fp32", validator=one_of(PRECISIONS))
    grad_clip: float = attrs.field(default=0.0, validator=non_negative)
    lr_schedule: str = attrs.field(default="none", validator=one_of(LR_SCHEDULES))
    warmup_epochs: int = attrs.field(default=0, validator=non_negative_int)
    lr_step_size: int = attrs.field(default=30, validator=positive_int)
    lr_gamma: float = attrs.field(default=0.1, validator=positive)
    label_smoothing: float = attrs.field(default=0.0, validator=probability)

    def __attrs_post_init__(self) -> None:
        if self.precision == "fp16":
            from hyperplug.plugins.torch.runtime import resolve_device

            if resolve_device(self.device).type == "cpu":
                raise ValueError(
                    "trainer.precision=fp16 needs a GPU (it trains with a gradient scaler); "
                    "on the CPU use trainer.precision=bf16 or fp32"
                )

    @classmethod
    def for_restore(cls, node: dict[str, Any], device: str | None) -> dict[str, Any]:
        """A saved config as it must be to restore the model on this machine: on
        ``device`` when asked, else on the device it trained on if this machine has it,
        else on the best one here (``auto``); fp16 becomes fp32 on the CPU."""
        from hyperplug.plugins.torch.runtime import available, resolve_device

        if device is None:
            saved = node.get("device", "auto")
            device = saved if saved == "auto" or (saved in DEVICES and available(saved)) else "auto"
        node = {**node, "device": device}
        on_cpu = device == "cpu" or (device == "auto" and resolve_device("auto").type == "cpu")
        if node.get("precision") == "fp16" and on_cpu:
            node["precision"] = "fp32"
        return node


@attrs.define
class MLPConfig(TrainingConfig):
    """A multi-layer perceptron on flattened inputs.

    ``hidden_layers=[]`` is a linear (softmax regression) model. ``momentum`` is used by
    ``sgd`` only.
    """

    name: str = "mlp"
    hidden_layers: list[int] = attrs.field(factory=lambda: [128, 64], validator=layer_sizes)
    activation: str = attrs.field(default="relu", validator=one_of(ACTIVATIONS))
    dropout: float = attrs.field(default=0.0, validator=probability)
    #: ``training_params=default``
    search_space: ClassVar[dict[str, Any]] = {
        "lr": "loguniform(1e-4, 1e-1)",
        "hidden_layers": [[64], [128, 64], [256, 128]],
        "dropout": [0.0, 0.2],
    }


@attrs.define
class ImageModelConfig(TrainingConfig):
    """A timm image classifier on (n, C, H, W) inputs.

    ``variant`` is a named variant or any timm model name; ``model_kwargs`` go to
    ``timm.create_model`` (depth, embed_dim, patch_size, drop_rate, ...). ``img_size=0``
    keeps the data's size, otherwise inputs are resized to it. ``in_chans=0`` takes the
    data's channel count; a non-zero value must match it. ``pretrained`` is false, true
    (timm's weights, from the local cache unless ``allow_download``) or a local weight
    file. ``normalize`` standardises each channel with the training split's mean and
    std (kept in the model's weights); ``augment=flip_crop`` flips and shifts training
    batches. ``workers>0`` feeds batches through a DataLoader with that many worker
    processes (``pin_memory`` on a GPU); 0 slices the in-memory tensors, the fastest.
    """

    variant: str = "resnet18_cifar"
    pretrained: Any = attrs.field(default=False, validator=_weights)
    allow_download: bool = False
    model_kwargs: dict[str, Any] = attrs.field(factory=dict, validator=_model_kwargs)
    img_size: int = attrs.field(default=0, validator=non_negative_int)
    in_chans: int = attrs.field(default=0, validator=non_negative_int)
    normalize: bool = True
    augment: str = attrs.field(default="none", validator=one_of(AUGMENTS))
    channels_last: bool = False
    workers: int = attrs.field(default=0, validator=non_negative_int)
    pin_memory: bool = True
    #: ``training_params=default``
    search_space: ClassVar[dict[str, Any]] = {
        "lr": "loguniform(1e-4, 1e-1)",
        "weight_decay": [0.0, 1e-4, 5e-4],
        "optimizer": ["adamw", "sgd"],
    }

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.pretrained is True:  # fail now, not in the trial, when no weights are at hand
            from hyperplug.plugins.torch.timm_models import pretrained_args
            from hyperplug.plugins.torch.variants import resolve_variant

            pretrained_args(resolve_variant(self.variant)[0], True, self.allow_download)

    @classmethod
    def for_restore(cls, node: dict[str, Any], device: str | None) -> dict[str, Any]:
        # the saved weights replace pretrained ones: no weight file or cache is needed
        return {**super().for_restore(node, device), "pretrained": False, "allow_download": False}

    def check_data(self, data: DataSplits) -> None:
        self.image_shape(data.input_shape)

    def image_shape(self, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
        """(channels, height, width) of the network's inputs for samples shaped
        ``input_shape``; a ``DataError`` naming the key when they do not fit this config."""
        if len(input_shape) not in (2, 3):
            raise DataError(
                f"trainer {self.name} needs images shaped (n, C, H, W) or (n, H, W), got "
                f"samples shaped {tuple(input_shape)}: use an image dataset such as "
                "dataset=digits_images"
            )
        channels = input_shape[0] if len(input_shape) == 3 else 1
        if self.in_chans and self.in_chans != channels:
            raise DataError(
                f"trainer.in_chans is {self.in_chans} but the images have {channels} "
                "channel(s): set trainer.in_chans=0 (take it from the data) or change the "
                "dataset's channels"
            )
        height, width = input_shape[-2:]
        size = self.img_size
        return (channels, size, size) if size else (channels, height, width)


@attrs.define
class ResNetConfig(ImageModelConfig):
    """A timm ResNet. ``<name>_cifar`` variants use a 3x3 stride-1 stem and no max-pool,
    which suits images of 8-64 pixels."""

    name: str = "resnet"
    variant: str = attrs.field(default="resnet18_cifar", validator=_variant("resnet"))


@attrs.define
class ViTConfig(ImageModelConfig):
    """A timm Vision Transformer; ``img_size`` must be divisible by the patch size."""

    name: str = "vit"
    variant: str = attrs.field(default="vit_tiny_patch16_224", validator=_variant("vit"))
    img_size: int = attrs.field(default=32, validator=non_negative_int)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        patch = patch_size(self.variant, self.model_kwargs)
        if self.img_size and patch and self.img_size % patch:
            raise ValueError(
                f"trainer.img_size {self.img_size} is not divisible by the patch size {patch} "
                f"of {self.variant}"
            )

    def image_shape(self, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
        shape = super().image_shape(input_shape)
        _, height, width = shape
        patch = patch_size(self.variant, self.model_kwargs)
        if patch and (height % patch or width % patch):
            raise DataError(
                f"trainer.img_size: images of {height}x{width} are not divisible by the patch "
                f"size {patch} of {self.variant}: set trainer.img_size to a multiple of {patch}"
            )
        return shape
