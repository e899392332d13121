"""Local backends: ``inline`` runs trials one after another in the study process;
``local`` runs them in parallel in long-lived worker processes."""

from __future__ import annotations

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug.plugins.local.inline import InlineBackend, InlineBackendConfig
from hyperplug.plugins.local.local import LocalBackend, LocalBackendConfig


@hookimpl
def register_backends() -> list[Component]:
    return [
        Component(
            kind="backend",
            name="inline",
            factory=InlineBackend,
            config_class=InlineBackendConfig,
            description="runs trials one after another in the study process (debugging)",
        ),
        Component(
            kind="backend",
            name="local",
            factory=LocalBackend,
            config_class=LocalBackendConfig,
            description="runs trials in parallel in long-lived local worker processes",
        ),
    ]
