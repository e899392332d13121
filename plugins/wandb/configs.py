"""Config of the W&B tracker and vcs components, validated before any trial runs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs

from hyperplug.errors import ConfigError

MODES = ("online", "offline", "disabled", "auto")
#: W&B refuses project names longer than this or holding these characters
#: (wandb.sdk.wandb_settings.Settings.validate_project)
PROJECT_MAX_LEN = 128
PROJECT_FORBIDDEN = "/\\#?%:"


def _mode_validator(kind: str) -> Any:
    def check(instance: Any, attribute: attrs.Attribute, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"{kind}.mode must be one of {', '.join(MODES)}, got {value!r}")

    return check


def _project_validator(kind: str) -> Any:
    def check(instance: Any, attribute: attrs.Attribute, value: str) -> None:
        bad = sorted({c for c in value if c in PROJECT_FORBIDDEN})
        if not value or len(value) > PROJECT_MAX_LEN or bad:
            why = (
                f"contains {' '.join(bad)}" if bad else f"must be 1 to {PROJECT_MAX_LEN} characters"
            )
            raise ValueError(
                f"{kind}.project {value!r} is not a valid W&B project name: {why} "
                f"(W&B forbids {' '.join(PROJECT_FORBIDDEN)})"
            )

    return check


def _tags_validator(kind: str) -> Any:
    def check(instance: Any, attribute: attrs.Attribute, value: list[str]) -> None:
        for tag in value:
            if not isinstance(tag, str) or not tag.strip() or len(tag) > 64:
                raise ValueError(f"{kind}.tags: {tag!r} is not a W&B tag (1 to 64 characters)")

    return check


@attrs.define
class WandbTrackerConfig:
    """``tracker=wandb``: SQLite at ``path`` (answers every query) mirrored to W&B."""

    name: str = "wandb"
    #: the local SQLite record of truth, as ``tracker=sqlite``'s path
    path: str = ".hyperplug/hyperplug.db"
    project: str = attrs.field(default="hyperplug", validator=_project_validator("tracker"))
    entity: str | None = None
    #: W&B run group of every trial; null: the study's name
    group: str | None = None
    tags: list[str] = attrs.field(factory=list, validator=_tags_validator("tracker"))
    #: online, offline, disabled, or auto (online when WANDB_API_KEY is set, else offline)
    mode: str = attrs.field(default="auto", validator=_mode_validator("tracker"))
    #: where W&B writes its run files (``<dir>/wandb/``)
    dir: str = ".hyperplug/wandb"

    def records_location(self) -> tuple[str, str]:
        """The SQLite record of truth, which the inspection commands read."""
        return "path", self.path


@attrs.define
class WandbVcsConfig:
    """``vcs=wandb``: model versions as W&B Artifacts of type ``model``, indexed locally."""

    name: str = "wandb"
    project: str = attrs.field(default="hyperplug", validator=_project_validator("vcs"))
    entity: str | None = None
    mode: str = attrs.field(default="auto", validator=_mode_validator("vcs"))
    dir: str = ".hyperplug/wandb"
    #: the local copy and index of every version: get/load/list work offline from it
    root: str = ".hyperplug/wandb/models"

    def records_location(self) -> tuple[str, str]:
        """The local copy and index of the versions, which the inspection commands read."""
        return "root", self.root


#: the values W&B takes in ``WANDB_MODE``, and the mode each means here
WANDB_MODES = {
    "online": "online",
    "run": "online",
    "shared": "online",
    "offline": "offline",
    "dryrun": "offline",
    "disabled": "disabled",
}


def resolve_mode(mode: str, environ: Mapping[str, str] | None = None) -> str:
    """The mode W&B runs in: ``auto`` follows ``WANDB_MODE`` if set, else online with an
    API key in ``WANDB_API_KEY`` and offline without one. A ``WANDB_MODE`` W&B does not
    know is a ``ConfigError`` unless W&B is not used (``disabled``): W&B reads it whatever
    mode it is given, and would fail on it in the middle of the study."""
    environ = os.environ if environ is None else environ
    forced = environ.get("WANDB_MODE", "")
    if forced and forced not in WANDB_MODES and mode != "disabled":  # W&B: exactly these
        raise ConfigError(
            f"WANDB_MODE={forced!r} in the environment is not a W&B mode "
            f"({', '.join(WANDB_MODES)}): correct it or unset it"
        )
    if mode != "auto":
        return mode
    if forced:
        return WANDB_MODES[forced]
    return "online" if environ.get("WANDB_API_KEY") else "offline"
