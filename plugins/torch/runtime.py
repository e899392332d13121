"""Where and in what precision a torch trainer runs: device, autocast, gradient scaling."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import attrs
import torch

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def available(kind: str) -> bool:
    """Whether this machine has a ``kind`` device torch can use (``cpu`` always)."""
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return torch.backends.mps.is_available()
    return kind == "cpu"


def require_device(kind: str) -> None:
    """Raise ``ValueError`` naming ``trainer.device`` when ``kind`` is not on this machine."""
    if not available(kind):
        raise ValueError(
            f"trainer.device={kind} but this machine has no {kind.upper()} device usable by "
            f"torch {torch.__version__}: use trainer.device=auto or cpu"
        )


def resolve_device(kind: str) -> torch.device:
    """``auto`` is CUDA if present, else MPS, else the CPU."""
    if kind == "auto":
        kind = next(k for k in ("cuda", "mps", "cpu") if available(k))
    require_device(kind)
    return torch.device(kind)


@attrs.frozen
class Runtime:
    """The device, the autocast context and the gradient scaler of one training run.

    In fp32 ``autocast`` is a null context and there is no scaler, so the CPU path pays
    nothing for mixed-precision support.
    """

    device: torch.device
    precision: str = "fp32"
    memory_format: torch.memory_format = torch.contiguous_format
    scaler: Any = None

    @classmethod
    def create(cls, device: str, precision: str, channels_last: bool = False) -> Runtime:
        resolved = resolve_device(device)
        scaler = torch.amp.GradScaler(resolved.type) if precision == "fp16" else None
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        return cls(resolved, precision, memory_format, scaler)

    @property
    def autocast(self) -> Callable[[], contextlib.AbstractContextManager[Any]]:
        if self.precision == "fp32":
            return contextlib.nullcontext
        dtype = DTYPES[self.precision]
        return lambda: torch.autocast(self.device.type, dtype=dtype)

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` on the device, in the memory format the model was put in."""
        x = x.to(self.device, non_blocking=True)
        if self.memory_format is torch.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def place(self, model: torch.nn.Module) -> torch.nn.Module:
        if self.memory_format is torch.channels_last:
            return model.to(self.device, memory_format=torch.channels_last)
        return model.to(self.device)
