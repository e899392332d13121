"""A version-control system that keeps model versions in a local directory tree.

Layout under the store root::

    <model>/v<N>/weights.safetensors   the weights (safetensors: no pickle, ever)
    <model>/v<N>/meta.json             the ModelVersion without aliases, with the sha256
    <model>/aliases.json               alias -> version number
    <model>/.lock                      locked while a version number or alias is assigned

A version is written into a temporary directory inside the model directory and renamed to
``v<N>`` only when complete, so ``v<N>`` is either absent or whole. Version numbers and
aliases are assigned under the model's lock, so concurrent savers never share a number.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from hyperplug.atomic import fsync_dir, replace_atomically, temp_path, write_durably
from hyperplug.errors import ConfigError, NotFoundError, StorageError, did_you_mean
from hyperplug.interfaces import ModelVersion, ResourceVersionControl, VersionMeta
from hyperplug.plugins.store.files import locked
from hyperplug.serialize import to_json
from hyperplug.validators import positive

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
VERSION_PATTERN = re.compile(r"^v([0-9]+)$")
LATEST = "latest"
WEIGHTS = "weights.safetensors"
META = "meta.json"
ALIASES = "aliases.json"
LOCK = ".lock"
#: the size of the writability probe: real bytes, so that a full disk fails it
PROBE_BYTES = 1 << 16


@attrs.define
class LocalStoreConfig:
    name: str = "store"
    #: the directory holding one folder per model; created by the first study that uses it
    root: str = ".hyperplug/models"
    #: how long a save waits for another process's hold on a model's lock file
    lock_timeout_s: float = attrs.field(default=60.0, validator=positive)

    def records_location(self) -> tuple[str, str]:
        """The store's folder, which the inspection commands read."""
        return "root", self.root


class LocalStore(ResourceVersionControl):
    """Immutable model versions on the local file system; see the module docstring."""

    def __init__(self, config: LocalStoreConfig) -> None:
        self.config = config
        self.root = Path(config.root).expanduser().absolute()

    def check_writable(self) -> None:
        """Create the root if absent and write a probe file of ``PROBE_BYTES`` real bytes
        in it, flushed to disk: a read-only or full store fails here, before a study
        trains anything, not when the winner is saved (an empty file fits on a full
        disk). A root this check created is removed again when the probe fails."""
        missing = [p for p in (self.root, *self.root.parents) if not p.exists()]
        probe = temp_path(self.root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            write_durably(probe, os.urandom(PROBE_BYTES))
        except OSError as error:
            for leftover in (probe, *missing):  # innermost first
                with contextlib.suppress(OSError):
                    leftover.rmdir() if leftover.is_dir() else leftover.unlink()
            raise StorageError(
                f"vcs.root: model store '{self.root}' is not writable: {error.strerror or error}"
            ) from error
        probe.unlink()

    # ------------------------------------------------------------------ writing

    def save(
        self,
        name: str,
        weights: Mapping[str, np.ndarray],
        meta: VersionMeta,
        aliases: Sequence[str] = (LATEST,),
    ) -> ModelVersion:
        check_name(name, "model name")
        if isinstance(aliases, str):  # one alias, not its letters
            aliases = (aliases,)
        aliases = tuple(dict.fromkeys(check_alias(alias) for alias in aliases))
        payload = serialize_weights(name, weights)
        meta = VersionMeta(**json.loads(to_json(attrs.asdict(meta), f"metadata of model '{name}'")))
        model_dir = self.root / name
        tmp = temp_path(model_dir)
        try:
            model_dir.mkdir(parents=True, exist_ok=True)
            tmp.mkdir()
            write_durably(tmp / WEIGHTS, payload)
            with locked(model_dir / LOCK, self.config.lock_timeout_s):
                number = max(_versions(model_dir), default=0) + 1
                final = model_dir / f"v{number}"
                record = ModelVersion(
                    name=name,
                    version=number,
                    created_at=time.time(),
                    sha256=hashlib.sha256(payload).hexdigest(),
                    uri=final.as_uri(),
                    meta=meta,
                )
                write_durably(tmp / META, json.dumps(_to_json(record), indent=2).encode())
                fsync_dir(tmp)
                os.rename(tmp, final)
                fsync_dir(model_dir)
                table = {**_read_aliases(model_dir), **dict.fromkeys(aliases, number)}
                replace_atomically(model_dir / ALIASES, json.dumps(table, indent=2).encode())
        except OSError as error:
            raise StorageError(
                f"cannot save model '{name}' in '{model_dir}': {error.strerror or error}"
            ) from error
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # gone already once renamed
        return attrs.evolve(record, aliases=_aliases_of(table, number))

    def set_alias(self, ref: str, alias: str) -> ModelVersion:
        check_alias(alias)
        name, number = self._resolve(ref)
        model_dir = self.root / name
        try:
            with locked(model_dir / LOCK, self.config.lock_timeout_s):
                table = {**_read_aliases(model_dir), alias: number}
                replace_atomically(model_dir / ALIASES, json.dumps(table, indent=2).encode())
        except OSError as error:
            raise StorageError(
                f"cannot set alias '{alias}' of model '{name}': {error.strerror or error}"
            ) from error
        return _read_version(model_dir, number, table)

    # ------------------------------------------------------------------ reading

    def get(self, ref: str) -> ModelVersion:
        name, number = self._resolve(ref)
        model_dir = self.root / name
        return _read_version(model_dir, number, _read_aliases(model_dir))

    def load(self, ref: str) -> tuple[dict[str, np.ndarray], ModelVersion]:
        version = self.get(ref)
        path = self.root / version.name / f"v{version.version}" / WEIGHTS
        try:
            payload = path.read_bytes()
        except OSError as error:
            raise StorageError(
                f"cannot read weights of model version '{version.ref}' at '{path}': "
                f"{error.strerror or error}"
            ) from error
        return parse_weights(payload, version, f"file '{path}'"), version

    def list_versions(self, name: str | None = None) -> list[ModelVersion]:
        """All versions of ``name`` (none if it has no versions), or of every model."""
        names = [check_name(name, "model name")] if name is not None else self._model_names()
        result = []
        for model in names:
            model_dir = self.root / model
            table = _read_aliases(model_dir)
            result.extend(_read_version(model_dir, n, table) for n in _versions(model_dir))
        return result

    def _model_names(self) -> list[str]:
        try:
            entries = sorted(entry.name for entry in os.scandir(self.root) if entry.is_dir())
        except FileNotFoundError:  # nothing saved yet; reading creates nothing
            return []
        except OSError as error:
            raise StorageError(
                f"cannot read model store '{self.root}': {error.strerror or error}"
            ) from error
        return [name for name in entries if _is_name(name) and _versions(self.root / name)]

    def _resolve(self, ref: str) -> tuple[str, int]:
        """(model name, version number) that ``ref`` points to."""
        if not isinstance(ref, str):
            raise ConfigError(f"model ref must be a string like 'name:v1', got {ref!r}")
        name, colon, tag = ref.partition(":")
        check_name(name, "model name")
        model_dir = self.root / name
        versions = _versions(model_dir)
        if not versions:
            raise NotFoundError(
                f"model '{name}' not found{did_you_mean(name, self._model_names())}"
            )
        match = VERSION_PATTERN.match(tag)
        if match:
            number = int(match.group(1))
            if number not in versions:
                raise NotFoundError(
                    f"model version '{name}:{tag}' not found; model '{name}' has "
                    f"{len(versions)} version(s), the newest v{versions[-1]}"
                )
            return name, number
        table = _read_aliases(model_dir)
        if not colon or tag == LATEST:
            # ``name`` alone means the version aliased latest, else the newest one.
            return name, table.get(LATEST, versions[-1])
        check_alias(tag)
        if tag not in table:
            raise NotFoundError(
                f"alias '{tag}' of model '{name}' not found{did_you_mean(tag, table)}"
            )
        return name, table[tag]


# ---------------------------------------------------------------------- names


def _is_name(value: object) -> bool:
    return isinstance(value, str) and bool(NAME_PATTERN.match(value)) and ".." not in value


def check_name(value: str, what: str) -> str:
    """Return ``value`` if it is a safe model name or alias: it never leaves the store root."""
    if not _is_name(value):
        raise ConfigError(
            f"{what} {value!r} is invalid: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit, and no '..'"
        )
    return value


def check_alias(value: str) -> str:
    check_name(value, "alias")
    if VERSION_PATTERN.match(value):
        raise ConfigError(f"alias {value!r} is invalid: it would read as a version number")
    return value


# ---------------------------------------------------------------------- files


def _versions(model_dir: Path) -> list[int]:
    """The version numbers present in ``model_dir``, ascending; none if it does not exist."""
    try:
        entries = list(os.scandir(model_dir))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as error:
        raise StorageError(f"cannot read '{model_dir}': {error.strerror or error}") from error
    found = (VERSION_PATTERN.match(entry.name) for entry in entries if entry.is_dir())
    return sorted(int(match.group(1)) for match in found if match)


def _read_aliases(model_dir: Path) -> dict[str, int]:
    path = model_dir / ALIASES
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise StorageError(f"cannot read aliases file '{path}': {error}") from error


def _aliases_of(table: Mapping[str, int], number: int) -> tuple[str, ...]:
    return tuple(sorted(alias for alias, target in table.items() if target == number))


def _read_version(model_dir: Path, number: int, table: Mapping[str, int]) -> ModelVersion:
    path = model_dir / f"v{number}" / META
    try:
        data = json.loads(path.read_text())
        return ModelVersion(
            name=data["name"],
            version=data["version"],
            created_at=data["created_at"],
            sha256=data["sha256"],
            uri=path.parent.as_uri(),  # where it is now, even if the store was moved
            meta=VersionMeta(**data["meta"]),
            aliases=_aliases_of(table, number),
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StorageError(
            f"model version '{model_dir.name}:v{number}' is damaged: cannot read '{path}': {error}"
        ) from error


def _to_json(record: ModelVersion) -> dict[str, Any]:
    data = attrs.asdict(record)
    del data["aliases"]  # aliases move; they live in aliases.json
    return data


def parse_weights(payload: bytes, version: ModelVersion, where: str) -> dict[str, np.ndarray]:
    """The arrays of a version's safetensors bytes, read from ``where``, after their sha256
    is checked: hashed and parsed from the very same bytes, so nothing can change between
    check and use. Never pickle."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    if hashlib.sha256(payload).hexdigest() != version.sha256:
        raise StorageError(
            f"weights of model version '{version.ref}' do not match their sha256 "
            f"({where} was modified or damaged)"
        )
    try:
        return load(payload)
    except SafetensorError as error:
        raise StorageError(
            f"cannot parse weights of model version '{version.ref}': {error}"
        ) from error


def serialize_weights(name: str, weights: Mapping[str, np.ndarray]) -> bytes:
    """The safetensors file's bytes, built in memory so a bad array fails before any write."""
    from safetensors import SafetensorError
    from safetensors.numpy import save

    arrays = {}
    for key, value in weights.items():
        if not isinstance(key, str) or not isinstance(value, np.ndarray):
            raise ConfigError(
                f"weight {key!r} of model '{name}' must be a numpy array under a string key, "
                f"got {type(value).__name__}"
            )
        # safetensors reads a strided view's raw buffer, so hand it contiguous memory.
        arrays[key] = np.ascontiguousarray(value)
    try:
        return save(arrays)
    except SafetensorError as error:
        raise ConfigError(f"weights of model '{name}' cannot be saved: {error}") from error
