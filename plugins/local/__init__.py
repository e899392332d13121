"""Local backends: ``inline`` runs trials one after another in the study process."""

from __future__ import annotations

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug.plugins.local.inline import InlineBackend, InlineBackendConfig


@hookimpl
def register_backends() -> list[Component]:
    return [
        Component(
            kind="backend",
            name="inline",
            factory=InlineBackend,
            config_class=InlineBackendConfig,
            description="runs trials one after another in the study process (debugging)",
        )
    ]
