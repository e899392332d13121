"""JSON for what trackers and stores record: params, configs, metadata."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from hyperplug.errors import ConfigError


def to_json(value: Any, what: str, indent: int | None = None) -> str:
    """``value`` as JSON; a ``ConfigError`` naming ``what`` if it holds something else."""
    try:
        return json.dumps(value, indent=indent, default=jsonable)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{what} is not JSON-serialisable: {error}") from error


def jsonable(value: Any) -> Any:
    """numpy values become Python numbers and lists, other mappings and sequences (such as
    OmegaConf containers) dicts and lists; anything else is refused."""
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence):
        return list(value)
    raise TypeError(f"{type(value).__name__} value {value!r}")
