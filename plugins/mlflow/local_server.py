"""A real ``mlflow server`` on loopback, for tests and benchmarks: a SQLite backend store
and a local artifact root (served by the server, as ``mlflow-artifacts:``) under one
folder. It starts in about 10 s on a 2-core machine and takes several hundred MB."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import attrs

from hyperplug.errors import StorageError
from hyperplug.netprobe import server_problem


@attrs.frozen
class LocalServer:
    url: str
    #: the backend store (runs, metrics, registry)
    database: Path
    #: where the server keeps every artifact
    artifacts: Path
    log: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def local_server(root: Path, startup_timeout: float = 120.0) -> Iterator[LocalServer]:
    """Run ``mlflow server`` with its files under ``root`` until the block ends; then stop
    its whole process group. A server that does not start is a ``StorageError`` quoting
    its log."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = LocalServer(
        f"http://127.0.0.1:{port}", root / "backend.db", root / "artifacts", root / "server.log"
    )
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{server.database}",
        "--artifacts-destination",
        str(server.artifacts),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    # no background job runner: nothing here submits jobs, and it is one process more
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with open(server.log, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + startup_timeout
        while server_problem(f"{server.url}/health", timeout=2) is not None:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = " | ".join(server.log.read_text().strip().splitlines()[-5:])
                raise StorageError(f"mlflow server did not start: {tail}")
            time.sleep(0.5)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
