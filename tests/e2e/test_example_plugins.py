"""The example plugins, installed with pip the way a user installs a plugin.

These tests change the running environment: they pip-install a package from examples/
into it, use it through the real ``hyperplug`` command, and uninstall it in a ``finally``
so that a failure never leaves it installed. No network: ``--no-deps --no-index
--no-build-isolation`` builds with the environment's own setuptools.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.installs]

ROOT = Path(__file__).resolve().parents[2]
HYPERPLUG = str(Path(sys.executable).parent / "hyperplug")


def run(cwd: Path, *command: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["COLUMNS"] = "200"
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def hyperplug(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(cwd, HYPERPLUG, *args)


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return run(ROOT, sys.executable, "-m", "pip", "--disable-pip-version-check", *args)


def is_installed(dist: str) -> bool:
    try:
        distribution(dist)
    except PackageNotFoundError:
        return False
    return True


@contextmanager
def installed(folder: str, dist: str) -> Iterator[None]:
    """``pip install ./examples/<folder>`` for the duration of the block. Without build
    isolation setuptools builds in the source folder: the ``build/`` and ``*.egg-info``
    it leaves there are removed too (an egg-info next to the sources lists the plugin's
    entry point to any process that puts ``src`` on its path, as tests/docs does)."""
    if is_installed(dist):
        pytest.skip(f"{dist} is installed already; this test would uninstall it")
    source = ROOT / folder
    before = {*source.glob("build"), *source.glob("src/*.egg-info")}
    try:
        result = pip("install", "--no-deps", "--no-index", "--no-build-isolation", f"./{folder}")
        assert result.returncode == 0, result.stdout + result.stderr
        yield
    finally:
        pip("uninstall", "--yes", dist)
        for made in {*source.glob("build"), *source.glob("src/*.egg-info")} - before:
            shutil.rmtree(made)
    assert not is_installed(dist)


def test_xgboost_plugin_installs_runs_a_study_and_uninstalls(tmp_path: Path) -> None:
    with installed("examples/hyperplug-xgboost", "hyperplug-xgboost"):
        help_text = hyperplug(tmp_path, "--help")
        assert help_text.returncode == 0 and help_text.stderr == ""
        assert "trainer: mlp, resnet, vit, xgboost" in help_text.stdout
        experiments = next(
            line for line in help_text.stdout.splitlines() if line.startswith("experiment:")
        )
        assert "digits_grid" in experiments and "xgboost_digits" in experiments

        listing = hyperplug(tmp_path, "plugins")
        assert listing.returncode == 0, listing.stderr
        rows = [line.split() for line in listing.stdout.splitlines()]
        assert ["xgboost", "hyperplug-xgboost", "0.1.0", "1.0", "loaded"] in rows
        assert ["trainer=xgboost", "xgboost", "Gradient-boosted", "trees"] in [r[:4] for r in rows]

        study = hyperplug(
            tmp_path,
            "trainer=xgboost",
            "dataset=digits",
            "trainer.n_estimators=6",
            "trainer.rounds_per_epoch=2",
            "trainer.threads=1",
            "model_name=boosted",
        )
        assert study.returncode == 0, study.stderr
        assert "1 trials (1 completed)" in study.stdout
        assert "model version: boosted:v1 [best, latest]" in study.stdout
        model = hyperplug(tmp_path, "model", "boosted:best")
        assert "trainer: xgboost" in model.stdout and "rounds_per_epoch=2" in model.stdout
        # an XGBoost model cannot be updated by the torch updaters: one line, no crash
        update = hyperplug(tmp_path, "update", "model=boosted", "updater=er")
        assert update.returncode == 2, update.stdout + update.stderr
        assert update.stderr.strip() == (
            "hyperplug: error: updater=er updates torch trainers (subclasses of "
            "hyperplug.plugins.torch.trainer.TorchTrainer); trainer xgboost is not one"
        )

        own_tests = run(
            ROOT / "examples" / "hyperplug-xgboost",
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
        )
        assert own_tests.returncode == 0, own_tests.stdout[-3000:]

    help_text = hyperplug(tmp_path, "--help")
    assert "trainer: mlp, resnet, vit\n" in help_text.stdout and "xgboost" not in help_text.stdout
    gone = hyperplug(tmp_path, "trainer=xgboost")
    assert gone.returncode != 0 and "xgboost" in gone.stderr


# The template plugin is installed, listed, used in a study, tested with its suite and
# built as docs/first-plugin.md says: tests/e2e/test_first_plugin.py follows that page.
