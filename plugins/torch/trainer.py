"""``TorchTrainer``: the ``ModelTrainer`` plumbing shared by the torch trainers.

A subclass says how to build its network and how to shape inputs for it (and, if it
wants, how to augment training batches or feed them); fitting on the configured device
and precision, evaluation, prediction, weights as numpy and restoring are done here.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from hyperplug.data import ArraySplit, DataSplits
from hyperplug.errors import DataError
from hyperplug.interfaces import ModelTrainer, Reporter
from hyperplug.plugins.torch import loop
from hyperplug.plugins.torch.runtime import Runtime


class TorchTrainer(ModelTrainer):
    """A classifier trained by ``loop.fit`` on preloaded tensors."""

    #: batch size for evaluation and prediction (no gradients, so larger than training's)
    eval_batch_size: int = 1024

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.model: nn.Module | None = None
        self.input_shape: tuple[int, ...] = ()
        self.classes: tuple[str, ...] = ()
        self.runtime: Runtime | None = None

    @abc.abstractmethod
    def build_model(self, input_shape: tuple[int, ...], n_classes: int) -> nn.Module:
        """A freshly initialised network for inputs of ``input_shape`` (no batch axis)."""

    def prepare_inputs(self, x: np.ndarray) -> torch.Tensor:
        """Turn a numpy batch into the float32 tensor the network takes."""
        return torch.from_numpy(np.require(x, dtype=np.float32, requirements=["C", "W"]))

    def prepare_model(self, model: nn.Module, train_x: torch.Tensor) -> None:
        """Adjust a freshly built model to the training inputs (by default: nothing)."""

    def make_runtime(self) -> Runtime:
        """The device and precision to train and predict with."""
        return Runtime.create(self.config.device, self.config.precision)

    def training_transform(self) -> loop.Transform | None:
        """An augmentation of training batches, or None."""
        return None

    def loader_options(self) -> dict[str, Any]:
        """``workers`` and ``pin_memory`` for ``loop.fit``; none: slice in-memory tensors."""
        return {}

    # ------------------------------------------------------------------ ModelTrainer

    def fit(self, data: DataSplits, report: Reporter) -> None:
        if len(data.train) == 0:
            raise DataError("the training split is empty")
        self.input_shape = data.input_shape
        self.classes = tuple(data.classes)
        loop.configure_torch(self.config)
        train, val = self._tensors(data.train), self._tensors(data.val)
        self.runtime = self.make_runtime()
        model = self.build_model(self.input_shape, len(self.classes))
        self.prepare_model(model, train[0])
        self.model = self.runtime.place(model)
        loop.fit(
            self.model,
            self.config,
            train,
            val,
            report,
            self.eval_batch_size,
            self.runtime,
            transform=self.training_transform(),
            checkpoint=getattr(report, "checkpoint", None),
            **self.loader_options(),
        )

    def evaluate(self, split: ArraySplit) -> dict[str, float]:
        model, runtime = self._fitted()
        loss, accuracy = loop.evaluate(model, *self._tensors(split), self.eval_batch_size, runtime)
        return {"loss": loss, "accuracy": accuracy}

    def predict(self, x: np.ndarray) -> np.ndarray:
        model, runtime = self._fitted()
        return loop.predict(model, self._inputs(x), self.eval_batch_size, runtime).numpy()

    def state_dict(self) -> dict[str, np.ndarray]:
        return {
            key: value.detach().cpu().numpy().copy()
            for key, value in self._fitted()[0].state_dict().items()
        }

    def model_info(self) -> dict[str, Any]:
        self._fitted()
        return {
            "input_shape": list(self.input_shape),
            "n_classes": len(self.classes),
            "classes": list(self.classes),
        }

    @classmethod
    def restore(
        cls, config: Any, state: Mapping[str, np.ndarray], info: Mapping[str, Any]
    ) -> TorchTrainer:
        trainer = cls(config)
        trainer.input_shape = tuple(int(d) for d in info["input_shape"])
        trainer.classes = tuple(str(c) for c in info["classes"])
        if len(trainer.classes) != int(info["n_classes"]):
            raise DataError(
                f"model info lists {len(trainer.classes)} classes but n_classes is "
                f"{info['n_classes']}"
            )
        model = trainer.build_model(trainer.input_shape, len(trainer.classes))
        model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
        trainer.runtime = trainer.make_runtime()
        trainer.model = trainer.runtime.place(model)
        return trainer

    # ------------------------------------------------------------------ helpers

    def _fitted(self) -> tuple[nn.Module, Runtime]:
        if self.model is None or self.runtime is None:
            raise RuntimeError(f"{type(self).__name__} has no model: call fit() or restore() first")
        return self.model, self.runtime

    def _inputs(self, x: np.ndarray) -> torch.Tensor:
        x = np.asarray(x)
        if tuple(x.shape[1:]) != self.input_shape:
            raise DataError(
                f"{type(self).__name__} expects inputs shaped (n, "
                f"{', '.join(map(str, self.input_shape))}), got {tuple(x.shape)}"
            )
        return self.prepare_inputs(x)

    def _tensors(self, split: ArraySplit) -> tuple[torch.Tensor, torch.Tensor]:
        y = np.asarray(split.y)
        if len(y) and (y.min() < 0 or y.max() >= len(self.classes)):
            raise DataError(
                f"labels must be class indices 0..{len(self.classes) - 1}, "
                f"got values {y.min()}..{y.max()}"
            )
        return self._inputs(split.x), torch.from_numpy(y.astype(np.int64))
