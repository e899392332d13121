"""The epoch loop shared by the torch trainers.

Built for speed on in-memory data: the split is one preloaded tensor (moved to the
device once), each epoch is one ``randperm`` from a generator seeded by the config,
batches are views of the shuffled tensors, and losses are summed as tensors so that
nothing waits on ``.item()`` until the epoch ends. ``workers > 0`` swaps the slicing
for a DataLoader whose worker processes gather whole batches.

An update changes the loop through a ``Strategy`` (``hyperplug.plugins.torch.updaters``):
it may add memory rows to each batch, add terms to the loss and see each batch's rows
after the step; without one the loop is plain cross-entropy training.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Protocol

import torch
from torch import nn
from torch.nn import functional as F

from hyperplug.checkpoint import TrialCheckpoint
from hyperplug.config import improves
from hyperplug.interfaces import Reporter
from hyperplug.plugins.torch.checkpoint import resume_training, save_training
from hyperplug.plugins.torch.runtime import Runtime

#: a training-batch augmentation: (batch, generator) -> batch
Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


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
    grad_clip: float
    lr_schedule: str
    warmup_epochs: int
    lr_step_size: int
    lr_gamma: float
    label_smoothing: float


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


def lr_factor(config: TrainingConfig, epoch: int) -> float:
    """The multiplier of ``config.lr`` during ``epoch`` (counted from 0).

    Warm-up rises linearly to 1 over ``warmup_epochs``; then ``cosine`` decays to 0 at
    the last epoch and ``step`` multiplies by ``lr_gamma`` every ``lr_step_size`` epochs.
    """
    warmup = config.warmup_epochs
    if epoch < warmup:
        return (epoch + 1) / (warmup + 1)
    since = epoch - warmup
    if config.lr_schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * since / max(1, config.epochs - warmup)))
    if config.lr_schedule == "step":
        return config.lr_gamma ** (since // config.lr_step_size)
    return 1.0


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainingConfig
) -> torch.optim.lr_scheduler.LambdaLR | None:
    if config.lr_schedule == "none" and config.warmup_epochs == 0:
        return None
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: lr_factor(config, epoch))


class Strategy:
    """How an updater changes training; this base class changes nothing.

    ``start`` is called once before the first epoch with the training tensors (on the
    device unless a DataLoader feeds them); ``extend`` may append memory rows to a batch
    of new rows; ``loss`` computes the batch's loss from the (extended, augmented) inputs
    and their logits, whose first ``n_new`` rows are new; ``after_step`` sees the new
    rows' indices into the training split and the batch's logits after each step.
    """

    def start(self, model: nn.Module, train: tuple[torch.Tensor, torch.Tensor]) -> None:
        """Before the first epoch."""

    def extend(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return xb, yb

    def loss(
        self,
        model: nn.Module,
        xb: torch.Tensor,
        logits: torch.Tensor,
        yb: torch.Tensor,
        n_new: int,
        config: TrainingConfig,
    ) -> torch.Tensor:
        return F.cross_entropy(logits, yb, label_smoothing=config.label_smoothing)

    def after_step(self, index: torch.Tensor, logits: torch.Tensor, n_new: int, epoch: int) -> None:
        """After each optimizer step: the new rows' indices into the training split, and
        the batch's logits (the first ``n_new`` rows are the new ones; not detached)."""


class Batches:
    """Shuffled training batches, one pass per iteration, from a seeded generator; each
    batch is (inputs, labels, row indices into the split)."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        generator: torch.Generator,
        workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        self.x, self.y, self.batch_size, self.generator = x, y, batch_size, generator
        self.loader: torch.utils.data.DataLoader | None = None
        if workers:
            from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

            # indexed by a list of indices: a whole batch at once
            data = TensorDataset(x, y, torch.arange(len(y)))
            sampler = BatchSampler(RandomSampler(data, generator=generator), batch_size, False)
            self.loader = DataLoader(
                data,
                sampler=sampler,
                batch_size=None,
                num_workers=workers,
                pin_memory=pin_memory,
                persistent_workers=True,
            )

    def __len__(self) -> int:
        return len(self.y)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        if self.loader is not None:
            yield from self.loader
            return
        order = torch.randperm(len(self.y), generator=self.generator).to(self.y.device)
        x, y = self.x[order], self.y[order]
        for start in range(0, len(y), self.batch_size):
            end = start + self.batch_size
            yield x[start:end], y[start:end], order[start:end]


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Batches,
    config: TrainingConfig,
    runtime: Runtime,
    transform: Transform | None = None,
    strategy: Strategy | None = None,
    epoch: int = 1,
) -> float:
    """One pass over ``batches``; the mean training loss per (new) sample."""
    model.train()
    autocast, scaler = runtime.autocast, runtime.scaler
    total = torch.zeros((), device=runtime.device)
    for xb, yb, index in batches:
        xb, yb = runtime.batch(xb), yb.to(runtime.device, non_blocking=True)
        n_new = len(yb)
        if strategy is not None:
            xb, yb = strategy.extend(xb, yb)
        if transform is not None:
            xb = runtime.batch(transform(xb, batches.generator))
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            logits = model(xb)
            if strategy is None:
                loss = F.cross_entropy(logits, yb, label_smoothing=config.label_smoothing)
            else:
                loss = strategy.loss(model, xb, logits, yb, n_new, config)
        if scaler is not None:
            scaler.scale(loss).backward()
            if config.grad_clip:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            if config.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
        if strategy is not None:
            strategy.after_step(index, logits, n_new, epoch)
        total += loss.detach() * n_new
    return total.item() / len(batches)


def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int, runtime: Runtime
) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on ``x``/``y``."""
    return evaluate_parts(model, x, y, batch_size, runtime, {"": slice(None)})[""]


def evaluate_parts(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    runtime: Runtime,
    parts: Mapping[str, slice],
) -> dict[str, tuple[float, float]]:
    """Mean loss and accuracy on each part (a slice of the rows) of ``x``/``y``, from one
    pass over the rows; NaN for an empty part."""
    model.eval()
    losses, hits = [], []
    with torch.inference_mode(), runtime.autocast():
        for start in range(0, len(y), batch_size):
            logits = model(runtime.batch(x[start : start + batch_size])).float()
            yb = y[start : start + batch_size].to(runtime.device)
            losses.append(F.cross_entropy(logits, yb, reduction="none").double())
            hits.append(logits.argmax(dim=1) == yb)
    loss = torch.cat(losses) if losses else torch.zeros(0, dtype=torch.float64)
    hit = torch.cat(hits) if hits else torch.zeros(0, dtype=torch.bool)
    result = {}
    for name, part in parts.items():
        part_loss, part_hit = loss[part], hit[part]
        if len(part_loss) == 0:
            result[name] = (math.nan, math.nan)
        else:
            result[name] = (part_loss.mean().item(), part_hit.double().mean().item())
    return result


def predict(model: nn.Module, x: torch.Tensor, batch_size: int, runtime: Runtime) -> torch.Tensor:
    """Class indices (on the CPU), computed in batches under ``inference_mode``."""
    model.eval()
    with torch.inference_mode(), runtime.autocast():
        parts = [
            model(runtime.batch(x[start : start + batch_size])).argmax(dim=1).cpu()
            for start in range(0, len(x), batch_size)
        ]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.int64)


def fit(
    model: nn.Module,
    config: TrainingConfig,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    report: Reporter,
    eval_batch_size: int,
    runtime: Runtime,
    *,
    transform: Transform | None = None,
    workers: int = 0,
    pin_memory: bool = False,
    strategy: Strategy | None = None,
    val_parts: Mapping[str, slice] | None = None,
    checkpoint: TrialCheckpoint | None = None,
) -> None:
    """Train for ``config.epochs`` epochs, reporting after each (epochs count from 1).

    ``model`` must already be on ``runtime``'s device. After every epoch the model is
    evaluated on ``val`` and ``report`` gets ``train_loss``, ``val_loss`` and
    ``val_accuracy`` (and ``val_loss_<part>``/``val_accuracy_<part>`` for each of
    ``val_parts``, slices of the validation rows). The weights of the best epoch by
    ``report.perf_metric``/``report.mode`` are kept and put back at the end (the last
    epoch's weights stay if that metric is not among the reported ones). Training stops
    early when ``report`` returns False. Without workers the splits are moved to the
    device once. ``strategy`` changes batches and loss (an update). With a
    ``checkpoint``, the state after every epoch the report let go on is saved there,
    and a checkpoint found at the start is resumed from (``checkpoint.py``); not with
    a ``strategy``, whose own state a checkpoint does not hold.
    """
    optimizer = make_optimizer(model.parameters(), config)
    scheduler = make_scheduler(optimizer, config)
    generator = torch.Generator().manual_seed(config.seed)
    if not workers:
        train = (train[0].to(runtime.device), train[1].to(runtime.device))
    val = (val[0].to(runtime.device), val[1].to(runtime.device))
    pin = pin_memory and runtime.device.type == "cuda"
    batches = Batches(*train, config.batch_size, generator, workers, pin)
    if strategy is not None:
        strategy.start(model, train)
    parts = {"": slice(None), **(val_parts or {})}
    best_value: float | None = None
    best_state: dict[str, torch.Tensor] | None = None
    start = 1
    if strategy is not None:
        checkpoint = None
    if checkpoint is not None:
        resumed = resume_training(checkpoint, model, optimizer, scheduler, generator, runtime)
        if resumed is not None:
            start, best_value, best_state = resumed
    for epoch in range(start, config.epochs + 1):
        train_loss = train_epoch(
            model, optimizer, batches, config, runtime, transform, strategy, epoch
        )
        if scheduler is not None:
            scheduler.step()
        results = evaluate_parts(model, *val, eval_batch_size, runtime, parts)
        metrics = {"train_loss": train_loss}
        for name, (loss, accuracy) in results.items():
            suffix = f"_{name}" if name else ""
            metrics[f"val_loss{suffix}"] = loss
            metrics[f"val_accuracy{suffix}"] = accuracy
        value = metrics.get(report.perf_metric)
        if value is not None and improves(value, best_value, report.mode):
            best_value = value
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if report(epoch, metrics) is False:
            break
        if checkpoint is not None:
            save_training(
                checkpoint,
                epoch,
                model,
                optimizer,
                scheduler,
                generator,
                runtime,
                best_value,
                best_state,
            )
    if best_state is not None:
        model.load_state_dict(best_state)
