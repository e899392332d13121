"""Building timm models for the image trainers: variants, the CIFAR stem, pretrained weights.

Weights never download unless the config allows it: ``pretrained=true`` looks for timm's
weights in the Hugging Face and torch hub caches first. Weight files are read by timm
with safetensors or ``torch.load(weights_only=True)``, never unpickled beyond tensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import timm
from torch import nn

from hyperplug.errors import ConfigError
from hyperplug.plugins.torch.variants import resolve_variant

HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def cached_weights(model_name: str) -> str | None:
    """The local file holding timm's pretrained weights of ``model_name``, if cached."""
    from timm.models import get_pretrained_cfg
    from timm.models._hub import check_cached_file, get_cache_dir

    cfg = get_pretrained_cfg(model_name)
    if cfg is None:
        return None
    if cfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache

        repo = cfg.hf_hub_id
        for filename in (
            (cfg.hf_hub_filename, *HF_WEIGHT_FILES) if cfg.hf_hub_filename else (HF_WEIGHT_FILES)
        ):
            found = try_to_load_from_cache(repo, filename)
            if isinstance(found, str):
                return found
    if cfg.url and not cfg.custom_load and check_cached_file(cfg.url):
        return str(Path(get_cache_dir()) / Path(cfg.url).name)
    return None


def pretrained_args(
    model_name: str, pretrained: bool | str, allow_download: bool
) -> dict[str, Any]:
    """``timm.create_model`` arguments that load the requested weights, or a ConfigError."""
    if pretrained is False:
        return {}
    if isinstance(pretrained, str):
        return {
            "pretrained": True,
            "pretrained_cfg_overlay": {"file": str(Path(pretrained).expanduser())},
        }
    found = cached_weights(model_name)
    if found is not None:
        return {"pretrained": True, "pretrained_cfg_overlay": {"file": found}}
    if allow_download:
        return {"pretrained": True}
    raise ConfigError(
        f"trainer.pretrained: no cached weights of {model_name} (looked in the Hugging Face "
        "and torch hub caches); set trainer.allow_download=true to download them, or "
        "trainer.pretrained=<path to a .safetensors/.pth file>"
    )


def cifar_stem(model: nn.Module, variant: str) -> nn.Module:
    """Swap a ResNet's 7x7 stride-2 stem conv for 3x3 stride 1 and drop its max-pool."""
    conv = getattr(model, "conv1", None)
    if not isinstance(conv, nn.Conv2d) or not hasattr(model, "maxpool"):
        raise ConfigError(
            f"trainer.variant: {variant} asks for the CIFAR stem, which needs a ResNet-style "
            "model with conv1 and maxpool"
        )
    model.conv1 = nn.Conv2d(conv.in_channels, conv.out_channels, 3, 1, 1, bias=False)
    model.maxpool = nn.Identity()
    return model


def create_model(
    variant: str,
    n_classes: int,
    in_chans: int,
    *,
    pretrained: bool | str = False,
    allow_download: bool = False,
    model_kwargs: dict[str, Any] | None = None,
    **extra: Any,
) -> nn.Module:
    """A timm classifier of ``variant`` for ``n_classes`` and ``in_chans`` input channels."""
    name, cifar = resolve_variant(variant)
    kwargs = {**(model_kwargs or {}), **extra}
    try:
        model = timm.create_model(
            name,
            num_classes=n_classes,
            in_chans=in_chans,
            **pretrained_args(name, pretrained, allow_download),
            **kwargs,
        )
    except (TypeError, ValueError, AssertionError, RuntimeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"trainer: timm cannot build {name} with {kwargs}: {first}") from error
    return cifar_stem(model, variant) if cifar else model
