"""End-to-end: the image trainers and datasets through the real ``hyperplug`` console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

HYPERPLUG = str(Path(sys.executable).parent / "hyperplug")
TINY = ["dataset=digits_images", "dataset.max_samples=90", "trainer.epochs=1"]


def hyperplug(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [HYPERPLUG, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_resnet_on_digits_images(tmp_path: Path) -> None:
    result = hyperplug(
        tmp_path,
        "trainer=resnet",
        *TINY,
        "+trainer.model_kwargs.layers=[1,1,1,1]",
        "+trainer.model_kwargs.channels=[8,8,16,16]",
        "trainer.augment=flip_crop",
    )
    assert result.returncode == 0, result.stderr
    assert "model version: digits_images_model:v1" in result.stdout


def test_multirun_compares_mlp_resnet_and_vit_in_one_study(tmp_path: Path) -> None:
    result = hyperplug(
        tmp_path, "--multirun", "trainer=mlp,resnet,vit", *TINY, "trainer.batch_size=32"
    )
    assert result.returncode == 0, result.stderr
    assert "3 trials (3 completed)" in result.stdout
    for trainer in ("mlp", "resnet", "vit"):
        assert f"│ {trainer}" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["trainer=resnet", "trainer.variant=resnet19"], "close names: resnet18"),
        (["dataset=mnist", "dataset.root=nowhere"], "not found under nowhere/MNIST/raw"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = hyperplug(tmp_path, *args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / ".hyperplug" / "models").exists()
