"""MLflow: ``tracker=mlflow`` (SQLite mirrored to MLflow runs) and ``vcs=mlflow`` (model
versions in the MLflow model registry). It needs the ``[mlflow]`` extra: without it the
plugin registers nothing and choosing its components names the extra; ``mlflow`` itself
is imported only when a component is built."""

from __future__ import annotations

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug.plugins.mlflow.configs import MlflowTrackerConfig, MlflowVcsConfig
from hyperplug.plugins.mlflow.registry import MlflowRegistry
from hyperplug.plugins.mlflow.tracker import MlflowMirror, build_tracker

HYPERPLUG_EXTRA = "mlflow"

__all__ = ["MlflowMirror", "MlflowRegistry", "MlflowTrackerConfig", "MlflowVcsConfig"]


@hookimpl
def register_trackers() -> list[Component]:
    return [
        Component(
            kind="tracker",
            name="mlflow",
            factory=build_tracker,
            config_class=MlflowTrackerConfig,
            description="SQLite (answers queries) mirrored to MLflow: a run per trial under "
            "a run per study.",
        )
    ]


@hookimpl
def register_vcs() -> list[Component]:
    return [
        Component(
            kind="vcs",
            name="mlflow",
            factory=MlflowRegistry,
            config_class=MlflowVcsConfig,
            description="Model versions in the MLflow model registry (safetensors, no pickle).",
        )
    ]
