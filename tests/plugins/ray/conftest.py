"""Fixtures of the ``ray`` backend's tests: one real Ray cluster for the session
(``ray_cluster.Cluster``), and this process connected to it as a driver."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from ray_cluster import Cluster


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Cluster]:
    cluster = Cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def ray_driver(ray_cluster: Cluster) -> Iterator[Any]:
    """This test process connected to the cluster as a Ray driver (a backend finds the
    connection made and uses it)."""
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    os.environ.update({k: ray_cluster.env[k] for k in saved})
    import ray  # after the token is in the environment: Ray reads it on import

    ray.init(address=ray_cluster.address, logging_level="WARNING")
    try:
        yield ray
    finally:
        ray.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
