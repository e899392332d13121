"""Without the [mlflow] extra: this module runs whether MLflow is installed or not."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from hyperplug.config import configure
from hyperplug.errors import PluginError
from hyperplug.plugin_manager import get_plugin_manager


def build(kind: str, **node: Any) -> Any:
    component, config = configure(kind, node, get_plugin_manager())
    return component.build(config)


def test_without_mlflow_installed_the_error_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what `import mlflow` finds: nothing
    with pytest.raises(PluginError, match=r"tracker=mlflow needs MLflow, .*hyperplug\[mlflow\]"):
        build("tracker", name="mlflow", path=str(tmp_path / "hp.db"))
    registry = build("vcs", name="mlflow", uri=f"sqlite:///{tmp_path / 'm.db'}")
    with pytest.raises(PluginError, match=r"vcs=mlflow needs MLflow"):
        registry.check_writable()
    assert not list(tmp_path.iterdir())
