"""``TrackerConformance``: what every ``tracker`` component must do.

A tracker is one object that is both a ``MetadataTracker`` (studies and trials) and a
``MetricsTracker`` (per-epoch metrics). Point ``config()`` at a fresh location under
``tmp_path``; set ``persistent = False`` for a tracker that cannot read back what an
earlier instance wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from hyperplug.components import Component
from hyperplug.errors import ConfigError, NotFoundError
from hyperplug.interfaces import (
    MetadataTracker,
    MetricRecord,
    MetricsTracker,
    StudyRecord,
    TrialRecord,
)
from hyperplug.testing.base import ComponentConformance

CONFIG = {"trainer": {"name": "mlp", "lr": 0.1}, "metrics": ["val_loss", "val_accuracy"]}


class TrackerConformance(ComponentConformance):
    """Subclass as ``class TestMyTracker(TrackerConformance)`` and set ``component``."""

    kind = "tracker"
    persistent: ClassVar[bool] = True
    """Whether a second instance built from the same config sees the first one's records."""

    @pytest.fixture
    def tracker(self, registered: Component, tmp_path: Path) -> Iterator[Any]:
        """Fixture: the tracker under test, closed afterwards."""
        tracker = self.build_component(registered, tmp_path)
        yield tracker
        tracker.close()

    def test_is_a_metadata_and_a_metrics_tracker(self, tracker: Any) -> None:
        """The factory builds one object that is both a ``MetadataTracker`` and a
        ``MetricsTracker``."""
        assert isinstance(tracker, MetadataTracker) and isinstance(tracker, MetricsTracker)

    def test_a_study_starts_resumes_and_ends(self, tracker: Any) -> None:
        """A study starts ``running`` with its config, is joined by a second ``start_study``,
        refuses another perf_metric with a ``ConfigError``, and ends with its winner."""
        study = tracker.start_study("conformance", "val_accuracy", "max", CONFIG)
        assert isinstance(study, StudyRecord)
        assert (study.name, study.perf_metric, study.mode, study.status) == (
            "conformance",
            "val_accuracy",
            "max",
            "running",
        )
        assert study.config == CONFIG
        assert tracker.start_study("conformance", "val_accuracy", "max", CONFIG).id == study.id
        with pytest.raises(ConfigError, match="conformance"):
            tracker.start_study("conformance", "val_loss", "min", CONFIG)
        trial = tracker.start_trial(study.id, "mlp", {"lr": 0.1}, {"name": "mlp", "lr": 0.1})
        ended = tracker.end_study(study.id, "completed", trial.id, "model:v1")
        assert (ended.status, ended.winner_trial_id, ended.winner_version) == (
            "completed",
            trial.id,
            "model:v1",
        )
        assert tracker.get_study("conformance") == ended
        assert [s.name for s in tracker.list_studies()] == ["conformance"]

    def test_an_unknown_study_is_not_found(self, tracker: Any) -> None:
        """``get_study`` of an unknown name raises a ``NotFoundError`` naming it."""
        with pytest.raises(NotFoundError, match="nope"):
            tracker.get_study("nope")

    def test_trials_are_numbered_and_keep_their_best_epoch_metrics(self, tracker: Any) -> None:
        """Trials are numbered from 0; ``end_trial`` computes the best epoch's metrics itself (a
        metric missing there: its last value) and keeps a failure's error."""
        study = tracker.start_study("numbered", "val_accuracy", "max", {})
        first = tracker.start_trial(study.id, "mlp", {"lr": 0.1}, {"name": "mlp", "lr": 0.1})
        second = tracker.start_trial(study.id, "mlp", {"lr": 0.2}, {"name": "mlp", "lr": 0.2})
        assert isinstance(first, TrialRecord)
        assert (first.number, second.number) == (0, 1)
        assert (first.status, first.trainer, first.params) == ("running", "mlp", {"lr": 0.1})
        assert first.trainer_config == {"name": "mlp", "lr": 0.1}
        tracker.log_metrics(first.id, 1, {"val_accuracy": 0.5, "val_loss": 1.0})
        tracker.log_metrics(first.id, 2, {"val_accuracy": 0.75, "val_loss": 0.5})
        tracker.log_metrics(first.id, 3, {"val_accuracy": 0.25, "val_loss": 2.0, "lr": 0.01})
        ended = tracker.end_trial(first.id, "completed")
        assert ended.status == "completed" and ended.error is None
        assert ended.ended_at is not None and ended.ended_at >= ended.started_at
        # the best epoch's values; a metric missing there keeps its last value
        assert ended.metrics == {"val_accuracy": 0.75, "val_loss": 0.5, "lr": 0.01}
        failed = tracker.end_trial(second.id, "failed", "ValueError: diverged")
        assert (failed.status, failed.error) == ("failed", "ValueError: diverged")
        listed = tracker.list_trials(study.id)
        assert [t.number for t in listed] == [0, 1]
        assert listed[0].metrics == ended.metrics and listed[1].status == "failed"

    def test_an_ended_trial_reopens_with_its_metrics(self, tracker: Any) -> None:
        """A rerun resumes an interrupted trial or retries a failed one under its id."""
        study = tracker.start_study("reopened", "val_loss", "min", {})
        trial = tracker.start_trial(study.id, "mlp", {"lr": 0.1}, {"name": "mlp"})
        tracker.log_metrics(trial.id, 1, {"val_loss": 1.0})
        tracker.end_trial(trial.id, "failed", "OSError: [Errno 28] No space left on device")
        try:
            reopened = tracker.reopen_trial(trial.id)
        except NotImplementedError:
            pytest.fail("reopen_trial is missing: a rerun can neither resume nor retry trials")
        assert (reopened.id, reopened.number, reopened.status) == (trial.id, 0, "running")
        assert (reopened.error, reopened.ended_at) == (None, None)
        assert reopened.metrics == {"val_loss": 1.0}
        tracker.log_metrics(trial.id, 2, {"val_loss": 0.5})
        ended = tracker.end_trial(trial.id, "completed")
        assert (ended.status, ended.metrics) == ("completed", {"val_loss": 0.5})
        assert [t.id for t in tracker.list_trials(study.id)] == [trial.id]

    def test_metrics_come_back_by_epoch_then_name(self, tracker: Any) -> None:
        """``get_metrics`` returns ``MetricRecord``s ordered by epoch, then name."""
        study = tracker.start_study("metrics", "val_loss", "min", {})
        trial = tracker.start_trial(study.id, "mlp", {}, {"name": "mlp"})
        tracker.log_metrics(trial.id, 2, {"val_loss": 0.5, "train_loss": 0.4})
        tracker.log_metrics(trial.id, 1, {"val_loss": 1.0, "train_loss": 0.9})
        records = tracker.get_metrics(trial.id)
        assert all(isinstance(r, MetricRecord) and r.trial_id == trial.id for r in records)
        assert [(r.epoch, r.name, r.value) for r in records] == [
            (1, "train_loss", 0.9),
            (1, "val_loss", 1.0),
            (2, "train_loss", 0.4),
            (2, "val_loss", 0.5),
        ]

    def test_records_survive_a_new_instance(self, registered: Component, tmp_path: Path) -> None:
        """A second instance on the same config reads the first one's studies, trials and metrics
        (skipped unless ``persistent``)."""
        if not self.persistent:
            pytest.skip("this tracker does not read back earlier instances' records")
        tracker = self.build_component(registered, tmp_path)
        study = tracker.start_study("kept", "val_accuracy", "max", CONFIG)
        trial = tracker.start_trial(study.id, "mlp", {"lr": 0.1}, {"name": "mlp", "lr": 0.1})
        tracker.log_metrics(trial.id, 1, {"val_accuracy": 0.5})
        tracker.end_trial(trial.id, "completed")
        tracker.close()
        reopened = self.build_component(registered, tmp_path)
        try:
            assert reopened.get_study("kept").config == CONFIG
            [kept] = reopened.list_trials(study.id)
            assert (kept.status, kept.metrics) == ("completed", {"val_accuracy": 0.5})
        finally:
            reopened.close()
