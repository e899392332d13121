"""Plugin loading is guarded, blockable, and catches duplicate component names."""

from __future__ import annotations

import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import attrs
import pytest

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug.errors import ConfigError, PluginError
from hyperplug.plugin_manager import DISABLE_ENV, PluginManager


@attrs.define
class EchoConfig:
    name: str = "echo"


def _backend(name: str = "echo") -> Component:
    config = attrs.make_class(f"{name.title()}Config", {"name": attrs.field(default=name)})
    return Component(kind="backend", name=name, factory=lambda c: c, config_class=config)


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("hp_test_")]:
        del sys.modules[name]


def _write(plugin_dir: Path, module: str, body: str) -> EntryPoint:
    (plugin_dir / f"{module}.py").write_text(textwrap.dedent(body))
    return EntryPoint(name=module.removeprefix("hp_test_"), value=module, group="hyperplug")


GOOD = """
    import attrs
    from hyperplug import hookimpl
    from hyperplug.components import Component

    @attrs.define
    class Cfg:
        name: str = "{name}"

    @hookimpl
    def register_backends():
        return [Component(kind="backend", name="{name}", factory=lambda c: c, config_class=Cfg)]
"""


def test_a_plugin_that_fails_to_import_is_reported_and_others_load(plugin_dir: Path) -> None:
    broken = _write(plugin_dir, "hp_test_broken", "raise RuntimeError('no such library')\n")
    good = _write(plugin_dir, "hp_test_good", GOOD.format(name="good"))
    manager = PluginManager()
    manager.load_entry_points([broken, good])
    assert manager.plugins["broken"].status == "failed"
    assert "RuntimeError: no such library" in manager.plugins["broken"].error
    assert manager.registry.names("backend") == ["good"]
    assert any("plugin 'broken'" in p for p in manager.registry.problems)


def test_a_hook_that_raises_is_reported_and_others_register(plugin_dir: Path) -> None:
    raising = _write(
        plugin_dir,
        "hp_test_raising",
        """
        from hyperplug import hookimpl

        @hookimpl
        def register_backends():
            raise ValueError("bad registration")
        """,
    )
    good = _write(plugin_dir, "hp_test_good2", GOOD.format(name="good2"))
    manager = PluginManager()
    manager.load_entry_points([raising, good])
    assert manager.registry.names("backend") == ["good2"]
    assert manager.plugins["raising"].status == "failed"
    assert "hook register_backends raised ValueError: bad registration" in (
        manager.plugins["raising"].error
    )


def test_plugins_can_be_disabled_by_name(plugin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = _write(plugin_dir, "hp_test_good3", GOOD.format(name="good3"))
    monkeypatch.setenv(DISABLE_ENV, "good3, other")
    manager = PluginManager()
    manager.load_entry_points([good])
    assert manager.plugins["good3"].status == "disabled"
    assert manager.registry.names("backend") == []
    assert "hp_test_good3" not in sys.modules


def test_duplicate_component_names_are_an_error_naming_both_plugins() -> None:
    class First:
        @hookimpl
        def register_backends(self) -> list[Component]:
            return [_backend("twin"), _backend("solo")]

    class Second:
        @hookimpl
        def register_backends(self) -> list[Component]:
            return [_backend("twin")]

    manager = PluginManager()
    manager.register(First(), "first", distribution="dist-a")
    manager.register(Second(), "second", distribution="dist-b")
    with pytest.raises(PluginError) as error:
        manager.registry.get("backend", "twin")
    message = str(error.value)
    assert "plugin 'first' (distribution dist-a" in message
    assert "plugin 'second' (distribution dist-b" in message
    assert manager.registry.get("backend", "solo").plugin.name == "first"


def test_unknown_component_names_suggest_close_names() -> None:
    class Only:
        @hookimpl
        def register_backends(self) -> list[Component]:
            return [_backend("inline")]

    manager = PluginManager()
    manager.register(Only(), "only")
    with pytest.raises(ConfigError, match=r"unknown backend 'inlin' \(did you mean 'inline'\?\)"):
        manager.registry.get("backend", "inlin")


def test_a_component_of_the_wrong_kind_is_a_problem_not_a_crash() -> None:
    class Wrong:
        @hookimpl
        def register_trainers(self) -> list[Component]:
            return [_backend("misfiled")]

    manager = PluginManager()
    manager.register(Wrong(), "wrong")
    assert manager.registry.names("trainer") == []
    assert any("expected a Component of kind 'trainer'" in p for p in manager.registry.problems)


def test_config_class_must_name_the_component() -> None:
    with pytest.raises(TypeError, match="needs a field `name: str = 'other'`"):
        Component(kind="backend", name="other", factory=lambda c: c, config_class=EchoConfig)


def test_built_in_plugins_are_registered_through_entry_points() -> None:
    manager = PluginManager()
    manager.load_entry_points()
    for name in ("torch", "sklearn", "files", "sqlite", "store", "local"):
        assert manager.plugins[name].status == "loaded", manager.plugins[name]
        assert manager.plugins[name].distribution == "hyperplug"
    assert "mlp" in manager.registry.names("trainer")
    assert manager.registry.problems == []
