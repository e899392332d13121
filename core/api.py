"""The Python API's conveniences: build a registered component, load a model version."""

from __future__ import annotations

from typing import Any

from hyperplug.config import configure
from hyperplug.interfaces import ModelTrainer, ResourceVersionControl
from hyperplug.plugin_manager import get_plugin_manager
from hyperplug.trainers import restore_config, restore_model, trainer_spec


def build(kind: str, **config: Any) -> Any:
    """Build the ``kind`` component named ``config['name']`` with the other keys as its
    config, validated as on the command line: ``build("tracker", name="sqlite", path=...)``."""
    component, validated = configure(kind, config, get_plugin_manager())
    return component.build(validated)


def load_model(
    ref: str,
    vcs: ResourceVersionControl | None = None,
    device: str | None = None,
    **vcs_config: Any,
) -> ModelTrainer:
    """A working trained model from a version ref (``name``, ``name:v3``, ``name:best``).

    ``vcs`` defaults to the local store, configured by ``vcs_config`` (e.g. ``root=...``).
    Only the version itself is needed: what the training machine had (a pretrained weight
    file, a GPU) is not looked for. The model goes on ``device`` (``cpu``, ``cuda``, ...)
    when given, else on the device it trained on if this machine has it, else on the
    best one here.
    """
    if vcs is None:
        vcs = build("vcs", **{"name": "store", **vcs_config})
    weights, version = vcs.load(ref)
    spec = trainer_spec(get_plugin_manager(), version.meta.trainer)
    config = restore_config(spec, version.meta.trainer_config, device)
    return restore_model(spec, config, weights, version.meta.info)
