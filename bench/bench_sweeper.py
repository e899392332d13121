"""The hyperplug Hydra sweeper against hydra-optuna-sweeper on the same app and budget.

Both sweep examples/sweep_app (softmax regression on digits, ``epochs`` per job) over the
same space and number of trials, two jobs at a time, each as a real
``python train.py --multirun ...`` subprocess in a fresh copy of the app:

- optuna: ``hydra/sweeper=optuna`` with TPE, ``n_jobs=2``, and the joblib launcher
  (so that two jobs really run at once; Optuna launches them in batches of n_jobs);
- hyperplug: ``hydra/sweeper=hyperplug``, ASHA on the per-epoch val_loss, 2 workers.

Every job that runs to its end appends (end time, final val_loss) to a log
(``SWEEP_APP_LOG``); from it: the wall time (from the sweep process's start) until the
best objective so far is within 1% of that sweeper's final best, the same for the best of
both sweepers with the same seed (so that a sweeper settling on a poor best early does not
look fast), and the total wall time. Both sweepers run once per seed, alternating; the
ratios are of the medians over the seeds, because one seed's time to a best is luck.

    .venv/bin/python bench/bench_sweeper.py [--trials 24] [--epochs 40] [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "examples" / "sweep_app"
SPACE = ["lr=tag(log, interval(0.001, 1.0))", "batch_size=choice(16, 32, 64, 128)"]


def run(name: str, args: list[str], epochs: int, root: Path) -> list[dict[str, float]]:
    """Sweep a fresh copy of the app; return each job that ran to its end as (seconds
    after the sweep's start, value), sorted by time, and the total as a last row."""
    app = root / name
    shutil.copytree(APP, app)
    log = app / "jobs.jsonl"
    env = {**os.environ, "SWEEP_APP_LOG": str(log), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "train.py", "--multirun", *SPACE, f"epochs={epochs}", *args]
    start = time.time()
    done = subprocess.run(command, cwd=app, env=env, capture_output=True, text=True)
    total = time.time() - start
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr[-2000:]}")
    jobs = [json.loads(line) for line in log.read_text().splitlines()]
    ends = sorted((job["end"] - start, job["value"]) for job in jobs)
    return [{"at": at, "value": value} for at, value in ends] + [{"at": total, "value": math.nan}]


def time_to(jobs: list[dict[str, float]], target: float) -> float:
    """When the best value so far first got to ``target`` (inf: never)."""
    return next((j["at"] for j in jobs[:-1] if j["value"] <= target), math.inf)


def figures(jobs: list[dict[str, float]], common_best: float) -> dict[str, float]:
    best = min(j["value"] for j in jobs[:-1])
    return {
        "first": jobs[0]["at"],
        "to_1pct": time_to(jobs, best * 1.01),
        "to_common": time_to(jobs, common_best * 1.01),
        "total": jobs[-1]["at"],
        "best": best,
        "finished_jobs": len(jobs) - 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3)
    a = parser.parse_args()
    print(
        f"examples/sweep_app, {a.trials} trials of up to {a.epochs} epochs, 2 at a time, "
        f"seeds 0-{a.seeds - 1}"
    )
    names = ("optuna (TPE, n_jobs=2, joblib)", "hyperplug (ASHA, 2 workers)")
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for seed in range(a.seeds):
        with tempfile.TemporaryDirectory() as tmp:
            runs = {
                names[0]: run("optuna", optuna_args(a.trials, seed), a.epochs, Path(tmp)),
                names[1]: run("hyperplug", hyperplug_args(a, seed), a.epochs, Path(tmp)),
            }
        common_best = min(min(j["value"] for j in jobs[:-1]) for jobs in runs.values())
        for name, jobs in runs.items():
            f = figures(jobs, common_best)
            rows[name].append(f)
            print(
                f"  seed {seed} {name:>31}: first job end {f['first']:5.2f} s, "
                f"within 1% of its best {f['to_1pct']:6.2f} s, "
                f"of the common best {f['to_common']:6.2f} s, total {f['total']:6.2f} s, "
                f"best val_loss {f['best']:.4f} ({f['finished_jobs']:.0f} jobs ran to the end)"
            )
    median = {
        name: {k: statistics.median(r[k] for r in rs) for k in ("to_1pct", "total", "best")}
        for name, rs in rows.items()
    }
    o, h = (median[name] for name in names)
    print(
        f"medians, hyperplug/optuna: time to within 1% of its best "
        f"{h['to_1pct']:.2f}/{o['to_1pct']:.2f} s = {h['to_1pct'] / o['to_1pct']:.2f}, "
        f"total {h['total']:.2f}/{o['total']:.2f} s = {h['total'] / o['total']:.2f} (goal <= 0.5)"
    )
    for name, rs in rows.items():
        reached = [r["to_common"] for r in rs if math.isfinite(r["to_common"])]
        print(f"  {name} got within 1% of the common best in {len(reached)}/{len(rs)} seeds")
    print(f"median best val_loss hyperplug/optuna: {h['best'] / o['best']:.3f}")


def optuna_args(trials: int, seed: int) -> list[str]:
    return [
        "hydra/sweeper=optuna",
        "hydra/sweeper/sampler=tpe",
        f"hydra.sweeper.sampler.seed={seed}",
        "hydra.sweeper.direction=minimize",
        f"hydra.sweeper.n_trials={trials}",
        "hydra.sweeper.n_jobs=2",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "report=false",
    ]


def hyperplug_args(a: argparse.Namespace, seed: int) -> list[str]:
    return [
        "hydra/sweeper=hyperplug",
        "hydra.sweeper.optimizer=asha",
        f"+hydra.sweeper.optimizer_config.seed={seed}",
        f"hydra.sweeper.n_trials={a.trials}",
        "hydra.sweeper.n_workers=2",
        f"hydra.sweeper.max_epochs={a.epochs}",
        "hydra.sweeper.metric=val_loss",
    ]


if __name__ == "__main__":
    main()
