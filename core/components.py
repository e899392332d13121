"""What a plugin registers: a named component of one kind, with its attrs config class.

A component's ``config_class`` is an attrs class whose defaults are the component's
defaults; it is stored in Hydra's ConfigStore as group ``<kind>`` option ``<name>``,
so ``trainer=mlp`` selects it and ``trainer.lr=0.1`` is type-checked against it.
Every config class has a ``name`` field whose default is the component's name: it is
how a composed config says which component to build.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import attrs

#: The kinds of component, each a Hydra config group of the same name.
KINDS: tuple[str, ...] = (
    "trainer",
    "dataset",
    "splitter",
    "tracker",
    "vcs",
    "backend",
    "optimizer",
    "updater",
    "scenario",
    "detector",
)
"""The kinds of component, each a Hydra config group of the same name."""

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
"""What a component name looks like: lower-case letters, digits and ``_``, starting with a
letter."""


def _check_name(instance: Component, attribute: attrs.Attribute, value: str) -> None:
    if not NAME_PATTERN.match(value):
        raise ValueError(
            f"component name {value!r} must be lower-case letters, digits and '_', "
            "starting with a letter"
        )


def _check_config_class(instance: Component, attribute: attrs.Attribute, value: type) -> None:
    if not attrs.has(value):
        raise TypeError(f"config_class of {instance.kind} {instance.name!r} must be an attrs class")
    fields = attrs.fields_dict(value)
    if "name" not in fields or fields["name"].default != instance.name:
        raise TypeError(
            f"config_class {value.__name__} of {instance.kind} {instance.name!r} needs a field "
            f"`name: str = {instance.name!r}`"
        )


@attrs.frozen
class Component:
    """A pluggable part: ``factory(config)`` builds it from an instance of ``config_class``."""

    kind: str = attrs.field(validator=attrs.validators.in_(KINDS))
    """One of ``KINDS``."""
    name: str = attrs.field(validator=_check_name)
    """The name users choose it by (``trainer=<name>``), matching ``NAME_PATTERN``."""
    factory: Callable[[Any], Any]
    """Builds the component from a validated ``config_class`` instance: a class or a
    function (import heavy libraries inside it, not at module level)."""
    config_class: type = attrs.field(validator=_check_config_class)
    """An attrs class whose field defaults are the component's defaults, with a field
    ``name: str = "<name>"``; it becomes the Hydra config group option ``<kind>/<name>``."""
    description: str = ""
    """One line for ``hyperplug plugins``."""

    def build(self, config: Any) -> Any:
        """``factory(config)``: the component, from a validated config instance."""
        return self.factory(config)
