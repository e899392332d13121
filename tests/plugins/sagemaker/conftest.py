"""Fixtures of the sagemaker backend's tests: the loopback AWS (``aws_cloud``), started
once per test session, and this process's view of it."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from aws_cloud import Cloud, aws_environ, start_cloud


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    running, process = start_cloud(tmp_path_factory.mktemp("aws"))
    yield running
    process.send_signal(signal.SIGTERM)
    process.wait(10)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process sees the emulator's credentials and region, and no real AWS config."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in aws_environ({}).items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def bucket(cloud: Cloud) -> str:
    return cloud.new_bucket()
