"""The console script with tracker=wandb vcs=wandb and an API key but no W&B server (a
closed loopback port as W&B's base URL): W&B falls back to offline at once. Secrets are
planted in the config, the overrides, the W&B tags and entity and the environment: none
of them may reach any file the run wrote."""

from __future__ import annotations

import glob
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hyperplug.secrets import redact, redact_text

pytestmark = pytest.mark.e2e

HYPERPLUG = str(Path(sys.executable).parent / "hyperplug")
WANDB_KEY = "0123456789abcdef0123456789abcdef01234567"  # the shape of a W&B API key
SECRETS = {
    "env key": WANDB_KEY,
    "env token": "hf_planted_env_token_31337",
    "url password": "hunter2-planted",
    "config token": "tok_planted_in_config_4242",
}
OVERRIDES = [
    "tracker=wandb",
    "vcs=wandb",
    f"tracker.tags=[ci,{SECRETS['env key']}]",
    f"tracker.entity={SECRETS['env token']}",
    "trainer.epochs=1",
    "trainer.hidden_layers=[16]",
    "model_name=digits",
    f"+source=https://reader:{SECRETS['url password']}@data.example.com/digits.csv",
    f"+upload_token={SECRETS['config token']}",
]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


NO_SERVER = f"http://127.0.0.1:{closed_port()}"


def run(cwd: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env.pop("WANDB_MODE", None)
    env.update(
        COLUMNS="200",
        WANDB_BASE_URL=NO_SERVER,
        WANDB_SILENT="true",
        WANDB_API_KEY=SECRETS["env key"],
        HF_TOKEN=SECRETS["env token"],
        WANDB_DATA_DIR=str(cwd / "wandb-data"),
        WANDB_CACHE_DIR=str(cwd / "wandb-cache"),
        WANDB_CONFIG_DIR=str(cwd / "wandb-config"),
        **environ,
    )
    return subprocess.run(
        [HYPERPLUG, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    cwd = tmp_path_factory.mktemp("wandb-cli")
    return cwd, run(cwd, *OVERRIDES)


def test_without_a_server_wandb_runs_offline_and_says_how_to_sync(study: tuple[Path, Any]) -> None:
    cwd, result = study
    assert result.returncode == 0, result.stderr
    [fallback] = [line for line in result.stderr.splitlines() if "did not answer" in line]
    assert fallback.startswith(f"hyperplug: W&B server {NO_SERVER} did not answer (")
    [hint] = [line for line in result.stderr.splitlines() if "wandb sync" in line]
    pattern = hint.split("wandb sync ", 1)[1]
    assert pattern == f"{cwd / '.hyperplug' / 'wandb' / 'wandb'}/offline-run-*"
    assert len(glob.glob(pattern)) == 2  # the trial's run and the model version's
    models = run(cwd, "models", "vcs=wandb")
    assert models.returncode == 0, models.stderr
    assert "digits:v1" in models.stdout and "best, latest" in models.stdout


def test_no_secret_reaches_any_file_the_study_wrote(study: tuple[Path, Any]) -> None:
    cwd, result = study
    assert result.returncode == 0, result.stderr
    files = [p for p in cwd.rglob("*") if p.is_file()]
    assert len(files) > 20  # the db, Hydra's files, the log, W&B's runs and the model
    leaks = [
        (str(path.relative_to(cwd)), what)
        for path in files
        for what, secret in SECRETS.items()
        if secret.encode() in path.read_bytes()
    ]
    assert not leaks
    assert not any(secret in result.stdout + result.stderr for secret in SECRETS.values())
    # the planted keys were written, masked: the search above looked where they would be
    [overrides] = (cwd / ".hyperplug" / "runs").glob("*/.hydra/overrides.yaml")
    text = overrides.read_text()
    assert "+upload_token=***" in text and "reader:***@data.example.com" in text


def test_redaction_rules() -> None:
    config = {
        "api_key": "abc",
        "nested": {"password": "p", "lr": 0.1, "token_count": 3},
        "url": "https://u:pw@host/x",
        "note": f"key {WANDB_KEY} here",
        "sha256": "a" * 64,
    }
    assert redact(config, {}) == {
        "api_key": "***",
        "nested": {"password": "***", "lr": 0.1, "token_count": 3},
        "url": "https://u:***@host/x",
        "note": "key *** here",
        "sha256": "a" * 64,
    }
    assert redact_text("trainer.lr=0.1 +db.password=xyz", {}) == "trainer.lr=0.1 +db.password=***"
    assert redact_text("uses s3cr3t-value-1", {"MY_SECRET": "s3cr3t-value-1"}) == "uses ***"


@pytest.mark.parametrize(
    ("override", "environ", "message"),
    [
        ("tracker.mode=cloud", {}, "tracker.mode must be one of online, offline, disabled, auto"),
        ("tracker.project=a/b", {}, "tracker.project 'a/b' is not a valid W&B project name"),
        (
            "tracker.mode=offline",
            {"WANDB_MODE": "cloud"},
            "WANDB_MODE='cloud' in the environment is not a W&B mode",
        ),
    ],
)
def test_bad_wandb_config_fails_in_one_line_before_anything_is_written(
    tmp_path: Path, override: str, environ: dict[str, str], message: str
) -> None:
    result = run(tmp_path, "tracker=wandb", override, **environ)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("hyperplug: error: ") and message in line
    assert not (tmp_path / ".hyperplug" / "hyperplug.db").exists()
    assert not (tmp_path / ".hyperplug" / "wandb").exists()


def test_a_sweeps_winner_is_tagged_by_reopening_its_run(tmp_path: Path) -> None:
    from hyperplug.plugins.wandb.offline import read_run, run_dirs

    args = ["--multirun", "tracker=wandb", "tracker.mode=offline", "trainer.epochs=1"]
    result = run(tmp_path, *args, "trainer.hidden_layers=[16]", "trainer.lr=0.1,0.01")
    assert result.returncode == 0, result.stderr
    runs = [read_run(d) for d in run_dirs(tmp_path / ".hyperplug" / "wandb")]
    assert len(runs) == 3  # two trials (two job processes) + the winner's run reopened
    [reopened] = [r for r in runs if "winner" in r.tags]
    assert reopened.summary["winner"] is True and reopened.exit_code == 0
    assert sum(r.run_id == reopened.run_id for r in runs) == 2
