"""hyperplug: tune, track and version-control machine-learning models, built from plugins."""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

#: Marker for hook implementations: ``@hyperplug.hookimpl def register_trainers(): ...``
hookimpl = pluggy.HookimplMarker("hyperplug")

__all__ = ["__version__", "hookimpl"]
