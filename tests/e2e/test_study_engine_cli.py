"""End to end: resuming a study whose process was SIGKILLed, optimizers and bad search input
on the real console script."""

from __future__ import annotations

import os
import pty
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hyperplug.engine import INTERRUPTED
from hyperplug.plugins.sqlite import SQLiteTracker, SQLiteTrackerConfig

pytestmark = pytest.mark.e2e

HYPERPLUG = str(Path(sys.executable).parent / "hyperplug")


def env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["COLUMNS"] = "200"
    return env


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HYPERPLUG, *args], cwd=cwd, env=env(), capture_output=True, text=True, timeout=300
    )


def trials(db: Path) -> list[tuple[int, str, str, str | None]]:
    if not db.exists():
        return []
    with sqlite3.connect(db, timeout=30) as conn:
        # the file exists a moment before the tracker has created its tables
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'trials'").fetchone():
            return []
        return conn.execute("SELECT number, params, status, error FROM trials").fetchall()


def slow_grid(epochs: int, lrs: str) -> list[str]:
    """A grid study whose trials are slow enough to interrupt mid-study."""
    return [
        f"trainer.epochs={epochs}",
        "trainer.hidden_layers=[32]",
        "trainer.batch_size=32",
        f"+training_params.mlp.lr=[{lrs}]",
    ]


def start(cwd: Path, args: list[str], **popen: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [HYPERPLUG, *args], cwd=cwd, env=env(), stdout=subprocess.DEVNULL, **popen
    )


def test_a_killed_study_resumes_where_it_stopped(tmp_path: Path) -> None:
    # 6 grid points of ~0.3 s each: slow enough to kill the process mid-study
    args = slow_grid(25, "0.1,0.05,0.02,0.01,0.005,0.002")
    db = tmp_path / ".hyperplug" / "hyperplug.db"
    stderr = tmp_path / "killed.stderr"  # the study process's and its workers'
    with stderr.open("w") as handle:
        process = start(tmp_path, args, stderr=handle)
    deadline = time.time() + 120
    while time.time() < deadline:
        done = [t for t in trials(db) if t[2] == "completed"]
        if len(done) >= 2:
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = trials(db)
    assert 2 <= len([t for t in before if t[2] == "completed"]) < 6, before

    result = run(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    after = trials(db)
    # every grid point once: the trials the dead process left running went on under
    # their own ids (from their checkpoints), none ran twice or was left interrupted
    assert len(after) == 6 and len({t[1] for t in after}) == 6
    assert all(t[2] == "completed" and t[3] is None for t in after), after
    by_number = {t[0]: t for t in after}
    for number, params, *_ in before:
        assert by_number[number][1] == params  # the same trial, finished or continued
    tracker = SQLiteTracker(SQLiteTrackerConfig(path=str(db)))
    assert tracker.check_integrity()
    [study] = tracker.list_studies()
    assert study.status == "completed" and study.name.startswith("digits_model-")
    tracker.close()

    again = run(tmp_path, *args)
    assert again.returncode == 0
    assert f"study {study.name} is complete; nothing to run" in again.stdout
    assert len(trials(db)) == len(after)
    # the killed study's worker, orphaned, ended quietly when it next reported
    assert "Error" not in stderr.read_text() and "Traceback" not in stderr.read_text()


def test_ctrl_c_records_running_trials_as_interrupted_and_says_how_to_resume(
    tmp_path: Path,
) -> None:
    args = slow_grid(60, "0.1,0.05,0.02")
    db = tmp_path / ".hyperplug" / "hyperplug.db"
    # Ctrl-C in a terminal reaches the whole process group
    process = start(tmp_path, args, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not [t for t in trials(db) if t[2] == "running"]:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    lines = stderr.strip().splitlines()
    assert lines[-1] == "hyperplug: interrupted; run the same command again to resume the study"
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    interrupted = [t for t in trials(db) if t[3] == INTERRUPTED]
    assert interrupted and not [t for t in trials(db) if t[2] == "running"]

    result = run(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    assert len([t for t in trials(db) if t[2] == "completed"]) == 3


def test_asha_on_local_workers_writes_plots(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "optimizer=asha",
        "optimizer.max_epochs=6",
        "optimizer.max_trials=6",
        "backend=local",
        "backend.n_workers=2",
        "trainer.hidden_layers=[16]",
        "+training_params.mlp.lr='loguniform(1e-4,3e-1)'",
    )
    assert result.returncode == 0, result.stderr
    assert "6 trials (" in result.stdout and "stopped" in result.stdout
    # the live view, not on a terminal: one plain line per finished trial
    lines = result.stderr.strip().splitlines()
    assert len([line for line in lines if line.startswith("trial ")]) == 6, result.stderr
    assert "6 of 6 trials (" in lines[-1] and "; best val_accuracy: " in lines[-1]
    assert "elapsed 0:" in lines[-1] and "about" in lines[-2] and "left" in lines[-2]
    plots = [
        line.split("plot: ", 1)[1]
        for line in result.stdout.splitlines()
        if line.startswith("plot: ")
    ]
    assert [Path(p).name for p in plots] == ["learning_curves.png", "best_so_far.png"]
    assert all((tmp_path / p).stat().st_size > 1000 for p in plots)


def test_on_a_terminal_the_live_view_shows_progress_bars_and_time_left(tmp_path: Path) -> None:
    # stderr is a pseudo-terminal, as in an interactive shell
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [HYPERPLUG, *slow_grid(8, "0.1,0.05"), "backend=inline"],
        cwd=tmp_path,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=terminal,
    )
    os.close(terminal)
    shown = b""
    while chunk := _read(controller):
        shown += chunk
    assert process.wait(timeout=120) == 0
    os.close(controller)
    text = shown.decode(errors="replace")
    assert "\x1b[" in text  # drawn by rich for a terminal
    assert "0 of 2 trials (0 completed, 0 stopped, 0 failed), 1 running" in text
    assert "trial 0 mlp lr=0.1" in text and "epoch 1/8" in text  # the running trial's bar
    assert "trial 0 completed mlp lr=0.1 val_accuracy=" in text
    assert "1 of 2 trials (1 completed, 0 stopped, 0 failed)" in text
    assert re.search(r"elapsed \d+:\d\d, about \d+:\d\d left", text)


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # the terminal's other end closed: the process ended
        return b""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["+training_params.mlp.lr='logunifrm(1e-4,1)'"],
            "training_params.mlp.lr: unknown distribution 'logunifrm' (did you mean 'loguniform'?)",
        ),
        (
            ["+training_params.mlp.lr='uniform(0.001,0.1)'"],
            "training_params.mlp.lr: optimizer=grid enumerates values",
        ),
        (["optimizer=asha"], "optimizer.max_epochs: optimizer=asha needs an epoch budget"),
        (
            ["optimizer=rush", "optimizer.max_epochs=2", "optimizer.reference_study=nope"],
            "optimizer.reference_study: study 'nope' not found",
        ),
    ],
)
def test_bad_search_input_is_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    result = run(tmp_path, "trainer.epochs=1", *args)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert not any(t for t in trials(tmp_path / ".hyperplug" / "hyperplug.db"))
