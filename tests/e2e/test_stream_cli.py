"""End-to-end: simulated streams through the real ``hyperplug`` command: a scenario's
chunks updated one after another, evaluated on every chunk, recorded, plotted, compared
across updaters, resumed after a kill."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_cifar

pytestmark = pytest.mark.e2e

HYPERPLUG = str(Path(sys.executable).parent / "hyperplug")
SMALL = [
    "+experiment=digits_class_incremental",
    "scenario.n_chunks=3",
    "trainer.epochs=3",
    "trainer.hidden_layers=[16]",
]


def hyperplug(cwd: Path, *args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["COLUMNS"] = "220"
    return subprocess.run(
        [HYPERPLUG, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def query(cwd: Path, sql: str) -> list[tuple]:
    db = cwd / ".hyperplug" / "hyperplug.db"
    if not db.exists():
        return []
    with sqlite3.connect(db, timeout=30) as conn:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'trials'").fetchone():
            return []
        return conn.execute(sql).fetchall()


def stream_trials(cwd: Path) -> list[tuple[str, str]]:
    return query(
        cwd,
        "SELECT t.params, t.status FROM trials t JOIN studies s ON t.study_id = s.id "
        "WHERE s.perf_metric = 'average_accuracy' ORDER BY t.id",
    )


def test_a_class_incremental_stream_is_evaluated_recorded_and_plotted(tmp_path: Path) -> None:
    result = hyperplug(tmp_path, *SMALL, "updater=er")
    assert result.returncode == 0, result.stderr
    assert "accuracy after update i (rows) on chunk j (columns)" in result.stdout
    [summary] = list(tmp_path.glob(".hyperplug/runs/*/stream.json"))
    stream = json.loads(summary.read_text())
    accuracy = stream["accuracy"]
    assert len(accuracy) == 3 and stream["updater"] == "er"
    # a model never predicts classes it has not seen: chunks to come score 0
    assert all(accuracy[i][j] == 0 for i in range(3) for j in range(i + 1, 3))
    assert accuracy[0][0] > 0.5
    assert stream["versions"] == [f"{stream['study']}:v{k}" for k in (1, 2, 3)]
    final = stream["updates"][-1]
    assert {"average_accuracy", "forgetting", "backward_transfer", "flips_to_wrong"} <= set(final)
    # recorded in the tracker: one trial per update with its row of the matrix
    trials = stream_trials(tmp_path)
    assert [json.loads(p)["update"] for p, _ in trials] == [0, 1, 2]
    [(value,)] = query(
        tmp_path,
        "SELECT value FROM metrics m JOIN trials t ON m.trial_id = t.id "
        "WHERE m.name = 'accuracy_chunk_0' AND t.params LIKE '%\"update\": 2%'",
    )
    assert value == pytest.approx(accuracy[2][0])
    plots = tmp_path / ".hyperplug" / "studies" / stream["study"]
    assert (plots / "accuracy_matrix.png").stat().st_size > 1000
    assert (plots / "average_accuracy.png").exists()
    models = hyperplug(tmp_path, "model", stream["versions"][-1])
    assert f"lineage: {' <- '.join(reversed(stream['versions']))}" in models.stdout


def test_a_multirun_over_updaters_compares_their_streams(tmp_path: Path) -> None:
    result = hyperplug(tmp_path, "--multirun", *SMALL, "updater=fine_tuning,gdumb")
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("streams compared (after the last update)")[1]
    rows = {line.split("│")[1].strip(): line for line in table.splitlines() if "│" in line}
    assert set(rows) == {"fine_tuning", "gdumb"}

    def final(updater: str) -> float:
        return float(rows[updater].split("│")[3])

    assert final("gdumb") > final("fine_tuning")


def test_a_killed_stream_resumes_without_repeating_finished_updates(tmp_path: Path) -> None:
    args = [*SMALL, "trainer.epochs=15", "updater=er"]
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    process = subprocess.Popen(
        [HYPERPLUG, *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 200
    while time.time() < deadline and len(stream_trials(tmp_path)) < 1:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = stream_trials(tmp_path)
    assert 1 <= len(before) < 3, before
    trained = query(tmp_path, "SELECT id FROM trials WHERE trainer = 'er' AND params = '{}'")

    result = hyperplug(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    after = stream_trials(tmp_path)
    assert [json.loads(p)["update"] for p, s in after if s == "completed"] == [0, 1, 2]
    # the updates finished before the kill were loaded, not trained again
    retrained = query(tmp_path, "SELECT id FROM trials WHERE trainer = 'er' AND params = '{}'")
    assert len(retrained) - len(trained) <= 3 - len(before)
    versions = sorted(p.name for p in tmp_path.glob(".hyperplug/models/*/v*"))
    assert versions == ["v1", "v2", "v3"]


def test_a_colour_dataset_from_its_files_is_a_hue_shift_stream(tmp_path: Path) -> None:
    write_cifar(tmp_path / "cifar", "cifar10", rows=30, labels=[0, 1, 2])
    result = hyperplug(
        tmp_path,
        "scenario=hue_shift",
        "scenario.n_chunks=2",
        "updater=er",
        "dataset=cifar10",
        f"dataset.root={tmp_path / 'cifar'}",
        "dataset.verify=false",
        "trainer.epochs=2",
        "trainer.hidden_layers=[8]",
    )
    assert result.returncode == 0, result.stderr
    [summary] = list(tmp_path.glob(".hyperplug/runs/*/stream.json"))
    assert len(json.loads(summary.read_text())["accuracy"]) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scenario.n_chunks=11"], "scenario.n_chunks=11: a class-incremental stream needs"),
        (["scenario=rotation"], "scenario=rotation needs images shaped (n, H, W)"),
        (["scenario=data_incremental", "+scenario.column=date"], "scenario.column: 'date'"),
        (["~updater"], "choose an updater (e.g. updater=er)"),
    ],
)
def test_a_stream_that_cannot_be_cut_is_one_line_and_writes_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = hyperplug(tmp_path, "+experiment=digits_class_incremental", *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / ".hyperplug" / "hyperplug.db").exists()
