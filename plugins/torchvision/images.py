"""Turning stored images into the float32 (n, C, H, W) arrays hyperplug datasets hold."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from hyperplug.data import Dataset
from hyperplug.plugins.torchvision.configs import ImageOptions

#: ITU-R 601 luma weights, as PIL's RGB -> L conversion
LUMA = (0.299, 0.587, 0.114)


def to_nchw(images: np.ndarray | torch.Tensor, channels_last: bool) -> torch.Tensor:
    """uint8 or float images, (n, H, W) or (n, H, W, C)/(n, C, H, W), as float32 NCHW in [0, 1]."""
    x = torch.as_tensor(np.asarray(images))
    if x.dim() == 3:
        x = x.unsqueeze(1)
    elif channels_last:
        x = x.permute(0, 3, 1, 2)
    return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()


def adjust(x: torch.Tensor, options: ImageOptions) -> torch.Tensor:
    """Resize and convert channels as the options ask."""
    if options.channels and options.channels != x.shape[1]:
        if options.channels == 3 and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif options.channels == 1 and x.shape[1] == 3:
            x = (x * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    return resize(x, options.img_size)


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """``x`` resized (bilinear, antialiased) to size x size; 0 or the same size: unchanged."""
    if not size or tuple(x.shape[-2:]) == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def image_dataset(
    name: str,
    x: torch.Tensor,
    y: np.ndarray,
    classes: tuple[str, ...],
    options: ImageOptions,
) -> Dataset:
    """A ``Dataset`` of the first ``max_samples`` images, adjusted as ``options`` say."""
    if options.max_samples:
        x, y = x[: options.max_samples], y[: options.max_samples]
    array = np.ascontiguousarray(adjust(x, options).numpy(), dtype=np.float32)
    return Dataset.from_arrays(name, array, np.asarray(y, dtype=np.int64), classes=classes)
