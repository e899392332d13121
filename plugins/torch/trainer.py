"""``TorchTrainer``: the ``ModelTrainer`` plumbing shared by the torch trainers.

A subclass says how to build its network and how to shape inputs for it (and, if it
wants, how to augment training batches or feed them); fitting on the configured device
and precision, evaluation, prediction, weights as numpy and restoring are done here.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from hyperplug.data import ArraySplit, DataSplits
from hyperplug.errors import DataError
from hyperplug.interfaces import ModelTrainer, Reporter
from hyperplug.plugins.torch import loop
from hyperplug.plugins.torch.runtime import Runtime
from hyperplug.update_state import split_arrays


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

    def warm_up(self) -> None:
        """torch.optim imports ``torch._dynamo`` on an optimizer's first step (about 1 s
        here): a warmed-up worker pays it before its first trial."""
        import torch._dynamo  # noqa: F401

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
        self.model = None  # fit trains from scratch
        self.train(data, report)

    def train(
        self,
        data: DataSplits,
        report: Reporter,
        strategy: loop.Strategy | None = None,
        val_parts: Mapping[str, slice] | None = None,
    ) -> None:
        """Train on ``data``, continuing from the current weights (a model restored from a
        version, or one this trainer trained before) or from a fresh model if there is
        none. Classes of ``data`` that the model does not know yet must come after its
        own; the output layer grows to take them. ``strategy`` changes batches and loss
        (the updaters); ``val_parts`` are named slices of ``data.val`` reported apart."""
        if len(data.train) == 0:
            raise DataError("the training split is empty")
        loop.configure_torch(self.config)
        if self.model is None:
            self.input_shape = data.input_shape
            self.classes = tuple(data.classes)
            train = self.tensors(data.train)
            self.runtime = self.make_runtime()
            model = self.build_model(self.input_shape, len(self.classes))
            self.prepare_model(model, train[0])
            self.model = self.runtime.place(model)
        else:
            if data.input_shape != self.input_shape:
                raise DataError(
                    f"{type(self).__name__} was trained on samples shaped "
                    f"{self.input_shape}, the data's are shaped {data.input_shape}"
                )
            self.add_classes(data.classes)
            train = self.tensors(data.train)
        loop.fit(
            self.model,
            self.config,
            train,
            self.tensors(data.val),
            report,
            self.eval_batch_size,
            self.fitted()[1],
            transform=self.training_transform(),
            strategy=strategy,
            val_parts=val_parts,
            checkpoint=getattr(report, "checkpoint", None),
            **self.loader_options(),
        )

    # ------------------------------------------------------------------ output layer

    def classifier_layer(self, model: nn.Module) -> tuple[nn.Module, str]:
        """(parent module, attribute name) of the output layer: by default the last
        ``nn.Linear`` with one output per class. Override it for another head."""
        found = None
        for name, module in model.named_modules():
            if isinstance(module, nn.Linear) and module.out_features == len(self.classes):
                found = name
        if not found:
            raise DataError(
                f"{type(self).__name__} cannot add classes: its model has no nn.Linear output "
                f"layer with {len(self.classes)} outputs (override classifier_layer)"
            )
        parent_name, _, attribute = found.rpartition(".")
        return model.get_submodule(parent_name), attribute

    def add_classes(self, classes: Sequence[str]) -> None:
        """Make the model predict ``classes``: the model's own first, new ones appended.
        The output layer gets a row per new class; the old rows keep their weights."""
        classes = tuple(str(c) for c in classes)
        if classes[: len(self.classes)] != self.classes:
            raise DataError(
                f"the data's classes {list(classes)} must start with the model's classes "
                f"{list(self.classes)}"
            )
        added = len(classes) - len(self.classes)
        if added == 0:
            return
        model, _ = self.fitted()
        parent, attribute = self.classifier_layer(model)
        old: nn.Linear = getattr(parent, attribute)
        new = nn.Linear(old.in_features, old.out_features + added, bias=old.bias is not None)
        new = new.to(device=old.weight.device, dtype=old.weight.dtype)
        with torch.no_grad():
            new.weight[: old.out_features] = old.weight
            if old.bias is not None:
                new.bias[: old.out_features] = old.bias
        setattr(parent, attribute, new)
        self.classes = classes

    def evaluate(self, split: ArraySplit) -> dict[str, float]:
        model, runtime = self.fitted()
        loss, accuracy = loop.evaluate(model, *self.tensors(split), self.eval_batch_size, runtime)
        return {"loss": loss, "accuracy": accuracy}

    def predict(self, x: np.ndarray) -> np.ndarray:
        model, runtime = self.fitted()
        return loop.predict(model, self._inputs(x), self.eval_batch_size, runtime).numpy()

    def state_dict(self) -> dict[str, np.ndarray]:
        return {
            key: value.detach().cpu().numpy().copy()
            for key, value in self.fitted()[0].state_dict().items()
        }

    def model_info(self) -> dict[str, Any]:
        self.fitted()
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
        weights = split_arrays(state)[0]  # a version's arrays may hold its update state too
        model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})
        trainer.runtime = trainer.make_runtime()
        trainer.model = trainer.runtime.place(model)
        return trainer

    # ------------------------------------------------------------------ helpers

    def fitted(self) -> tuple[nn.Module, Runtime]:
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

    def tensors(self, split: ArraySplit) -> tuple[torch.Tensor, torch.Tensor]:
        y = np.asarray(split.y)
        if len(y) and (y.min() < 0 or y.max() >= len(self.classes)):
            raise DataError(
                f"labels must be class indices 0..{len(self.classes) - 1}, "
                f"got values {y.min()}..{y.max()}"
            )
        return self._inputs(split.x), torch.from_numpy(y.astype(np.int64))
