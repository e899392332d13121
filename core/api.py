"""The Python API's conveniences: build a registered component, load a model version."""

from __future__ import annotations

from typing import Any

from hyperplug.config import configure
from hyperplug.interfaces import ModelTrainer, ResourceVersionControl
from hyperplug.plugin_manager import get_plugin_manager


def build(kind: str, **config: Any) -> Any:
    """Build the ``kind`` component named ``config['name']`` with the other keys as its
    config, validated as on the command line: ``build("tracker", name="sqlite", path=...)``."""
    component, validated = configure(kind, config, get_plugin_manager())
    return component.build(validated)


def load_model(
    ref: str, vcs: ResourceVersionControl | None = None, **vcs_config: Any
) -> ModelTrainer:
    """A working trained model from a version ref (``name``, ``name:v3``, ``name:best``).

    ``vcs`` defaults to the local store, configured by ``vcs_config`` (e.g. ``root=...``).
    """
    if vcs is None:
        vcs = build("vcs", **{"name": "store", **vcs_config})
    weights, version = vcs.load(ref)
    component, config = configure(
        "trainer",
        {**version.meta.trainer_config, "name": version.meta.trainer},
        get_plugin_manager(),
    )
    # factories may be lazy functions: the built trainer's class knows how to restore
    trainer_class = type(component.build(config))
    return trainer_class.restore(config, weights, version.meta.info)
