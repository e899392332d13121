"""Several trackers at once: one primary record of truth, any number of mirrors.

``MirroredTracker(primary, mirrors)`` is a tracker (metadata and metrics) that writes every
study, trial and metric to ``primary`` first, then hands the record the primary returned
(with its ids, trial numbers and best-epoch metrics) to each mirror. Queries are answered
by the primary alone. A mirror that fails is reported once, by name, and left out from
then on; the primary's record stays complete and the study goes on.

The normal case is SQLite (primary) + a service as mirror: ``tracker=wandb``,
``tracker=mlflow``. A mirror for another service implements ``TrackerMirror`` (usually
through ``QueuedMirror``, which keeps the service's latency out of the trials) and its
component builds ``MirroredTracker(SQLiteTracker(...), [TheMirror(...)])`` the same way.
"""

from __future__ import annotations

import abc
import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hyperplug.interfaces import (
    MetadataTracker,
    MetricRecord,
    MetricsTracker,
    StudyRecord,
    TrialRecord,
)
from hyperplug.secrets import redact_text

log = logging.getLogger(__name__)
_STOP = object()


class TrackerMirror(abc.ABC):
    """A write-only copy of the tracker's record in another system.

    It receives the primary's records; it answers no queries. Its methods may raise: the
    ``MirroredTracker`` reports the first failure and stops calling it.
    """

    #: shown in the one warning line when the mirror fails
    label: str = "mirror"

    @abc.abstractmethod
    def study_started(self, study: StudyRecord, config: Mapping[str, Any]) -> None: ...

    @abc.abstractmethod
    def trial_started(self, study: StudyRecord, trial: TrialRecord) -> None: ...

    def trial_reopened(self, study: StudyRecord, trial: TrialRecord) -> None:
        """An ended trial runs again under its id (a rerun resumes or retries it); by
        default the same as ``trial_started``. A mirror that keeps one record per trial
        finds that record again here."""
        self.trial_started(study, trial)

    @abc.abstractmethod
    def metrics_logged(self, trial_id: int, epoch: int, metrics: Mapping[str, float]) -> None: ...

    @abc.abstractmethod
    def trial_ended(self, trial: TrialRecord) -> None: ...

    @abc.abstractmethod
    def study_ended(self, study: StudyRecord) -> None: ...

    def close(self) -> None:  # noqa: B027 - optional: nothing to flush by default
        """Flush what is pending; called once when the tracker closes."""


class QueuedMirror(TrackerMirror):
    """A mirror whose writes to its service run in order on one background thread.

    A subclass turns each ``TrackerMirror`` call into ``submit(task, *args)``; the trial
    only pays for putting an item on a queue, whatever the service's latency. The first
    task that raises is reported in one warning line on the subclass's module logger (by
    ``label``, naming ``record``, where the primary keeps the complete record) and every
    later task is dropped: the service records nothing more of the study, the study goes
    on. ``drain`` runs the tasks still queued and stops the thread; a subclass's
    ``close`` calls it.
    """

    #: the background thread's name
    thread_name: str = "hyperplug-mirror"

    def __init__(self, record: str) -> None:
        self.record = record
        self.failed = False
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None

    def submit(self, task: Callable[..., None], *args: Any) -> None:
        """Run ``task(*args)`` on the thread, after every task submitted before it."""
        if self.failed:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name=self.thread_name, daemon=True)
            self._thread.start()
        self._queue.put((task, args))

    def idle(self) -> bool:
        """No task waits behind the one running: a task that buffers writes (to send
        several in one request while the thread is behind) sends them now."""
        return self._queue.empty()

    def drain(self, last: Callable[[], None] | None = None) -> bool:
        """Run the queued tasks, then ``last``, and stop the thread. False when no task
        was ever submitted (there was no thread, ``last`` is not run)."""
        if self._thread is None:
            return False
        if last is not None:
            self.submit(last)
        self._queue.put(_STOP)
        self._thread.join()
        self._thread = None
        return True

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            task, args = item
            if self.failed:
                continue
            try:
                task(*args)
            except Exception as exc:  # reported once; the primary's record is unaffected
                self.failed = True
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                logging.getLogger(type(self).__module__).warning(
                    "%s failed, it records nothing more of this study (%s: %s); "
                    "the local tracker's record in %s is complete",
                    self.label,
                    type(exc).__name__,
                    redact_text(reason),
                    self.record,
                )


class MirroredTracker(MetadataTracker, MetricsTracker):
    """Writes to ``primary`` then to every mirror; reads from ``primary``."""

    def __init__(
        self, primary: MetadataTracker | Any, mirrors: Sequence[TrackerMirror] = ()
    ) -> None:
        self.primary = primary
        self.mirrors = list(mirrors)
        self._studies: dict[int, StudyRecord] = {}

    def _mirror(self, method: str, *args: Any) -> None:
        for mirror in list(self.mirrors):
            try:
                getattr(mirror, method)(*args)
            except Exception as exc:  # a mirror never breaks the study
                self.mirror_failed(mirror, exc)

    def mirror_failed(self, mirror: TrackerMirror, exc: BaseException) -> None:
        """Report a mirror's first failure in one line and stop using it."""
        if mirror in self.mirrors:
            self.mirrors.remove(mirror)
            reason = redact_text(str(exc).strip().splitlines()[0] if str(exc).strip() else "")
            log.warning(
                "%s failed, it records nothing more of this study (%s: %s); "
                "the local tracker's record is complete",
                mirror.label,
                type(exc).__name__,
                reason,
            )

    # ------------------------------------------------------------------ metadata

    def start_study(
        self, name: str, perf_metric: str, mode: str, config: Mapping[str, Any]
    ) -> StudyRecord:
        study = self.primary.start_study(name, perf_metric, mode, config)
        self._studies[study.id] = study
        self._mirror("study_started", study, config)
        return study

    def end_study(
        self,
        study_id: int,
        status: str,
        winner_trial_id: int | None = None,
        winner_version: str | None = None,
    ) -> StudyRecord:
        study = self.primary.end_study(study_id, status, winner_trial_id, winner_version)
        self._mirror("study_ended", study)
        return study

    def start_trial(
        self,
        study_id: int,
        trainer: str,
        params: Mapping[str, Any],
        trainer_config: Mapping[str, Any],
    ) -> TrialRecord:
        trial = self.primary.start_trial(study_id, trainer, params, trainer_config)
        self._mirror("trial_started", self._study(study_id), trial)
        return trial

    def end_trial(self, trial_id: int, status: str, error: str | None = None) -> TrialRecord:
        trial = self.primary.end_trial(trial_id, status, error)
        self._mirror("trial_ended", trial)
        return trial

    def reopen_trial(self, trial_id: int) -> TrialRecord:
        trial = self.primary.reopen_trial(trial_id)
        self._mirror("trial_reopened", self._study(trial.study_id), trial)
        return trial

    def _study(self, study_id: int) -> StudyRecord:
        study = self._studies.get(study_id)
        if study is None:  # a sweep's finishing process never started the study here
            study = next(s for s in self.primary.list_studies() if s.id == study_id)
            self._studies[study_id] = study
        return study

    def get_study(self, name: str) -> StudyRecord:
        study = self.primary.get_study(name)
        self._studies.setdefault(study.id, study)
        return study

    def list_studies(self) -> list[StudyRecord]:
        return self.primary.list_studies()

    def list_trials(self, study_id: int) -> list[TrialRecord]:
        return self.primary.list_trials(study_id)

    # ------------------------------------------------------------------ metrics

    def log_metrics(self, trial_id: int, epoch: int, metrics: Mapping[str, float]) -> None:
        self.primary.log_metrics(trial_id, epoch, metrics)
        self._mirror("metrics_logged", trial_id, epoch, metrics)

    def get_metrics(self, trial_id: int) -> list[MetricRecord]:
        return self.primary.get_metrics(trial_id)

    def close(self) -> None:
        try:
            self._mirror("close")
        finally:
            self.primary.close()
