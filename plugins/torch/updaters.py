"""The torch updaters: ways to turn model version N and a chunk into version N+1.

Each works on any ``TorchTrainer`` (the built-in mlp, resnet and vit, and a third
party's subclass): it trains the trainer's model through ``TorchTrainer.train`` with a
``loop.Strategy`` that adds memory rows or loss terms, and returns the state the next
update needs (memory buffer rows, Fisher estimates) as numpy arrays and JSON. State an
updater does not use is handed on unchanged, so a chain may switch updaters.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from hyperplug.buffers import ArrayBuffer, load_buffer
from hyperplug.data import ArraySplit, DataSplits
from hyperplug.errors import ConfigError
from hyperplug.interfaces import (
    ModelTrainer,
    Reporter,
    UpdateContext,
    Updater,
    UpdateState,
)
from hyperplug.plugins.torch import loop
from hyperplug.plugins.torch.trainer import TorchTrainer
from hyperplug.update_state import prefixed, unprefixed

BUFFER = "buffer/"
FISHER = "fisher/"


def val_parts(data: DataSplits, context: UpdateContext) -> dict[str, slice]:
    """The chunk's own validation rows (``new``) and the memory of earlier chunks
    (``old``, when there is one), reported as ``val_accuracy_new``/``_old``."""
    parts = {"new": slice(0, context.n_new_val)}
    if len(data.val) > context.n_new_val:
        parts["old"] = slice(context.n_new_val, None)
    return parts


class TorchUpdater(Updater):
    """Trains a ``TorchTrainer`` with this updater's strategy; subclasses say which."""

    #: retrain from a fresh model on ``training_data`` instead of continuing
    retrains: ClassVar[bool] = False

    def check(self, trainer: ModelTrainer) -> None:
        if not isinstance(trainer, TorchTrainer):
            raise ConfigError(
                f"updater={self.config.name} updates torch trainers (subclasses of "
                f"hyperplug.plugins.torch.trainer.TorchTrainer); trainer "
                f"{getattr(trainer, 'name', type(trainer).__name__)} is not one"
            )

    def update(
        self,
        trainer: ModelTrainer,
        data: DataSplits,
        state: UpdateState,
        report: Reporter,
        context: UpdateContext,
    ) -> UpdateState:
        self.check(trainer)
        assert isinstance(trainer, TorchTrainer)
        strategy = self.strategy(trainer, data, state, context)
        train_data = self.training_data(data, state, context)
        if self.retrains:
            trainer.model = None
        trainer.train(train_data, report, strategy, val_parts(data, context))
        arrays, info = dict(state.arrays), dict(state.info)
        new_arrays, new_info = self.next_state(trainer, data, state, context, strategy)
        arrays.update(new_arrays)
        info.update(new_info)
        return UpdateState(arrays, info)

    # ------------------------------------------------------------------ hooks

    def strategy(
        self, trainer: TorchTrainer, data: DataSplits, state: UpdateState, context: UpdateContext
    ) -> loop.Strategy | None:
        return None

    def training_data(
        self, data: DataSplits, state: UpdateState, context: UpdateContext
    ) -> DataSplits:
        return data

    def next_state(
        self,
        trainer: TorchTrainer,
        data: DataSplits,
        state: UpdateState,
        context: UpdateContext,
        strategy: loop.Strategy | None,
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """This updater's part of the next state (merged over the state it was given)."""
        return {}, {}


def load_memory(
    kind: str, size: int | None, state: UpdateState, context: UpdateContext
) -> ArrayBuffer:
    """The chain's memory buffer as a ``kind`` buffer of ``size`` rows."""
    rng = np.random.default_rng([context.seed, 7])
    return load_buffer(
        kind, size, rng, unprefixed(state.arrays, BUFFER), state.info.get("buffer"), ""
    )


def memory_state(buffer: ArrayBuffer) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays, info = buffer.to_state("")
    return prefixed(arrays, BUFFER), {"buffer": info}


def with_train(data: DataSplits, x: np.ndarray, y: np.ndarray) -> DataSplits:
    return DataSplits(ArraySplit(x, y), data.val, data.test, data.classes, data.fingerprint)


# --------------------------------------------------------------------------- plain


class FineTuning(TorchUpdater):
    """Continue training on the chunk alone (the baseline that forgets)."""

    name = "fine_tuning"


class Joint(TorchUpdater):
    """Retrain from scratch on every row seen so far (the baseline that cannot forget)."""

    name = "joint"
    retrains = True

    def training_data(
        self, data: DataSplits, state: UpdateState, context: UpdateContext
    ) -> DataSplits:
        self.memory = load_memory("unbounded", None, state, context)
        self.memory.add(data.train.x, data.train.y)
        return with_train(data, self.memory.x, self.memory.y)

    def next_state(self, trainer, data, state, context, strategy):  # type: ignore[override]
        return memory_state(self.memory)


class GDumb(TorchUpdater):
    """Greedy class-balanced memory; retrain from scratch on the memory alone."""

    name = "gdumb"
    retrains = True

    def training_data(
        self, data: DataSplits, state: UpdateState, context: UpdateContext
    ) -> DataSplits:
        self.memory = load_memory("class_balanced", self.config.memory_size, state, context)
        self.memory.add(data.train.x, data.train.y)
        return with_train(data, self.memory.x, self.memory.y)

    def next_state(self, trainer, data, state, context, strategy):  # type: ignore[override]
        return memory_state(self.memory)


# --------------------------------------------------------------------------- replay


class Replay(loop.Strategy):
    """Memory rows mixed into every batch.

    The buffer's rows are prepared once into a tensor beside it (the mirror), so a
    memory batch is a gather. With ``insert`` the new rows are offered to the buffer as
    the first epoch trains on them (each row once), with their logits if ``logits``.
    """

    def __init__(
        self,
        trainer: TorchTrainer,
        buffer: ArrayBuffer,
        data: DataSplits,
        batch_size: int,
        seed: int,
        insert: bool,
        logits: bool,
    ) -> None:
        self.trainer = trainer
        self.buffer = buffer
        self.raw = data.train
        self.batch_size = batch_size
        self.insert = insert
        self.logits = logits
        self.generator = torch.Generator().manual_seed(seed)
        self.picked: torch.Tensor | None = None

    def start(self, model: nn.Module, train: tuple[torch.Tensor, torch.Tensor]) -> None:
        device = self.trainer.fitted()[1].device
        self.device = device
        self.train_x = train[0]
        capacity = self.buffer.max_size or len(self.buffer)
        shape = tuple(train[0].shape[1:])
        self.mem_x = torch.zeros((capacity, *shape), dtype=train[0].dtype, device=device)
        self.mem_y = torch.zeros(capacity, dtype=torch.int64, device=device)
        width = len(self.trainer.classes)
        self.mem_logits = torch.full((capacity, width), torch.nan, device=device)
        if len(self.buffer):
            n = len(self.buffer)
            x, y = self.trainer.tensors(ArraySplit(self.buffer.x, self.buffer.y))
            self.mem_x[:n] = x.to(device)
            self.mem_y[:n] = y.to(device)
            stored = self.buffer.extras.get("logits")
            if stored is not None:
                stored = torch.from_numpy(stored[:, :width])
                self.mem_logits[:n, : stored.shape[1]] = stored.to(device)

    def extend(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        size = len(self.buffer)
        if size == 0:
            self.picked = None
            return xb, yb
        picked = torch.randperm(size, generator=self.generator)[: self.batch_size]
        if self.device.type != "cpu":
            picked = picked.to(self.device)
        self.picked = picked
        return torch.cat([xb, self.mem_x[picked]]), torch.cat([yb, self.mem_y[picked]])

    def after_step(self, index: torch.Tensor, logits: torch.Tensor, n_new: int, epoch: int) -> None:
        if not self.insert or epoch != 1:
            return
        logits = logits[:n_new].detach().float()
        rows = index.cpu().numpy()
        extras = {"logits": logits.cpu().numpy()} if self.logits else None
        placed = self.buffer.add(self.raw.x[rows], self.raw.y[rows], extras)
        if not placed:
            return
        slots = torch.tensor([slot for slot, _ in placed], device=self.device)
        source = torch.tensor([row for _, row in placed], device=index.device)
        self.mem_x[slots] = self.train_x[index[source]].to(self.device)
        self.mem_y[slots] = torch.from_numpy(self.raw.y[rows[source.cpu().numpy()]]).to(self.device)
        if self.logits:
            self.mem_logits[slots] = logits[source.to(logits.device)].to(self.device)


class ERStrategy(Replay):
    def __init__(self, alpha: float, **replay: Any) -> None:
        super().__init__(**replay)
        self.alpha = alpha

    def loss(self, model, xb, logits, yb, n_new, config):  # type: ignore[override]
        loss = F.cross_entropy(logits[:n_new], yb[:n_new], label_smoothing=config.label_smoothing)
        if len(yb) > n_new:
            memory = F.cross_entropy(logits[n_new:], yb[n_new:])
            loss = loss + (memory if self.alpha == 1 else self.alpha * memory)
        return loss


class DERStrategy(Replay):
    def __init__(self, alpha: float, beta: float, **replay: Any) -> None:
        super().__init__(**replay)
        self.alpha = alpha
        self.beta = beta

    def loss(self, model, xb, logits, yb, n_new, config):  # type: ignore[override]
        loss = F.cross_entropy(logits[:n_new], yb[:n_new], label_smoothing=config.label_smoothing)
        if len(yb) == n_new or self.picked is None:
            return loss
        memory = logits[n_new:].float()
        target = self.mem_logits[self.picked]
        width = min(target.shape[1], memory.shape[1])
        target, memory = target[:, :width], memory[:, :width]
        known = ~torch.isnan(target)
        if bool(known.any()):
            loss = loss + self.alpha * F.mse_loss(memory[known], target[known])
        if self.beta:
            loss = loss + self.beta * F.cross_entropy(logits[n_new:], yb[n_new:])
        return loss


class OfflineERStrategy(Replay):
    def __init__(self, new_weight: float | None, **replay: Any) -> None:
        super().__init__(**replay)
        self.new_weight = new_weight

    def loss(self, model, xb, logits, yb, n_new, config):  # type: ignore[override]
        if len(yb) == n_new or self.new_weight is None:
            return F.cross_entropy(logits, yb, label_smoothing=config.label_smoothing)
        new = F.cross_entropy(logits[:n_new], yb[:n_new], label_smoothing=config.label_smoothing)
        old = F.cross_entropy(logits[n_new:], yb[n_new:])
        return self.new_weight * new + (1 - self.new_weight) * old


class ReplayUpdater(TorchUpdater):
    """An updater with a memory buffer replayed into every batch."""

    def strategy(self, trainer, data, state, context):  # type: ignore[override]
        c = self.config
        self.memory = load_memory(c.buffer, c.memory_size, state, context)
        return self.make_strategy(
            trainer=trainer,
            buffer=self.memory,
            data=data,
            batch_size=c.memory_batch_size,
            seed=context.seed,
        )

    def make_strategy(self, **replay: Any) -> Replay:
        raise NotImplementedError

    def next_state(self, trainer, data, state, context, strategy):  # type: ignore[override]
        return memory_state(self.memory)


class ER(ReplayUpdater):
    name = "er"

    def make_strategy(self, **replay: Any) -> Replay:
        return ERStrategy(self.config.alpha, insert=True, logits=False, **replay)


class DER(ReplayUpdater):
    """The chunk's rows enter the memory as they are trained on; their logits are the
    updated model's, taken when training ends, so that later updates match what this
    one learned (logits taken while the new classes are still untrained would pull the
    model back to them)."""

    name = "der"

    def make_strategy(self, **replay: Any) -> Replay:
        c = self.config
        return DERStrategy(c.alpha, c.beta, insert=True, logits=False, **replay)

    def next_state(self, trainer, data, state, context, strategy):  # type: ignore[override]
        stored = self.memory.extras.get("logits")
        width = len(trainer.classes)
        missing = (
            np.arange(len(self.memory))
            if stored is None
            else np.flatnonzero(np.isnan(stored[:, :width]).all(axis=1))
        )
        if len(missing):
            logits = predict_logits(trainer, self.memory.x[missing])
            for slot, row in zip(missing, logits, strict=True):
                self.memory.set_extra("logits", int(slot), row)
        return memory_state(self.memory)


def predict_logits(trainer: TorchTrainer, x: np.ndarray) -> np.ndarray:
    """The model's logits for rows ``x`` (float32), in evaluation mode."""
    model, runtime = trainer.fitted()
    inputs = trainer.tensors(ArraySplit(x, np.zeros(len(x), dtype=np.int64)))[0]
    model.eval()
    parts = []
    with torch.inference_mode(), runtime.autocast():
        for start in range(0, len(inputs), trainer.eval_batch_size):
            batch = runtime.batch(inputs[start : start + trainer.eval_batch_size])
            parts.append(model(batch).float().cpu())
    return torch.cat(parts).numpy()


class OfflineER(ReplayUpdater):
    name = "offline_er"

    def make_strategy(self, **replay: Any) -> Replay:
        return OfflineERStrategy(self.config.new_weight, insert=False, logits=False, **replay)

    def next_state(self, trainer, data, state, context, strategy):  # type: ignore[override]
        self.memory.add(data.train.x, data.train.y)  # the chunk joins the memory afterwards
        return memory_state(self.memory)


# --------------------------------------------------------------------------- regularisers


class EWCStrategy(loop.Strategy):
    """Cross-entropy plus ``lambda/2 * sum F (w - w_old)^2`` over the model's parameters."""

    def __init__(self, fisher: Mapping[str, np.ndarray], ewc_lambda: float) -> None:
        self.fisher_arrays = fisher
        self.ewc_lambda = ewc_lambda
        self.terms: list[tuple[nn.Parameter, torch.Tensor, torch.Tensor]] = []

    def start(self, model: nn.Module, train: tuple[torch.Tensor, torch.Tensor]) -> None:
        self.terms = []
        for name, param in model.named_parameters():
            if name not in self.fisher_arrays:
                continue
            fisher = torch.from_numpy(_padded(self.fisher_arrays[name], tuple(param.shape)))
            anchor = param.detach().clone()  # version N's weights: where the model starts
            self.terms.append((param, fisher.to(param.device, param.dtype), anchor))

    def loss(self, model, xb, logits, yb, n_new, config):  # type: ignore[override]
        loss = F.cross_entropy(logits, yb, label_smoothing=config.label_smoothing)
        if self.ewc_lambda and self.terms:
            penalty = sum((f * (p - a) ** 2).sum() for p, f, a in self.terms)
            loss = loss + self.ewc_lambda / 2 * penalty
        return loss


def _padded(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A Fisher estimate of a smaller output layer, zero-padded to the grown shape."""
    array = np.asarray(array, dtype=np.float32)
    if array.shape == shape:
        return array
    padded = np.zeros(shape, dtype=np.float32)
    padded[tuple(slice(0, n) for n in array.shape)] = array
    return padded


def fisher_diagonal(trainer: TorchTrainer, split: ArraySplit) -> dict[str, np.ndarray]:
    """The diagonal of the empirical Fisher information on ``split``: the mean over
    batches of the squared gradient of the loss (the usual batch-level estimate)."""
    model, runtime = trainer.fitted()
    x, y = trainer.tensors(split)
    batch = trainer.config.batch_size
    squares = {n: torch.zeros_like(p) for n, p in model.named_parameters() if p.requires_grad}
    model.eval()
    batches = 0
    for start in range(0, len(y), batch):
        model.zero_grad(set_to_none=True)
        logits = model(runtime.batch(x[start : start + batch]))
        F.cross_entropy(logits.float(), y[start : start + batch].to(runtime.device)).backward()
        for name, param in model.named_parameters():
            if param.grad is not None:
                squares[name] += param.grad.detach() ** 2
        batches += 1
    model.zero_grad(set_to_none=True)
    return {n: (s / max(batches, 1)).cpu().numpy() for n, s in squares.items()}


class EWC(TorchUpdater):
    name = "ewc"

    def strategy(self, trainer, data, state, context):  # type: ignore[override]
        fisher = unprefixed(state.arrays, FISHER) if trainer.model is not None else {}
        return EWCStrategy(fisher, self.config.ewc_lambda)

    def next_state(self, trainer, data, state, context, strategy):  # type: ignore[override]
        new = fisher_diagonal(trainer, data.train)
        old = unprefixed(state.arrays, FISHER)
        decay = self.config.decay
        fisher = {
            name: value + decay * _padded(old[name], value.shape) if name in old else value
            for name, value in new.items()
        }
        updates = int(state.info.get("fisher", {}).get("updates", 0)) + 1
        return prefixed(fisher, FISHER), {"fisher": {"updates": updates}}


class LwFStrategy(loop.Strategy):
    """Cross-entropy plus the distillation of the previous model's outputs for the old
    classes: ``alpha * T^2 * KL(softmax(old / T) || softmax(new / T))``."""

    def __init__(self, n_old: int, alpha: float, temperature: float) -> None:
        self.n_old = n_old
        self.alpha = alpha
        self.temperature = temperature
        self.previous: nn.Module | None = None

    def start(self, model: nn.Module, train: tuple[torch.Tensor, torch.Tensor]) -> None:
        if self.n_old:
            self.previous = copy.deepcopy(model).eval()
            for param in self.previous.parameters():
                param.requires_grad_(False)

    def loss(self, model, xb, logits, yb, n_new, config):  # type: ignore[override]
        loss = F.cross_entropy(logits, yb, label_smoothing=config.label_smoothing)
        if self.previous is None or not self.alpha:
            return loss
        t = self.temperature
        with torch.no_grad():
            target = F.softmax(self.previous(xb)[:, : self.n_old].float() / t, dim=1)
        current = F.log_softmax(logits[:, : self.n_old].float() / t, dim=1)
        distill = F.kl_div(current, target, reduction="batchmean") * t * t
        return loss + self.alpha * distill


class LwF(TorchUpdater):
    name = "lwf"

    def strategy(self, trainer, data, state, context):  # type: ignore[override]
        n_old = len(trainer.classes) if trainer.model is not None else 0
        return LwFStrategy(n_old, self.config.alpha, self.config.temperature)
