"""End-to-end: the real ``hyperplug`` console script in a subprocess, in a fresh directory."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

HYPERPLUG = str(Path(sys.executable).parent / "hyperplug")
FAST = ["trainer.epochs=2", "trainer.hidden_layers=[16]"]


def hyperplug(cwd: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [HYPERPLUG, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def studies(cwd: Path) -> list[tuple[str, str]]:
    db = cwd / ".hyperplug" / "hyperplug.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT name, status FROM studies").fetchall()


def versions(cwd: Path) -> list[str]:
    root = cwd / ".hyperplug" / "models"
    return sorted(str(p.relative_to(root)) for p in root.glob("*/v*")) if root.exists() else []


def test_help_lists_groups_options_and_commands_without_torch(tmp_path: Path) -> None:
    result = hyperplug(tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    for text in (
        "trainer: mlp, resnet, vit",
        "csv, digits, digits_images",
        "tracker: mlflow, sqlite",
        "vcs: mlflow, store",
        "experiment: digits_class_incremental, digits_grid, digits_rotation",
        "updater: der, er, ewc, fine_tuning, gdumb, joint, lwf, offline_er",
        "hyperplug studies",
        "lr: 0.001",
    ):
        assert text in result.stdout
    probe = (
        "import sys\nfrom hyperplug.cli import main\nsys.argv = ['hyperplug', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\nassert 'torch' not in sys.modules\n"
    )
    check = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr


def test_cfg_job_prints_the_composed_config_with_overrides(tmp_path: Path) -> None:
    result = hyperplug(
        tmp_path, "--cfg", "job", "trainer.hidden_layers=[256,128]", "trainer.activation=gelu"
    )
    assert result.returncode == 0, result.stderr
    assert "activation: gelu" in result.stdout
    assert "- 256\n  - 128" in result.stdout
    assert not (tmp_path / ".hyperplug").exists()


def test_a_single_run_trains_tracks_and_versions_the_model(tmp_path: Path) -> None:
    result = hyperplug(tmp_path, *FAST, "trainer.activation=gelu", "model_name=digits")
    assert result.returncode == 0, result.stderr
    assert "winner: trial 0" in result.stdout
    assert "model version: digits:v1 [best, latest]" in result.stdout
    assert versions(tmp_path) == ["digits/v1"]
    [(name, status)] = studies(tmp_path)
    assert status == "completed" and name.startswith("digits-")
    [summary] = (tmp_path / ".hyperplug" / "runs").glob("*/summary.json")
    data = json.loads(summary.read_text())
    assert data["trials"][0]["trainer_config"]["activation"] == "gelu"
    # the trainer keys set on the command line are the trial's params in the table
    assert data["trials"][0]["params"] == {"epochs": 2, "hidden_layers": [16], "activation": "gelu"}
    assert "epochs=2 hidden_layers=[16] activation=gelu" in result.stdout
    assert data["winner"]["version"] == 1

    shown = hyperplug(tmp_path, "study", name)
    assert shown.returncode == 0 and "completed" in shown.stdout and "digits:v1" in shown.stdout
    listed = hyperplug(tmp_path, "studies")
    assert name in listed.stdout and "val_accuracy (max)" in listed.stdout
    models = hyperplug(tmp_path, "models")
    assert "digits:v1" in models.stdout and "best, latest" in models.stdout
    model = hyperplug(tmp_path, "model", "digits:best")
    assert "lineage: digits:v1" in model.stdout and f"study: {name}" in model.stdout
    assert model.returncode == 0 and "(verified)" in model.stdout

    # a weights file altered after the fact is shown as such, not as a healthy version
    weights = tmp_path / ".hyperplug" / "models" / "digits" / "v1" / "weights.safetensors"
    payload = weights.read_bytes()
    weights.write_bytes(payload[:-1] + bytes([payload[-1] ^ 1]))
    altered = hyperplug(tmp_path, "model", "digits:best")
    assert altered.returncode == 1 and "NOT VERIFIED" in altered.stdout
    assert "do not match their sha256" in altered.stderr


def test_a_grid_from_training_params_runs_every_point(tmp_path: Path) -> None:
    result = hyperplug(
        tmp_path,
        *FAST,
        "+training_params.mlp.lr=[0.01,0.001]",
        "+training_params.mlp.activation=[relu,tanh]",
    )
    assert result.returncode == 0, result.stderr
    assert "4 trials (4 completed)" in result.stdout


def test_multirun_jobs_join_one_study_and_the_winner_is_versioned_once(tmp_path: Path) -> None:
    token = "tok_planted_4242"  # Hydra's "Launching jobs" lines list every job's overrides
    result = hyperplug(
        tmp_path, "--multirun", *FAST, "trainer.lr=0.1,0.01", "model_name=swept", f"+token={token}"
    )
    assert result.returncode == 0, result.stderr
    assert "#1 : trainer.epochs=2" in result.stdout and "+token=***" in result.stdout
    assert token not in result.stdout + result.stderr
    [(name, status)] = studies(tmp_path)
    assert status == "completed"
    assert "2 trials (2 completed)" in result.stdout
    assert versions(tmp_path) == ["swept/v1"]
    [summary] = (tmp_path / ".hyperplug" / "multirun").glob("*/summary.json")
    data = json.loads(summary.read_text())
    assert sorted(t["params"]["lr"] for t in data["trials"]) == [0.01, 0.1]
    # the trainer keys set on the command line are the params, swept or not (docs/cli.md)
    assert all(t["params"].keys() == {"epochs", "hidden_layers", "lr"} for t in data["trials"])
    assert data["study"]["name"] == name
    plots = [line[6:] for line in result.stdout.splitlines() if line.startswith("plot: ")]
    assert [Path(p).name for p in plots] == ["learning_curves.png", "best_so_far.png"]
    assert all((tmp_path / p).stat().st_size > 1000 for p in plots)


def test_a_bad_value_in_a_later_multirun_job_fails_before_any_job_trains(tmp_path: Path) -> None:
    result = hyperplug(tmp_path, "--multirun", *FAST, "trainer.lr=0.1,-0.1")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "hyperplug: error: trainer.lr must be > 0, got -0.1"
    ]
    assert studies(tmp_path) == [] and not (tmp_path / ".hyperplug" / "multirun").exists()


def test_a_multirun_whose_trials_all_fail_exits_non_zero_in_one_line(tmp_path: Path) -> None:
    result = hyperplug(
        tmp_path, "--multirun", *FAST, "trainer.optimizer=sgd", "trainer.lr=1e30,1e31"
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("hyperplug: error: study ") and "none of its 2 trials" in last, last
    assert [status for _, status in studies(tmp_path)] == ["failed"]


def test_plugins_lists_built_ins_with_their_distribution(tmp_path: Path) -> None:
    result = hyperplug(tmp_path, "plugins")
    assert result.returncode == 0, result.stderr
    assert "trainer=mlp" in result.stdout and "tracker=sqlite" in result.stdout
    assert "hyperplug" in result.stdout and "loaded" in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["trainer=mpl"], "mpl"),
        (["trainer.lr=abc"], "trainer.lr"),
        (["trainer.lr=-0.1"], "trainer.lr"),
        (["trainer.hiden_layers=[3]"], "trainer.hiden_layers"),
        (["+training_params.mlp.lr=[]"], "training_params.mlp.lr is an empty grid"),
        (["+training_params.mlp.hiden=[1]"], "training_params.mlp.hiden"),
        (["perf_metric=f1"], "perf_metric 'f1' is not among metrics"),
        (["mode=maximum"], "mode must be 'max', 'min' or null"),
        (
            ["+perf_metrik=val_loss"],
            "perf_metrik: unknown top-level key (did you mean 'perf_metric'?)",
        ),
        (["metrics=[]"], "metrics must be a non-empty list"),
        (["model_name=../escape"], "model_name"),
        (["dataset=csv", "dataset.path=missing.csv"], "missing.csv"),
        (["vcs.root=blocker/models"], "blocker"),
        (["vcs.root=blocker"], "blocker"),
        (["dataset=csv", "dataset.path=one_class.csv"], "has one class ('cat')"),
        (
            ["optimizer=rush", "optimizer.max_epochs=2", "optimizer.reference_study=nope"],
            "study 'nope' not found",
        ),
        (["tracker.path=blocker/hp.db"], "tracker.path: 'blocker/hp.db' is under the file"),
        (["home=blocker/runs"], "home: 'blocker/runs' is under the file 'blocker'"),
    ],
)
def test_bad_input_is_one_line_nonzero_and_writes_nothing(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    (tmp_path / "blocker").write_text("a file where the store wants a directory")
    (tmp_path / "one_class.csv").write_text("a,b,label\n" + "1,2,cat\n" * 30)
    result = hyperplug(tmp_path, *FAST, *args)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hyperplug: error:") and expected in lines[0], lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    # nothing at all: no empty database, no empty store (Hydra's run directory aside)
    home = tmp_path / ".hyperplug"
    left = sorted(p.name for p in home.iterdir()) if home.exists() else []
    assert left in ([], ["runs"]), left


def test_verbose_flag_shows_the_traceback(tmp_path: Path) -> None:
    result = hyperplug(tmp_path, "-v", *FAST, "perf_metric=f1")
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "ConfigError" in result.stderr


def test_inspection_of_unknown_things_is_a_clear_error(tmp_path: Path) -> None:
    # reading creates nothing: no database or store appears where none was
    result = hyperplug(tmp_path, "studies", "tracker.path=typo/hp.db")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "hyperplug: error: tracker.path: no tracker database at 'typo/hp.db' "
        "(run a study first, or point tracker.path at one)"
    )
    assert hyperplug(tmp_path, "models").returncode == 2
    assert not (tmp_path / "typo").exists() and not (tmp_path / ".hyperplug").exists()

    assert hyperplug(tmp_path, *FAST).returncode == 0
    result = hyperplug(tmp_path, "models", "digits_modl")
    assert result.returncode == 2
    assert "model 'digits_modl' not found (did you mean 'digits_model'?)" in result.stderr
    result = hyperplug(tmp_path, "study", "nope")
    assert result.returncode == 2
    assert result.stderr.strip() == "hyperplug: error: study 'nope' not found"
    result = hyperplug(tmp_path, "model", "digits_model:v9")
    assert result.returncode == 2 and "digits_model:v9" in result.stderr


def test_help_applies_overrides_and_reports_bad_ones_in_one_line(tmp_path: Path) -> None:
    result = hyperplug(tmp_path, "--help", "trainer=vit")
    assert result.returncode == 0, result.stderr
    assert "variant: vit_tiny_patch16_224" in result.stdout
    bad = hyperplug(tmp_path, "--help", "trainer=mpl")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "hyperplug: error: In 'config': Could not find 'trainer/mpl' Available options in "
        "'trainer': mlp resnet vit"
    ]


def test_secrets_never_reach_the_terminal_on_error_paths(tmp_path: Path) -> None:
    # Hydra's hint for an unknown key repeats the value; with -v Hydra itself prints the
    # overrides ("Error executing job with overrides: [...]") and the traceback follows
    hint = hyperplug(tmp_path, "tracker.api_key=sk-live-X")
    assert hint.returncode == 2 and "+tracker.api_key=***" in hint.stderr, hint.stderr
    job = hyperplug(tmp_path, "-v", "+api_token=sk-live-X", "trainer.epochs=0")
    assert job.returncode != 0 and "Error executing job with overrides" in job.stderr
    assert "+api_token=***" in job.stderr
    for result in (hint, job):
        assert "sk-live-X" not in result.stdout + result.stderr


def test_a_damaged_tracker_file_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    from hyperplug.plugins.sqlite import SQLiteTracker, SQLiteTrackerConfig

    db = tmp_path / ".hyperplug" / "hyperplug.db"
    tracker = SQLiteTracker(SQLiteTrackerConfig(path=str(db)))
    study = tracker.start_study("old", "val_accuracy", "max", {})
    for _ in range(40):
        tracker.start_trial(study.id, "mlp", {"pad": "x" * 300}, {})
    tracker.close()
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[len(data) - page + 3 : len(data) - page + 5] = b"\xff\xff"  # a leaf claims 65535 cells
    db.write_bytes(bytes(data))

    result = hyperplug(tmp_path, *FAST, "study=fresh")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    expected = "hyperplug: error: tracker database '.hyperplug/hyperplug.db' is damaged"
    assert line.startswith(expected), line
    assert "nothing was written" in line and "tracker.path" in line
    assert db.read_bytes() == bytes(data)
