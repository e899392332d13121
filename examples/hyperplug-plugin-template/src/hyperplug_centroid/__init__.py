"""hyperplug-centroid: a nearest-centroid classifier as a hyperplug ``trainer``.

Each class is a point (its centroid); a sample belongs to the nearest one. An epoch walks
the shuffled training set in batches, moving each class's centroid ``lr`` of the way to
the batch's mean of that class. Probabilities are a softmax over negative squared
distances, which gives the log loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug.data import ArraySplit, DataSplits
from hyperplug.errors import DataError
from hyperplug.interfaces import ModelTrainer, Reporter
from hyperplug.validators import integer, positive, positive_int

#: the hyperplug hook API this plugin is built against (hyperplug.HOOK_API_VERSION)
HYPERPLUG_API = "1.0"


@attrs.define
class CentroidConfig:
    """Nearest centroid: ``lr`` is the step towards each batch's class means."""

    name: str = "centroid"
    epochs: int = attrs.field(default=5, validator=positive_int)
    batch_size: int = attrs.field(default=32, validator=positive_int)
    lr: float = attrs.field(default=0.5, validator=positive)
    seed: int = attrs.field(default=0, validator=integer)


class CentroidTrainer(ModelTrainer):
    name = "centroid"

    def __init__(self, config: CentroidConfig) -> None:
        super().__init__(config)
        self.centroids: np.ndarray | None = None
        self.input_shape: tuple[int, ...] = ()

    def fit(self, data: DataSplits, report: Reporter) -> None:
        if len(data.train) == 0:
            raise DataError("the training split is empty")
        self.input_shape = data.input_shape
        x, y = self._flat(data.train.x), np.asarray(data.train.y)
        self.centroids = np.zeros((data.n_classes, x.shape[1]))
        rng = np.random.default_rng(self.config.seed)
        best: tuple[float, np.ndarray] | None = None
        sign = 1 if report.mode == "max" else -1
        for epoch in range(1, self.config.epochs + 1):
            order = rng.permutation(len(y))
            for start in range(0, len(y), self.config.batch_size):
                batch = order[start : start + self.config.batch_size]
                for label in np.unique(y[batch]):
                    mean = x[batch][y[batch] == label].mean(axis=0)
                    self.centroids[label] += self.config.lr * (mean - self.centroids[label])
            val = self.evaluate(data.val)
            metrics = {
                "train_loss": self.evaluate(data.train)["loss"],
                "val_loss": val["loss"],
                "val_accuracy": val["accuracy"],
            }
            value = metrics.get(report.perf_metric)
            if value is not None and (best is None or sign * value > sign * best[0]):
                best = (value, self.centroids.copy())
            if report(epoch, metrics) is False:
                break
        if best is not None:
            self.centroids = best[1]

    def evaluate(self, split: ArraySplit) -> dict[str, float]:
        y = np.asarray(split.y)
        log_p = self._log_probabilities(split.x)
        return {
            "loss": float(-np.mean(log_p[np.arange(len(y)), y])),
            "accuracy": float(np.mean(log_p.argmax(axis=1) == y)),
        }

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._log_probabilities(x).argmax(axis=1).astype(np.int64)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"centroids": self._fitted().copy()}

    def model_info(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape), "n_classes": len(self._fitted())}

    @classmethod
    def restore(
        cls, config: CentroidConfig, state: Mapping[str, np.ndarray], info: Mapping[str, Any]
    ) -> CentroidTrainer:
        trainer = cls(config)
        trainer.centroids = np.array(state["centroids"], dtype=np.float64)
        trainer.input_shape = tuple(int(d) for d in info["input_shape"])
        return trainer

    def _fitted(self) -> np.ndarray:
        if self.centroids is None:
            raise RuntimeError("CentroidTrainer has no model: call fit() or restore() first")
        return self.centroids

    def _flat(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if tuple(x.shape[1:]) != self.input_shape:
            raise DataError(
                f"centroid expects inputs shaped (n, *{self.input_shape}), got {x.shape}"
            )
        return x.reshape(len(x), -1).astype(np.float64)

    def _log_probabilities(self, x: np.ndarray) -> np.ndarray:
        """Log-softmax over negative squared distances to the centroids."""
        logits = -((self._flat(x)[:, None, :] - self._fitted()[None]) ** 2).sum(axis=2)
        logits -= logits.max(axis=1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


@hookimpl
def register_trainers() -> list[Component]:
    return [
        Component(
            kind="trainer",
            name="centroid",
            factory=CentroidTrainer,
            config_class=CentroidConfig,
            description="Nearest centroid (numpy): the hyperplug plugin template.",
        )
    ]
