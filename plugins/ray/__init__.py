"""The ``ray`` backend: a study's trials in long-lived actors on a Ray cluster. Ray is
imported when a study starts, never when the plugin loads; it is the ``[ray]`` extra."""

from __future__ import annotations

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug.plugins.ray.backend import RayBackend, RayBackendConfig

HYPERPLUG_EXTRA = "ray"


@hookimpl
def register_backends() -> list[Component]:
    return [
        Component(
            kind="backend",
            name="ray",
            factory=RayBackend,
            config_class=RayBackendConfig,
            description="runs trials in long-lived actors on a Ray cluster (the ray extra)",
        )
    ]
