"""End-to-end on the loopback AWS: the ``hyperplug`` console script with
``backend=sagemaker``, and a study process killed while its jobs run, then run again."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from aws_cloud import HERE, ROLE, Cloud, aws_environ, bucket, cloud  # noqa: F401 (fixtures)

from hyperplug.plugins.store import LocalStore, LocalStoreConfig

pytestmark = pytest.mark.e2e

HYPERPLUG = str(Path(sys.executable).parent / "hyperplug")


def overrides(cloud: Cloud, bucket: str) -> list[str]:
    return [
        f"backend.{key}={value}" for key, value in cloud.backend(bucket).items() if key != "name"
    ]


def hyperplug(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**aws_environ(), "COLUMNS": "200"}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [HYPERPLUG, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_a_one_trial_study_runs_as_a_job_and_versions_its_weights(
    cloud: Cloud, bucket: str, tmp_path: Path
) -> None:
    """backend=sagemaker is where the trial runs even when the study has one trial (the
    local backends run a lone trial in the study process)."""
    fast = ["trainer.epochs=2", "trainer.hidden_layers=[16]", "trainer.threads=1"]
    done = hyperplug(tmp_path, "backend=sagemaker", *overrides(cloud, bucket), *fast)
    assert done.returncode == 0, done.stderr[-2000:]
    client = cloud.client("sagemaker")
    [request] = [r for r in cloud.requests() if f"s3://{bucket}/" in str(r["InputDataConfig"])]
    job = client.describe_training_job(TrainingJobName=request["TrainingJobName"])
    assert job["TrainingJobStatus"] == "Completed"
    assert request["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert request["RoleArn"] == ROLE
    assert "pytorch-training:" in request["AlgorithmSpecification"]["TrainingImage"]
    assert "/ml/code/hyperplug/hyperplug: trial" in cloud.log(job["TrainingJobName"])
    [version] = LocalStore(
        LocalStoreConfig(root=str(tmp_path / ".hyperplug" / "models"))
    ).list_versions()
    assert version.name == "digits_model" and version.meta.trial_id is not None


def test_bad_input_exits_2_in_one_line_and_writes_nothing(cloud: Cloud, tmp_path: Path) -> None:
    done = hyperplug(
        tmp_path, "backend=sagemaker", "backend.s3_prefix=s3://some-bucket/hp", "backend.region=x"
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "hyperplug: error: backend.role is not set: give the IAM role the training jobs run "
        "as, e.g. backend.role=arn:aws:iam::123456789012:role/Training"
    ]
    assert not (tmp_path / ".hyperplug" / "hyperplug.db").exists()
    assert not (tmp_path / ".hyperplug" / "models").exists()


STUDY = """
import json
import os
import sys

sys.path.insert(0, {here!r})
from paced import PacedTrainer

from hyperplug.api import build
from hyperplug.testing import blobs_splits
from hyperplug.tuner import Tuner

tracker = build("tracker", name="sqlite", path="hp.db")
tuner = Tuner(
    metadata_tracker=tracker,
    metrics_tracker=tracker,
    resource_version_control=build("vcs", name="store", root="models"),
    training_params={{PacedTrainer: {{"lr": [1.0, 0.3, 0.1], "pause_s": [0.4], "epochs": [6]}}}},
    backend=build("backend", **json.loads(os.environ["BACKEND"])),
    home="home",
    study_name="killed",
)
tuner.run_experiment(blobs_splits())
print("winner", tuner.winner.ref)
"""


def reported(db: Path) -> dict[int, set[int]]:
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT trial_id, epoch FROM metrics").fetchall()
    except sqlite3.OperationalError:  # its tables are not made yet
        return {}
    epochs: dict[int, set[int]] = {}
    for trial, epoch in rows:
        epochs.setdefault(trial, set()).add(epoch)
    return epochs


def test_a_killed_study_process_reattaches_to_its_running_jobs(
    cloud: Cloud, bucket: str, tmp_path: Path
) -> None:
    script = tmp_path / "study.py"
    script.write_text(textwrap.dedent(STUDY.format(here=str(HERE))))
    node: dict[str, Any] = cloud.backend(bucket, n_workers=3, environment={"PYTHONPATH": str(HERE)})
    env = {**aws_environ(), "BACKEND": json.dumps(node)}
    command = [sys.executable, str(script)]
    study = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(reported(tmp_path / "hp.db")) < 3:  # every trial's job has reported
        assert study.poll() is None, study.stderr.read() if study.stderr else ""
        assert time.monotonic() < deadline, "the jobs did not report"
        time.sleep(0.1)
    os.kill(study.pid, signal.SIGKILL)
    study.wait()
    client = cloud.client("sagemaker")
    names = [r["TrainingJobName"] for r in cloud.requests() if bucket in str(r["InputDataConfig"])]
    states = [client.describe_training_job(TrainingJobName=n)["TrainingJobStatus"] for n in names]
    assert len(names) == 3 and "InProgress" in states, states

    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "winner model:v1" in again.stdout
    rerun = [r["TrainingJobName"] for r in cloud.requests() if bucket in str(r["InputDataConfig"])]
    assert rerun == names  # no trial's job was started again
    assert all(
        client.describe_training_job(TrainingJobName=n)["TrainingJobStatus"] == "Completed"
        for n in names
    )
    assert sorted(map(sorted, reported(tmp_path / "hp.db").values())) == [[1, 2, 3, 4, 5, 6]] * 3
    with sqlite3.connect(tmp_path / "hp.db") as conn:
        statuses = [s for (s,) in conn.execute("SELECT status FROM trials")]
    assert statuses == ["completed"] * 3
