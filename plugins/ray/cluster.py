"""Reaching a Ray cluster and checking that it can hold the trials asked of it.

Ray's own ``ray.init`` waits a long time for an address where nothing answers, so the
address is tried first with a plain TCP connection that gives up within
``connect_timeout_s``. Resources are checked against the nodes alive at the start: a
trial needing more than any node has would wait forever in Ray's queue.
"""

from __future__ import annotations

import logging
import math
import socket
import time
from collections.abc import Mapping
from typing import Any

from hyperplug.errors import ConfigError

log = logging.getLogger(__name__)

#: ``resources_per_trial`` keys -> Ray's resource names (any other key is a custom
#: resource of the cluster, by its own name)
STANDARD = {"cpu": "CPU", "gpu": "GPU", "memory": "memory"}
#: what ``ray.cluster_resources()`` lists that no trial asks for
BOOKKEEPING = ("object_store_memory",)


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            "backend=ray needs Ray, which is not installed: pip install 'hyperplug[ray]'"
        ) from exc
    return ray


def ray_request(resources: Mapping[str, float]) -> dict[str, float]:
    """``resources_per_trial`` in Ray's names, zero amounts left out."""
    request = {}
    for key, amount in resources.items():
        name = STANDARD.get(key.lower(), key)
        if amount > 0:
            request[name] = float(amount)
    return request


def describe(resources: Mapping[str, float]) -> str:
    def amount(name: str, value: float) -> str:
        if name == "memory":
            return f"memory={value / 2**30:.3g}GiB"
        return f"{name}={value:g}"

    shown = {k: v for k, v in resources.items() if k not in BOOKKEEPING and ":" not in k}
    return " ".join(amount(k, v) for k, v in sorted(shown.items())) or "nothing"


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (``ray://`` stripped); a ``ConfigError`` when it is not one."""
    plain = address.removeprefix("ray://")
    host, _, port = plain.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            f"backend.address={address}: expected local, auto, HOST:PORT (the head's GCS, "
            "port 6379 by default) or ray://HOST:PORT (Ray Client, port 10001)"
        )
    return host.strip("[]"), int(port)


def resolve_auto(address: str) -> str:
    """The address ``auto`` stands for: ``RAY_ADDRESS``, else the cluster ``ray start``
    last started on this machine."""
    from ray._private.services import canonicalize_bootstrap_address

    try:
        found = canonicalize_bootstrap_address(address)
    except Exception as exc:
        raise ConfigError(f"backend.address={address}: {exc}") from exc
    if found is None:
        raise ConfigError(
            f"backend.address={address}: no Ray cluster was started on this machine (no "
            "RAY_ADDRESS, no `ray start --head` here); start one, give its HOST:PORT, or "
            "use backend.address=local for a private one"
        )
    return found


def probe(address: str, target: str, timeout_s: float) -> None:
    """A ``ConfigError`` within ``timeout_s`` when nothing answers at ``target``."""
    host, port = split_address(target)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return
    except OSError as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise ConfigError(
            f"backend.address={address}: nothing answers at {host}:{port} ({why} within "
            f"{timeout_s:g} s); is the Ray head running (`ray start --head`) and its port "
            "open from here?"
        ) from None


def connect(ray: Any, address: str, init: Mapping[str, Any], timeout_s: float) -> None:
    """``ray.init`` for ``address``: ``local`` starts a private one-node Ray, ``auto``
    joins the cluster started on this machine, ``HOST:PORT`` a cluster's head, and
    ``ray://HOST:PORT`` goes through Ray Client."""
    # Ray Client passes on the server's own warnings (one about the server's threads at
    # every connect); the actors' output still comes through
    level = logging.ERROR if address.startswith("ray://") else logging.WARNING
    options: dict[str, Any] = {"logging_level": level, **init}
    if address != "local":
        target = resolve_auto(address) if address == "auto" else address
        probe(address, target, timeout_s)
        options["address"] = address if address.startswith("ray://") else target
    else:
        options["address"] = "local"
    try:
        _init(ray, options)
    except TypeError as exc:  # an argument ray.init does not take
        raise ConfigError(f"backend.init: {exc}") from exc
    except (ConnectionError, ValueError, RuntimeError) as exc:
        why = " ".join(str(exc).split())[:300] or type(exc).__name__
        for key in init:  # an argument ray.init refuses for this address
            if key in why:
                raise ConfigError(f"backend.init.{key}: {why}") from exc
        hint = ""
        if CLIENT_SERVER_FAILED in why:
            hint = " (the head's Ray Client server could not start one for this driver)"
        elif isinstance(exc, ConnectionError):
            hint = (
                " (a cluster with token authentication refuses a driver that lacks its "
                "token; give it in RAY_AUTH_TOKEN or copy ~/.ray/auth_token from the head)"
            )
        raise ConfigError(f"backend.address={address}: Ray could not connect: {why}{hint}") from exc


#: Ray Client's proxy on the head starts a server process per driver; that start fails
#: now and then on a busy head (seen on a loaded 2-core machine, about one run in three
#: of the Ray Client test), and the next connect gets a fresh server on the next port
CLIENT_SERVER_FAILED = "Starting Ray client server failed"


def _init(ray: Any, options: Mapping[str, Any]) -> None:
    """``ray.init``, once more when Ray Client's server for this driver failed to start."""
    try:
        ray.init(**options)
    except ConnectionError as exc:
        if CLIENT_SERVER_FAILED not in str(exc):
            raise
        time.sleep(1.0)
        ray.init(**options)


def capacity(ray: Any, resources: Mapping[str, float]) -> int:
    """How many trials of ``resources`` the cluster's live nodes hold at once; a
    ``ConfigError`` for a resource the cluster does not have or a trial no node fits."""
    request = ray_request(resources)
    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    known = {name for node in nodes for name in node}
    for key in resources:
        name = STANDARD.get(key.lower(), key)
        if name not in STANDARD.values() and name not in known:
            custom = sorted(k for k in known if k not in STANDARD.values() and k not in BOOKKEEPING)
            listed = ", ".join(k for k in custom if not k.startswith("node:")) or "none"
            raise ConfigError(
                f"backend.resources_per_trial.{key}: the Ray cluster has no resource "
                f"'{name}' (keys: cpu, gpu, memory, or a custom resource of its nodes: "
                f"{listed})"
            )
    fits = [node for node in nodes if all(node.get(k, 0) >= v for k, v in request.items())]
    if not fits:
        largest = max(nodes, key=lambda n: tuple(n.get(k, 0) for k in request), default={})
        raise ConfigError(
            f"backend.resources_per_trial: a trial asks for {describe(request)}, more than "
            f"any node of the Ray cluster has (the largest: {describe(largest)}); ask for "
            "less or add a node that big"
        )
    if not request:
        return max(1, len(fits))
    return sum(min(math.floor(node.get(k, 0) / v) for k, v in request.items()) for node in fits)
