"""hyperplug: tune, track and version-control machine-learning models, built from plugins."""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

#: The version of the hook API (core/hookspecs.py, the component interfaces, ``Component``).
#: A plugin declares the version it was built against as ``HYPERPLUG_API = "1.0"`` in its
#: entry-point module; it loads when the major versions match and its minor version is not
#: newer than this one. docs/plugins.md states what may change in a minor version.
HOOK_API_VERSION = "1.0"

#: Marker for hook implementations: ``@hyperplug.hookimpl def register_trainers(): ...``
hookimpl = pluggy.HookimplMarker("hyperplug")

__all__ = ["HOOK_API_VERSION", "__version__", "hookimpl"]
