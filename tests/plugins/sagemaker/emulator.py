"""A loopback stand-in for Amazon S3 and SageMaker training jobs: test infrastructure of
the ``sagemaker`` backend's tests (``python emulator.py STATE_DIR``).

S3 is moto's, in server mode. moto's SageMaker cannot hold a job's states (a created job
reads Completed at once, StopTrainingJob answers HTTP 500, moto 5.2.5), so this process
serves the three training-job calls the backend makes itself, over the same JSON
protocol as AWS (``X-Amz-Target: SageMaker.<Action>``), and runs every job the way
SageMaker runs a container:

* it lays out an ``/opt/ml``-style tree in ``STATE_DIR/jobs/<job>/ml`` (the job learns
  where through ``HYPERPLUG_ML_ROOT``, the one variable a real job does not get):
  ``input/config/*.json``, each channel's S3 objects in ``input/data/<channel>/``, the
  checkpoint prefix in ``checkpoints/``;
* it runs the job's ``ContainerEntrypoint`` + ``ContainerArguments`` as a local process
  (the "image" is this Python environment: ``python3`` is the first on ``PATH``) with
  the job's ``Environment``, ``TRAINING_JOB_NAME``, ``TRAINING_JOB_ARN``, the region, the
  emulated S3 as the job's S3 endpoint and this process's (fake) credentials;
* InProgress until the process exits, then: ``model/`` as ``model.tar.gz`` under the
  job's output path (not for a failed job), ``checkpoints/`` back to S3, and Completed,
  Failed (FailureReason: ``output/failure``, else the exit code) or Stopped;
* StopTrainingJob: Stopping, SIGTERM, SIGKILL after ``--stop-grace`` seconds, Stopped;
  MaxRuntimeInSeconds: the same, with SecondaryStatus MaxRuntimeExceeded.

Differences from SageMaker: checkpoints go back to S3 when the job ends, not
continuously; one process per job whatever its InstanceCount (the first host,
``algo-1``); the image is not pulled; spot capacity is always there.

Test controls (not SageMaker calls): ``GET /_emulator/stats`` (calls per action,
throttled calls), ``GET /_emulator/requests`` (every CreateTrainingJob request),
``POST /_emulator/throttle {"every": N}`` (every Nth SageMaker call answers
ThrottlingException; 0: none). The endpoints are written to ``STATE_DIR/endpoints.json``.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
ENDED = ("Completed", "Failed", "Stopped")


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class Emulator:
    def __init__(self, state: Path, s3_url: str, stop_grace: float) -> None:
        import boto3

        self.state = state
        self.s3_url = s3_url
        self.stop_grace = stop_grace
        self.s3 = boto3.client("s3", endpoint_url=s3_url, region_name=REGION)
        self.jobs: dict[str, dict[str, Any]] = {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.throttled = 0
        self.throttle_every = 0
        self.requests: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ the API

    def call(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.calls[action] += 1
            total = sum(self.calls.values())
            if self.throttle_every and total % self.throttle_every == 0:
                self.throttled += 1
                raise ApiError("ThrottlingException", "Rate exceeded")
        handler = getattr(self, action, None)
        if handler is None or not action[0].isupper():
            raise ApiError("UnknownOperationException", f"{action} is not emulated")
        return handler(body)

    def CreateTrainingJob(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body["TrainingJobName"]
        if not body.get("RoleArn", "").startswith("arn:aws:iam::"):
            raise ApiError("ValidationException", "RoleArn is not a role ARN")
        spec = body["AlgorithmSpecification"]
        if not spec.get("ContainerEntrypoint"):
            raise ApiError("ValidationException", "the emulator runs ContainerEntrypoint only")
        now = time.time()
        job = {
            "TrainingJobName": name,
            "TrainingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{name}",
            "TrainingJobStatus": "InProgress",
            "SecondaryStatus": "Starting",
            "CreationTime": now,
            "LastModifiedTime": now,
            **{k: v for k, v in body.items() if k != "Tags"},
        }
        with self.lock:
            if name in self.jobs:
                raise ApiError("ResourceInUse", f"Training job names must be unique: {name}")
            self.jobs[name] = job
            self.requests.append(body)
        threading.Thread(target=self.run, args=(job,), daemon=True).start()
        return {"TrainingJobArn": job["TrainingJobArn"]}

    def DescribeTrainingJob(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            job = self.jobs.get(body["TrainingJobName"])
            if job is None:
                raise ApiError("ValidationException", "Requested resource not found.")
            return {k: v for k, v in job.items() if not k.startswith("_")}

    def StopTrainingJob(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            job = self.jobs.get(body["TrainingJobName"])
            if job is None:
                raise ApiError("ValidationException", "Requested resource not found.")
            if job["TrainingJobStatus"] != "InProgress":
                raise ApiError(
                    "ValidationException",
                    f"The training job is in status {job['TrainingJobStatus']}; it cannot stop",
                )
            self._set(job, "Stopping", "Stopping")
            job["_stop"] = "Stopped"
        self._terminate(job)
        return {}

    def _set(self, job: dict[str, Any], status: str | None, secondary: str) -> None:
        if status is not None:
            job["TrainingJobStatus"] = status
        job["SecondaryStatus"] = secondary
        job["LastModifiedTime"] = time.time()

    def _terminate(self, job: dict[str, Any]) -> None:
        process = self.processes.get(job["TrainingJobName"])
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            killer = threading.Timer(self.stop_grace, self._kill, args=(process,))
            killer.daemon = True
            killer.start()

    @staticmethod
    def _kill(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)

    # ------------------------------------------------------------------ a job

    def run(self, job: dict[str, Any]) -> None:
        name = job["TrainingJobName"]
        root = self.state / "jobs" / name / "ml"
        try:
            self._lay_out(job, root)
            with self.lock:
                stopped_early = job.get("_stop") is not None
                if not stopped_early:
                    self._set(job, None, "Training")
            code = self._execute(job, root) if not stopped_early else -signal.SIGTERM
            with self.lock:
                self._set(job, None, "Uploading")
            self._upload(job, root, code)
        except Exception as exc:  # the emulator's own failure: the job fails with it
            with self.lock:
                job["FailureReason"] = f"emulator: {type(exc).__name__}: {exc}"
                self._set(job, "Failed", "Failed")
                job["TrainingEndTime"] = time.time()

    def _lay_out(self, job: dict[str, Any], root: Path) -> None:
        for folder in ("input/config", "model", "output/data", "checkpoints", "code"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        config = root / "input" / "config"
        (config / "hyperparameters.json").write_text(json.dumps(job.get("HyperParameters", {})))
        hosts = [f"algo-{i + 1}" for i in range(job["ResourceConfig"]["InstanceCount"])]
        (config / "resourceconfig.json").write_text(
            json.dumps({"current_host": hosts[0], "hosts": hosts, "network_interface_name": "eth0"})
        )
        channels = {}
        for channel in job.get("InputDataConfig", []):
            source = channel["DataSource"]["S3DataSource"]
            channels[channel["ChannelName"]] = {"TrainingInputMode": "File"}
            self._download(source["S3Uri"], root / "input" / "data" / channel["ChannelName"])
        (config / "inputdataconfig.json").write_text(json.dumps(channels))
        with self.lock:
            self._set(job, None, "Downloading")
        checkpoint = job.get("CheckpointConfig")
        if checkpoint:
            self._download(checkpoint["S3Uri"], root / "checkpoints")

    def _execute(self, job: dict[str, Any], root: Path) -> int:
        name = job["TrainingJobName"]
        spec = job["AlgorithmSpecification"]
        argv = [*spec["ContainerEntrypoint"], *spec.get("ContainerArguments", [])]
        env = {
            **os.environ,
            "HYPERPLUG_ML_ROOT": str(root),
            "TRAINING_JOB_NAME": name,
            "TRAINING_JOB_ARN": job["TrainingJobArn"],
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_S3": self.s3_url,
            **job.get("Environment", {}),
        }
        with open(root.parent / "log.txt", "wb") as log:
            process = subprocess.Popen(
                argv,
                env=env,
                cwd=root,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            with self.lock:
                self.processes[name] = process
                job["TrainingStartTime"] = time.time()
            if job.get("_stop") is not None:  # stopped while its data was downloading
                self._terminate(job)
            limit = job["StoppingCondition"]["MaxRuntimeInSeconds"]
            deadline = time.monotonic() + limit
            while process.poll() is None:
                if time.monotonic() > deadline and job.get("_stop") is None:
                    with self.lock:
                        job["_stop"] = "MaxRuntimeExceeded"
                        self._set(job, "Stopping", "Stopping")
                    self._terminate(job)
                time.sleep(0.05)
        return process.returncode

    def _upload(self, job: dict[str, Any], root: Path, code: int) -> None:
        stop = job.get("_stop")
        status = "Stopped" if stop else ("Completed" if code == 0 else "Failed")
        checkpoint = job.get("CheckpointConfig")
        if checkpoint:
            bucket, prefix = split(checkpoint["S3Uri"])
            for path in sorted(p for p in (root / "checkpoints").rglob("*") if p.is_file()):
                key = f"{prefix}{path.relative_to(root / 'checkpoints').as_posix()}"
                self.s3.upload_file(str(path), bucket, key)
        result: dict[str, Any] = {}
        if status != "Failed":
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
                for path in sorted((root / "model").iterdir()):
                    archive.add(str(path), arcname=path.name)
            bucket, prefix = split(job["OutputDataConfig"]["S3OutputPath"].rstrip("/") + "/")
            key = f"{prefix}{job['TrainingJobName']}/output/model.tar.gz"
            self.s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
            result["ModelArtifacts"] = {"S3ModelArtifacts": f"s3://{bucket}/{key}"}
        else:
            failure = root / "output" / "failure"
            reason = failure.read_text() if failure.exists() else ""
            result["FailureReason"] = (
                reason.strip() or f"AlgorithmError: the process exited with code {code}"
            )[:1024]
        with self.lock:
            job.update(result)
            job["TrainingEndTime"] = time.time()
            self._set(job, status, stop if stop == "MaxRuntimeExceeded" else status)

    def _download(self, uri: str, target: Path) -> None:
        bucket, prefix = split(uri)
        target.mkdir(parents=True, exist_ok=True)
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                relative = item["Key"][len(prefix) :].lstrip("/")
                if relative:
                    path = target / relative
                    path.parent.mkdir(parents=True, exist_ok=True)
                    self.s3.download_file(bucket, item["Key"], str(path))


def split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def handler_for(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", "emulator")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/_emulator/stats":
                with emulator.lock:
                    body = {"calls": dict(emulator.calls), "throttled": emulator.throttled}
                self._send(200, body)
            elif self.path == "/_emulator/requests":
                with emulator.lock:
                    self._send(200, list(emulator.requests))
            else:
                self._send(404, {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path == "/_emulator/throttle":
                emulator.throttle_every = int(body.get("every", 0))
                self._send(200, {})
                return
            target = self.headers.get("X-Amz-Target", "")
            service, _, action = target.partition(".")
            try:
                if service != "SageMaker":
                    raise ApiError("UnknownOperationException", f"not SageMaker: {target}")
                self._send(200, emulator.call(action, body))
            except ApiError as error:
                self._send(error.status, {"__type": error.code, "message": error.message})

    return Handler


def main() -> None:
    from moto.server import ThreadedMotoServer

    state = Path(sys.argv[1])
    stop_grace = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    s3_url = f"http://{host}:{port}"
    emulator = Emulator(state, s3_url, stop_grace)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(emulator))
    server.daemon_threads = True
    endpoints = {"s3": s3_url, "sagemaker": f"http://127.0.0.1:{server.server_address[1]}"}
    tmp = state / ".endpoints.json"
    tmp.write_text(json.dumps(endpoints))
    tmp.replace(state / "endpoints.json")

    def finish(signum: int, frame: Any) -> None:
        for process in list(emulator.processes.values()):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        os._exit(0)

    signal.signal(signal.SIGTERM, finish)
    server.serve_forever()


if __name__ == "__main__":
    main()
