"""backend=sagemaker against the loopback emulator (tests/plugins/sagemaker): what the
study process spends per trial, and how the polling interval delays a stopped trial's
free slot. Nothing here has run on AWS: the figures are the backend's own costs, with
the emulator's sub-millisecond API calls instead of AWS's tens of milliseconds.

1. per trial: N trials of a numpy trainer (3 epochs, ``--pause`` s each) as one study on
   ``backend=sagemaker`` (``n_workers`` 2, polling every 1 s) and, as the reference in
   the same run, on ``backend=local`` (2 workers). Printed: the API calls per trial by
   operation; the study process's CPU seconds per trial; its lag per trial (from
   CreateTrainingJob to the end handed to the engine, less the job's own run from its
   creation to its end); and seconds per trial of the study against the local backend.
2. slot release: trials that run 60 epochs of 0.2 s, each stopped by the driver at its
   first report, for several ``poll_interval_s``: seconds from the stop decision to the
   end that frees the slot (median, max), and how much of it is the job winding down
   (decision to the job's end) against the wait for the next poll.

    .venv/bin/python bench/bench_sagemaker.py [--trials 8] [--pause 0.3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests" / "plugins" / "sagemaker"
sys.path.insert(0, str(TESTS))

from aws_cloud import Cloud, aws_environ, start_cloud  # noqa: E402
from paced import PacedTrainer  # noqa: E402

from hyperplug.api import build  # noqa: E402
from hyperplug.interfaces import DataRecipe, TrialTask  # noqa: E402
from hyperplug.testing.backend import RecordingDriver  # noqa: E402
from hyperplug.testing.data import blobs_splits  # noqa: E402
from hyperplug.tuner import Tuner  # noqa: E402


def run_study(root: Path, backend: Any, trials: int, pause: float) -> tuple[float, float]:
    """(wall seconds, study process CPU seconds) of one study of ``trials`` trials."""
    tracker = build("tracker", name="sqlite", path=str(root / "hp.db"))
    tuner = Tuner(
        metadata_tracker=tracker,
        metrics_tracker=tracker,
        resource_version_control=build("vcs", name="store", root=str(root / "models")),
        training_params={PacedTrainer: {"lr": [0.1 * (i + 1) for i in range(trials)]}},
        trainer_configs={"paced": {"epochs": 3, "pause_s": pause}},
        backend=backend,
        home=root / "home",
        study_name="bench",
    )
    wall, cpu = time.perf_counter(), time.process_time()
    tuner.run_experiment(blobs_splits())
    return time.perf_counter() - wall, time.process_time() - cpu


def per_trial(cloud: Cloud, trials: int, pause: float) -> None:
    print(f"per trial: {trials} trials of 3 epochs x {pause} s, 2 at a time")
    with tempfile.TemporaryDirectory() as tmp:
        bucket = cloud.new_bucket()
        node = cloud.backend(bucket, n_workers=2, poll_interval_s=1.0)
        node["environment"] = {"PYTHONPATH": str(TESTS)}
        backend = build("backend", **node)
        start_calls = dict(backend.aws.calls)
        wall, cpu = run_study(Path(tmp) / "sm", backend, trials, pause)
        local_wall, _ = run_study(
            Path(tmp) / "local", build("backend", name="local", n_workers=2), trials, pause
        )
        calls = {k: v - start_calls.get(k, 0) for k, v in backend.aws.calls.items()}
        client = cloud.client("sagemaker")
        names = [r["TrainingJobName"] for r in cloud.requests() if bucket in str(r)]
        jobs = [client.describe_training_job(TrainingJobName=n) for n in names]
    total = sum(calls.values())
    print(f"  API calls per trial: {total / trials:.1f} (polling every 1 s)")
    for name, count in sorted(calls.items()):
        print(f"    {name:34s} {count / trials:6.2f}")
    job_s = [(j["TrainingEndTime"] - j["CreationTime"]).total_seconds() for j in jobs]
    print(f"  a job from creation to its end: median {statistics.median(job_s):.2f} s")
    print(f"  study process CPU per trial: {cpu / trials * 1000:.0f} ms")
    print(
        f"  study wall per trial: sagemaker {wall / trials:.2f} s, "
        f"local {local_wall / trials:.2f} s (ratio {wall / local_wall:.2f}x)"
    )
    lag = (wall - sum(job_s) / 2) / trials  # 2 jobs at a time
    print(f"  the study's lag beyond its jobs' own time: {lag:.2f} s per trial")


def slot_release(cloud: Cloud, intervals: list[float], repeats: int) -> None:
    print(f"slot release: a trial stopped at its first report, {repeats} per interval")
    data = blobs_splits()
    for interval in intervals:
        bucket = cloud.new_bucket()
        node = cloud.backend(bucket, n_workers=repeats, poll_interval_s=interval)
        node["environment"] = {"PYTHONPATH": str(TESTS)}
        backend = build("backend", **node)
        driver = RecordingDriver(stop_after=dict.fromkeys(range(repeats), 1))
        backend.start(DataRecipe(data.fingerprint, data=data), driver)
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(repeats):
                config = {"name": "paced", "epochs": 60, "pause_s": 0.2}
                stage = str(Path(tmp) / "studies" / "s" / "trials" / str(i))
                backend.submit(TrialTask(i, PacedTrainer, {}, config, "val_loss", "min", stage))
            ended_at: dict[int, float] = {}
            while len(driver.ends) < repeats:
                backend.poll(0.05)
                for trial in driver.ends:
                    ended_at.setdefault(trial, time.time())
            backend.shutdown()
        client = cloud.client("sagemaker")
        names = [r["TrainingJobName"] for r in cloud.requests() if bucket in str(r)]
        jobs = [client.describe_training_job(TrainingJobName=n) for n in names]
        job_end = {int(j["TrainingJobName"].split("-")[-2]): j["TrainingEndTime"] for j in jobs}
        waits = [ended_at[t] - job_end[t].timestamp() for t in job_end]
        latencies = backend.stop_latencies
        print(
            f"  poll_interval_s={interval:<4}: decision -> slot free median "
            f"{statistics.median(latencies):.2f} s (max {max(latencies):.2f}); of it, job "
            f"ended -> slot free median {statistics.median(waits):.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--pause", type=float, default=0.3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--intervals", type=float, nargs="*", default=[0.25, 1.0, 4.0])
    parser.add_argument("--skip", nargs="*", default=[], choices=["trial", "slots"])
    args = parser.parse_args()
    os.environ.update(aws_environ({}))
    with tempfile.TemporaryDirectory() as state:
        cloud, process = start_cloud(Path(state))
        try:
            if "trial" not in args.skip:
                per_trial(cloud, args.trials, args.pause)
            if "slots" not in args.skip:
                slot_release(cloud, args.intervals, args.repeats)
        finally:
            process.terminate()
            process.wait(10)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
