"""Studies whose trials run as training jobs on the loopback AWS: early stopping through
StopTrainingJob, the winner's weights back from its job's output, retries from S3
checkpoints, jobs that fail, are stopped from outside or outrun their limit, throttled
API calls, and an update trial whose parent model travels with its data."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
from aws_cloud import HERE, Cloud, aws_env, bucket, cloud  # noqa: F401 (fixtures)
from paced import PacedTrainer

from hyperplug.api import build, update
from hyperplug.data import ArraySplit, fingerprint_arrays
from hyperplug.interfaces import DataRecipe, TrialTask
from hyperplug.plugins.sagemaker.wire import read_data
from hyperplug.testing.backend import RecordingDriver
from hyperplug.testing.data import blobs_splits
from hyperplug.tuner import Tuner
from hyperplug.update_state import UpdateData

#: the jobs import the paced trainer from this folder
JOB_ENV = {"PYTHONPATH": str(HERE)}


def sagemaker(cloud: Cloud, bucket: str, **overrides: Any) -> Any:
    node = cloud.backend(bucket, environment=JOB_ENV, **overrides)
    return build("backend", **node)


def paced_tuner(tmp_path: Path, backend: Any, params: dict[str, Any], **kwargs: Any) -> Tuner:
    tracker = build("tracker", name="sqlite", path=str(tmp_path / "hp.db"))
    return Tuner(
        metadata_tracker=tracker,
        metrics_tracker=tracker,
        resource_version_control=build("vcs", name="store", root=str(tmp_path / "models")),
        training_params={PacedTrainer: params},
        backend=backend,
        home=tmp_path / "home",
        study_name="paced",
        **kwargs,
    )


def jobs_of(cloud: Cloud, bucket: str) -> list[dict[str, Any]]:
    """The training jobs of the tests' bucket, oldest first, as DescribeTrainingJob says."""
    client = cloud.client("sagemaker")
    names = [
        r["TrainingJobName"]
        for r in cloud.requests()
        if f"s3://{bucket}/" in str(r["InputDataConfig"])
    ]
    return [client.describe_training_job(TrainingJobName=name) for name in names]


def test_asha_stops_jobs_early_and_the_winner_comes_back_from_its_job(
    cloud: Cloud, aws_env: None, bucket: str, tmp_path: Path
) -> None:
    backend = sagemaker(cloud, bucket, n_workers=2)
    optimizer = build("optimizer", name="asha", max_epochs=9, max_trials=6, seed=1)
    lrs = [3.0, 1.0, 0.3, 0.01, 0.003, 0.001]
    params = {"lr": lrs, "pause_s": 0.25}
    tuner = paced_tuner(tmp_path, backend, params, optimizer=optimizer, perf_metric="val_loss")
    data = blobs_splits()
    model = tuner.run_experiment(data)
    trials = tuner.metadata_tracker.list_trials(tuner.study.id)
    assert len(trials) == 6 and {t.status for t in trials} <= {"completed", "stopped"}
    stopped = [t for t in trials if t.status == "stopped"]
    assert stopped, "ASHA stopped no trial"
    jobs = {j["TrainingJobName"].split("-")[-2]: j for j in jobs_of(cloud, bucket)}
    for trial in stopped:
        epochs = {m.epoch for m in tuner.metrics_tracker.get_metrics(trial.id)}
        assert max(epochs) < 9, f"trial {trial.id} ran all its epochs"
        assert jobs[str(trial.id)]["TrainingJobStatus"] == "Stopped"
    # the winner's version holds the weights its job staged: they score what was recorded
    winner = tuner.winner
    assert winner is not None and winner.meta.trial_id is not None
    weights, _ = tuner.resource_version_control.load(winner.ref)
    np.testing.assert_array_equal(weights["w"], model.state_dict()["w"])
    recorded = next(t for t in trials if t.id == winner.meta.trial_id).metrics
    assert model.evaluate(data.val)["loss"] == pytest.approx(recorded["val_loss"])
    calls = backend.aws.calls
    assert calls["sagemaker.CreateTrainingJob"] == 6
    assert calls["sagemaker.StopTrainingJob"] >= len(stopped)


def test_a_failed_job_is_retried_from_its_checkpoint_and_its_reason_is_the_trials_error(
    cloud: Cloud, aws_env: None, bucket: str, tmp_path: Path
) -> None:
    transient = tmp_path / "transient.log"
    backend = sagemaker(cloud, bucket, n_workers=2)
    optimizer = build("optimizer", name="grid", max_retries=1)
    params = {"fail_at": [2], "log": [str(transient), ""], "epochs": [4]}
    tuner = paced_tuner(tmp_path, backend, params, optimizer=optimizer)
    tuner.run_experiment(blobs_splits())
    trials = {t.params["log"]: t for t in tuner.metadata_tracker.list_trials(tuner.study.id)}
    # the transient fault: a second job continued from the first one's S3 checkpoint
    assert trials[str(transient)].status == "completed"
    assert transient.read_text().split() == ["1", "2", "2", "3", "4"]
    # the permanent fault: both jobs failed, the job's FailureReason is the trial's error
    assert trials[""].status == "failed"
    assert trials[""].error == "RuntimeError: fault at epoch 2"
    failed = [j for j in jobs_of(cloud, bucket) if j["TrainingJobStatus"] == "Failed"]
    assert len(failed) == 3 and all("fault at epoch 2" in j["FailureReason"] for j in failed)
    # the trials ended for good: their checkpoints are gone from S3
    listed = cloud.client("s3").list_objects_v2(Bucket=bucket, Prefix="hp/checkpoints/")
    assert listed.get("KeyCount", 0) == 0


def test_jobs_stopped_from_outside_or_past_their_max_run_fail_their_trials_despite_throttling(
    cloud: Cloud, aws_env: None, bucket: str, tmp_path: Path
) -> None:
    """Every third SageMaker call is throttled: the backend's calls are retried with
    backoff and every outcome still comes back."""
    backend = sagemaker(cloud, bucket, n_workers=3, max_run_s=4)
    data = blobs_splits()
    driver = RecordingDriver()
    client = cloud.client("sagemaker")

    def paced(trial_id: int, **config: Any) -> TrialTask:
        config = {"name": "paced", "epochs": 20, "pause_s": 0.5, **config}
        stage = str(tmp_path / "home" / "studies" / "s" / "trials" / str(trial_id))
        return TrialTask(trial_id, PacedTrainer, {}, config, "val_accuracy", "max", stage)

    def stop_from_outside() -> None:  # someone stops trial 0's job in the console
        while not any(j.task.trial_id == 0 for j in backend.jobs.values()):
            time.sleep(0.05)
        client.stop_training_job(TrainingJobName=backend.jobs[0].name)

    cloud.throttle(3)
    try:
        backend.start(DataRecipe(data.fingerprint, data=data), driver)
        outsider = threading.Thread(target=stop_from_outside)
        outsider.start()
        for task in (paced(0), paced(1), paced(2, epochs=2, pause_s=0)):
            backend.submit(task)
        deadline = time.monotonic() + 90
        while len(driver.ends) < 3 and time.monotonic() < deadline:
            backend.poll(0.5)
        outsider.join()
    finally:
        cloud.throttle(0)
        backend.shutdown()
    [stopped], [outrun], [completed] = driver.ends[0], driver.ends[1], driver.ends[2]
    assert stopped.error is not None and "was stopped outside the study (Stopped)" in stopped.error
    assert outrun.error is not None and "(MaxRuntimeExceeded)" in outrun.error
    assert completed.error is None and completed.staged
    assert cloud.stats()["throttled"] > 0


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_an_update_trial_runs_in_a_job_from_its_parent(
    cloud: Cloud, aws_env: None, bucket: str, tmp_path: Path, digits_splits: Any
) -> None:
    home = tmp_path / "home"
    small = {"name": "mlp", "hidden_layers": [16], "epochs": 2, "threads": 1}
    first = update(
        digits_splits, model_name="digits", updater="fine_tuning", trainer=small, home=home
    )
    parent = first.winner
    assert parent is not None
    train = digits_splits.train
    chunk = attrs.evolve(
        digits_splits,
        train=ArraySplit(train.x[::2], train.y[::2]),
        fingerprint=fingerprint_arrays(train.x[::2], train.y[::2]),
    )
    backend = build("backend", **cloud.backend(bucket))
    second = update(chunk, model=parent.ref, updater="fine_tuning", backend=backend, home=home)
    assert second.winner is not None and second.winner.meta.parent == parent.ref
    [job] = jobs_of(cloud, bucket)
    assert job["TrainingJobStatus"] == "Completed"
    # the job trained from the parent: its data carried version N's weights
    s3 = cloud.client("s3")
    [item] = s3.list_objects_v2(Bucket=bucket, Prefix="hp/data/")["Contents"]
    s3.download_file(bucket, item["Key"], str(tmp_path / "data.safetensors"))
    sent = read_data(tmp_path / "data.safetensors")
    assert isinstance(sent, UpdateData) and sent.base.parent == parent.ref
    weights, _ = build("vcs", name="store", root=str(home / "models")).load(parent.ref)
    for key, value in sent.base.weights.items():
        np.testing.assert_array_equal(value, weights[key])
