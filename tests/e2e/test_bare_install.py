"""``pip install hyperplug`` in a fresh virtual environment: the core alone, then with the
``[sklearn]`` extra and a numpy-only trainer plugin (the template in examples/).

Offline: the wheels of the core's requirements (at requirements.lock's versions) are
fetched once into a wheelhouse beside this environment (``<sys.prefix>/wheelhouse``)
and every later run installs from there with ``--no-index``. hyperplug itself is built
from a copy of the working tree, so the tree gets no build folders.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.installs]

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
#: what hyperplug's wheel is built from
SOURCES = ("pyproject.toml", "README.md", "core", "plugins", "conf", "hydra_plugins")
#: what only an extra may bring
HEAVY = ("torch", "torchvision", "timm", "syne-tune", "botorch", "scikit-learn", "scipy",
         "matplotlib", "wandb", "pandas", "boto3")  # fmt: skip


def run(*command: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR", "PYTHONPATH")}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def pip(*args: str | Path) -> subprocess.CompletedProcess[str]:
    result = run(sys.executable, "-m", "pip", "--disable-pip-version-check", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def requirements(*extras: str) -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]
    return [*project["dependencies"], *(r for e in extras for r in extra[e])]


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """``--find-links`` options: the wheelhouse (the core and [sklearn] at the lock's
    versions) and a folder with hyperplug's and the template plugin's wheels."""
    wanted = requirements("sklearn")
    key = hashlib.sha256(("\n".join(wanted) + LOCK.read_text()).encode()).hexdigest()[:12]
    house = Path(sys.prefix) / "wheelhouse" / key
    if not house.is_dir():  # the one download: the next runs are offline
        part = house.with_name(f"{key}.part")
        shutil.rmtree(part, ignore_errors=True)
        # wheel, not download: antlr4-python3-runtime (Hydra's parser) is an sdist only
        pip("wheel", "--quiet", "-w", part, "-c", LOCK, *wanted)
        part.rename(house)
    built = tmp_path_factory.mktemp("built")
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy(ROOT / name, source / name)
    template = tmp_path_factory.mktemp("template") / "t"
    shutil.copytree(ROOT / "examples" / "hyperplug-plugin-template", template)
    for project in (source, template):
        pip("wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", built, project)
    return ["--find-links", str(house), "--find-links", str(built)]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheels: list[str]) -> Path:
    """A fresh environment with ``pip install hyperplug`` (offline): its bin folder."""
    root = tmp_path_factory.mktemp("bare") / "venv"
    result = run(sys.executable, "-m", "venv", "--without-pip", root)
    assert result.returncode == 0, result.stderr
    install(root / "bin", wheels, "hyperplug")
    return root / "bin"


def install(bin_dir: Path, wheels: list[str], *what: str) -> None:
    pip("--python", bin_dir / "python", "install", "--quiet", "--no-index", *wheels, *what)


def installed(bin_dir: Path) -> set[str]:
    listing = pip("--python", bin_dir / "python", "list", "--format=freeze")
    return {line.split("==")[0].lower() for line in listing.stdout.splitlines()}


def test_the_bare_core_installs_no_integration_and_names_each_extra(
    venv: Path, tmp_path: Path
) -> None:
    assert not installed(venv) & set(HEAVY)

    listing = run(venv / "hyperplug", "plugins", cwd=tmp_path)
    assert listing.returncode == 0 and listing.stderr == "", listing.stderr
    rows = {line.split()[0]: line.split() for line in listing.stdout.splitlines() if line.strip()}
    extras = {"torch": "torch", "torchvision": "vision", "synetune": "synetune"}
    extras |= {"sklearn": "sklearn", "scipy": "scipy", "wandb": "wandb", "sagemaker": "sagemaker"}
    for plugin, extra in extras.items():
        assert rows[plugin][-2:] == ["needs", f"[{extra}]"], listing.stdout
    for plugin in ("grid", "local", "sqlite", "store", "files"):
        assert rows[plugin][-1] == "loaded", listing.stdout
    assert (
        "  plugin 'torch' needs hyperplug[torch] (not installed: torch>=2.1, torchvision>=0.16, "
        "timm>=1.0): pip install 'hyperplug[torch]'"
    ) in listing.stdout.splitlines()
    assert "optimizer=grid" in listing.stdout and "trainer=mlp" not in listing.stdout

    help_text = run(venv / "hyperplug", "--help", cwd=tmp_path)
    assert help_text.returncode == 0 and help_text.stderr == "", help_text.stderr
    assert "optimizer: grid\n" in help_text.stdout
    assert "(plugin 'sklearn' needs hyperplug[sklearn]" in help_text.stdout

    studies = run(venv / "hyperplug", "studies", cwd=tmp_path)  # composes without a trainer
    assert studies.returncode == 2
    assert studies.stderr.startswith("hyperplug: error: tracker.path: no tracker database")


SKLEARN_LINE = (
    "splitter 'stratified' (plugin 'sklearn') needs hyperplug[sklearn] (not installed: "
    "scikit-learn>=1.3): pip install 'hyperplug[sklearn]'"
)
TORCH_LINE = (
    "trainer 'mlp' (plugin 'torch') needs hyperplug[torch] (not installed: torch>=2.1, "
    "torchvision>=0.16, timm>=1.0): pip install 'hyperplug[torch]'"
)
ASHA_LINE = (
    "optimizer 'asha' (plugin 'synetune') needs hyperplug[synetune] (not installed: "
    "syne-tune<0.17,>=0.16): pip install 'hyperplug[synetune]'"
)


def one_line_error(venv: Path, cwd: Path, *overrides: str) -> str:
    result = run(venv / "hyperplug", *overrides, cwd=cwd)
    assert result.returncode == 2, result.stdout
    assert not (cwd / ".hyperplug").exists()  # nothing half-written
    return result.stderr


def test_choosing_a_component_whose_extra_is_missing_is_one_line(
    venv: Path, tmp_path: Path
) -> None:
    # the config's defaults: Hydra reports the last one it cannot find first
    assert one_line_error(venv, tmp_path) == f"hyperplug: error: {SKLEARN_LINE}\n"


def test_a_grid_study_runs_with_the_sklearn_extra_and_a_numpy_trainer(
    venv: Path, wheels: list[str], tmp_path: Path
) -> None:
    install(venv, wheels, "hyperplug[sklearn]", "hyperplug-centroid")
    assert installed(venv) & set(HEAVY) == {"scikit-learn", "scipy"}
    result = run(
        venv / "hyperplug",
        "trainer=centroid",
        "trainer.epochs=2",
        "+training_params.centroid.lr=[0.1,0.5]",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "2 trials (2 completed)" in result.stdout
    assert "plots: none drawn: drawing PNG plots needs hyperplug[plots]" in result.stdout
    models = run(venv / "hyperplug", "models", cwd=tmp_path)
    assert models.returncode == 0 and "digits_model" in models.stdout, models.stderr
    for overrides, line in [([], TORCH_LINE), (["trainer=centroid", "optimizer=asha"], ASHA_LINE)]:
        cwd = tmp_path / "other"
        cwd.mkdir(exist_ok=True)
        assert one_line_error(venv, cwd, *overrides) == f"hyperplug: error: {line}\n"
