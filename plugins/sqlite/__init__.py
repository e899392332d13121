"""The embedded default tracker: studies, trials and metrics in one SQLite file."""

from __future__ import annotations

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug.plugins.sqlite.tracker import SQLiteTracker, SQLiteTrackerConfig

__all__ = ["SQLiteTracker", "SQLiteTrackerConfig"]


@hookimpl
def register_trackers() -> list[Component]:
    return [
        Component(
            kind="tracker",
            name="sqlite",
            factory=SQLiteTracker,
            config_class=SQLiteTrackerConfig,
            description="Studies, trials and metrics in a local SQLite file (WAL, multi-process).",
        )
    ]
