"""The inspection commands, in-process: where they find a component's records, and what
they show of a study and a version when only some of its overrides are given."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from hyperplug import hookimpl
from hyperplug.api import build
from hyperplug.commands import run_command
from hyperplug.components import Component
from hyperplug.plugin_manager import PluginManager, get_plugin_manager, reset_plugin_manager
from hyperplug.tuner import Tuner


@attrs.define
class DirTrackerConfig:
    """A tracker configured by a folder, as the plugin guide's example is."""

    name: str = "dirtracker"
    directory: str = ".hyperplug/runs"

    def records_location(self) -> tuple[str, str]:
        return "directory", self.directory


def build_dir_tracker(config: DirTrackerConfig) -> Any:
    """SQLite in a file of the folder: a real tracker whose records a key other than
    ``path`` locates."""
    from hyperplug.plugins.sqlite import SQLiteTracker, SQLiteTrackerConfig

    return SQLiteTracker(SQLiteTrackerConfig(path=str(Path(config.directory) / "runs.db")))


class DirTrackerPlugin:
    HYPERPLUG_API = "1"  # shown as 1.0

    @hookimpl
    def register_trackers(self) -> list[Component]:
        return [Component("tracker", "dirtracker", build_dir_tracker, DirTrackerConfig, "a folder")]


@pytest.fixture
def manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginManager]:
    monkeypatch.chdir(tmp_path)  # the default tracker and store paths are relative
    monkeypatch.setenv("COLUMNS", "200")
    manager = get_plugin_manager()
    manager.register(DirTrackerPlugin(), "dirtracker", distribution="dir-dist")
    yield manager
    reset_plugin_manager()  # later tests get a manager without it


@pytest.fixture
def study(manager: PluginManager, tmp_path: Path, digits_splits: Any) -> str:
    """A finished study of one tiny MLP: its records in ``records/``, its version in
    ``models/``, both away from the default paths."""
    tracker = build("tracker", name="dirtracker", directory=str(tmp_path / "records"))
    tuner = Tuner(
        metadata_tracker=tracker,
        metrics_tracker=tracker,
        resource_version_control=build("vcs", name="store", root=str(tmp_path / "models")),
        training_params={"mlp": {"lr": [0.01]}},
        trainer_configs={"mlp": {"epochs": 1, "hidden_layers": [8]}},
        model_name="digits",
        plugin_manager=manager,
        home=tmp_path / "home",
    )
    tuner.run_experiment(digits_splits)
    tracker.close()
    return tuner.study.name


def test_a_tracker_says_which_key_locates_its_records(
    study: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "typo"
    assert run_command("studies", ["tracker=dirtracker", f"tracker.directory={typo}"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"hyperplug: error: tracker.directory: no tracker database at '{typo}' (run a study "
        "first, or point tracker.directory at one)"
    )
    assert not typo.exists()
    records = f"tracker.directory={tmp_path / 'records'}"
    assert run_command("studies", ["tracker=dirtracker", records]) == 0
    assert study in capsys.readouterr().out


def test_study_needs_only_the_tracker_overrides(
    study: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    overrides = ["tracker=dirtracker", f"tracker.directory={tmp_path / 'records'}"]
    assert run_command("study", [study, *overrides]) == 0
    out = capsys.readouterr().out
    assert "winner: trial 0" in out and "model version: digits:v1" in out
    assert "vcs.root: no model store at '.hyperplug/models'" in out
    assert run_command("study", [study, *overrides, f"vcs.root={tmp_path / 'models'}"]) == 0
    assert "model version: digits:v1 [best, latest] at file://" in capsys.readouterr().out


def test_model_shows_the_trial_number_the_tables_show(
    study: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"vcs.root={tmp_path / 'models'}"
    overrides = ["tracker=dirtracker", f"tracker.directory={tmp_path / 'records'}"]
    assert run_command("model", ["digits:v1", store, *overrides]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "            trial: 0 (tracker id 1)" in lines
    # without the tracker that holds the study, the id alone, said to be the tracker's
    assert run_command("model", ["digits:v1", store]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "            trial: tracker id 1 (its study is not in this tracker)" in lines


def test_a_declared_hook_api_shows_as_major_dot_minor(
    manager: PluginManager, capsys: pytest.CaptureFixture[str]
) -> None:
    assert manager.plugins["dirtracker"].api == "1.0"
    assert run_command("plugins", []) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "dir-dist" in line)
    assert row.split()[:5] == ["dirtracker", "dir-dist", "-", "1.0", "loaded"]
