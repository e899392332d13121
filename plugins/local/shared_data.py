"""The study's data written once to a file that every worker memory-maps.

The object is pickled (protocol 5) with its large buffers (numpy arrays) out of band: the
file holds a small header, the pickle, then each buffer. A worker maps the file
copy-on-write and unpickles the arrays as views of the mapping, so the page cache holds
one copy of the data for all workers, and a worker that writes to an array changes only
its own copy. Sending the path instead of the data also keeps the study process from
blocking on a pipe until a still-starting worker reads megabytes from it.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pickle
import struct
import tempfile
from pathlib import Path
from typing import Any

from hyperplug.processes import process_alive

_HEADER = struct.Struct("<QQ")  # pickle length, buffer count
_LENGTH = struct.Struct("<Q")


#: ``hyperplug-data-<pid of the writing process>-<random>.bin``
_PREFIX = "hyperplug-data-"


def write_shared(obj: Any, directory: str | None = None) -> Path:
    """Write ``obj`` to a new file (in ``directory``, else the temp directory); the caller
    removes it (a worker that mapped it keeps its mapping). Files there left by a study
    process that was killed before it could remove its own are removed first."""
    folder = Path(directory or tempfile.gettempdir())
    remove_stale(folder)
    buffers: list[pickle.PickleBuffer] = []
    payload = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    handle, name = tempfile.mkstemp(prefix=f"{_PREFIX}{os.getpid()}-", suffix=".bin", dir=folder)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(_HEADER.pack(len(payload), len(buffers)))
            for buffer in buffers:
                file.write(_LENGTH.pack(buffer.raw().nbytes))
            file.write(payload)
            for buffer in buffers:
                file.write(buffer.raw())
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def read_shared(path: str | Path) -> Any:
    """The object written by ``write_shared``, its buffers mapped copy-on-write."""
    with open(path, "rb") as file:
        mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_COPY)
    view = memoryview(mapping)
    size, count = _HEADER.unpack_from(view, 0)
    offset = _HEADER.size
    lengths = [_LENGTH.unpack_from(view, offset + i * _LENGTH.size)[0] for i in range(count)]
    offset += count * _LENGTH.size
    payload = view[offset : offset + size]
    offset += size
    buffers = []
    for length in lengths:
        buffers.append(view[offset : offset + length])
        offset += length
    return pickle.loads(payload, buffers=buffers)


def remove_stale(folder: Path) -> None:
    """Remove the data files in ``folder`` whose writing process is gone (killed: it
    removes its own otherwise); a file of a live process, or another user's, stays."""
    for path in folder.glob(f"{_PREFIX}*-*.bin"):
        pid = path.name[len(_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            with contextlib.suppress(OSError):
                path.unlink()
