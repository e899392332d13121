"""A trial's directory as bytes, so that its files travel through Ray instead of a shared
filesystem: the actor packs what its trial wrote (a checkpoint, the staged weights), the
study process writes it into the trial's own directory, and back for a retried trial's
checkpoint."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

#: path inside the trial directory (posix) -> contents
Files = dict[str, bytes]


def pack(directory: Path, sub: str = "") -> Files:
    """Every file under ``directory/sub``, by its path relative to ``directory``; files
    being written (hidden temporaries) are left out."""
    root = directory / sub if sub else directory
    if not root.is_dir():
        return {}
    files: Files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            files[path.relative_to(directory).as_posix()] = path.read_bytes()
    return files


def unpack(directory: Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` under ``directory``, each whole (a temporary renamed into place),
    the JSON records last: a reader takes a checkpoint or a staged trial by its record,
    so it never sees one whose arrays are missing. In each folder written, files the
    snapshot does not have (an older epoch's arrays) are removed."""
    for name in sorted(files, key=lambda n: (n.endswith(".json"), n)):
        path = directory / _relative(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(files[name])
        tmp.replace(path)
    for folder in {(directory / _relative(name)).parent for name in files}:
        for path in folder.iterdir():
            name = path.relative_to(directory).as_posix()
            if path.is_file() and not path.name.startswith(".") and name not in files:
                path.unlink(missing_ok=True)


def _relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"a trial file must stay in its directory: {name!r}")
    return path
