"""The ``sagemaker`` backend: one SageMaker training job per trial.

The study process keeps the tracker, the optimizer and the store; this backend only
moves trials to SageMaker and their results back:

* ``start``: the study's data goes to ``<s3_prefix>/data/<content key>/`` and the code
  channel to ``<s3_prefix>/code/<digest>/``, each only if it is not there already.
* ``submit``: the task goes to ``<s3_prefix>/jobs/<job>/task/task.json`` and
  CreateTrainingJob starts the job (``entry`` runs the trial in it). The job's name is
  recorded in the trial's stage directory first, so a study process that was killed
  finds the job of a trial it resumes and re-attaches to it (a job still running, or
  completed meanwhile) instead of starting another.
* ``poll`` (every ``poll_interval_s``): DescribeTrainingJob and the job's metrics object
  for each running job; new epochs go to the driver, and a "stop" answer (ASHA, RUSH, a
  non-finite value) becomes StopTrainingJob. When a job ends, its ``model.tar.gz`` gives
  the trial's staged weights; a failed job's FailureReason is the trial's error.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import secrets
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import attrs

from hyperplug.data import DataSplits
from hyperplug.errors import ConfigError, HyperplugError, StorageError
from hyperplug.interfaces import Backend, DataRecipe, TrialDriver, TrialEnd, TrialTask
from hyperplug.plugins.sagemaker.aws import (
    Aws,
    connect,
    error_code,
    error_text,
    join_key,
    preflight,
    s3_exists,
)
from hyperplug.plugins.sagemaker.config import (
    SageMakerBackendConfig,
    default_image_uri,
    split_s3_uri,
)
from hyperplug.plugins.sagemaker.shipping import code_channel, job_requirements
from hyperplug.plugins.sagemaker.wire import data_key, encode_task, write_data
from hyperplug.staging import RECORD, WEIGHTS

log = logging.getLogger(__name__)

#: the file in a trial's stage directory that names its current job
MARKER = "sagemaker-job.json"
DATA_FILE = "data.safetensors"
RUNNING = ("InProgress", "Stopping")
ENDED = ("Completed", "Failed", "Stopped")
#: the job's command: the bootstrap from the code channel (each item <= 256 characters)
ENTRYPOINT = [
    "/bin/sh",
    "-c",
    'exec python3 "${HYPERPLUG_ML_ROOT:-/opt/ml}/input/data/code/bootstrap.py"',
]


@attrs.define
class Job:
    """A trial's training job, as this process follows it."""

    task: TrialTask
    name: str
    #: entries of its metrics object already handed to the driver
    seen: int = 0
    etag: str | None = None
    #: the study stopped it (early stopping, budget): Stopped is a normal end then
    stop_requested: bool = False
    #: when the stop was asked (``time.monotonic``), for the slot-release figure
    stop_at: float | None = None
    #: a trial that ends without a job (a task that cannot be sent): its error
    error: str | None = None


class SageMakerBackend(Backend):
    """See the module docstring; configured by ``SageMakerBackendConfig``."""

    inline_single_trial: ClassVar[bool] = False

    def __init__(self, config: SageMakerBackendConfig) -> None:
        self.config = config
        self.aws: Aws = connect(config)
        preflight(config, self.aws)
        self.bucket, self.prefix = split_s3_uri(config.s3_prefix)
        self.image = config.image_uri or default_image_uri(self.aws.region, config.instance_type)
        self.driver: TrialDriver | None = None
        self.jobs: dict[int, Job] = {}
        self.data_prefix = ""
        self.code_prefix = ""
        self.requirements = job_requirements(config.ship_code, list(config.requirements))
        self.next_poll = 0.0
        #: S3 keys this backend uploaded (data and code); none for data already there
        self.uploaded: list[str] = []
        #: jobs whose end was handed to the driver: never adopted again
        self.delivered: set[str] = set()
        #: trial id -> S3 checkpoint prefix of the trials whose last job ended in this
        #: run (deleted at shutdown: they are done, or start afresh when run again)
        self.ended: dict[int, str] = {}
        #: seconds from each stop request to the end that freed the slot
        self.stop_latencies: list[float] = []

    # ------------------------------------------------------------------ setup

    def start(self, recipe: DataRecipe, driver: TrialDriver) -> None:
        self.driver = driver
        data = recipe.data
        if data is None:
            from hyperplug.trial_runner import load_recipe

            data = load_recipe(recipe)
        try:
            self._upload_inputs(data)
        except HyperplugError:
            raise
        except Exception as exc:
            raise StorageError(
                f"backend=sagemaker: uploading the study's inputs to {self.config.s3_prefix}: "
                f"{error_text(exc)}"
            ) from exc

    def _upload_inputs(self, data: DataSplits) -> None:
        """The data and the code channel, each unless it is there already."""
        self.data_prefix = join_key(self.prefix, "data", data_key(data))
        if not s3_exists(self.aws, self.bucket, join_key(self.data_prefix, DATA_FILE)):
            with tempfile.TemporaryDirectory(prefix="hyperplug-data-") as tmp:
                path = Path(tmp) / DATA_FILE
                write_data(data, path)
                self._upload_file(path, join_key(self.data_prefix, DATA_FILE))
        channel = code_channel(self.config.ship_code)
        self.code_prefix = join_key(self.prefix, "code", channel.digest[:32])
        names = sorted(channel.files)
        # the last file is written last: when it is there, the channel is whole
        if not s3_exists(self.aws, self.bucket, join_key(self.code_prefix, names[-1])):
            for name in names:
                key = join_key(self.code_prefix, name)
                self.aws.s3.put_object(Bucket=self.bucket, Key=key, Body=channel.files[name])
                self.uploaded.append(key)

    def _upload_file(self, path: Path, key: str) -> None:
        self.aws.s3.upload_file(str(path), self.bucket, key)
        self.uploaded.append(key)

    # ------------------------------------------------------------------ trials

    def free_slots(self) -> int:
        return self.config.n_workers - len(self.jobs)

    def submit(self, task: TrialTask) -> None:
        self.ended.pop(task.trial_id, None)  # a retry: its checkpoint is needed
        job = self._adopt(task)
        if job is None:
            job = self._create(task)
        self.jobs[task.trial_id] = job

    def _adopt(self, task: TrialTask) -> Job | None:
        """The trial's job left by an earlier study process, when it still runs or has
        completed (or ends from a stop the study asked for)."""
        marker = _marker(task)
        if marker is None or not marker.exists():
            return None
        recorded = json.loads(marker.read_text())
        name, asked = recorded["job"], bool(recorded.get("stop_requested"))
        if name in self.delivered:
            return None
        try:
            status = self.aws.sagemaker.describe_training_job(TrainingJobName=name)
        except Exception as exc:
            if _not_found(exc):
                return None
            raise HyperplugError(
                f"backend=sagemaker: DescribeTrainingJob {name}: {error_text(exc)}"
            ) from exc
        state = status["TrainingJobStatus"]
        if state in ("InProgress", "Completed") or (state in ("Stopping", "Stopped") and asked):
            log.info("trial %s: re-attached to training job %s (%s)", task.trial_id, name, state)
            return Job(task, name, stop_requested=asked)
        return None

    def _create(self, task: TrialTask) -> Job:
        name = self._job_name(task)
        job = Job(task, name)
        checkpoints = self.config.checkpoints and task.stage_dir is not None
        job_prefix = join_key(self.prefix, "jobs", name)
        try:
            body = encode_task(
                task,
                job=name,
                data_file=DATA_FILE,
                metrics_uri=f"s3://{self.bucket}/{join_key(job_prefix, 'metrics.json')}",
                requirements=self.requirements,
                checkpoints=checkpoints,
            )
        except ConfigError as exc:
            job.error = str(exc)
            return job
        _write_marker(task, {"job": name})
        log.info("trial %s: training job %s", task.trial_id, name)
        try:
            task_key = join_key(job_prefix, "task", "task.json")
            self.aws.s3.put_object(Bucket=self.bucket, Key=task_key, Body=body.encode())
            request = self._request(task, name, job_prefix, checkpoints)
            self.aws.sagemaker.create_training_job(**request)
        except Exception as exc:
            if isinstance(exc, HyperplugError):
                raise
            job.error = f"CreateTrainingJob {name}: {error_text(exc)}"
        return job

    def _job_name(self, task: TrialTask) -> str:
        """``<job_prefix>-<study>-<trial id>-<stamp>``, at most 63 characters."""
        stamp = f"{_base36(int(time.time() * 1000))}{secrets.token_hex(2)}"
        tail = f"-{task.trial_id}-{stamp}"
        study = re.sub(r"[^a-zA-Z0-9]+", "-", _study_name(task)).strip("-") or "study"
        room = 63 - len(self.config.job_prefix) - 1 - len(tail)
        study = study[:room].strip("-")
        return (
            f"{self.config.job_prefix}-{study}{tail}"
            if study
            else f"{self.config.job_prefix}{tail}"
        )

    def _request(
        self, task: TrialTask, name: str, job_prefix: str, checkpoints: bool
    ) -> dict[str, Any]:
        config = self.config
        s3 = f"s3://{self.bucket}"

        def channel(channel_name: str, key: str) -> dict[str, Any]:
            source = {"S3DataType": "S3Prefix", "S3Uri": f"{s3}/{key}/"}
            source["S3DataDistributionType"] = "FullyReplicated"
            return {"ChannelName": channel_name, "DataSource": {"S3DataSource": source}}

        stopping: dict[str, int] = {"MaxRuntimeInSeconds": config.max_run_s}
        if config.spot:
            stopping["MaxWaitTimeInSeconds"] = config.max_wait_s or 2 * config.max_run_s
        tags = {
            **config.tags,
            "hyperplug:study": _study_name(task)[:256],
            "hyperplug:trial": str(task.trial_id),
        }
        request: dict[str, Any] = {
            "TrainingJobName": name,
            "RoleArn": config.role,
            "AlgorithmSpecification": {
                "TrainingImage": self.image,
                "TrainingInputMode": "File",
                "ContainerEntrypoint": ENTRYPOINT,
            },
            "InputDataConfig": [
                channel("task", join_key(job_prefix, "task")),
                channel("data", self.data_prefix),
                channel("code", self.code_prefix),
            ],
            "OutputDataConfig": {"S3OutputPath": f"{s3}/{join_key(self.prefix, 'output')}"},
            "ResourceConfig": {
                "InstanceType": config.instance_type,
                "InstanceCount": config.instance_count,
                "VolumeSizeInGB": config.volume_size_gb,
            },
            "StoppingCondition": stopping,
            "EnableManagedSpotTraining": config.spot,
            "Environment": dict(config.environment),
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
        }
        if checkpoints:
            request["CheckpointConfig"] = {"S3Uri": f"{s3}/{self._checkpoint_prefix(task)}/"}
        return request

    def _checkpoint_prefix(self, task: TrialTask) -> str:
        """Per study (its name and where its directory is) and trial: every attempt of a
        trial finds the checkpoint of the one before."""
        where = hashlib.sha256(str(_study_dir(task)).encode()).hexdigest()[:8]
        return join_key(
            self.prefix, "checkpoints", f"{_study_name(task)}-{where}", str(task.trial_id)
        )

    # ------------------------------------------------------------------ events

    def poll(self, timeout: float) -> None:
        assert self.driver is not None
        for job in [j for j in self.jobs.values() if j.error is not None]:
            self._end(job, TrialEnd(job.task.trial_id, job.error))
        if not self.jobs:
            return
        delay = self.next_poll - time.monotonic()
        if delay > timeout:
            time.sleep(timeout)
            return
        time.sleep(max(0.0, delay))
        self.next_poll = time.monotonic() + self.config.poll_interval_s
        for job in list(self.jobs.values()):
            self._check(job)

    def _check(self, job: Job) -> None:
        try:
            status = self.aws.sagemaker.describe_training_job(TrainingJobName=job.name)
        except Exception as exc:
            raise HyperplugError(
                f"backend=sagemaker: DescribeTrainingJob {job.name}: {error_text(exc)}"
            ) from exc
        self._read_metrics(job)
        state = status["TrainingJobStatus"]
        if state not in ENDED:
            return
        trial_id = job.task.trial_id
        if state == "Failed":
            reason = str(status.get("FailureReason") or f"training job {job.name} failed")
            reason = reason.strip().removeprefix("AlgorithmError: ").strip()
            self._end(job, TrialEnd(trial_id, reason.splitlines()[0] if reason else state))
        elif state == "Stopped" and not job.stop_requested:
            why = status.get("SecondaryStatus") or "Stopped"
            error = f"training job {job.name} was stopped outside the study ({why})"
            self._end(job, TrialEnd(trial_id, error))
        else:
            try:
                staged = self._fetch_model(job, status)
            except Exception as exc:
                error = f"the weights of training job {job.name} could not be fetched: "
                self._end(job, TrialEnd(trial_id, error + error_text(exc)))
                return
            self._end(job, TrialEnd(trial_id, None, staged=staged))

    def _read_metrics(self, job: Job) -> None:
        """Hand the epochs the job wrote since the last look to the driver; stop the job
        when the driver says so."""
        assert self.driver is not None
        key = join_key(self.prefix, "jobs", job.name, "metrics.json")
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if job.etag:
            request["IfNoneMatch"] = job.etag
        try:
            response = self.aws.s3.get_object(**request)
        except Exception as exc:
            if error_code(exc) in ("304", "NotModified", "NoSuchKey", "404"):
                return
            raise HyperplugError(f"backend=sagemaker: reading {key}: {error_text(exc)}") from exc
        job.etag = response.get("ETag")
        epochs = json.loads(response["Body"].read())["epochs"]
        for epoch, metrics in epochs[job.seen :]:
            job.seen += 1
            keep = self.driver.on_report(job.task.trial_id, int(epoch), metrics)
            if not keep and not job.stop_requested:
                self._stop_job(job, asked=True)

    def _fetch_model(self, job: Job, status: dict[str, Any]) -> bool:
        """Unpack the weights and record from the job's model.tar.gz into the trial's stage
        directory (the record last: a directory without it is not staged)."""
        uri = (status.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
        if not uri or job.task.stage_dir is None:
            return False
        bucket, key = split_s3_uri(uri)
        body = self.aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        stage = Path(job.task.stage_dir)
        stage.mkdir(parents=True, exist_ok=True)
        found: dict[str, bytes] = {}
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            for member in archive.getmembers():
                name = member.name.removeprefix("./")
                if member.isfile() and name in (WEIGHTS, RECORD):
                    extracted = archive.extractfile(member)
                    assert extracted is not None
                    found[name] = extracted.read()
        if set(found) != {WEIGHTS, RECORD}:
            return False
        for name in (WEIGHTS, RECORD):
            tmp = stage / f".{name}.download"
            tmp.write_bytes(found[name])
            tmp.replace(stage / name)
        return True

    def _end(self, job: Job, end: TrialEnd) -> None:
        assert self.driver is not None
        del self.jobs[job.task.trial_id]
        self.delivered.add(job.name)
        self.ended[job.task.trial_id] = self._checkpoint_prefix(job.task)
        if job.stop_at is not None:
            self.stop_latencies.append(time.monotonic() - job.stop_at)
        self.driver.on_end(end)

    # ------------------------------------------------------------------ stopping

    def stop(self, trial_id: int) -> None:
        job = self.jobs.get(trial_id)
        if job is not None and not job.stop_requested and job.error is None:
            self._stop_job(job, asked=True)

    def _stop_job(self, job: Job, asked: bool) -> None:
        """StopTrainingJob. ``asked``: the study stopped the trial (its end is normal);
        else the study is going away and a rerun resumes the trial in a new job."""
        if asked:
            job.stop_requested, job.stop_at = True, time.monotonic()
            _write_marker(job.task, {"job": job.name, "stop_requested": True})
        try:
            self.aws.sagemaker.stop_training_job(TrainingJobName=job.name)
        except Exception as exc:
            if error_code(exc) != "ValidationException":  # it has ended already
                log.warning("StopTrainingJob %s: %s", job.name, error_text(exc))

    def shutdown(self) -> None:
        """Jobs still running are stopped (the study ends early: an error, Ctrl-C); the
        checkpoints of the trials that ended in this run are deleted from S3."""
        for job in list(self.jobs.values()):
            if job.error is None:
                # its trial is interrupted: a rerun starts a new job from its checkpoint
                _write_marker(job.task, {"job": job.name})
                if not job.stop_requested:
                    self._stop_job(job, asked=False)
        self.jobs.clear()
        if self.config.checkpoints:
            for prefix in self.ended.values():
                self._delete_checkpoint(prefix)
        self.ended.clear()

    def _delete_checkpoint(self, prefix: str) -> None:
        try:
            listed = self.aws.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"{prefix}/")
            keys = [{"Key": item["Key"]} for item in listed.get("Contents", [])]
            if keys:
                self.aws.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})
        except Exception as exc:  # leftovers cost storage, not correctness
            log.warning("could not delete checkpoint %s: %s", prefix, error_text(exc))


def _marker(task: TrialTask) -> Path | None:
    return None if task.stage_dir is None else Path(task.stage_dir) / MARKER


def _write_marker(task: TrialTask, record: dict[str, Any]) -> None:
    marker = _marker(task)
    if marker is None:
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_name(f".{MARKER}.tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(marker)


def _study_dir(task: TrialTask) -> Path | None:
    """``<home>/studies/<study>`` of a task staged in ``<study dir>/trials/<id>``."""
    if task.stage_dir is None:
        return None
    return Path(task.stage_dir).resolve().parent.parent


def _study_name(task: TrialTask) -> str:
    directory = _study_dir(task)
    return directory.name if directory is not None else "study"


def _not_found(exc: BaseException) -> bool:
    return error_code(exc) in ("ValidationException", "ResourceNotFound") and "not found" in (
        error_text(exc).lower()
    )


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while number:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
    return text or "0"
