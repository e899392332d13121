"""The hyperplug Hydra sweeper against hydra-optuna-sweeper on the same app and budget.

Both sweep examples/sweep_app (softmax regression on digits, ``epochs`` per job) over the
same space and number of trials, two jobs at a time, each as a real
``python train.py --multirun ...`` subprocess in a fresh copy of the app:

- optuna: ``hydra/sweeper=optuna`` with TPE, ``n_jobs=2``, and the joblib launcher
  (so that two jobs really run at once; Optuna launches them in batches of n_jobs);
- hyperplug: ``hydra/sweeper=hyperplug``, ASHA on the per-epoch val_loss, 2 workers.

Every job that runs to its end appends (end time, final val_loss) to a log
(``SWEEP_APP_LOG``); from it: the wall time (from the sweep process's start) until the
best objective so far is within 1% of that sweeper's final best, and the total wall time.

    .venv/bin/python bench/bench_sweeper.py [--trials 24] [--epochs 40]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "examples" / "sweep_app"
SPACE = ["lr=tag(log, interval(0.001, 1.0))", "batch_size=choice(16, 32, 64, 128)"]


def run(name: str, args: list[str], epochs: int, root: Path) -> dict[str, float]:
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
    jobs.sort(key=lambda job: job["end"])
    final = min(job["value"] for job in jobs)
    within = next(j["end"] for j in jobs if _best_until(jobs, j["end"]) <= final * 1.01) - start
    return {"total": total, "to_1pct": within, "best": final, "finished_jobs": len(jobs)}


def _best_until(jobs: list[dict[str, float]], moment: float) -> float:
    return min(job["value"] for job in jobs if job["end"] <= moment)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    optuna = [
        "hydra/sweeper=optuna",
        "hydra/sweeper/sampler=tpe",
        f"hydra.sweeper.sampler.seed={a.seed}",
        "hydra.sweeper.direction=minimize",
        f"hydra.sweeper.n_trials={a.trials}",
        "hydra.sweeper.n_jobs=2",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "report=false",
    ]
    hyperplug = [
        "hydra/sweeper=hyperplug",
        "hydra.sweeper.optimizer=asha",
        f"+hydra.sweeper.optimizer_config.seed={a.seed}",
        f"hydra.sweeper.n_trials={a.trials}",
        "hydra.sweeper.n_workers=2",
        f"hydra.sweeper.max_epochs={a.epochs}",
        "hydra.sweeper.metric=val_loss",
    ]
    print(f"examples/sweep_app, {a.trials} trials of up to {a.epochs} epochs, 2 at a time")
    with tempfile.TemporaryDirectory() as tmp:
        figures = {
            "optuna (TPE, n_jobs=2, joblib)": run("optuna", optuna, a.epochs, Path(tmp)),
            "hyperplug (ASHA, 2 workers)": run("hyperplug", hyperplug, a.epochs, Path(tmp)),
        }
    for name, f in figures.items():
        print(
            f"{name:>32}: within 1% of its best after {f['to_1pct']:6.2f} s, total "
            f"{f['total']:6.2f} s, best val_loss {f['best']:.4f} "
            f"({f['finished_jobs']:.0f} jobs ran to the end)"
        )
    o, h = figures.values()
    print(
        f"hyperplug/optuna: time to within 1% {h['to_1pct'] / o['to_1pct']:.2f}, total "
        f"{h['total'] / o['total']:.2f} (goal <= 0.5)"
    )
    print(f"best val_loss hyperplug/optuna: {h['best'] / o['best']:.3f}")


if __name__ == "__main__":
    main()
