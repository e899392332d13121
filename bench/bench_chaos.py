"""The chaos figure: wall time of a study killed (kill -9 of its process group) and rerun
again and again, against the same study run once without interruption.

Both are the real console script on sklearn's digits: a random search of ``--trials``
MLP trials on ``--workers`` local workers. The chaos run kills the study ``--kills``
times, spread over the study: each time once a further share of the trials has
completed, a moment into the next epochs (so trials are caught mid-flight), then runs
the same command again; the last run finishes it. Every kill costs a restart (the
console script, the workers, the data) and the epochs in flight; a trial continues from
its last checkpoint. Prints both wall times and their ratio (goal: under 1.5), and checks
the study's end state (every trial once and completed, one model version).
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HYPERPLUG = str(Path(sys.executable).parent / "hyperplug")


def command(args: argparse.Namespace) -> list[str]:
    return [
        HYPERPLUG,
        "study=chaos",
        "optimizer=random",
        f"optimizer.max_trials={args.trials}",
        "optimizer.seed=0",
        "+training_params.mlp.lr='loguniform(1e-3,3e-1)'",
        f"trainer.epochs={args.epochs}",
        "trainer.hidden_layers=[128,64]",
        "trainer.batch_size=32",
        "backend=local",
        f"backend.n_workers={args.workers}",
    ]


def completed(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            row = conn.execute("SELECT COUNT(*) FROM trials WHERE status = 'completed'")
            return int(row.fetchone()[0])
    except sqlite3.OperationalError:  # the tables are not there yet
        return 0


def start(cwd: Path, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command(args),
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the study and its workers
    )


def uninterrupted(args: argparse.Namespace) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        begin = time.perf_counter()
        subprocess.run(command(args), cwd=tmp, check=True, capture_output=True)
        return time.perf_counter() - begin


def chaos(args: argparse.Namespace) -> tuple[float, int, list[tuple[str, str]], int]:
    """(wall time, kills done, (status, error) of every trial, model versions)."""
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        db = cwd / ".hyperplug" / "hyperplug.db"
        step = args.trials / (args.kills + 1)
        kills = 0
        begin = time.perf_counter()
        for kill in range(1, args.kills + 1):
            process = start(cwd, args)
            while completed(db) < round(kill * step) and process.poll() is None:
                time.sleep(0.05)
            time.sleep(args.delay)  # into the next trials' epochs
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                kills += 1
            process.wait()
        subprocess.run(command(args), cwd=cwd, check=True, capture_output=True)
        elapsed = time.perf_counter() - begin
        with sqlite3.connect(db) as conn:
            trials = conn.execute("SELECT status, COALESCE(error, '') FROM trials").fetchall()
        versions = len(list((cwd / ".hyperplug" / "models").glob("*/v*")))
        return elapsed, kills, trials, versions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--delay", type=float, default=1.0, help="seconds into the next epochs")
    args = parser.parse_args()
    reference = uninterrupted(args)
    elapsed, kills, trials, versions = chaos(args)
    ok = (
        len(trials) == args.trials
        and all(status == "completed" and not error for status, error in trials)
        and versions == 1
    )
    ratio = elapsed / reference
    print(
        f"{args.trials} trials (mlp [128, 64], {args.epochs} epochs, batch 32, digits), "
        f"{args.workers} local workers"
    )
    print(f"  uninterrupted: {reference:6.1f} s")
    print(f"  {kills} kills:     {elapsed:6.1f} s")
    print(f"ratio killed/uninterrupted: {ratio:.2f} (goal < 1.5: {'ok' if ratio < 1.5 else 'no'})")
    print(f"end state: {len(trials)} trials, all completed once, {versions} version: {ok}")


if __name__ == "__main__":
    main()
