"""End-to-end: ``hyperplug drift`` and ``hyperplug update ... detector=`` in a subprocess,
against a real store; the test reads only, a skipped update writes nothing, bad input is
one line and exit code 2."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

import hyperplug
from hyperplug import build
from hyperplug.interfaces import VersionMeta

pytestmark = pytest.mark.e2e

HYPERPLUG = str(Path(sys.executable).parent / "hyperplug")
TINY = {"name": "mlp", "hidden_layers": [16], "epochs": 2, "batch_size": 32, "lr": 0.01}


def hyperplug_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["COLUMNS"] = "220"
    return subprocess.run(
        [HYPERPLUG, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def files(cwd: Path) -> dict[str, str]:
    """Every file under ``cwd``/.hyperplug and the sha256 of its bytes, but Hydra's run
    directories (the composed config and log every run of the app writes)."""
    return {
        str(path.relative_to(cwd)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((cwd / ".hyperplug").rglob("*"))
        if path.is_file() and "runs" not in path.relative_to(cwd / ".hyperplug").parts
    }


def rows(output: str) -> dict[str, str]:
    pairs = (line.partition(":") for line in output.splitlines())
    return {key.strip(): value.strip() for key, _, value in pairs}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory whose store holds stream:v1 (trained on digits) and old:v1 (saved
    without a sample, as versions were before they kept one), with chunk files:
    rotated.npz (digits rotated by 20 degrees) and wide.npz (128 features)."""
    cwd = tmp_path_factory.mktemp("drift")
    home = cwd / ".hyperplug"
    splits = build("splitter", name="stratified").split_data(build("dataset", name="digits").load())
    hyperplug.update(splits, trainer=TINY, model_name="stream", home=home)
    store = build("vcs", name="store", root=str(home / "models"))
    store.save("old", {"w": np.zeros(3, np.float32)}, VersionMeta(trainer="mlp", trainer_config={}))
    data = build("dataset", name="digits").load()
    images = data.x.reshape(-1, 8, 8)
    turned = np.stack([ndimage.rotate(i, 20, reshape=False, order=1) for i in images])
    np.savez(cwd / "rotated.npz", x=turned.reshape(len(data), 64), y=data.y)
    np.savez(cwd / "wide.npz", x=np.tile(data.x, 2), y=data.y)
    return cwd


def test_drift_reports_the_test_and_reads_only(project: Path) -> None:
    before = files(project)
    calm = hyperplug_cli(project, "drift", "model=stream")
    assert calm.returncode == 0, calm.stderr
    shown = rows(calm.stdout)
    assert shown["model"].startswith("stream:v1 (keeps 500 of its")
    assert shown["data"] == "dataset=digits, 1797 rows"
    assert shown["detector"].startswith("mmd (alpha=0.05 seed=0")
    assert shown["sample sizes"] == "reference 500, new 1797"
    assert shown["verdict"].startswith("no shift (p-value ")
    assert shown["verdict"].endswith(">= alpha 0.05)")
    assert float(shown["p-value"]) >= 0.05

    moved = hyperplug_cli(
        project,
        "drift",
        "model=stream:v1",
        "detector=ks",
        "dataset=npz",
        "dataset.path=rotated.npz",
    )
    assert moved.returncode == 0, moved.stderr  # a shift is a finding, not a failure
    shown = rows(moved.stdout)
    assert shown["detector"].startswith("ks (alpha=0.05")
    assert shown["verdict"].startswith("shift (p-value ") and "< alpha 0.05" in shown["verdict"]
    assert shown["correction"] == "bonferroni-holm"
    assert int(shown["moved"]) > 0 and "(statistic " in shown["moved features"]
    assert files(project) == before


def test_an_update_skips_when_nothing_shifted_and_records_the_test_when_it_runs(
    project: Path, tmp_path: Path
) -> None:
    import shutil

    shutil.copytree(project / ".hyperplug", tmp_path / ".hyperplug")
    before = files(tmp_path)
    skipped = hyperplug_cli(tmp_path, "update", "model=stream", "detector=mmd")
    assert skipped.returncode == 0, skipped.stderr
    lines = skipped.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("no shift: mmd statistic "), skipped.stdout
    assert ">= alpha 0.05 (1797 new rows against 500 kept by stream:v1)" in lines[0]
    assert lines[0].endswith("update skipped (nothing trained, no version saved)")
    assert files(tmp_path) == before

    chunk = ["dataset=npz", f"dataset.path={project / 'rotated.npz'}"]
    updated = hyperplug_cli(tmp_path, "update", "model=stream", "detector=mmd", *chunk)
    assert updated.returncode == 0, updated.stderr
    assert "model version: stream:v2" in updated.stdout
    shown = rows(hyperplug_cli(tmp_path, "model", "stream:v2").stdout)
    assert shown["drift"].startswith("mmd statistic ")
    assert "shift (p-value " in shown["drift"] and "< alpha 0.05" in shown["drift"]
    assert shown["drift"].endswith("1797 rows against 500 kept by stream:v1")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["drift", "model=strem"], "model 'strem' not found (did you mean 'stream'?)"),
        (
            ["drift", "model=stream", "dataset=npz", "dataset.path=wide.npz"],
            "dataset: the chunk's samples are shaped (n, 128) but model stream:v1 takes (n, 64)",
        ),
        (["drift", "model=old"], "model=old: version old:v1 keeps no sample of its training"),
        (["drift"], "usage: hyperplug drift model=NAME[:vN|:alias]"),
        (["update", "detector=ks"], "detector=ks tests an update's data against the model"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    project: Path, args: list[str], expected: str
) -> None:
    before = files(project)
    result = hyperplug_cli(project, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hyperplug: error: "), result.stderr
    assert expected in lines[0]
    assert files(project) == before
