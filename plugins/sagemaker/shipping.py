"""The code channel: what a training job runs before and besides its image's own code.

``bootstrap.py`` always; with ``ship_code``, ``hyperplug.zip``: this process's hyperplug
(its Python files and config YAML, and a ``dist-info`` with its entry points, so the
job's plugin manager finds the same built-in plugins) so the job runs the very code of
the study process and the image needs only the libraries. The zip is deterministic (the
same code gives the same bytes), so it is uploaded once per code version.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from importlib import metadata
from pathlib import Path

import attrs

#: the packages whose folders make up hyperplug (their folders differ in a source
#: checkout: core/, plugins/, conf/)
PACKAGES = ("hyperplug", "hyperplug.plugins", "hyperplug.conf")
SUFFIXES = (".py", ".yaml")
#: what a trial imports besides numpy, torch and boto3 (which the training images have),
#: installed in the job at this process's versions when the image lacks them
JOB_PACKAGES = ("attrs", "pluggy", "omegaconf", "antlr4-python3-runtime", "PyYAML", "safetensors")
_EPOCH = (1980, 1, 1, 0, 0, 0)


@attrs.frozen
class CodeChannel:
    files: dict[str, bytes]

    @property
    def digest(self) -> str:
        sha = hashlib.sha256()
        for name in sorted(self.files):
            sha.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        return sha.hexdigest()


def code_channel(ship_code: bool) -> CodeChannel:
    files = {"bootstrap.py": (Path(__file__).parent / "bootstrap.py").read_bytes()}
    if ship_code:
        files["hyperplug.zip"] = hyperplug_zip()
    return CodeChannel(files)


def hyperplug_zip() -> bytes:
    import importlib

    entries: dict[str, bytes] = {}
    for package in PACKAGES:
        folder = Path(importlib.import_module(package).__path__[0])
        base = package.replace(".", "/")
        for directory, subdirs, names in os.walk(folder):
            subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
            for name in names:
                if name.endswith(SUFFIXES):
                    path = Path(directory) / name
                    entries[f"{base}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
    dist = metadata.distribution("hyperplug")
    info = f"hyperplug-{dist.version}.dist-info"
    # an editable install run from its source folder may be found as the egg-info pip
    # leaves there, whose metadata file is PKG-INFO; the job's dist-info needs METADATA
    metadata_text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    for name, text in (
        ("METADATA", metadata_text),
        ("entry_points.txt", dist.read_text("entry_points.txt")),
    ):
        if text is not None:
            entries[f"{info}/{name}"] = text.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            item = zipfile.ZipInfo(name, _EPOCH)
            item.external_attr = 0o644 << 16
            archive.writestr(item, entries[name], zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def job_requirements(ship_code: bool, extra: list[str]) -> list[str]:
    """What the job installs: with shipped code, hyperplug's own libraries at this
    process's versions; then the user's ``requirements``."""
    pinned = []
    if ship_code:
        for name in JOB_PACKAGES:
            try:
                pinned.append(f"{name}=={metadata.version(name)}")
            except metadata.PackageNotFoundError:
                continue
    return [*pinned, *extra]
