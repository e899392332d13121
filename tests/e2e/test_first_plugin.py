"""docs/first-plugin.md, followed as a new plugin author follows it: its ``shell`` blocks
run, in order, as one script in an empty folder, against this environment's hyperplug.

Two words of the page are changed for a machine without the network: pip installs
without an index and without build isolation (this environment's setuptools builds), and
``python -m build`` builds without isolation. The package is uninstalled afterwards,
whatever happened.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
from doc_blocks import ROOT, blocks

pytestmark = [pytest.mark.e2e, pytest.mark.installs]

PAGE = ROOT / "docs" / "first-plugin.md"
OFFLINE = {
    "pip install ": "python -m pip install --no-index --no-deps --no-build-isolation ",
    "python -m build": "python -m build --no-isolation",
}


def page_script() -> str:
    script = "\n".join(b.code for b in blocks(PAGE) if b.kind == "shell")
    for online, offline in OFFLINE.items():
        assert online in script, f"the page no longer says {online!r}"
        script = script.replace(online, offline)
    return script


def is_installed(name: str) -> bool:
    try:
        distribution(name)
    except PackageNotFoundError:
        return False
    return True


def test_the_first_plugin_page_works_from_an_empty_folder_to_a_wheel(tmp_path: Path) -> None:
    if is_installed("hyperplug-nearest"):
        pytest.skip("hyperplug-nearest is installed already; this test would uninstall it")
    (tmp_path / "hyperplug").symlink_to(ROOT)  # the clone the page copies the template from
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", COLUMNS="200")
    try:
        result = subprocess.run(
            ["bash", "-e", "-c", page_script()],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        subprocess.run(
            [sys.executable, "-m", "pip", "uninstall", "--yes", "hyperplug-nearest"],
            capture_output=True,
        )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["nearest", "hyperplug-nearest", "0.1.0", "1.0", "loaded"] in rows
    assert "1 trials (1 completed)" in result.stdout
    assert "model version: first:v1 [best, latest]" in result.stdout
    assert "trainer: centroid" in result.stdout  # hyperplug model first
    assert " passed" in result.stdout and " failed" not in result.stdout  # the suite
    dist = tmp_path / "hyperplug-nearest" / "dist"
    wheels = sorted(p.name for p in dist.iterdir())
    assert wheels == ["hyperplug_nearest-0.1.0-py3-none-any.whl", "hyperplug_nearest-0.1.0.tar.gz"]
    assert not is_installed("hyperplug-nearest")
    # the template itself is untouched: the page copies it
    assert (ROOT / "examples" / "hyperplug-plugin-template" / "src" / "hyperplug_centroid").is_dir()
