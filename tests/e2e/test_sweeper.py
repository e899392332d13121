"""End-to-end: the example Hydra app (examples/sweep_app) swept by the hyperplug sweeper,
run as a user runs it: ``python train.py --multirun hydra/sweeper=hyperplug ...``."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.e2e

APP = Path(__file__).resolve().parents[2] / "examples" / "sweep_app"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    shutil.copytree(APP, tmp_path / "app")
    return tmp_path / "app"


def command(*args: str) -> list[str]:
    return [sys.executable, "train.py", "--multirun", "hydra/sweeper=hyperplug", *args]


def sweep(app: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run(
        command("hydra.sweep.dir=out", *args),
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def query(app: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(app / ".hyperplug" / "hyperplug.db") as conn:
        return conn.execute(sql).fetchall()


def results(app: Path) -> dict[str, Any]:
    return yaml.safe_load((app / "out" / "optimization_results.yaml").read_text())


def test_random_search_end_to_end(app: Path) -> None:
    done = sweep(
        app,
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.n_workers=2",
        "+hydra.sweeper.params.lr='tag(log, interval(1e-3, 1))'",
        "batch_size=choice(16,64)",
        "epochs=3",
    )
    assert done.returncode == 0, done.stderr
    found = results(app)
    assert found["metric"] == "objective" and found["mode"] == "min"
    assert len(found["trials"]) == 4
    assert all(t["status"] == "completed" for t in found["trials"])
    values = [t["value"] for t in found["trials"]]
    assert found["best_value"] == min(values)
    best = found["trials"][values.index(min(values))]
    assert found["best_params"] == best["params"]
    assert set(best["params"]) == {"lr", "batch_size"}
    # every job ran in its own job dir with the trial's overrides, numbered like the trials
    assert sorted(int(p.name) for p in (app / "out").iterdir() if p.is_dir()) == [0, 1, 2, 3]
    job = yaml.safe_load((app / "out" / str(best["job"]) / ".hydra" / "config.yaml").read_text())
    assert job["lr"] == pytest.approx(best["params"]["lr"]) and job["epochs"] == 3
    # the tracker has the study, its trials and their per-epoch reports
    [(name, status, metric)] = query(app, "SELECT name, status, perf_metric FROM studies")
    assert name == found["study"] and status == "completed" and metric == "objective"
    epochs = query(app, "SELECT COUNT(DISTINCT epoch) FROM metrics WHERE name='val_loss'")
    assert epochs == [(3,)]
    objectives = query(app, "SELECT value FROM metrics WHERE name='objective' ORDER BY trial_id")
    assert [v for (v,) in objectives] == pytest.approx(values)


def test_a_free_worker_starts_the_next_job_without_waiting_for_the_slow_one(app: Path) -> None:
    done = sweep(
        app,
        "hydra.sweeper.optimizer=grid",
        "hydra.sweeper.n_workers=2",
        "hydra.sweeper.n_trials=4",
        "epochs=400,2,2,2",
    )
    assert done.returncode == 0, done.stderr
    trials = query(app, "SELECT number, started_at, ended_at FROM trials ORDER BY number")
    slow_end = trials[0][2]
    assert all(started < slow_end for _, started, _ in trials[1:]), trials


def test_asha_stops_poor_trials_early(app: Path) -> None:
    done = sweep(
        app,
        "hydra.sweeper.optimizer=asha",
        "hydra.sweeper.n_trials=8",
        "hydra.sweeper.n_workers=2",
        "hydra.sweeper.max_epochs=9",
        "hydra.sweeper.metric=val_loss",
        "lr=tag(log, interval(1e-4, 1))",
        "epochs=9",
    )
    assert done.returncode == 0, done.stderr
    statuses = [t["status"] for t in results(app)["trials"]]
    assert "stopped" in statuses and "completed" in statuses, statuses
    stopped = query(
        app,
        "SELECT t.id, MAX(m.epoch) FROM trials t JOIN metrics m ON m.trial_id = t.id "
        "WHERE t.status = 'stopped' AND m.name = 'val_loss' GROUP BY t.id",
    )
    assert stopped and all(1 <= last < 9 for _, last in stopped), stopped


def test_a_killed_sweep_resumes_where_it_stopped(app: Path) -> None:
    args = [
        "hydra.sweep.dir=out",
        "hydra.sweeper.n_trials=6",
        "lr=interval(0.01, 0.5)",
        "epochs=60",
    ]
    first = subprocess.Popen(
        command(*args),
        cwd=app,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    db = app / ".hyperplug" / "hyperplug.db"
    deadline = time.time() + 60
    try:
        while time.time() < deadline:
            # the file exists a moment before the tracker has created its tables
            tables = query(app, "SELECT name FROM sqlite_master") if db.exists() else []
            if ("trials",) in tables and query(
                app, "SELECT COUNT(*) FROM trials WHERE status='completed'"
            ) >= [(2,)]:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the first sweep completed no two trials in 60 s")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    before = query(app, "SELECT id, number, status FROM trials WHERE status='completed'")
    assert 2 <= len(before) < 6

    done = sweep(app, *args[1:])
    assert done.returncode == 0, done.stderr
    trials = query(app, "SELECT id, number, status, error FROM trials ORDER BY number")
    completed = [t for t in trials if t[2] == "completed"]
    interrupted = [t for t in trials if t[2] == "failed"]
    assert len(completed) == 6  # topped up to n_trials, counting the first run's
    assert {t[:3] for t in completed} >= set(before)  # finished trials were not re-run
    assert all("interrupted" in t[3] for t in interrupted)
    numbers = [t[1] for t in trials]
    assert numbers == list(range(len(trials)))  # numbering went on after the kill
    dirs = {int(p.name) for p in (app / "out").iterdir() if p.is_dir()}
    assert {t[1] for t in completed} <= dirs
    assert query(app, "PRAGMA integrity_check") == [("ok",)]
    assert len(query(app, "SELECT id FROM studies")) == 1
    assert len(results(app)["trials"]) == len(trials)


def test_a_sweep_directory_resumes_only_the_same_search(app: Path) -> None:
    args = ["hydra.sweeper.optimizer=random", "epochs=2", "report=false"]
    assert sweep(app, *args, "hydra.sweeper.n_trials=2", "lr=interval(0.01, 0.1)").returncode == 0
    # a bigger budget tops the same study up
    done = sweep(app, *args, "hydra.sweeper.n_trials=3", "lr=interval(0.01, 0.1)")
    assert done.returncode == 0, done.stderr
    assert len(results(app)["trials"]) == 3
    # another space would mix two searches in one result
    done = sweep(app, *args, "hydra.sweeper.n_trials=3", "lr=interval(0.2, 0.5)")
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert "hydra.sweep.dir=out holds study" in last and "of another search" in last, last
    assert "the command-line sweep differ" in last, last
    assert len(results(app)["trials"]) == 3


def test_failing_jobs_are_recorded_and_max_failures_ends_the_sweep(app: Path) -> None:
    done = sweep(
        app,
        "hydra.sweeper.optimizer=grid",
        "hydra.sweeper.max_failures=1",
        "lr=0.01,0.5,0.6,0.02",
        "fail_when_lr_above=0.1",
        "epochs=2",
    )
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("hyperplug sweeper: error: study ")
    assert "2 trials failed, more than hydra.sweeper.max_failures=1" in last
    assert "Traceback" not in done.stderr
    trials = results(app)["trials"]
    assert [t["status"] for t in trials] == ["completed", "failed", "failed"]
    assert trials[1]["error"] == "RuntimeError: diverged: lr 0.5 is above 0.1"
    assert results(app)["best_params"] == {"lr": 0.01}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["+hydra.sweeper.params.lr='interval(0.1'"],
            "malformed sweep expression 'lr=interval(0.1'",
        ),
        (
            ["lrr=interval(0.01, 0.1)"],
            "hydra.sweeper.params.lrr: 'lrr' is not in the app's config; close keys: lr",
        ),
        (
            [
                "hydra.sweeper.optimizer=asha",
                "hydra.sweeper.max_epochs=2",
                "hydra.sweeper.metric=val_loss",
                "lr=interval(0.01, 0.1)",
                "epochs=2",
                "report=false",
            ],
            "optimizer asha needs per-epoch metrics: call hyperplug.report(epoch=..., "
            "<metric>=...) in the task function, or use random/bo/tpe/grid",
        ),
        (
            ["hydra.sweeper.optimizer=asha", "lr=interval(0.01, 0.1)"],
            "hydra.sweeper.max_epochs: optimizer=asha needs an epoch budget",
        ),
        (
            [
                "hydra.sweeper.optimizer=asha",
                "hydra.sweeper.max_epochs=2",
                "lr=interval(0.01, 0.1)",
                "epochs=2",
            ],
            "optimizer asha decides on hydra.sweeper.metric=objective each epoch, but the app "
            "reports val_accuracy, val_loss: set hydra.sweeper.metric to one of them",
        ),
        (
            ["hydra.sweeper.direction=maximize", "lr=interval(0.01, 0.1)"],
            "hydra.sweeper.direction is the Optuna sweeper's key; hyperplug's is "
            "hydra.sweeper.mode (min or max)",
        ),
    ],
    ids=[
        "malformed",
        "unknown-key",
        "asha-without-reports",
        "asha-without-max-epochs",
        "asha-on-a-metric-never-reported",
        "optuna-key",
    ],
)
def test_bad_input_is_one_line(app: Path, args: list[str], message: str) -> None:
    done = sweep(app, *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"hyperplug sweeper: error: {message}")


def test_hyperplug_app_with_the_joblib_launcher_joins_one_study(tmp_path: Path) -> None:
    """Each joblib job process re-composes the config: the sweep dir (``${now:...}``),
    hence the study name, must be the same in all of them."""
    hyperplug = str(Path(sys.executable).parent / "hyperplug")
    done = subprocess.run(
        [
            hyperplug,
            "--multirun",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            "trainer.lr=0.1,0.01",
            "trainer.epochs=2",
            "trainer.hidden_layers=[16]",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / ".hyperplug" / "hyperplug.db") as conn:
        studies = conn.execute("SELECT id, status, winner_trial_id FROM studies").fetchall()
        trials = conn.execute("SELECT study_id, status, params FROM trials").fetchall()
    [(study_id, status, winner)] = studies
    assert status == "completed" and winner is not None
    assert sorted(yaml.safe_load(p)["lr"] for _, _, p in trials) == [0.01, 0.1]
    assert all(t[:2] == (study_id, "completed") for t in trials)
    assert len(list((tmp_path / ".hyperplug" / "models").glob("*/v*"))) == 1


def test_hyperplug_app_under_the_hyperplug_sweeper_is_one_study_on_its_perf_metric(
    tmp_path: Path,
) -> None:
    """hyperplug's trainers report every epoch to the sweep, which optimises the app's
    perf_metric in the app's direction (val_accuracy, max) and may stop them early."""
    hyperplug = str(Path(sys.executable).parent / "hyperplug")
    done = subprocess.run(
        [
            hyperplug,
            "--multirun",
            "hydra/sweeper=hyperplug",
            "hydra/sweeper/optimizer=asha",
            "hydra.sweeper.n_trials=6",
            "hydra.sweeper.n_workers=2",
            "hydra.sweeper.max_epochs=5",
            "hydra.sweeper.optimizer.seed=3",
            "trainer.lr=tag(log, interval(1e-4, 1e-1))",
            "trainer.hidden_layers=[16]",
            "hydra.sweep.dir=out",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    found = yaml.safe_load((tmp_path / "out" / "optimization_results.yaml").read_text())
    assert (found["metric"], found["mode"]) == ("val_accuracy", "max")
    statuses = [t["status"] for t in found["trials"]]
    assert len(statuses) == 6 and "stopped" in statuses, statuses
    values = [t["value"] for t in found["trials"]]
    assert found["best_value"] == max(values)
    with sqlite3.connect(tmp_path / ".hyperplug" / "hyperplug.db") as conn:
        studies = conn.execute("SELECT id FROM studies").fetchall()
        epochs = conn.execute(
            "SELECT t.status, MAX(m.epoch) FROM trials t JOIN metrics m ON m.trial_id = t.id "
            "WHERE m.name = 'val_accuracy' GROUP BY t.id"
        ).fetchall()
    assert len(studies) == 1  # the app started no study of its own
    assert {n for s, n in epochs if s == "completed"} == {5}  # the sweep's epoch budget
    assert all(n < 5 for s, n in epochs if s == "stopped")
