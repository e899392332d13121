"""Per-batch image augmentation and input normalisation, in torch ops on (n, C, H, W)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def flip_crop(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flips, and random crops of the batch padded by 1/8 of its size.

    The standard CIFAR recipe (pad 4 at 32 px), vectorised over the batch; the random
    draws come from ``generator`` on the CPU, so a seeded run is reproducible.
    """
    n, _, height, width = x.shape
    flip = (torch.rand(n, generator=generator) < 0.5).to(x.device)
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    pad = max(1, min(height, width) // 8)
    padded = F.pad(x, (pad, pad, pad, pad))
    top = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(x.device)
    left = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(x.device)
    rows = (top[:, None] + torch.arange(height, device=x.device))[:, None, :, None]
    cols = (left[:, None] + torch.arange(width, device=x.device))[:, None, None, :]
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


class Normalized(nn.Module):
    """A network whose inputs are standardised per channel first.

    ``mean``/``std`` are buffers, so they are saved and restored with the weights.
    """

    def __init__(self, net: nn.Module, channels: int) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.zeros(1, channels, 1, 1))
        self.register_buffer("std", torch.ones(1, channels, 1, 1))

    def set_statistics(self, x: torch.Tensor) -> None:
        """Take each channel's mean and std from ``x`` (n, C, H, W)."""
        self.mean.copy_(x.mean(dim=(0, 2, 3)).view_as(self.mean))
        self.std.copy_(x.std(dim=(0, 2, 3)).clamp_min(1e-6).view_as(self.std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)
