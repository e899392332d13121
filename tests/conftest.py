"""Shared fixtures: real components on small data, built through the plugin registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

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
