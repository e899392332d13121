"""Every built-in component passes the conformance suite of its kind, as a plugin must."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hyperplug.interfaces import ModelTrainer
from hyperplug.testing import (
    BackendConformance,
    DatasetConformance,
    DetectorConformance,
    OptimizerConformance,
    SplitterConformance,
    TrackerConformance,
    TrainerConformance,
    UpdaterConformance,
    VcsConformance,
)


class TestMLPTrainer(TrainerConformance):
    component = "mlp"
    invalid_config = {"lr": -0.1, "epochs": 0, "activation": "relux", "hidden_layers": [0]}

    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"hidden_layers": [16], "epochs": 4, "lr": 0.05, "batch_size": 16}


class TestDigitsDataset(DatasetConformance):
    component = "digits"


class TestCSVDataset(DatasetConformance):
    component = "csv"
    invalid_config = {"label_column": "", "delimiter": ";;"}

    def config(self, tmp_path: Path) -> dict[str, Any]:
        path = tmp_path / "data.csv"
        path.write_text("a,b,label\n0.5,1,cat\n1.5,2,dog\n2.5,3,cat\n")
        return {"path": str(path)}

    def broken_config(self, tmp_path: Path) -> dict[str, Any]:
        return {"path": str(tmp_path / "missing.csv")}


class TestNPZDataset(DatasetConformance):
    component = "npz"
    invalid_config = {"x_key": ""}

    def config(self, tmp_path: Path) -> dict[str, Any]:
        path = tmp_path / "data.npz"
        np.savez(path, x=np.arange(12, dtype=np.float32).reshape(6, 2), y=np.array([0, 1] * 3))
        return {"path": str(path)}

    def broken_config(self, tmp_path: Path) -> dict[str, Any]:
        path = tmp_path / "objects.npz"
        np.savez(path, x=np.array([{"a": 1}], dtype=object), y=np.array([0]))
        return {"path": str(path)}


class TestStratifiedSplitter(SplitterConformance):
    component = "stratified"
    invalid_config = {"val_size": 1.5, "seed": 0.5}


class TestSQLiteTracker(TrackerConformance):
    component = "sqlite"

    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"path": str(tmp_path / "hp.db")}


class TestLocalStore(VcsConformance):
    component = "store"

    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"root": str(tmp_path / "models")}


class TestInlineBackend(BackendConformance):
    component = "inline"


class TestLocalBackend(BackendConformance):
    component = "local"

    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"n_workers": 2, "threads_per_worker": 1}


class TestGridOptimizer(OptimizerConformance):
    component = "grid"


class TestRandomOptimizer(OptimizerConformance):
    component = "random"
    invalid_config = {"max_trials": 0, "seed": 0.5, "max_failures": -1}


class TestBOOptimizer(OptimizerConformance):
    component = "bo"
    trials = 5  # a GP fit per suggestion
    learns = True
    learning_trials = 12  # 9 GP fits per seed, 0.1-1 s each
    learning_seeds = (0, 1, 2, 3)
    learning_margin = 0.5

    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"seed": 1}


class TestTPEOptimizer(OptimizerConformance):
    component = "tpe"
    learns = True


class TestASHAOptimizer(OptimizerConformance):
    component = "asha"
    invalid_config = {"reduction_factor": 1, "grace_period": 0, "max_epochs": 0}

    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"max_epochs": 9}


class TestHyperbandOptimizer(TestASHAOptimizer):
    component = "hyperband"


class TestBOHBOptimizer(TestASHAOptimizer):
    component = "bohb"


class TestRUSHOptimizer(TestASHAOptimizer):
    component = "rush"

    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"max_epochs": 9, "reference_study": "reference"}

    def tracker(self, tmp_path: Path) -> Any:
        """A tracker holding the reference study: two finished trials of the space."""
        from hyperplug.api import build
        from hyperplug.testing.optimizer import loss

        tracker = build("tracker", name="sqlite", path=str(tmp_path / "hp.db"))
        study = tracker.start_study("reference", "val_loss", "min", {})
        for params in (
            {"lr": 0.03, "width": 16, "act": "relu"},
            {"lr": 0.2, "width": 8, "act": "gelu"},
        ):
            trial = tracker.start_trial(study.id, "mlp", params, {"epochs": 9})
            for epoch in range(1, 10):
                tracker.log_metrics(trial.id, epoch, {"val_loss": loss(params, epoch)})
            tracker.end_trial(trial.id, "completed")
        tracker.end_study(study.id, "completed")
        return tracker


class NearestCentroid(ModelTrainer):
    """A real non-torch trainer (nearest class mean), which torch updaters must refuse."""

    name = "centroid"

    def fit(self, data: Any, report: Any) -> None:
        raise NotImplementedError("only built to be refused by updaters")

    def evaluate(self, split: Any) -> dict[str, float]:
        return {"loss": 0.0, "accuracy": 0.0}

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(len(x), dtype=np.int64)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {}

    def model_info(self) -> dict[str, Any]:
        return {}

    @classmethod
    def restore(cls, config: Any, state: Any, info: Any) -> NearestCentroid:
        return cls(config)


class TorchUpdaterConformance(UpdaterConformance):
    """The built-in updaters update torch trainers and refuse the others."""

    def foreign_trainer(self) -> ModelTrainer:
        return NearestCentroid(None)


class TestFineTuningUpdater(TorchUpdaterConformance):
    component = "fine_tuning"
    invalid_config = {"val_memory_size": -1, "new_classes": "grows"}


class TestJointUpdater(TorchUpdaterConformance):
    component = "joint"


class TestERUpdater(TorchUpdaterConformance):
    component = "er"
    invalid_config = {"memory_size": 0, "memory_batch_size": 0, "buffer": "fifo", "alpha": -1}

    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"memory_size": 60}


class TestDERUpdater(TorchUpdaterConformance):
    component = "der"
    invalid_config = {"alpha": -0.1, "beta": -1}

    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"memory_size": 60}


class TestOfflineERUpdater(TorchUpdaterConformance):
    component = "offline_er"
    invalid_config = {"new_weight": 1.5}

    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"memory_size": 60, "buffer": "class_balanced"}


class TestGDumbUpdater(TorchUpdaterConformance):
    component = "gdumb"
    invalid_config = {"memory_size": 0}

    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"memory_size": 80}


class TestEWCUpdater(TorchUpdaterConformance):
    component = "ewc"
    invalid_config = {"ewc_lambda": -1.0, "decay": -0.5}


class TestLwFUpdater(TorchUpdaterConformance):
    component = "lwf"
    invalid_config = {"temperature": 0.0, "alpha": -1}


class TestMMDDetector(DetectorConformance):
    component = "mmd"
    invalid_config = {
        "alpha": 1.5,
        "permutations": 10,  # its smallest p-value, 1/11, cannot fall below alpha=0.05
        "random_features": 0,
        "bandwidth": -1.0,
        "max_rows": 1,
        "seed": 0.5,
    }


class TestKSDetector(DetectorConformance):
    component = "ks"
    invalid_config = {"alpha": 0.0, "report": -1, "max_rows": 0}
