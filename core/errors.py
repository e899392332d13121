"""User-facing errors.

Every error a user can cause (bad config, missing file, broken plugin) is a
``HyperplugError`` whose message is one line naming the offending key or value.
The CLI prints it without a traceback and exits non-zero.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class HyperplugError(Exception):
    """Base class of every error meant for the user, not the developer."""


class ConfigError(HyperplugError):
    """A config key or value is wrong."""


class PluginError(HyperplugError):
    """A plugin failed to load, validate or register its components."""


class DataError(HyperplugError):
    """A dataset could not be read or is not usable."""


class StorageError(HyperplugError):
    """A tracker or version-control store cannot be read or written."""


class NotFoundError(HyperplugError):
    """A study, trial, model version or component name does not exist."""


def did_you_mean(value: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """Return `` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=cutoff)
    return f" (did you mean '{close[0]}'?)" if close else ""
