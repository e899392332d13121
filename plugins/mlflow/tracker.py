"""``tracker=mlflow``: the SQLite record, mirrored to MLflow runs.

One parent run per study (run name = the study's name) and, nested under it, one run per
trial (``<study>-trial-<number>``), in the experiment ``tracker.experiment``:

- a trial run's params are the trial's params, ``trainer``, and the whole trainer config
  as ``trainer_config.<key>``; its metrics are every epoch's values with the epoch as the
  step (MLflow shows the last ones: the final values) and the best epoch's as
  ``best/<metric>``; it ends FINISHED (completed), KILLED (stopped early) or FAILED, with
  the status and error as the tags ``hyperplug.status`` and ``hyperplug.error``;
- the study run holds the study config (artifact ``study_config.json``), the perf_metric
  and mode as tags, and at the end the winner's ``best/<metric>`` values and the tags
  ``hyperplug.winner_trial_id``, ``hyperplug.winner_run_id``, ``hyperplug.model_version``;
  the winner's own run is tagged ``hyperplug.winner=true``.

Runs are found again by tags (``hyperplug.study_key``: the study's name and creation
time; ``hyperplug.trial_id``), so a rerun that resumes the study, a trial retried under
its id, or the process that ends a ``--multirun`` sweep writes to the same runs. Every
MLflow call runs on one background thread (``QueuedMirror``); a study only pays for
queueing. A trial run's params, metrics and tags wait in a buffer while more tasks are
queued and go out in one ``log_batch`` when the thread catches up or the run ends: each
MLflow request costs 10-20 ms on a local sqlite store, so a trial of a few epochs takes
three requests (create, one batch, end) instead of one per epoch when the thread is behind.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping
from typing import Any

from hyperplug.interfaces import StudyRecord, TrialRecord
from hyperplug.mirror import MirroredTracker, QueuedMirror
from hyperplug.plugins.mlflow.configs import MlflowTrackerConfig
from hyperplug.plugins.mlflow.session import (
    Batch,
    connect,
    experiment_id,
    flatten,
    is_server,
    resolve_uri,
    safe_name,
    text,
)
from hyperplug.plugins.sqlite import SQLiteTracker, SQLiteTrackerConfig
from hyperplug.secrets import redact, redact_text
from hyperplug.serialize import to_json

#: a trial's status -> the MLflow run status it ends with
RUN_STATUS = {"completed": "FINISHED", "stopped": "KILLED", "failed": "FAILED"}
#: a study's status -> the MLflow status of its parent run
STUDY_STATUS = {"completed": "FINISHED", "failed": "FAILED"}
#: MLflow's cap on a param's value (it cuts longer ones itself)
MAX_PARAM_VALUE = 6000


def build_tracker(config: MlflowTrackerConfig) -> MirroredTracker:
    """SQLite at ``config.path`` as the record of truth, MLflow as its mirror (made first:
    an MLflow server that does not answer must leave no database behind)."""
    mirror = MlflowMirror(config)
    return MirroredTracker(SQLiteTracker(SQLiteTrackerConfig(path=config.path)), [mirror])


def study_key(study: StudyRecord) -> str:
    """The same in every process that reads the same study, different for a study
    recreated under the same name."""
    return hashlib.sha256(f"{study.name}\0{study.created_at!r}".encode()).hexdigest()[:16]


class MlflowMirror(QueuedMirror):
    """Mirrors studies and trials to MLflow from a background thread; see the module doc."""

    label = "MLflow tracker mirror"
    thread_name = "hyperplug-mlflow"

    def __init__(self, config: MlflowTrackerConfig) -> None:
        super().__init__(config.path)
        self.config = config
        self.uri = resolve_uri(config.uri, "tracker.uri")
        #: the config's tags, masked: every run carries them
        self.tags = {safe_name(k): text(redact_text(str(v))) for k, v in config.tags.items()}
        self.client = connect(self.uri, "tracker.uri")
        if is_server(self.uri):  # an answer that is not MLflow's fails here, not mid-study
            self.client.get_experiment_by_name(config.experiment)
        # Touched by the worker thread only:
        self._experiment: str | None = None
        self._parents: dict[int, str] = {}  # study id -> its run id
        self._runs: dict[int, str] = {}  # trial id -> its run id
        self._pending: dict[str, Batch] = {}  # run id -> what waits to be logged

    # ------------------------------------------------------------------ TrackerMirror

    def study_started(self, study: StudyRecord, config: Mapping[str, Any]) -> None:
        self.submit(self._start_study, study, dict(config))

    def trial_started(self, study: StudyRecord, trial: TrialRecord) -> None:
        self.submit(self._start_trial, study, trial)

    def trial_reopened(self, study: StudyRecord, trial: TrialRecord) -> None:
        self.submit(self._reopen_trial, study, trial)

    def metrics_logged(self, trial_id: int, epoch: int, metrics: Mapping[str, float]) -> None:
        self.submit(self._log, trial_id, epoch, dict(metrics), _now_ms())

    def trial_ended(self, trial: TrialRecord) -> None:
        self.submit(self._end_trial, trial)

    def study_ended(self, study: StudyRecord) -> None:
        self.submit(self._end_study, study)

    def close(self) -> None:
        """Write everything queued to MLflow, then stop the thread."""
        self.drain(self._flush_all)

    # ------------------------------------------------------------------ worker side

    def _experiment_id(self) -> str:
        if self._experiment is None:
            self._experiment = experiment_id(self.client, self.config.experiment, self.uri)
        return self._experiment

    def _find(self, **tags: str) -> list[Any]:
        """The runs of the experiment holding every ``hyperplug.<name>`` tag, oldest first."""
        where = " and ".join(f"tags.`hyperplug.{k}` = '{v}'" for k, v in tags.items())
        runs = self.client.search_runs([self._experiment_id()], where, max_results=50)
        return sorted(runs, key=lambda r: (r.info.start_time, r.info.run_id))

    def _parent(self, study: StudyRecord, config: Mapping[str, Any] | None = None) -> str:
        """The study's run: found by its key, else created. Two processes that start the
        same study at once (a sweep's jobs) may both create one; both then keep the
        oldest and the other is deleted."""
        if study.id in self._parents:
            return self._parents[study.id]
        key = study_key(study)
        found = self._find(study_key=key, role="study")
        if not found:
            run = self.client.create_run(
                self._experiment_id(),
                run_name=redact_text(study.name),
                tags={
                    **self.tags,
                    "hyperplug.role": "study",
                    "hyperplug.study": redact_text(study.name),
                    "hyperplug.study_key": key,
                    "hyperplug.perf_metric": study.perf_metric,
                    "hyperplug.mode": study.mode,
                },
            )
            if config is not None:
                written = json.loads(to_json(redact(config), "the study config"))
                self.client.log_dict(run.info.run_id, written, "study_config.json")
            found = self._find(study_key=key, role="study")
            for duplicate in found[1:]:
                if duplicate.info.run_id == run.info.run_id:
                    self.client.delete_run(run.info.run_id)
        self._parents[study.id] = found[0].info.run_id
        return found[0].info.run_id

    def _start_study(self, study: StudyRecord, config: dict[str, Any]) -> None:
        run_id = self._parent(study, config)
        resumed = study.status == "running" and self.client.get_run(run_id).info.status != "RUNNING"
        if resumed:
            self.client.update_run(run_id, status="RUNNING")

    def _run_of(self, study: StudyRecord, trial_id: int) -> str | None:
        if trial_id not in self._runs:
            found = self._find(study_key=study_key(study), trial_id=str(trial_id))
            if found:
                self._runs[trial_id] = found[0].info.run_id
        return self._runs.get(trial_id)

    def _reopen_trial(self, study: StudyRecord, trial: TrialRecord) -> None:
        """The trial's run (found by its tags) runs again; a run MLflow never got (the
        trial ran before MLflow was added) is made now."""
        run_id = self._run_of(study, trial.id)
        if run_id is None:
            self._start_trial(study, trial)
            return
        self.client.update_run(run_id, status="RUNNING")
        self.client.set_tag(run_id, "hyperplug.status", trial.status)
        self._flush_if_idle()

    def _start_trial(self, study: StudyRecord, trial: TrialRecord) -> None:
        run = self.client.create_run(
            self._experiment_id(),
            run_name=redact_text(f"{study.name}-trial-{trial.number}"),
            tags={
                **self.tags,
                "mlflow.parentRunId": self._parent(study),
                "hyperplug.role": "trial",
                "hyperplug.study": redact_text(study.name),
                "hyperplug.study_key": study_key(study),
                "hyperplug.trial_id": str(trial.id),
                "hyperplug.trial_number": str(trial.number),
                "hyperplug.trainer": trial.trainer,
                "hyperplug.status": trial.status,
            },
        )
        self._runs[trial.id] = run.info.run_id
        from mlflow.entities import Param

        values = {
            **dict(flatten(redact(trial.params))),
            "trainer": trial.trainer,
            **dict(flatten(redact(trial.trainer_config), "trainer_config.")),
        }
        params = [Param(safe_name(k), text(v, MAX_PARAM_VALUE)) for k, v in values.items()]
        self._buffer(run.info.run_id).params.extend(params)
        self._flush_if_idle()

    def _log(self, trial_id: int, epoch: int, metrics: dict[str, float], stamp: int) -> None:
        run_id = self._runs.get(trial_id)
        if run_id is None:
            return
        from mlflow.entities import Metric

        rows = [Metric(safe_name(k), float(v), stamp, epoch) for k, v in metrics.items()]
        self._buffer(run_id).metrics.extend(rows)
        self._flush_if_idle()

    def _buffer(self, run_id: str) -> Batch:
        return self._pending.setdefault(run_id, Batch())

    def _flush_if_idle(self) -> None:
        """Once the thread has caught up, every run's waiting writes go out, not only
        this task's: another trial's epoch that waited behind this one is live too."""
        if self.idle():
            self._flush_all()

    def _flush(self, run_id: str) -> None:
        """Send what waits for ``run_id`` in as few requests as MLflow's limits allow."""
        pending = self._pending.pop(run_id, None)
        while pending is not None and not pending.empty():
            self.client.log_batch(run_id, **pending.take())

    def _flush_all(self) -> None:
        for run_id in list(self._pending):
            self._flush(run_id)

    def _end_trial(self, trial: TrialRecord) -> None:
        run_id = self._runs.get(trial.id)
        if run_id is None:
            return
        from mlflow.entities import Metric, RunTag

        stamp = _now_ms()
        best = [
            Metric(safe_name(f"best/{name}"), float(value), stamp, 0)
            for name, value in trial.metrics.items()
            if math.isfinite(value)
        ]
        tags = [RunTag("hyperplug.status", trial.status)]
        if trial.error:
            tags.append(RunTag("hyperplug.error", text(redact_text(trial.error))))
        buffer = self._buffer(run_id)
        buffer.metrics.extend(best)
        buffer.tags.extend(tags)
        self._flush(run_id)
        self.client.set_terminated(run_id, RUN_STATUS.get(trial.status, "KILLED"))
        self._flush_if_idle()

    def _end_study(self, study: StudyRecord) -> None:
        self._flush_all()
        parent = self._parent(study)
        self.client.set_tag(parent, "hyperplug.status", study.status)
        winner = study.winner_trial_id
        run_id = self._run_of(study, winner) if winner is not None else None
        if run_id is not None:
            from mlflow.entities import Metric, RunTag

            version = [RunTag("hyperplug.model_version", study.winner_version or "")]
            self.client.log_batch(run_id, tags=[RunTag("hyperplug.winner", "true"), *version])
            best = self.client.get_run(run_id).data.metrics
            stamp = _now_ms()
            self.client.log_batch(
                parent,
                metrics=[
                    Metric(k, v, stamp, 0)
                    for k, v in best.items()
                    if k.startswith("best/") and math.isfinite(v)
                ],
                tags=[
                    RunTag("hyperplug.winner_trial_id", str(winner)),
                    RunTag("hyperplug.winner_run_id", run_id),
                    *version,
                ],
            )
        self.client.set_terminated(parent, STUDY_STATUS.get(study.status, "KILLED"))
        self._parents.pop(study.id, None)


def _now_ms() -> int:
    return int(time.time() * 1000)
