"""A real Ray cluster on this machine for the ``ray`` backend's tests: a head on loopback
(``--node-ip-address=127.0.0.1``, no dashboard, a small object store, free ports),
started once per test session (the ``ray_cluster`` fixture, which tests/conftest.py
offers) and stopped at its end, and worker nodes that join it and can be killed, process
group and all, like a lost machine. ``ray_driver``: this process connected to it.

Every Ray process of the tests (the head, nodes, the CLI's drivers) authenticates with
one token given in the environment, so nothing is written to ``~/.ray``.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

RAY = str(Path(sys.executable).parent / "ray")
TESTS = str(Path(__file__).resolve().parent)
#: what each node gives: CPUs and a small object store (the machine has 2 cores)
OBJECT_STORE = str(80 * 2**20)
#: the custom resource one trial of a one-actor-per-node study asks for
SLOT = "trial_slot"
RAY_MISSING = "Ray is not installed (the ray extra): pip install -c constraints.txt -e '.[ray]'"
#: for a test that needs Ray but no cluster
needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason=RAY_MISSING)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Node:
    """A ``ray start --block`` process in a process group of its own: everything the node
    runs (raylet, its workers and actors) dies with ``kill()``."""

    def __init__(self, args: list[str], env: dict[str, str], ready: str) -> None:
        self.process = subprocess.Popen(
            [RAY, "start", "--block", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.output: list[str] = []
        started = threading.Event()

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                if ready in line:
                    started.set()

        threading.Thread(target=read, daemon=True).start()
        if not started.wait(90):
            self.kill()
            raise RuntimeError("ray start failed:\n" + "".join(self.output[-30:]))

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)


class Cluster:
    def __init__(self) -> None:
        self.temp = tempfile.mkdtemp(prefix="hpray")  # short: Ray's socket paths are limited
        self.env = {
            **os.environ,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(16),
            "RAY_USAGE_STATS_ENABLED": "0",
            # a Ray Client connection starts a server process on the head: on a loaded
            # 2-core machine that can take longer than Ray's 30 s
            "RAY_CLIENT_SERVER_CHECK_CHANNEL_TIMEOUT_S": "180",
            # workers import the tests' helper modules (faulty_trainer)
            "PYTHONPATH": os.pathsep.join(p for p in (TESTS, os.environ.get("PYTHONPATH")) if p),
        }
        self.port = free_port()
        self.client_port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.head = Node(
            [
                "--head",
                "--node-ip-address=127.0.0.1",
                f"--port={self.port}",
                f"--ray-client-server-port={self.client_port}",
                "--include-dashboard=false",
                *self._ports(),
                "--num-cpus=2",
                f"--resources={json.dumps({SLOT: 1})}",
                f"--object-store-memory={OBJECT_STORE}",
                f"--temp-dir={self.temp}",
                "--disable-usage-stats",
            ],
            self.env,
            "Ray runtime started",
        )
        self.nodes: list[Node] = []

    def _ports(self) -> list[str]:
        """Ports Ray otherwise takes at fixed numbers (two clusters on one machine)."""
        return [
            f"--dashboard-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--metrics-export-port={free_port()}",
        ]

    def add_node(self, cpus: int = 1) -> Node:
        """A worker node joining the head: ``cpus`` CPUs and one ``trial_slot``."""
        node = Node(
            [
                f"--address={self.address}",
                "--node-ip-address=127.0.0.1",
                *self._ports(),
                f"--num-cpus={cpus}",
                f"--resources={json.dumps({SLOT: 1})}",
                f"--object-store-memory={OBJECT_STORE}",
                "--disable-usage-stats",
            ],
            self.env,
            "Ray runtime started",
        )
        self.nodes.append(node)
        return node

    def stop(self) -> None:
        for node in [*self.nodes, self.head]:
            node.kill()
        # Ray starts its workers in sessions of their own: they outlive the node's group
        # for ~30 s; every process of this cluster names its temp dir
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                with contextlib.suppress(OSError):
                    if self.temp.encode() in (proc / "cmdline").read_bytes():
                        os.kill(int(proc.name), signal.SIGKILL)
        shutil.rmtree(self.temp, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Cluster]:
    if importlib.util.find_spec("ray") is None:  # not imported: see ray_driver
        pytest.skip(RAY_MISSING)
    cluster = Cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def ray_driver(ray_cluster: Cluster) -> Iterator[Any]:
    """This test process connected to the cluster as a Ray driver (a backend finds the
    connection made and uses it), for one module: a Ray driver patches ``print`` (its
    progress bars) and handles SIGTERM, which the other tests must not inherit."""
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    saved["RAY_TQDM_PATCH_PRINT"] = os.environ.get("RAY_TQDM_PATCH_PRINT")
    os.environ.update({k: ray_cluster.env[k] for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")})
    os.environ["RAY_TQDM_PATCH_PRINT"] = "0"
    printer, on_sigterm = builtins.print, signal.getsignal(signal.SIGTERM)
    import ray  # after the token is in the environment: Ray reads it on import

    ray.init(address=ray_cluster.address, logging_level="WARNING")
    try:
        yield ray
    finally:
        ray.shutdown()
        builtins.print = printer
        signal.signal(signal.SIGTERM, on_sigterm)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def alive_actors(ray: Any) -> list[dict[str, Any]]:
    """The cluster's live ``TrialActor``s, from the GCS (the dashboard is off)."""
    from ray._private import state

    return [
        actor
        for actor in state.actors().values()
        if actor["ActorClassName"] == "TrialActor" and actor["State"] != "DEAD"
    ]


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
