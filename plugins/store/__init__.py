"""The embedded default version control: model versions in a local directory tree."""

from __future__ import annotations

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug.plugins.store.local import LocalStore, LocalStoreConfig

__all__ = ["LocalStore", "LocalStoreConfig"]


@hookimpl
def register_vcs() -> list[Component]:
    return [
        Component(
            kind="vcs",
            name="store",
            factory=LocalStore,
            config_class=LocalStoreConfig,
            description="Immutable model versions (safetensors + JSON, sha256-checked) on disk.",
        )
    ]
