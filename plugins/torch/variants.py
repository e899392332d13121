"""Named model variants of the image trainers, and checks of a ``trainer.variant``.

Torch-free: the named variants are checked from the table below; only a name outside it
imports timm (seconds), to ask whether timm knows the model.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

#: suffix of a ResNet variant with the small-image stem (3x3 stride-1 conv, no max-pool)
CIFAR_SUFFIX = "_cifar"

#: short names -> timm model names
ALIASES: dict[str, str] = {
    "vit_tiny": "vit_tiny_patch16_224",
    "vit_small": "vit_small_patch16_224",
    "vit_base": "vit_base_patch16_224",
}

#: the named variants of each trainer (any other timm model name is accepted too)
NAMED: dict[str, tuple[str, ...]] = {
    "resnet": tuple(f"resnet{d}{s}" for d in (18, 34, 50) for s in ("", CIFAR_SUFFIX)),
    "vit": (*ALIASES, *ALIASES.values()),
}

_PATCH = re.compile(r"patch(\d+)")


def resolve_variant(variant: str) -> tuple[str, bool]:
    """The timm model name of ``variant`` and whether it takes the CIFAR stem."""
    cifar = variant.endswith(CIFAR_SUFFIX)
    name = variant[: -len(CIFAR_SUFFIX)] if cifar else variant
    return ALIASES.get(name, name), cifar


def check_variant(family: str, variant: str) -> None:
    """Raise ``ValueError`` naming ``trainer.variant`` and close names if timm lacks it."""
    if variant in NAMED[family]:
        return
    import timm

    name, _ = resolve_variant(variant)
    if timm.is_model(name.split(".", 1)[0]):
        return
    candidates = dict.fromkeys([*NAMED[family], *timm.list_models()])
    close = difflib.get_close_matches(variant, list(candidates), n=3)
    hint = f" (close names: {', '.join(close)})" if close else ""
    raise ValueError(
        f"trainer.variant: {variant!r} is neither a named {family} variant "
        f"({', '.join(NAMED[family])}) nor a timm model{hint}"
    )


def patch_size(variant: str, model_kwargs: Mapping[str, Any]) -> int | None:
    """A ViT's patch size from ``model_kwargs`` or the model name; None if neither says."""
    if "patch_size" in model_kwargs:
        return int(model_kwargs["patch_size"])
    match = _PATCH.search(resolve_variant(variant)[0])
    return int(match.group(1)) if match else None
