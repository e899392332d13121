"""The epoch loop shared by the torch trainers.

Built for speed on in-memory data: the split is one preloaded tensor, each epoch is
one ``randperm`` from a generator seeded by the config, batches are views of the
shuffled tensors (no DataLoader, no worker processes), and losses are summed as
tensors so that nothing waits on ``.item()`` until the epoch ends.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Protocol

import torch
from torch import nn
from torch.nn import functional as F

from hyperplug.interfaces import Reporter


class TrainingConfig(Protocol):
    """The fields of a trainer config that the loop reads."""

    optimizer: str
    lr: float
    weight_decay: float
    momentum: float
    batch_size: int
    epochs: int
    seed: int
    threads: int


def configure_torch(config: TrainingConfig) -> None:
    """Seed torch's global RNG (weight init, dropout) and set the thread count if asked."""
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)


def make_optimizer(
    params: Iterable[torch.nn.Parameter], config: TrainingConfig
) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    raise ValueError(f"unknown optimizer {config.optimizer!r}")


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    """One pass over ``x`` in shuffled batches; the mean training loss per sample."""
    model.train()
    order = torch.randperm(len(y), generator=generator)
    x, y = x[order], y[order]
    total = torch.zeros(())
    for start in range(0, len(y), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(yb)
    return total.item() / len(y)


def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int
) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on ``x``/``y``."""
    if len(y) == 0:
        return math.nan, math.nan
    model.eval()
    loss = torch.zeros((), dtype=torch.float64)
    correct = torch.zeros((), dtype=torch.int64)
    with torch.inference_mode():
        for start in range(0, len(y), batch_size):
            logits = model(x[start : start + batch_size])
            yb = y[start : start + batch_size]
            loss += F.cross_entropy(logits, yb, reduction="sum")
            correct += (logits.argmax(dim=1) == yb).sum()
    return loss.item() / len(y), correct.item() / len(y)


def predict(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Class indices, computed in batches under ``inference_mode``."""
    model.eval()
    with torch.inference_mode():
        parts = [
            model(x[start : start + batch_size]).argmax(dim=1)
            for start in range(0, len(x), batch_size)
        ]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.int64)


def _improves(value: float, best: float | None, mode: str) -> bool:
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value > best if mode == "max" else value < best


def fit(
    model: nn.Module,
    config: TrainingConfig,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    report: Reporter,
    eval_batch_size: int,
) -> None:
    """Train for ``config.epochs`` epochs, reporting after each (epochs count from 1).

    After every epoch the model is evaluated on ``val`` and ``report`` gets
    ``train_loss``, ``val_loss`` and ``val_accuracy``. The weights of the best epoch by
    ``report.perf_metric``/``report.mode`` are kept and put back at the end (the last
    epoch's weights stay if that metric is not among the reported ones). Training stops
    early when ``report`` returns False.
    """
    optimizer = make_optimizer(model.parameters(), config)
    generator = torch.Generator().manual_seed(config.seed)
    best_value: float | None = None
    best_state: dict[str, torch.Tensor] | None = None
    for epoch in range(1, config.epochs + 1):
        train_loss = train_epoch(model, optimizer, *train, config.batch_size, generator)
        val_loss, val_accuracy = evaluate(model, *val, eval_batch_size)
        metrics = {"train_loss": train_loss, "val_loss": val_loss, "val_accuracy": val_accuracy}
        value = metrics.get(report.perf_metric)
        if value is not None and _improves(value, best_value, report.mode):
            best_value = value
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if report(epoch, metrics) is False:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
