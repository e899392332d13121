"""The loopback AWS of the sagemaker backend's tests: ``Cloud`` (a running ``emulator.py``:
moto's S3 in server mode, and SageMaker's training-job calls served by the emulator,
which runs each job's entry point as a local process), the environment that points
boto3 at it, and their fixtures (a test module imports them: a ``conftest.py`` here
would shadow the ``conftest`` module other test folders import from)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

HERE = Path(__file__).parent
ROLE = "arn:aws:iam::123456789012:role/Training"
REGION = "us-east-1"
#: the fake credentials of the loopback AWS (moto accepts any)
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@attrs.define
class Cloud:
    """The running emulator: its endpoints and its test controls."""

    s3_url: str
    sagemaker_url: str
    state: Path

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.sagemaker_url}{path}", timeout=10) as response:
            return json.loads(response.read())

    def stats(self) -> dict[str, Any]:
        return self._get("/_emulator/stats")

    def requests(self) -> list[dict[str, Any]]:
        """Every CreateTrainingJob request the emulator received."""
        return self._get("/_emulator/requests")

    def throttle(self, every: int) -> None:
        request = urllib.request.Request(
            f"{self.sagemaker_url}/_emulator/throttle",
            data=json.dumps({"every": every}).encode(),
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).close()

    def client(self, service: str) -> Any:
        import boto3

        url = self.s3_url if service == "s3" else self.sagemaker_url
        return boto3.client(service, endpoint_url=url, region_name=REGION, **_keys())

    def new_bucket(self) -> str:
        name = f"hp-{secrets.token_hex(4)}"
        self.client("s3").create_bucket(Bucket=name)
        return name

    def log(self, job: str) -> str:
        """What the job's process printed (its CloudWatch log on AWS)."""
        path = self.state / "jobs" / job / "log.txt"
        return path.read_text() if path.exists() else ""

    def backend(self, bucket: str, **overrides: Any) -> dict[str, Any]:
        """A ``backend=sagemaker`` config node for this emulator."""
        return {
            "name": "sagemaker",
            "role": ROLE,
            "s3_prefix": f"s3://{bucket}/hp",
            "region": REGION,
            "endpoint_url": self.sagemaker_url,
            "s3_endpoint_url": self.s3_url,
            "poll_interval_s": 0.2,
            **overrides,
        }


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def aws_environ(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the emulator's credentials
    and region and no real AWS configuration (profiles, config files)."""
    env = {k: v for k, v in (base or os.environ).items() if not k.startswith("AWS_")}
    env.update(CREDENTIALS)
    env["AWS_DEFAULT_REGION"] = REGION
    # no instance metadata lookup (an address off this machine) when credentials are missing
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return env


def start_cloud(state: Path) -> tuple[Cloud, subprocess.Popen[bytes]]:
    """Start ``emulator.py`` with its state in ``state``; wait for its endpoints."""
    env = aws_environ()
    # the jobs' "image" is this Python environment: its python3 first on PATH
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    process = subprocess.Popen(
        [sys.executable, str(HERE / "emulator.py"), str(state), "20"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(state / "emulator.err", "wb"),  # noqa: SIM115 - the process keeps it
    )
    endpoints = state / "endpoints.json"
    deadline = time.monotonic() + 60
    while not endpoints.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"the emulator did not start: {(state / 'emulator.err').read_text()}"
            )
        time.sleep(0.05)
    urls = json.loads(endpoints.read_text())
    return Cloud(urls["s3"], urls["sagemaker"], state), process


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    for module, extra in (("boto3", "sagemaker"), ("moto", "dev"), ("flask", "dev")):
        pytest.importorskip(
            module, reason=f"backend=sagemaker's tests need {module} (hyperplug[{extra}])"
        )
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
