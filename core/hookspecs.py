"""Every hook a hyperplug plugin can implement.

A plugin is a module named by an entry point in group ``hyperplug``. It implements
any of these hooks with the ``hyperplug.hookimpl`` marker. ``register_*`` hooks return
a list of ``hyperplug.components.Component``; the component's ``config_class`` becomes
a Hydra config group option automatically. Lifecycle hooks observe a study and must
not raise: an observer that fails is reported and the study goes on.

Documented in docs/hooks.md; ``tests/core/test_hooks_documented.py`` fails when a hook lacks docs or
a test.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("hyperplug")


@hookspec
def register_trainers() -> list[Any]:
    """Return ``trainer`` components (``ModelTrainer`` subclasses and their configs)."""


@hookspec
def register_datasets() -> list[Any]:
    """Return ``dataset`` components (``DatasetSource`` factories)."""


@hookspec
def register_splitters() -> list[Any]:
    """Return ``splitter`` components (``DataSplitter`` factories)."""


@hookspec
def register_trackers() -> list[Any]:
    """Return ``tracker`` components: each builds an object that is both a
    ``MetadataTracker`` and a ``MetricsTracker``."""


@hookspec
def register_vcs() -> list[Any]:
    """Return ``vcs`` components (``ResourceVersionControl`` factories)."""


@hookspec
def register_backends() -> list[Any]:
    """Return ``backend`` components (``Backend`` factories)."""


@hookspec
def register_optimizers() -> list[Any]:
    """Return ``optimizer`` components (search strategies driving the study)."""


@hookspec
def register_updaters() -> list[Any]:
    """Return ``updater`` components (ways to retrain a saved model on new data)."""


@hookspec
def register_scenarios() -> list[Any]:
    """Return ``scenario`` components (``Scenario`` factories: cut a dataset into a stream
    of chunks, to simulate a model's updates)."""


@hookspec
def register_detectors() -> list[Any]:
    """Return ``detector`` components (``DriftDetector`` factories: test whether new data
    differs from the data a model version was trained on)."""


@hookspec
def register_config_nodes() -> list[tuple[str, str, Any]]:
    """Return extra Hydra config nodes as ``(group, name, node)`` tuples.

    ``node`` is an attrs instance, a dict, or a path to a YAML file. Use it for presets
    (``trainer/mlp_wide``) and ready-made studies (``experiment/<name>``); a component's
    own defaults need no node, they come from its ``config_class``.
    """


@hookspec
def on_study_start(study: Any, config: Mapping[str, Any]) -> None:
    """Called once when a study starts (or resumes), with its ``StudyRecord`` and config."""


@hookspec
def on_trial_start(study: Any, trial: Any) -> None:
    """Called when a trial starts, with the ``StudyRecord`` and the new ``TrialRecord``."""


@hookspec
def on_trial_report(study: Any, trial: Any, epoch: int, metrics: Mapping[str, float]) -> None:
    """Called for every epoch a trial reports, after the metrics tracker recorded it."""


@hookspec
def on_trial_end(study: Any, trial: Any) -> None:
    """Called when a trial ends, with its final ``TrialRecord`` (status, error, metrics)."""


@hookspec
def on_study_end(study: Any, winner: Any) -> None:
    """Called when a study ends, with the final ``StudyRecord`` and the winning
    ``ModelVersion`` (or None when no trial reached the perf_metric)."""
