"""End-to-end: ``hyperplug update`` in a subprocess, chunk files on disk, a real tracker
and store; inspection shows the chain; bad input and a killed update change nothing."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hyperplug import build

pytestmark = pytest.mark.e2e

HYPERPLUG = str(Path(sys.executable).parent / "hyperplug")
FAST = ["trainer.epochs=3", "trainer.hidden_layers=[16]", "trainer.batch_size=32"]


def hyperplug(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["COLUMNS"] = "220"
    return subprocess.run(
        [HYPERPLUG, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def chunk_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """digits as chunk files: c0.npz (0-1), c1.npz (2-3), wide.npz (2-3 with 128 features),
    empty.npz (no rows)."""
    directory = tmp_path_factory.mktemp("chunks")
    data = build("dataset", name="digits").load()
    for name, labels in (("c0", [0, 1]), ("c1", [2, 3])):
        rows = np.isin(data.y, labels)
        np.savez(directory / f"{name}.npz", x=data.x[rows], y=data.y[rows])
    rows = np.isin(data.y, [2, 3])
    np.savez(directory / "wide.npz", x=np.tile(data.x[rows], 2), y=data.y[rows])
    np.savez(directory / "empty.npz", x=np.zeros((0, 64)), y=np.zeros(0, dtype=np.int64))
    return directory


def chunk(files: Path, name: str) -> list[str]:
    return ["dataset=npz", f"dataset.path={files / name}.npz"]


def state(cwd: Path) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """(studies and their status, {version: sha256 of its files}): all an update writes."""
    db = cwd / ".hyperplug" / "hyperplug.db"
    studies = []
    if db.exists():
        with sqlite3.connect(db) as conn:
            studies = conn.execute("SELECT name, status FROM studies ORDER BY id").fetchall()
    root = cwd / ".hyperplug" / "models"
    versions = {
        str(v.relative_to(root)): hashlib.sha256(
            b"".join(f.read_bytes() for f in sorted(v.iterdir()))
        ).hexdigest()
        for v in sorted(root.glob("*/v*"))
    }
    return studies, versions


def completed_trials(cwd: Path, after: int) -> int:
    """Completed trials of the studies after the first ``after`` ones."""
    with sqlite3.connect(cwd / ".hyperplug" / "hyperplug.db", timeout=30) as conn:
        query = "SELECT COUNT(*) FROM trials WHERE status = 'completed' AND study_id > ?"
        return conn.execute(query, (after,)).fetchone()[0]


@pytest.fixture(scope="module")
def first_version(chunk_files: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory whose store holds stream:v1, from c0.npz."""
    cwd = tmp_path_factory.mktemp("stream")
    result = hyperplug(cwd, "update", *chunk(chunk_files, "c0"), "model_name=stream", *FAST)
    assert result.returncode == 0, result.stderr
    return cwd


def copy_of(first_version: Path, tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(first_version / ".hyperplug", tmp_path / ".hyperplug")
    return tmp_path


def test_a_stream_is_one_command_per_chunk_and_inspection_shows_the_chain(
    chunk_files: Path, first_version: Path, tmp_path: Path
) -> None:
    cwd = copy_of(first_version, tmp_path)
    result = hyperplug(cwd, "update", "model=stream", *chunk(chunk_files, "c1"))
    assert result.returncode == 0, result.stderr
    assert "model version: stream:v2 [best, latest]" in result.stdout
    assert "val_accuracy_old" in result.stdout  # the table shows old and new data apart

    models = hyperplug(cwd, "models", "stream")
    assert models.returncode == 0, models.stderr
    lines = [line for line in models.stdout.splitlines() if "stream:v" in line]
    assert "er" in lines[1].split("│")[4] and "stream:v1" in lines[1]

    shown = hyperplug(cwd, "model", "stream:v2")
    assert shown.returncode == 0, shown.stderr
    rows = dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in shown.stdout.splitlines())
    )
    assert rows["parent"] == "stream:v1"
    assert rows["updater"].startswith("er (") and "memory_size=500" in rows["updater"]
    assert rows["classes added"] == "2, 3"
    assert rows["buffer"].endswith("rows (reservoir, max 500)")
    assert rows["chunk"].startswith("train=")
    assert len(rows["data fingerprint"]) == 64
    assert rows["lineage"] == "stream:v2 <- stream:v1"

    again = hyperplug(cwd, "update", "model=stream", *chunk(chunk_files, "c1"))
    assert again.returncode == 0, again.stderr
    assert "model stream:v2 was updated on this data already" in again.stdout
    assert sorted(state(cwd)[1]) == ["stream/v1", "stream/v2"]


def test_a_multirun_compares_updaters_in_one_study_and_saves_the_winner(
    chunk_files: Path, first_version: Path, tmp_path: Path
) -> None:
    cwd = copy_of(first_version, tmp_path)
    result = hyperplug(
        cwd,
        "update",
        "--multirun",
        "updater=fine_tuning,er",
        "model=stream:v1",
        *chunk(chunk_files, "c1"),
    )
    assert result.returncode == 0, result.stderr
    assert "fine_tuning" in result.stdout and "2 trials (2 completed)" in result.stdout
    assert sorted(state(cwd)[1]) == ["stream/v1", "stream/v2"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["model=strem", "@c1"], "model 'strem' not found (did you mean 'stream'?)"),
        (["model=stream", "updater=err", "@c1"], "updater"),
        (["model=stream", "@wide"], "shaped (n, 128) but model stream:v1 takes (n, 64)"),
        (["model=stream", "@empty"], "holds no samples"),
        (["model=stream", "updater.new_classes=refuse", "@c1"], "brings classes ['2', '3']"),
        (["model=stream", "updater.memory_size=0", "@c1"], "updater.memory_size must be"),
        (["model=stream", "updater.alpha=-1", "@c1"], "updater.alpha must be >= 0, got -1"),
        (["model=stream", "trainer=resnet", "@c1"], "trainer=resnet: model stream:v1 was"),
    ],
)
def test_bad_update_input_is_one_line_exit_2_and_changes_nothing(
    chunk_files: Path, first_version: Path, tmp_path: Path, args: list[str], expected: str
) -> None:
    cwd = copy_of(first_version, tmp_path)
    before = state(cwd)
    argv = [a for arg in args for a in (chunk(chunk_files, arg[1:]) if arg[0] == "@" else [arg])]
    result = hyperplug(cwd, "update", *argv)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hyperplug: error: "), result.stderr
    assert expected in lines[0]
    assert state(cwd) == before


def test_a_killed_update_leaves_version_n_and_the_same_command_resumes_it(
    chunk_files: Path, first_version: Path, tmp_path: Path
) -> None:
    cwd = copy_of(first_version, tmp_path)
    before = state(cwd)
    args = [
        "update",
        "model=stream",
        *chunk(chunk_files, "c1"),
        "trainer.epochs=25",
        "+training_params.er.lr=[0.01,0.005,0.002]",
    ]
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    process = subprocess.Popen(
        [HYPERPLUG, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not completed_trials(cwd, after=len(before[0])):
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    studies, versions = state(cwd)
    assert versions == before[1], "version N untouched, no half-written N+1"
    assert studies[-1][1] == "running"

    result = hyperplug(cwd, *args)
    assert result.returncode == 0, result.stderr
    studies, versions = state(cwd)
    assert sorted(versions) == ["stream/v1", "stream/v2"]
    assert versions["stream/v1"] == before[1]["stream/v1"]
    assert studies[-1][1] == "completed" and len(studies) == len(before[0]) + 1
