"""Shared fixtures: real components on small data, built through the plugin registry."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# the ray backend's tests: one real Ray cluster for the whole session
from ray_testing import ray_cluster, ray_driver  # noqa: F401

from hyperplug.config import configure
from hyperplug.plugin_manager import get_plugin_manager


def build(kind: str, **node: Any) -> Any:
    """Build a registered component from a config node, as a run would."""
    component, config = configure(kind, node, get_plugin_manager())
    return component.build(config)


@pytest.fixture(scope="session")
def digits_splits() -> Any:
    return build("splitter", name="stratified").split_data(build("dataset", name="digits").load())


@pytest.fixture
def tracker(tmp_path: Path) -> Any:
    tracker = build("tracker", name="sqlite", path=str(tmp_path / "hp.db"))
    yield tracker
    tracker.close()


@pytest.fixture
def store(tmp_path: Path) -> Any:
    return build("vcs", name="store", root=str(tmp_path / "models"))


def write_cifar(
    root: Path, name: str, rows: int = 4, labels: list[int] | None = None
) -> tuple[Any, np.ndarray]:
    """CIFAR-10/100 batch files as torchvision lays them out (random images, ``rows`` a
    batch, ``labels`` repeated): (torchvision's dataset class, the first batch's data)."""
    from torchvision import datasets

    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    folder = root / cls.base_folder
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    label_key = "labels" if name == "cifar10" else "fine_labels"
    labels = labels or [0, 1, 2, 1]
    first = None
    for filename, _ in cls.train_list + cls.test_list:
        data = rng.integers(0, 256, (rows, 3072), dtype=np.uint8)
        first = data if first is None else first
        batch = [labels[i % len(labels)] for i in range(rows)]
        entry = {"batch_label": filename, label_key: batch, "data": data}
        (folder / filename).write_bytes(pickle.dumps(entry, protocol=2))
    n_classes = 10 if name == "cifar10" else 100
    meta = {cls.meta["key"]: [f"class{i}" for i in range(n_classes)]}
    (folder / cls.meta["filename"]).write_bytes(pickle.dumps(meta))
    return cls, first
