"""The ``xgboost`` trainer passes hyperplug's trainer conformance suite, and trains on digits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hyperplug_xgboost import XGBoostConfig, build_trainer

from hyperplug.data import Dataset
from hyperplug.errors import ConfigError, DataError
from hyperplug.testing import RecordingReporter, TrainerConformance, blobs, blobs_splits


class TestXGBoostTrainer(TrainerConformance):
    component = "xgboost"  # looked up among installed plugins: checks the entry point too
    invalid_config = {
        "n_estimators": 0,
        "rounds_per_epoch": -1,
        "learning_rate": 0.0,
        "subsample": 1.5,
        "reg_lambda": -1.0,
    }

    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"n_estimators": 12, "rounds_per_epoch": 3, "max_depth": 2, "threads": 1}


def test_an_epoch_is_a_chunk_of_rounds_and_the_last_chunk_may_be_short() -> None:
    trainer = build_trainer(XGBoostConfig(n_estimators=7, rounds_per_epoch=3, threads=1))
    reporter = RecordingReporter("val_loss", "min")
    trainer.fit(blobs_splits(), reporter)
    assert reporter.epochs == [1, 2, 3]  # rounds 3, 6 and 7
    losses = [m["val_loss"] for m in reporter.metrics]
    assert trainer.model_info()["best_round"] == [2, 5, 6][int(np.argmin(losses))]


def test_early_stop_keeps_only_the_rounds_trained() -> None:
    trainer = build_trainer(XGBoostConfig(n_estimators=50, rounds_per_epoch=5, threads=1))
    trainer.fit(blobs_splits(), RecordingReporter(stop_after=2))
    assert trainer.booster.num_boosted_rounds() <= 10


def test_two_classes_and_image_shaped_inputs() -> None:
    data = blobs(n_classes=2, n_features=9)
    images = Dataset.from_arrays("images", data.x.reshape(-1, 1, 3, 3), data.y, data.classes)
    splits = blobs_splits(images)
    trainer = build_trainer(XGBoostConfig(n_estimators=4, rounds_per_epoch=2, threads=1))
    trainer.fit(splits, RecordingReporter())
    assert trainer.predict(splits.test.x).shape == (len(splits.test),)
    with pytest.raises(DataError, match=r"inputs shaped \(n, 1, 3, 3\)"):
        trainer.predict(splits.test.x.reshape(len(splits.test), -1))


def test_bad_values_name_the_key() -> None:
    from hyperplug.config import make_config

    with pytest.raises(ConfigError, match=r"trainer.subsample must be in \(0, 1\], got 0"):
        make_config(XGBoostConfig, {"subsample": 0}, "trainer")
