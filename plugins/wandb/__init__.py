"""Weights & Biases: ``tracker=wandb`` (SQLite mirrored to W&B runs) and ``vcs=wandb``
(model versions as W&B Artifacts). ``wandb`` itself is imported only when a run starts."""

from __future__ import annotations

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug.plugins.wandb.configs import WandbTrackerConfig, WandbVcsConfig
from hyperplug.plugins.wandb.tracker import WandbMirror, build_tracker
from hyperplug.plugins.wandb.vcs import WandbArtifactStore

#: the extra this plugin needs; without it the plugin registers nothing
HYPERPLUG_EXTRA = "wandb"

__all__ = ["WandbArtifactStore", "WandbMirror", "WandbTrackerConfig", "WandbVcsConfig"]


@hookimpl
def register_trackers() -> list[Component]:
    return [
        Component(
            kind="tracker",
            name="wandb",
            factory=build_tracker,
            config_class=WandbTrackerConfig,
            description="SQLite (answers queries) mirrored to W&B: one run per trial.",
        )
    ]


@hookimpl
def register_vcs() -> list[Component]:
    return [
        Component(
            kind="vcs",
            name="wandb",
            factory=WandbArtifactStore,
            config_class=WandbVcsConfig,
            description="Model versions as W&B Artifacts (type model), indexed locally.",
        )
    ]
