"""``tracker=wandb``: the SQLite record, mirrored to Weights & Biases.

One W&B run per trial, grouped by study (``group`` = the study's name, ``job_type``
``trial``): the trial's params as run config, every epoch's metrics with ``epoch`` as the
step, the best epoch's metrics as ``best/<metric>`` in the summary (the last logged values
are W&B's own summary: the final ones), the status as a tag and in the summary, failed
trials finished with exit code 1, the study's winner tagged ``winner``.

W&B's cost must not grow the study's: every W&B call runs on one background thread, fed by
a queue, so a trial only pays for putting a few items on it. The run of the best trial so
far stays open until a better one ends or the study ends, so the winner can be tagged
without reopening it; a study finished by another process (a ``--multirun`` sweep's end)
reopens the winner's run by its id (``resume="allow"``), which W&B also supports offline.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from typing import Any

from hyperplug.interfaces import StudyRecord, TrialRecord
from hyperplug.mirror import MirroredTracker, QueuedMirror
from hyperplug.plugins.sqlite import SQLiteTracker, SQLiteTrackerConfig
from hyperplug.plugins.wandb.configs import WandbTrackerConfig
from hyperplug.plugins.wandb.session import decide_mode, mask_tags, print_sync_hint, start_run


def build_tracker(config: WandbTrackerConfig) -> MirroredTracker:
    """SQLite at ``config.path`` as the record of truth, W&B as its mirror (made first: a
    W&B setting that fails must leave no database behind)."""
    mirror = WandbMirror(config)
    return MirroredTracker(SQLiteTracker(SQLiteTrackerConfig(path=config.path)), [mirror])


def run_id(study: StudyRecord, trial_id: int) -> str:
    """The trial's W&B run id: the same in every process that reads the same study."""
    digest = hashlib.sha256(f"{study.name}\0{study.created_at!r}".encode()).hexdigest()[:8]
    slug = re.sub(r"[^A-Za-z0-9._-]", "-", study.name)[:48]
    return f"{slug}-{digest}-{trial_id}"


class WandbMirror(QueuedMirror):
    """Mirrors studies and trials to W&B from a background thread; see the module doc."""

    label = "W&B tracker mirror"
    thread_name = "hyperplug-wandb"

    def __init__(self, config: WandbTrackerConfig) -> None:
        super().__init__(config.path)
        self.config = config
        self.mode = decide_mode(config.mode)
        #: the config's tags, masked: every run carries them
        self.tags = mask_tags(config.tags)
        # Touched by the worker thread only:
        self._studies: dict[int, StudyRecord] = {}
        self._runs: dict[int, Any] = {}  # trial id -> open W&B run
        self._ended: dict[int, TrialRecord] = {}  # trial id -> its final record
        self._best: dict[int, int] = {}  # study id -> trial id of the best open run
        self._reopened: set[int] = set()  # winners' runs reopened to tag them

    # ------------------------------------------------------------------ TrackerMirror

    def study_started(self, study: StudyRecord, config: Mapping[str, Any]) -> None:
        self.submit(self._studies.__setitem__, study.id, study)

    def trial_started(self, study: StudyRecord, trial: TrialRecord) -> None:
        self.submit(self._start_trial, study, trial)

    def metrics_logged(self, trial_id: int, epoch: int, metrics: Mapping[str, float]) -> None:
        self.submit(self._log, trial_id, epoch, dict(metrics))

    def trial_ended(self, trial: TrialRecord) -> None:
        self.submit(self._end_trial, trial)

    def study_ended(self, study: StudyRecord) -> None:
        self.submit(self._end_study, study)

    def close(self) -> None:
        """Finish every open run and wait until W&B has everything."""
        if self.drain(self._finish_all):
            print_sync_hint(self.mode, self.config.dir)

    # ------------------------------------------------------------------ worker side

    def _start_run(self, study: StudyRecord, trial_id: int, **kwargs: Any) -> Any:
        return start_run(
            mode=self.mode,
            directory=self.config.dir,
            project=self.config.project,
            entity=self.config.entity,
            id=run_id(study, trial_id),
            group=self.config.group or study.name,
            job_type="trial",
            **kwargs,
        )

    def _start_trial(self, study: StudyRecord, trial: TrialRecord) -> None:
        self._studies.setdefault(study.id, study)
        self._finish_ended(keep=set(self._best.values()))
        run = self._start_run(
            study,
            trial.id,
            name=f"{study.name}-trial-{trial.number}",
            tags=self.tags,
            config={
                **trial.params,
                "trainer": trial.trainer,
                "trainer_config": trial.trainer_config,
                "hyperplug": {
                    "study": study.name,
                    "trial_id": trial.id,
                    "trial_number": trial.number,
                    "perf_metric": study.perf_metric,
                    "mode": study.mode,
                },
            },
        )
        run.define_metric("epoch")
        run.define_metric("*", step_metric="epoch")
        self._runs[trial.id] = run

    def _log(self, trial_id: int, epoch: int, metrics: dict[str, float]) -> None:
        run = self._runs.get(trial_id)
        if run is not None:
            run.log({**metrics, "epoch": epoch}, step=epoch)

    def _end_trial(self, trial: TrialRecord) -> None:
        run = self._runs.get(trial.id)
        if run is None:
            return
        self._ended[trial.id] = trial
        run.summary.update(
            {
                "status": trial.status,
                "error": trial.error,
                **{
                    f"best/{name}": value
                    for name, value in trial.metrics.items()
                    if math.isfinite(value)  # W&B's JSON summary has no NaN
                },
            }
        )
        run.tags = (*self.tags, trial.status)
        study = self._studies.get(trial.study_id)
        if study is None:
            return
        best_id = self._best.get(study.id)
        if best_id == trial.id and not _ranks(trial, study):
            del self._best[study.id]  # ended again, now as failed
        elif _ranks(trial, study) and (
            best_id is None or _better(trial, self._ended[best_id], study)
        ):
            self._best[study.id] = trial.id

    def _end_study(self, study: StudyRecord) -> None:
        winner = study.winner_trial_id
        if winner is None:
            return
        run = self._runs.get(winner)
        if run is None:  # ended in another process (a sweep's jobs): reopen it by id
            ended = self._ended.get(winner)
            run = self._start_run(study, winner, resume="allow")
            run.tags = (*self.tags, ended.status if ended else "completed")
            self._runs[winner] = run
            self._reopened.add(winner)
        run.tags = (*run.tags, "winner")
        run.summary.update({"winner": True, "model_version": study.winner_version})

    def _finish_ended(self, keep: set[int]) -> None:
        """Finish the runs of ended trials, except ``keep`` (the best ones, held open)."""
        for trial_id in [t for t in self._runs if t in self._ended and t not in keep]:
            self._finish(trial_id)

    def _finish(self, trial_id: int) -> None:
        run = self._runs.pop(trial_id)
        trial = self._ended.get(trial_id)
        ok = trial.status != "failed" if trial is not None else trial_id in self._reopened
        run.finish(exit_code=0 if ok else 1)  # 1: failed, or never ended (the study broke)

    def _finish_all(self) -> None:
        for trial_id in list(self._runs):
            self._finish(trial_id)
        self._best.clear()


def _ranks(trial: TrialRecord, study: StudyRecord) -> bool:
    """Whether the trial can be the study's winner."""
    value = trial.metrics.get(study.perf_metric)
    return trial.status != "failed" and value is not None and math.isfinite(value)


def _better(trial: TrialRecord, than: TrialRecord, study: StudyRecord) -> bool:
    new, old = trial.metrics[study.perf_metric], than.metrics[study.perf_metric]
    return new > old if study.mode == "max" else new < old
