"""Is a plugin built against a hook API this hyperplug provides?

A plugin's entry-point module may declare ``HYPERPLUG_API = "MAJOR.MINOR"`` (or
``"MAJOR"``, meaning ``MAJOR.0``): the ``hyperplug.HOOK_API_VERSION`` it was built
against. It is compatible when the majors match and its minor is not newer than ours
(a newer minor may use hooks or interface members this hyperplug lacks). A module that
declares nothing is taken as built against 1.0, the first hook API.
"""

from __future__ import annotations

import re
from typing import Any

from hyperplug import HOOK_API_VERSION, __version__

#: the module attribute a plugin declares its hook API version in
API_ATTRIBUTE = "HYPERPLUG_API"
#: what a plugin that declares nothing is taken to be built against
ASSUMED_API = "1.0"

_VERSION = re.compile(r"^(\d+)(?:\.(\d+))?$")


def parse_api_version(value: str) -> tuple[int, int]:
    """``"1.2"`` -> ``(1, 2)``; ``"1"`` -> ``(1, 0)``; ``ValueError`` for anything else."""
    match = _VERSION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{API_ATTRIBUTE} must be a string 'MAJOR.MINOR', got {value!r}")
    return int(match.group(1)), int(match.group(2) or 0)


def declared_api(module: Any) -> str | None:
    """The hook API version a plugin module declares, or None."""
    return getattr(module, API_ATTRIBUTE, None)


def api_problem(declared: Any, provided: str = HOOK_API_VERSION) -> str | None:
    """Why a plugin declaring ``declared`` cannot load here, or None if it can."""
    try:
        wanted = parse_api_version(ASSUMED_API if declared is None else declared)
    except ValueError as exc:
        return f"is not loaded: {exc}"
    have = parse_api_version(provided)
    if wanted[0] != have[0]:
        return (
            f"is built for hook API {declared}, but hyperplug {__version__} provides hook API "
            f"{provided}: install a release of the plugin made for hook API {have[0]}.x"
        )
    if wanted[1] > have[1]:
        return (
            f"needs hook API {declared}, but hyperplug {__version__} provides hook API "
            f"{provided}: upgrade hyperplug"
        )
    return None
