"""hyperplug: tune, track and version-control machine-learning models, built from plugins.

``hyperplug.hookimpl`` is what plugins import; the Python API (``Tuner``, ``GridTuner``, ``build``,
``load_model``, ``update``, ``check_drift``, ``run_study``) is imported on first use so that
``import hyperplug`` stays cheap for plugins and the CLI.
"""

from __future__ import annotations

import importlib
from typing import Any

import pluggy

__version__ = "0.1.0"

#: The version of the hook API (core/hookspecs.py, the component interfaces, ``Component``).
#: A plugin declares the version it was built against as ``HYPERPLUG_API = "1.0"`` in its
#: entry-point module; it loads when the major versions match and its minor version is not
#: newer than this one. docs/plugins.md states what may change in a minor version.
HOOK_API_VERSION = "1.0"

#: Marker for hook implementations: ``@hyperplug.hookimpl def register_trainers(): ...``
hookimpl = pluggy.HookimplMarker("hyperplug")

_LAZY = {
    "BaseHyperparameterTuner": "hyperplug.tuner",
    "GridTuner": "hyperplug.tuner",
    "Tuner": "hyperplug.tuner",
    "build": "hyperplug.api",
    "load_model": "hyperplug.api",
    "update": "hyperplug.api",
    "check_drift": "hyperplug.drift",
    "UpdateSkipped": "hyperplug.drift",
    "run_study": "hyperplug.study",
    "Component": "hyperplug.components",
    "report": "hyperplug.reporting",
    "TrialStopped": "hyperplug.reporting",
}

__all__ = ["HOOK_API_VERSION", "__version__", "hookimpl", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hyperplug' has no attribute {name!r}")
