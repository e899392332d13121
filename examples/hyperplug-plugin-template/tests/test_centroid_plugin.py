"""The template's trainer passes hyperplug's trainer conformance suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hyperplug.testing import TrainerConformance


class TestCentroidTrainer(TrainerConformance):
    component = "centroid"  # the installed entry point's component
    invalid_config = {"lr": 0.0, "epochs": 0, "batch_size": -1}

    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"epochs": 4, "batch_size": 16}
