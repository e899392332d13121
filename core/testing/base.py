"""What every conformance suite checks: the component and its config class."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest
from omegaconf import OmegaConf

from hyperplug.components import Component
from hyperplug.config import make_config
from hyperplug.errors import ConfigError
from hyperplug.plugin_manager import get_plugin_manager


class ComponentConformance:
    """Base of the suites: subclass one of them in a ``Test*`` class and set ``component``.

    ``component`` is the ``Component`` under test, or its registered name (then it is
    looked up among the installed plugins, which also checks the entry point). Override
    ``config`` to give small, fast settings (and files under ``tmp_path``), and set
    ``invalid_config`` to values the config class must reject, by key.
    """

    kind: ClassVar[str]
    """The component kind the suite tests (each suite sets it)."""
    component: ClassVar[Component | str]
    """The ``Component`` under test, or its registered name (which also checks its entry point)."""
    invalid_config: ClassVar[Mapping[str, Any]] = {}
    """Key -> a value the config class must reject with an error naming ``<kind>.<key>``."""

    def config(self, tmp_path: Path) -> dict[str, Any]:
        """Config keys of the component under test (besides ``name``); may write files."""
        return {}

    # ------------------------------------------------------------------ fixtures

    @pytest.fixture(scope="class")
    @classmethod
    def registered(cls) -> Component:
        """Fixture: the ``Component`` under test, looked up among the installed plugins when
        ``component`` is a name."""
        if isinstance(cls.component, str):
            return get_plugin_manager().registry.get(cls.kind, cls.component).component
        return cls.component

    @pytest.fixture
    def build(self, registered: Component, tmp_path: Path) -> Callable[..., Any]:
        """``build(**overrides)``: the component built from ``config(tmp_path)`` and overrides."""
        return lambda **overrides: self.build_component(registered, tmp_path, **overrides)

    def config_instance(self, registered: Component, tmp_path: Path, **overrides: Any) -> Any:
        """The validated config, as a run makes it (OmegaConf merge, attrs validators)."""
        node = {**self.config(tmp_path), **overrides, "name": registered.name}
        return make_config(registered.config_class, node, self.kind)

    def build_component(self, registered: Component, tmp_path: Path, **overrides: Any) -> Any:
        """The component built from ``config(tmp_path)`` updated by ``overrides``, through its
        validated config."""
        return registered.build(self.config_instance(registered, tmp_path, **overrides))

    # ------------------------------------------------------------------ tests

    def test_component_is_of_this_kind_and_described(self, registered: Component) -> None:
        """The component is a ``Component`` of the suite's kind with a non-empty description."""
        assert isinstance(registered, Component)
        assert registered.kind == self.kind
        assert registered.description.strip(), "give the component a one-line description"

    def test_default_config_is_a_valid_structured_config(self, registered: Component) -> None:
        """The config class's defaults make a Hydra structured config whose ``name`` is the
        component's, and validating no overrides gives the defaults."""
        defaults = registered.config_class()
        schema = OmegaConf.structured(defaults)  # what Hydra's ConfigStore holds
        assert schema.name == registered.name
        rebuilt = make_config(registered.config_class, {}, self.kind)
        assert attrs.asdict(rebuilt) == attrs.asdict(defaults)

    def test_config_rejects_invalid_values_naming_the_key(
        self, registered: Component, tmp_path: Path
    ) -> None:
        """Each ``invalid_config`` value is refused with a one-line ``ConfigError`` naming
        ``<kind>.<key>``."""
        for key, value in self.invalid_config.items():
            node = {**self.config(tmp_path), key: value}
            with pytest.raises(ConfigError) as error:
                make_config(registered.config_class, node, self.kind)
            message = str(error.value)
            assert f"{self.kind}.{key}" in message, message
            assert "\n" not in message
