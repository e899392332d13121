"""Fixtures of the in-process sweeps: each in Hydra's pristine global state and in its
own cwd. Test modules import them (a conftest.py here would shadow tests/conftest.py,
which other tests import as ``conftest``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.core.singleton import Singleton
from hydra.version import VersionBase


@pytest.fixture(autouse=True)
def _unset_hydra_version_base(hydra_restore_singletons: None) -> None:
    """Hydra's suites assume no app has set a version base yet in the process (jobs then
    run in their own directory); an earlier test that composed with version_base="1.3"
    leaves it set. Hydra's singletons are restored after each test."""
    state = Singleton.get_state()
    state["instances"].pop(VersionBase, None)
    Singleton.set_state(state)


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process sweeps use the default tracker path, relative to the cwd."""
    monkeypatch.chdir(tmp_path)
