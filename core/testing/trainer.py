"""``TrainerConformance``: what every ``trainer`` component must do.

The suite trains the trainer twice on small Gaussian blobs (``data()``; override it for
trainers that need images): once to the end, once stopped early by the reporter. Its
config (``config()``) must train at least 3 epochs and should take a second or two.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from safetensors.numpy import load, save

from hyperplug.components import Component
from hyperplug.data import DataSplits
from hyperplug.interfaces import ModelTrainer
from hyperplug.testing.base import ComponentConformance
from hyperplug.testing.data import RecordingReporter, blobs_splits

REQUIRED_METRICS = ("train_loss", "val_loss", "val_accuracy")


class TrainerConformance(ComponentConformance):
    """Subclass as ``class TestMyTrainer(TrainerConformance)`` and set ``component``."""

    kind = "trainer"
    min_val_accuracy: ClassVar[float] = 0.6
    """The best val_accuracy a working trainer reaches on ``data()`` at least."""

    def data(self) -> DataSplits:
        """The data the trainer is fitted on: 3 classes of 4 float32 features by default."""
        return blobs_splits()

    @pytest.fixture(scope="class")
    @classmethod
    def splits(cls) -> DataSplits:
        """Fixture: ``data()``, made once per suite."""
        return cls().data()

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(
        cls, registered: Component, splits: DataSplits, tmp_path_factory: pytest.TempPathFactory
    ) -> tuple[ModelTrainer, RecordingReporter]:
        """A trainer fitted to the end (once per class), and what it reported."""
        trainer = cls().build_component(registered, tmp_path_factory.mktemp("trainer"))
        reporter = RecordingReporter("val_accuracy", "max")
        trainer.fit(splits, reporter)
        return trainer, reporter

    def test_builds_a_model_trainer(self, build: Any) -> None:
        """The factory builds a ``ModelTrainer``."""
        assert isinstance(build(), ModelTrainer)

    def test_reports_the_required_metrics_every_epoch(
        self, fitted: tuple[ModelTrainer, RecordingReporter]
    ) -> None:
        """At least 3 epochs, counted 1, 2, ...; each reports finite float ``train_loss``,
        ``val_loss`` (>= 0) and ``val_accuracy`` (in [0, 1])."""
        _, reporter = fitted
        assert len(reporter.epochs) >= 3, "the config under test must train at least 3 epochs"
        assert reporter.epochs == list(range(1, len(reporter.epochs) + 1)), "epochs count 1, 2, .."
        for metrics in reporter.metrics:
            assert set(REQUIRED_METRICS) <= set(metrics), metrics
            for name, value in metrics.items():
                assert isinstance(value, float) and math.isfinite(value), (name, value)
            assert 0.0 <= metrics["val_accuracy"] <= 1.0
            assert metrics["train_loss"] >= 0 and metrics["val_loss"] >= 0

    def test_learns_the_data(self, fitted: tuple[ModelTrainer, RecordingReporter]) -> None:
        """The best ``val_accuracy`` reaches ``min_val_accuracy``."""
        best = fitted[1].best()
        assert best >= self.min_val_accuracy, f"best val_accuracy {best} on easy blobs"

    def test_stops_when_report_returns_false(self, build: Any, splits: DataSplits) -> None:
        """``fit`` returns after the epoch whose report was answered False."""
        reporter = RecordingReporter("val_accuracy", "max", stop_after=2)
        build().fit(splits, reporter)
        assert reporter.epochs == [1, 2]

    def test_keeps_the_weights_of_its_best_epoch(
        self, fitted: tuple[ModelTrainer, RecordingReporter], splits: DataSplits
    ) -> None:
        """After ``fit``, ``evaluate(val)`` gives the best reported ``val_accuracy``."""
        trainer, reporter = fitted
        assert trainer.evaluate(splits.val)["accuracy"] == pytest.approx(reporter.best(), abs=1e-6)

    def test_evaluates_and_predicts_class_indices(
        self, fitted: tuple[ModelTrainer, RecordingReporter], splits: DataSplits
    ) -> None:
        """``evaluate`` gives finite ``loss`` and ``accuracy``; ``predict`` gives integer class
        indices whose accuracy is ``evaluate``'s."""
        trainer, _ = fitted
        scores = trainer.evaluate(splits.test)
        assert {"loss", "accuracy"} <= set(scores)
        assert all(isinstance(v, float) and math.isfinite(v) for v in scores.values())
        predicted = trainer.predict(splits.test.x)
        assert isinstance(predicted, np.ndarray) and predicted.shape == (len(splits.test),)
        assert np.issubdtype(predicted.dtype, np.integer)
        assert predicted.min() >= 0 and predicted.max() < splits.n_classes
        assert float(np.mean(predicted == splits.test.y)) == pytest.approx(scores["accuracy"])

    def test_restores_from_safetensors_and_json(
        self,
        fitted: tuple[ModelTrainer, RecordingReporter],
        splits: DataSplits,
        registered: Component,
        tmp_path: Path,
    ) -> None:
        """The store keeps ``state_dict`` as safetensors (no pickle) and ``model_info`` as
        JSON; what comes back from them predicts exactly as the fitted trainer."""
        trainer, _ = fitted
        state = trainer.state_dict()
        assert state and all(isinstance(k, str) for k in state)
        for key, value in state.items():
            assert isinstance(value, np.ndarray) and value.dtype != object, key
        info = json.loads(json.dumps(trainer.model_info()))
        config = self.config_instance(registered, tmp_path)
        restored = type(trainer).restore(config, load(save(state)), info)
        assert isinstance(restored, ModelTrainer)
        np.testing.assert_array_equal(
            restored.predict(splits.test.x), trainer.predict(splits.test.x)
        )
        assert restored.evaluate(splits.test) == pytest.approx(trainer.evaluate(splits.test))
