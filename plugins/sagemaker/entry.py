"""A training job's trial: ``python -m hyperplug.plugins.sagemaker.entry``.

SageMaker lays out ``/opt/ml`` (``HYPERPLUG_ML_ROOT`` in the test emulator): the task in
``input/data/task/task.json``, the data in ``input/data/data/``. The trial runs through
``hyperplug.trial_runner.execute_trial`` as in a local worker; after every epoch the
metrics so far are written to the task's ``metrics_uri`` (one S3 object, rewritten),
where the study process reads them. SIGTERM (StopTrainingJob, a spot interruption)
makes the next report answer "stop": the trainer returns and its best weights are
staged. The staged files go to ``/opt/ml/model`` (SageMaker uploads them as
``model.tar.gz``); a failed trial writes its one-line error to ``/opt/ml/output/failure``
(the job's FailureReason) and exits 1. Checkpoints live in ``/opt/ml/checkpoints``,
which SageMaker keeps in S3 and brings back for the next attempt.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT_ENV = "HYPERPLUG_ML_ROOT"


def ml_root() -> Path:
    return Path(os.environ.get(ROOT_ENV, "/opt/ml"))


def fail(root: Path, reason: str) -> int:
    (root / "output").mkdir(parents=True, exist_ok=True)
    (root / "output" / "failure").write_text(reason[:1000])
    print(f"hyperplug: trial failed: {reason}", file=sys.stderr, flush=True)
    return 1


def is_first_host(root: Path) -> bool:
    """Multi-instance jobs run this on every host; the trial runs on the first."""
    path = root / "input" / "config" / "resourceconfig.json"
    if not path.exists():
        return True
    config = json.loads(path.read_text())
    hosts = sorted(config.get("hosts") or [config.get("current_host")])
    return config.get("current_host") == hosts[0]


class MetricsWriter:
    """Rewrites the job's metrics object after every epoch: ``{"epochs": [[epoch,
    {name: value}], ...]}``."""

    def __init__(self, uri: str) -> None:
        import boto3

        from hyperplug.plugins.sagemaker.config import split_s3_uri

        self.bucket, self.key = split_s3_uri(uri)
        self.s3 = boto3.client("s3")
        self.epochs: list[list[Any]] = []

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> None:
        self.epochs.append([epoch, dict(metrics)])
        body = json.dumps({"epochs": self.epochs}).encode()
        self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=body)


def main() -> int:
    root = ml_root()
    stop = {"requested": False}

    def on_term(signum: int, frame: Any) -> None:
        stop["requested"] = True
        print("hyperplug: SIGTERM: the trial stops at its next epoch", flush=True)

    signal.signal(signal.SIGTERM, on_term)
    if not is_first_host(root):
        return 0
    try:
        import hyperplug
        from hyperplug.plugin_manager import get_plugin_manager
        from hyperplug.plugins.sagemaker.wire import decode_task, read_data
        from hyperplug.staging import RECORD, WEIGHTS
        from hyperplug.trial_runner import execute_trial, first_line
    except Exception as exc:  # the image or the shipped code is broken
        return fail(root, f"{type(exc).__name__}: {exc}".splitlines()[0])
    try:
        text = (root / "input" / "data" / "task" / "task.json").read_text()
        checkpoints = root / "checkpoints"
        stage_dir = checkpoints if json.loads(text).get("checkpoints") else None
        stage_dir = stage_dir or Path(tempfile.mkdtemp(prefix="hyperplug-stage-"))
        task, body = decode_task(text, str(stage_dir))
        print(
            f"hyperplug {getattr(hyperplug, '__version__', '')} from "
            f"{Path(hyperplug.__file__).parent}: trial {task.trial_id}",
            flush=True,
        )
        data = read_data(root / "input" / "data" / "data" / body["data_file"])
        write = MetricsWriter(body["metrics_uri"])
        manager = get_plugin_manager()
    except Exception as exc:
        return fail(root, first_line(exc))

    def report(epoch: int, metrics: Mapping[str, float]) -> bool:
        write(epoch, metrics)
        print(f"epoch {epoch}: {json.dumps(dict(metrics))}", flush=True)
        return not stop["requested"]

    end, _ = execute_trial(task, data, report, manager)
    if end.error is not None:
        return fail(root, end.error)
    model = root / "model"
    model.mkdir(parents=True, exist_ok=True)
    for name in (WEIGHTS, RECORD):
        shutil.copyfile(stage_dir / name, model / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
