"""Conformance suites for plugin authors: one per component kind.

Subclass a suite in a ``Test*`` class, say which component it tests, and run pytest::

    from hyperplug.testing import TrainerConformance

    class TestMyTrainer(TrainerConformance):
        component = "my_trainer"         # a registered name, or the Component itself
        invalid_config = {"lr": -1.0}    # values the config class must reject

        def config(self, tmp_path):
            return {"epochs": 3}         # small and fast

The suites use plain ``assert``s and pytest fixtures (pytest is needed, no pytest
plugin); every built-in component passes them.
"""

from __future__ import annotations

from hyperplug.testing.backend import BackendConformance
from hyperplug.testing.base import ComponentConformance
from hyperplug.testing.data import RecordingReporter, blobs, blobs_splits
from hyperplug.testing.dataset import DatasetConformance
from hyperplug.testing.detector import DetectorConformance
from hyperplug.testing.optimizer import OptimizerConformance
from hyperplug.testing.splitter import SplitterConformance
from hyperplug.testing.tracker import TrackerConformance
from hyperplug.testing.trainer import TrainerConformance
from hyperplug.testing.updater import UpdaterConformance
from hyperplug.testing.vcs import VcsConformance

__all__ = [
    "BackendConformance",
    "ComponentConformance",
    "DatasetConformance",
    "DetectorConformance",
    "OptimizerConformance",
    "RecordingReporter",
    "SplitterConformance",
    "TrackerConformance",
    "TrainerConformance",
    "UpdaterConformance",
    "VcsConformance",
    "blobs",
    "blobs_splits",
]
