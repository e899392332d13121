"""End-to-end: ``hyperplug ... backend=ray`` in a subprocess against a real Ray cluster
(a head on loopback, and a second node that joins and is killed mid-study), the Hydra
sweeper and model updates on it, Ctrl-C, and bad input."""

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

import numpy as np
import pytest
import yaml
from ray_testing import SLOT, Cluster, alive_actors, free_port, needs_ray, wait_for

from hyperplug import build

pytestmark = pytest.mark.e2e

HYPERPLUG = str(Path(sys.executable).parent / "hyperplug")
SWEEP_APP = Path(__file__).resolve().parents[3] / "examples" / "sweep_app"
FAST = ["trainer.hidden_layers=[16]", "trainer.batch_size=32", "trainer.threads=1"]


def env_of(cluster: Cluster | None, **extra: str) -> dict[str, str]:
    base = cluster.env if cluster is not None else os.environ
    env = {k: v for k, v in base.items() if k != "HYDRA_FULL_ERROR"}
    return {**env, "COLUMNS": "220", **extra}


def hyperplug(
    cwd: Path, *args: str, cluster: Cluster | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HYPERPLUG, *args],
        cwd=cwd,
        env=env_of(cluster),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def query(cwd: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(cwd / ".hyperplug" / "hyperplug.db", timeout=30) as conn:
        return conn.execute(sql, params).fetchall()


def trials(cwd: Path) -> list[tuple[Any, ...]]:
    """(params, status, error, epochs recorded, last val_accuracy) of every trial."""
    return query(
        cwd,
        "SELECT t.params, t.status, t.error, MAX(m.epoch),"
        " (SELECT value FROM metrics WHERE trial_id = t.id AND name = 'val_accuracy'"
        "  ORDER BY epoch DESC LIMIT 1)"
        " FROM trials t LEFT JOIN metrics m ON m.trial_id = t.id GROUP BY t.id ORDER BY t.id",
    )


def running_with_reports(cwd: Path) -> int:
    db = cwd / ".hyperplug" / "hyperplug.db"
    if not db.exists():
        return 0
    try:
        rows = query(
            cwd,
            "SELECT COUNT(DISTINCT t.id) FROM trials t JOIN metrics m ON m.trial_id = t.id"
            " WHERE t.status = 'running'",
        )
    except sqlite3.OperationalError:  # the tables are being created
        return 0
    return int(rows[0][0])


def test_a_study_on_the_cluster_records_what_the_local_backend_records(
    ray_cluster: Cluster, tmp_path: Path
) -> None:
    """The same ASHA study, one trial at a time, on ``local`` and on ``ray``: the same
    trials stopped at the same epochs, the same metrics, the same winner; every epoch
    reached the driver as it happened (ASHA stopped trials before their last epoch)."""
    study = [
        "optimizer=asha",
        "optimizer.max_trials=6",
        "optimizer.max_epochs=6",
        "optimizer.seed=3",
        '+training_params.mlp.lr="loguniform(1e-3,1e-1)"',
        *FAST,
    ]
    (tmp_path / "local").mkdir()
    (tmp_path / "ray").mkdir()
    local = hyperplug(tmp_path / "local", *study, "backend.n_workers=1")
    assert local.returncode == 0, local.stderr
    on_ray = hyperplug(
        tmp_path / "ray",
        *study,
        "backend=ray",
        f"backend.address={ray_cluster.address}",
        "backend.n_workers=1",
        cluster=ray_cluster,
    )
    assert on_ray.returncode == 0, on_ray.stderr
    expected, got = trials(tmp_path / "local"), trials(tmp_path / "ray")
    assert [row[:4] for row in got] == [row[:4] for row in expected]
    assert np.allclose([row[4] for row in got], [row[4] for row in expected], atol=1e-6)
    stopped = [row for row in got if row[1] == "stopped"]
    assert stopped and all(row[3] < 6 for row in stopped)
    winner = "SELECT t.params FROM studies s JOIN trials t ON t.id = s.winner_trial_id"
    assert query(tmp_path / "ray", winner) == query(tmp_path / "local", winner)
    assert "model version: digits_model:v1" in on_ray.stdout


def test_a_node_lost_mid_study_fails_its_trial_and_the_study_completes(
    ray_cluster: Cluster, tmp_path: Path
) -> None:
    """Two actors, one on the head and one on a second node (each node has one
    trial_slot); the second node's processes are killed while both trials run: that
    trial fails with the reason, the other trials run on the head, the study completes
    and the tracker has every trial right."""
    node = ray_cluster.add_node(cpus=1)
    process = subprocess.Popen(
        [
            HYPERPLUG,
            "backend=ray",
            f"backend.address={ray_cluster.address}",
            "backend.n_workers=2",
            f"+backend.resources_per_trial.{SLOT}=1",
            "+training_params.mlp.lr=[0.01,0.02,0.03,0.04]",
            "trainer.epochs=100",
            "optimizer.max_retries=0",
            *FAST,
        ],
        cwd=tmp_path,
        env=env_of(ray_cluster),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: running_with_reports(tmp_path) == 2, 120, "two trials running")
        node.kill()
        stdout, stderr = process.communicate(timeout=180)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    rows = trials(tmp_path)
    statuses = sorted(row[1] for row in rows)
    assert statuses == ["completed", "completed", "completed", "failed"], rows
    [failed] = [row for row in rows if row[1] == "failed"]
    assert failed[2].startswith("Ray actor (pid ") and "died" in failed[2], failed
    assert 1 <= failed[3] < 100  # it had reported epochs, which stay recorded
    assert all(row[3] == 100 for row in rows if row[1] == "completed")
    assert query(tmp_path, "SELECT status FROM studies") == [("completed",)]
    assert "3 completed, 1 failed" in stdout


def test_a_study_through_ray_client_runs_on_the_cluster(
    ray_cluster: Cluster, tmp_path: Path
) -> None:
    """``backend.address=ray://HOST:PORT``: the driver talks to the cluster through Ray
    Client; the trials, their reports and the winner's weights come back the same way."""
    result = hyperplug(
        tmp_path,
        "backend=ray",
        f"backend.address=ray://127.0.0.1:{ray_cluster.client_port}",
        "backend.n_workers=1",
        "+training_params.mlp.lr=[0.01,0.02]",
        "trainer.epochs=2",
        *FAST,
        cluster=ray_cluster,
    )
    assert result.returncode == 0, result.stderr
    assert [row[1:4] for row in trials(tmp_path)] == [("completed", None, 2)] * 2
    assert "model version: digits_model:v1" in result.stdout


def test_ctrl_c_ends_the_study_and_leaves_no_actor_on_the_cluster(
    ray_cluster: Cluster, ray_driver: Any, tmp_path: Path
) -> None:
    """``backend.address=auto`` finds the cluster through RAY_ADDRESS; Ctrl-C while two
    trials run: exit code 130, the trials recorded as interrupted, and no actor of the
    study left alive on the cluster."""
    process = subprocess.Popen(
        [
            HYPERPLUG,
            "backend=ray",
            "backend.address=auto",
            "backend.n_workers=2",
            "+training_params.mlp.lr=[0.01,0.02,0.03]",
            "trainer.epochs=400",
            *FAST,
        ],
        cwd=tmp_path,
        env=env_of(ray_cluster, RAY_ADDRESS=ray_cluster.address),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: running_with_reports(tmp_path) == 2, 120, "two trials running")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted; run the same command again to resume the study" in stderr
    assert {row[2] for row in trials(tmp_path) if row[1] == "failed"} <= {
        "interrupted: the study process ended while the trial ran"
    }
    wait_for(lambda: not alive_actors(ray_driver), 30, "the study's actors to end")


def test_the_hydra_sweeper_runs_its_jobs_on_ray(ray_cluster: Cluster, tmp_path: Path) -> None:
    """``hydra.sweeper.backend`` comes from the registry: ray, with its own config keys."""
    app = tmp_path / "app"
    shutil.copytree(SWEEP_APP, app)
    result = subprocess.run(
        [
            sys.executable,
            "train.py",
            "--multirun",
            "hydra/sweeper=hyperplug",
            "hydra.sweep.dir=out",
            "hydra.sweeper.backend=ray",
            f"+hydra.sweeper.backend_config.address={ray_cluster.address}",
            "hydra.sweeper.n_workers=2",
            "hydra.sweeper.optimizer=asha",
            "hydra.sweeper.n_trials=4",
            "hydra.sweeper.max_epochs=5",
            "epochs=5",
            "hydra.sweeper.metric=val_loss",
            "+hydra.sweeper.params.lr='tag(log, interval(1e-3, 1))'",
        ],
        cwd=app,
        env=env_of(ray_cluster),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    results = yaml.safe_load((app / "out" / "optimization_results.yaml").read_text())
    assert len(results["trials"]) == 4
    assert {t["status"] for t in results["trials"]} <= {"completed", "stopped"}
    assert results["best_value"] is not None
    # each job is a Hydra job in the sweep directory, as with the local backend
    assert all(
        (app / "out" / str(t["job"]) / ".hydra" / "overrides.yaml").exists()
        for t in results["trials"]
    )


def test_an_update_runs_its_trials_on_a_private_ray(ray_cluster: Cluster, tmp_path: Path) -> None:
    """``backend.address=local`` (the default) starts a one-node Ray for the study; an
    update's trials get the chunk and the base model (``UpdateData``) through its object
    store, and version N+1 comes back with its parent. (The cluster only lends its auth
    token to the environment.)"""
    data = build("dataset", name="digits").load()
    for name, labels in (("c0", [0, 1]), ("c1", [2, 3])):
        rows = np.isin(data.y, labels)
        np.savez(tmp_path / f"{name}.npz", x=data.x[rows], y=data.y[rows])
    first = hyperplug(
        tmp_path,
        "update",
        "dataset=npz",
        f"dataset.path={tmp_path / 'c0.npz'}",
        "model_name=stream",
        "trainer.epochs=3",
        *FAST,
    )
    assert first.returncode == 0, first.stderr
    result = hyperplug(
        tmp_path,
        "update",
        "model=stream",
        "dataset=npz",
        f"dataset.path={tmp_path / 'c1.npz'}",
        "trainer.epochs=3",
        "+training_params.er.lr=[0.01,0.005]",
        "backend=ray",
        "+backend.init.num_cpus=2",
        f"+backend.init.object_store_memory={80 * 2**20}",
        "+backend.init.include_dashboard=false",
        cluster=ray_cluster,
    )
    assert result.returncode == 0, result.stderr
    assert "model version: stream:v2 [best, latest]" in result.stdout
    statuses = query(tmp_path, "SELECT status FROM trials WHERE study_id = 2")
    assert statuses == [("completed",), ("completed",)]
    shown = hyperplug(tmp_path, "model", "stream:v2")
    assert "parent: stream:v1" in " ".join(shown.stdout.split())


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hyperplug: error: "), result.stderr
    return lines[0]


@needs_ray
@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_address_where_nothing_answers_is_an_error_within_seconds(
    tmp_path: Path, scheme: str
) -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    result = hyperplug(
        tmp_path,
        "backend=ray",
        f"backend.address={scheme}127.0.0.1:{port}",
        "+training_params.mlp.lr=[0.01,0.02]",
        *FAST,
    )
    elapsed = time.monotonic() - started
    line = one_line_error(result)
    assert f"backend.address={scheme}127.0.0.1:{port}: nothing answers at 127.0.0.1:{port}" in line
    assert elapsed < 30
    assert not (tmp_path / ".hyperplug" / "hyperplug.db").exists()  # nothing written


@pytest.mark.parametrize("client", [False, True], ids=["head", "ray-client"])
def test_a_trial_larger_than_any_node_is_an_error_before_anything_is_written(
    ray_cluster: Cluster, tmp_path: Path, client: bool
) -> None:
    """Through the head's address and through Ray Client (``ray://``) alike."""
    address = f"ray://127.0.0.1:{ray_cluster.client_port}" if client else ray_cluster.address
    result = hyperplug(
        tmp_path,
        "backend=ray",
        f"backend.address={address}",
        "backend.resources_per_trial.gpu=2",
        "+training_params.mlp.lr=[0.01,0.02]",
        *FAST,
        cluster=ray_cluster,
    )
    line = one_line_error(result)
    assert "backend.resources_per_trial: a trial asks for CPU=1 GPU=2, more than any node" in line
    assert not (tmp_path / ".hyperplug" / "hyperplug.db").exists()


def test_without_ray_installed_the_error_names_the_extra(tmp_path: Path) -> None:
    """Ray made unimportable in the study process (as on an install without the extra)."""
    code = (
        "import sys; sys.modules['ray'] = None; sys.argv = ['hyperplug', *sys.argv[1:]]; "
        "from hyperplug.cli import main; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "backend=ray", "+training_params.mlp.lr=[0.01,0.02]"],
        cwd=tmp_path,
        env=env_of(None),
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = one_line_error(result)
    assert "backend=ray needs Ray, which is not installed: pip install 'hyperplug[ray]'" in line
