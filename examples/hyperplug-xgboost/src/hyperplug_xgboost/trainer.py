"""``XGBoostTrainer``: a hyperplug ``ModelTrainer`` on XGBoost's native API.

An *epoch* is ``rounds_per_epoch`` boosting rounds. After each one the trainer reports
the multi-class log loss on train and val and the val accuracy that XGBoost itself
evaluated, stops when the report returns False, and in the end keeps only the rounds up
to its best epoch. Its weights are the booster's UBJSON bytes as a uint8 array: no pickle.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import xgboost as xgb

from hyperplug.data import ArraySplit, DataSplits
from hyperplug.errors import DataError
from hyperplug.interfaces import ModelTrainer, Reporter
from hyperplug_xgboost.config import XGBoostConfig

#: clip probabilities so that the log loss of a confident mistake stays finite
EPSILON = 1e-15


class EpochReporter(xgb.callback.TrainingCallback):
    """Reports every ``every`` rounds (and after the last one) and remembers the round
    of the best epoch by the reporter's perf_metric."""

    def __init__(self, report: Reporter, every: int, total: int) -> None:
        super().__init__()
        self.report = report
        self.every = every
        self.total = total
        self.epoch = 0
        self.best_round: int | None = None
        self.best_value: float | None = None

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: Any) -> bool:
        rounds = epoch + 1  # XGBoost's "epoch" is the 0-based boosting round
        if rounds % self.every and rounds != self.total:
            return False
        self.epoch += 1
        metrics = {
            "train_loss": float(evals_log["train"]["mlogloss"][-1]),
            "val_loss": float(evals_log["val"]["mlogloss"][-1]),
            "val_accuracy": 1.0 - float(evals_log["val"]["merror"][-1]),
        }
        value = metrics.get(self.report.perf_metric)
        if value is not None and math.isfinite(value) and self._improves(value):
            self.best_value, self.best_round = value, epoch
        return self.report(self.epoch, metrics) is False  # True stops training

    def _improves(self, value: float) -> bool:
        if self.best_value is None:
            return True
        return value > self.best_value if self.report.mode == "max" else value < self.best_value


class XGBoostTrainer(ModelTrainer):
    name = "xgboost"
    config_class = XGBoostConfig

    def __init__(self, config: XGBoostConfig) -> None:
        super().__init__(config)
        self.booster: xgb.Booster | None = None
        self.input_shape: tuple[int, ...] = ()
        self.classes: tuple[str, ...] = ()
        self.best_round = -1

    # ------------------------------------------------------------------ ModelTrainer

    def fit(self, data: DataSplits, report: Reporter) -> None:
        if len(data.train) == 0:
            raise DataError("the training split is empty")
        if data.n_classes < 2:
            raise DataError(f"xgboost needs at least 2 classes, got {data.n_classes}")
        self.input_shape = data.input_shape
        self.classes = tuple(data.classes)
        cfg = self.config
        train, val = self._matrix(data.train), self._matrix(data.val)
        callback = EpochReporter(report, cfg.rounds_per_epoch, cfg.n_estimators)
        booster = xgb.train(
            self._params(),
            train,
            num_boost_round=cfg.n_estimators,
            evals=[(train, "train"), (val, "val")],
            callbacks=[callback],
            verbose_eval=False,
        )
        self.best_round = booster.num_boosted_rounds() - 1
        if callback.best_round is not None:
            self.best_round = callback.best_round
        self.booster = booster[: self.best_round + 1]

    def evaluate(self, split: ArraySplit) -> dict[str, float]:
        y = np.asarray(split.y)
        probabilities = self._probabilities(split.x)
        picked = np.clip(probabilities[np.arange(len(y)), y], EPSILON, 1.0)
        return {
            "loss": float(-np.mean(np.log(picked))),
            "accuracy": float(np.mean(probabilities.argmax(axis=1) == y)),
        }

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._probabilities(x).argmax(axis=1).astype(np.int64)

    def state_dict(self) -> dict[str, np.ndarray]:
        raw = self._fitted().save_raw(raw_format="ubj")
        return {"booster": np.frombuffer(bytes(raw), dtype=np.uint8).copy()}

    def model_info(self) -> dict[str, Any]:
        self._fitted()
        return {
            "input_shape": list(self.input_shape),
            "n_classes": len(self.classes),
            "classes": list(self.classes),
            "best_round": self.best_round,
        }

    @classmethod
    def restore(
        cls, config: XGBoostConfig, state: Mapping[str, np.ndarray], info: Mapping[str, Any]
    ) -> XGBoostTrainer:
        trainer = cls(config)
        trainer.input_shape = tuple(int(d) for d in info["input_shape"])
        trainer.classes = tuple(str(c) for c in info["classes"])
        trainer.best_round = int(info["best_round"])
        booster = xgb.Booster(params={"nthread": config.threads or None})
        booster.load_model(bytearray(np.asarray(state["booster"], dtype=np.uint8).tobytes()))
        trainer.booster = booster
        return trainer

    # ------------------------------------------------------------------ helpers

    def _params(self) -> dict[str, Any]:
        cfg = self.config
        params = {
            "objective": "multi:softprob",
            "num_class": len(self.classes),
            "eval_metric": ["mlogloss", "merror"],
            "tree_method": "hist",
            "max_depth": cfg.max_depth,
            "eta": cfg.learning_rate,
            "subsample": cfg.subsample,
            "colsample_bytree": cfg.colsample_bytree,
            "min_child_weight": cfg.min_child_weight,
            "lambda": cfg.reg_lambda,
            "alpha": cfg.reg_alpha,
            "seed": cfg.seed,
        }
        if cfg.threads:
            params["nthread"] = cfg.threads
        return params

    def _fitted(self) -> xgb.Booster:
        if self.booster is None:
            raise RuntimeError("XGBoostTrainer has no model: call fit() or restore() first")
        return self.booster

    def _features(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if tuple(x.shape[1:]) != self.input_shape:
            raise DataError(
                f"xgboost expects inputs shaped (n, {', '.join(map(str, self.input_shape))}), "
                f"got {tuple(x.shape)}"
            )
        return x.reshape(len(x), -1).astype(np.float32, copy=False)

    def _matrix(self, split: ArraySplit) -> xgb.DMatrix:
        return xgb.DMatrix(self._features(split.x), label=np.asarray(split.y), nthread=-1)

    def _probabilities(self, x: np.ndarray) -> np.ndarray:
        matrix = xgb.DMatrix(self._features(x), nthread=-1)
        return self._fitted().predict(matrix).reshape(len(x), len(self.classes))
