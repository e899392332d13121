"""Reading what an offline W&B run recorded, without a server.

An offline run keeps everything it would upload in ``run-<id>.wandb``: a log of protobuf
``wandb.proto.wandb_internal_pb2.Record`` messages in LevelDB's log format (a 7-byte file
header ``:W&B``/0xBEE1/version, then 32 KiB blocks of records, each with a 7-byte header:
CRC32C, length, type FULL/FIRST/MIDDLE/LAST). wandb 0.31 no longer ships a Python reader
for it, so this is one: ``read_run`` folds the log into the run's config, history,
summary, tags, exit code and artifacts, which is what ``wandb sync`` would send.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

_FILE_HEADER = struct.Struct("<4sHB")
_RECORD_HEADER = struct.Struct("<IHB")
_BLOCK = 32768
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


@attrs.define
class OfflineRun:
    """The fold of one offline run file."""

    run_id: str = ""
    project: str = ""
    group: str = ""
    job_type: str = ""
    name: str = ""
    config: dict[str, Any] = attrs.Factory(dict)
    tags: tuple[str, ...] = ()
    history: list[dict[str, Any]] = attrs.Factory(list)
    summary: dict[str, Any] = attrs.Factory(dict)
    exit_code: int | None = None
    artifacts: list[dict[str, Any]] = attrs.Factory(list)


def records(path: Path) -> Iterator[Any]:
    """Every ``Record`` of a ``.wandb`` file, in order."""
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    ident, magic, _ = _FILE_HEADER.unpack_from(data)
    if ident != b":W&B" or magic != 0xBEE1:
        raise ValueError(f"{path} is not a W&B run file")
    pos, pending = _FILE_HEADER.size, b""
    while pos + _RECORD_HEADER.size <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _RECORD_HEADER.size:  # the block's tail is padding
            pos += left
            continue
        _, length, kind = _RECORD_HEADER.unpack_from(data, pos)
        pos += _RECORD_HEADER.size
        if kind == 0 and length == 0:  # zero fill: nothing more was written
            break
        pending += data[pos : pos + length]
        pos += length
        if kind in (_FULL, _LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def _items(updates: Any) -> Iterator[tuple[list[str], Any]]:
    for item in updates:
        keys = list(item.nested_key) or [item.key]
        yield keys, json.loads(item.value_json)


def _set(target: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value


def read_run(run_dir: Path) -> OfflineRun:
    """Fold the ``.wandb`` file of an offline run directory into an ``OfflineRun``."""
    [path] = Path(run_dir).glob("run-*.wandb")
    run = OfflineRun()
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            run.run_id, run.project, run.group = r.run_id, r.project, r.run_group
            run.job_type, run.name = r.job_type, r.display_name
            run.tags = tuple(r.tags)
            for keys, value in _items(r.config.update):
                _set(run.config, keys, value)
        elif kind == "config":
            for keys, value in _items(record.config.update):
                _set(run.config, keys, value)
        elif kind == "history":
            row: dict[str, Any] = {}
            for keys, value in _items(record.history.item):
                _set(row, keys, value)
            run.history.append(row)
        elif kind == "summary":
            for keys, value in _items(record.summary.update):
                _set(run.summary, keys, value)
        elif kind == "exit":
            run.exit_code = record.exit.exit_code
        elif kind == "artifact":
            a = record.artifact
            run.artifacts.append(
                {
                    "name": a.name,
                    "type": a.type,
                    "aliases": list(a.aliases),
                    "metadata": json.loads(a.metadata or "{}"),
                    "manifest": [
                        {"path": e.path, "digest": e.digest, "size": e.size, "local": e.local_path}
                        for e in a.manifest.contents
                    ],
                }
            )
    run.config.pop("_wandb", None)
    return run


def run_dirs(directory: Path) -> list[Path]:
    """The offline run directories W&B wrote under a ``dir`` (``<dir>/wandb/offline-run-*``)."""
    return sorted(Path(directory).glob("wandb/offline-run-*"))
