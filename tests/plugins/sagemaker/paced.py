"""A numpy trainer for the sagemaker tests: a job that runs it starts in about a second
(no torch), and lasts as long as a test needs (``pause_s`` per epoch).

Softmax regression by full-batch gradient descent that keeps a checkpoint the way a
third-party trainer opts in (``hyperplug.checkpoint``). ``log`` (a file) gets one line
per epoch trained; ``fail_at`` raises at that epoch (only the first time when ``log``
shows it was reached before: a transient fault).
"""

from __future__ import annotations

import time
from pathlib import Path

import attrs
import numpy as np

from hyperplug.interfaces import ModelTrainer


@attrs.define
class PacedConfig:
    name: str = "paced"
    lr: float = 0.1
    epochs: int = 5
    pause_s: float = 0.0
    fail_at: int = 0
    log: str = ""


class PacedTrainer(ModelTrainer):
    name = "paced"
    config_class = PacedConfig

    def fit(self, data, report):
        x, y = self._x(data.train.x), data.train.y
        self.w = np.zeros((x.shape[1], data.n_classes))
        best, start = None, 1
        sign = 1 if report.mode == "max" else -1
        checkpoint = getattr(report, "checkpoint", None)
        saved = checkpoint.load() if checkpoint is not None else None
        if saved is not None:
            self.w, best, start = saved.arrays["w"], saved.state["best"], saved.epoch + 1
            self.best_w = saved.arrays["best_w"]
        for epoch in range(start, self.config.epochs + 1):
            reached = self._log(epoch)
            if epoch == self.config.fail_at and not reached:
                raise RuntimeError(f"fault at epoch {epoch}")
            time.sleep(self.config.pause_s)
            p = self._softmax(x @ self.w)
            p[np.arange(len(y)), y] -= 1
            self.w = self.w - self.config.lr * x.T @ p / len(y)
            metrics = {"train_loss": self._loss(data.train), **self._val(data.val)}
            value = sign * metrics[report.perf_metric]
            if best is None or value > best:
                best, self.best_w = value, self.w.copy()
            if not report(epoch, metrics):
                break
            if checkpoint is not None:
                checkpoint.save(epoch, {"w": self.w, "best_w": self.best_w}, {"best": best})
        self.w = self.best_w

    def _log(self, epoch):
        """Append the epoch to ``log``; whether the log showed it reached before."""
        if not self.config.log:
            return False
        path = Path(self.config.log)
        reached = path.exists() and str(epoch) in path.read_text().split()
        with open(path, "a") as log:
            log.write(f"{epoch}\n")
        return reached

    @staticmethod
    def _x(x):
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        return np.hstack([x, np.ones((len(x), 1))])

    @staticmethod
    def _softmax(z):
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def _loss(self, split):
        p = self._softmax(self._x(split.x) @ self.w)
        return float(-np.mean(np.log(p[np.arange(len(split.y)), split.y] + 1e-12)))

    def _val(self, split):
        return {"val_loss": self._loss(split), "val_accuracy": self.evaluate(split)["accuracy"]}

    def evaluate(self, split):
        accuracy = float(np.mean(self.predict(split.x) == split.y))
        return {"loss": self._loss(split), "accuracy": accuracy}

    def predict(self, x):
        return (self._x(x) @ self.w).argmax(axis=1)

    def state_dict(self):
        return {"w": self.w}

    def model_info(self):
        return {"classes": int(self.w.shape[1])}

    @classmethod
    def restore(cls, config, state, info):
        trainer = cls(config)
        trainer.w = np.asarray(state["w"])
        return trainer
