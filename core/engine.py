"""The study engine: an asynchronous ask/report/tell loop in the study (driver) process.

While a backend slot is free the engine asks the search for a config, records the trial
and submits it. Every epoch a trial reports comes back here (the engine is the tracker's
only writer): the metrics are recorded, observers notified, and the search decides
whether the trial goes on; the answer goes back to the trial. When a trial ends the
tracker and the search learn its status: completed, stopped (early-stopped by the
search or the budget) or failed (raised, reported a non-finite value, never reported
the perf_metric, or its worker died).

Faults: a trial that fails is run again (its task resubmitted, on another worker where
the backend has one) up to ``Budget.max_retries`` times before it counts as failed; a
trainer that keeps a checkpoint (``hyperplug.checkpoint``) continues from its last epoch.

Resume: ``recover`` finds the trials a dead study process left running (or a Ctrl-C left
interrupted), and, with retries allowed, the failed ones; ``run`` continues them under
their own ids, from their checkpoints, with the epochs they reported replayed to the
search. The finished trials are returned: the search replays them and the budget counts
them. Epochs reported again (after a checkpoint older than the last report) replace
their records and are not shown to the search twice.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from hyperplug.checkpoint import remove_checkpoint
from hyperplug.config import improves
from hyperplug.errors import ConfigError, HyperplugError
from hyperplug.interfaces import (
    Backend,
    Budget,
    DataRecipe,
    MetadataTracker,
    MetricsTracker,
    PastTrial,
    Search,
    StudyRecord,
    TrialEnd,
    TrialRecord,
    TrialTask,
)
from hyperplug.plugin_manager import PluginManager
from hyperplug.secrets import redact, redact_text
from hyperplug.staging import remove_staged, trial_dir

INTERRUPTED = "interrupted: the study process ended while the trial ran"

#: (trainer name, params) -> (algo, trainer config as a plain dict); raises ConfigError
ConfigureTrial = Callable[[str, Mapping[str, Any]], tuple[Any, dict[str, Any]]]


@attrs.define
class RunningTrial:
    record: TrialRecord
    epochs: int | None
    last: dict[str, float] | None = None
    stopped: bool = False
    failure: str | None = None
    #: what the backend runs (None: the trial never reached a backend)
    task: TrialTask | None = None
    #: how often it was run again after failing, in this run of the study
    retries: int = 0
    #: the last epoch the search was shown
    seen: int = 0
    #: why its last attempt failed, while a retry waits for a free slot
    retry_error: str | None = None


@attrs.frozen
class Resumable:
    """A trial of the study that ``run`` continues: left running by a dead study process,
    interrupted, or (``retry``) failed and retried."""

    record: TrialRecord
    curve: dict[int, dict[str, float]]
    retry: bool


@attrs.define
class Tally:
    """What the live view and the budget need to know about the study so far."""

    started: float = attrs.Factory(time.time)
    counted: int = 0
    running: int = 0
    completed: int = 0
    stopped: int = 0
    failed: int = 0
    best: float | None = None
    best_trial: int | None = None
    history: list[tuple[float, float]] = attrs.Factory(list)  # (time, best so far)
    #: how many trials the study will have, when the search or the budget says so
    total: int | None = None
    #: when a wall-time budget ends the study (``time.time()``)
    deadline: float | None = None
    #: when this run's first epoch was reported (its trials are timed from there: the
    #: workers' start-up is no trial's time); how many finished trials it resumed
    first_report_at: float | None = None
    resumed: int = 0


class Engine:
    """Drives one study; also the ``TrialDriver`` its backend reports to."""

    def __init__(
        self,
        *,
        study: StudyRecord,
        metadata_tracker: MetadataTracker,
        metrics_tracker: MetricsTracker,
        manager: PluginManager,
        perf_metric: str,
        mode: str,
        study_dir: Path | None,
        view: Any = None,
        failures_key: str = "optimizer.max_failures",
        require_metric: bool = True,
    ) -> None:
        """``failures_key``: the setting the max-failures error names (the sweeper's is
        ``hydra.sweeper.max_failures``). ``require_metric``: a trial that ends without
        reporting ``perf_metric`` fails (a trainer's bug); False: it completes without a
        value (the sweeper's Hydra job whose task function returned none)."""
        self.study = study
        self.failures_key = failures_key
        self.require_metric = require_metric
        self.tracker = metadata_tracker
        self.metrics = metrics_tracker
        self.manager = manager
        self.perf_metric = perf_metric
        self.mode = mode
        self.study_dir = study_dir
        self.view = view
        self.search: Search | None = None
        self.running: dict[int, RunningTrial] = {}
        self.tally = Tally()
        #: ids of the trials this engine started (or resumed)
        self.trial_ids: list[int] = []
        #: trials ``recover`` found to continue
        self.resumable: list[Resumable] = []
        #: tasks waiting for a free slot: retries and resumed trials
        self.queue: deque[TrialTask] = deque()
        self.max_retries = 0
        #: the budget's epochs of a trial (``Budget.max_epochs``), once ``run`` starts
        self.max_epochs: int | None = None
        #: the error of the latest failed trial, for the max-failures message
        self.last_error: str | None = None

    # ------------------------------------------------------------------ resume

    def recover(self, max_retries: int = 0) -> list[PastTrial]:
        """Find the trials to continue (``self.resumable``): those a dead study process
        left running or a Ctrl-C interrupted, and, when ``max_retries`` allows, the
        failed ones that ran; return the study's other finished trials, with their
        per-epoch curves. A tracker that cannot reopen trials gets the old behaviour:
        interrupted trials are marked so and left out, failed ones stay failed."""
        past = []
        for trial in self.tracker.list_trials(self.study.id):
            interrupted = trial.status == "running" or trial.error == INTERRUPTED
            retry = not interrupted and trial.status == "failed" and max_retries > 0
            curve: dict[int, dict[str, float]] = {}
            for record in self.metrics.get_metrics(trial.id):
                curve.setdefault(record.epoch, {})[record.name] = record.value
            if (interrupted or (retry and trial.trainer_config)) and self._reopen(trial):
                self.resumable.append(Resumable(trial, curve, retry))
                continue
            if trial.status == "running":
                trial = self.tracker.end_trial(trial.id, "failed", INTERRUPTED)
            if trial.error == INTERRUPTED:
                continue
            past.append(PastTrial(trial.trainer, trial.params, trial.status, curve, trial.metrics))
            self._count(trial)
        self.tally.resumed = self.tally.counted
        if past:
            trials = self.tracker.list_trials(self.study.id)
            self.tally.started -= max(t.ended_at or t.started_at for t in trials) - min(
                t.started_at for t in trials
            )
        return past

    def _reopen(self, trial: TrialRecord) -> bool:
        if trial.status == "running":
            return True
        try:
            self.tracker.reopen_trial(trial.id)
        except NotImplementedError:
            return False
        return True

    def _resume(self, configure: ConfigureTrial) -> None:
        """Continue the trials ``recover`` found, under their ids: the search is told they
        run and shown the epochs they reported; their tasks wait for free slots."""
        assert self.search is not None
        for item in self.resumable:
            record = item.record
            if record.status != "running":
                record = attrs.evolve(record, status="running", error=None, ended_at=None)
            run = RunningTrial(record, None, retries=int(item.retry))
            self.running[record.id] = run
            self.tally.running += 1
            self.trial_ids.append(record.id)
            self.search.on_start(record.id, record.trainer, record.params)
            for epoch in sorted(item.curve):
                values = item.curve[epoch]
                self.search.on_report(record.id, epoch, values)
                run.last = {**(run.last or {}), **values, "epoch": epoch}
                run.seen = epoch
            try:
                algo, config = configure(record.trainer, record.params)
            except ConfigError as exc:
                run.failure = str(exc)
                self.on_end(TrialEnd(record.id))
                continue
            epochs = config.get("epochs")
            run.epochs = epochs if isinstance(epochs, int) else None
            run.task = self._task(record, algo, record.params, config)
            self.queue.append(run.task)
            if self.view is not None:
                self.view.trial_started(record, run.epochs, self.tally)
        self.resumable = []

    def _task(
        self, record: TrialRecord, algo: Any, params: Mapping[str, Any], config: Mapping[str, Any]
    ) -> TrialTask:
        stage = None if self.study_dir is None else str(trial_dir(self.study_dir, record.id))
        return TrialTask(
            record.id, algo, dict(params), dict(config), self.perf_metric, self.mode, stage
        )

    # ------------------------------------------------------------------ one trial

    def open_trial(
        self, algo: Any, trainer: str, params: Mapping[str, Any], config: Mapping[str, Any]
    ) -> TrialTask:
        """Record a new running trial and say what to run for it: the record gets the
        params and config with secrets masked, the trial the real ones."""
        record = self.tracker.start_trial(
            self.study.id, trainer, redact(dict(params)), redact(dict(config))
        )
        self.trial_ids.append(record.id)
        epochs = config.get("epochs")
        run = RunningTrial(record, epochs if isinstance(epochs, int) else None)
        self.running[record.id] = run
        self.tally.running += 1
        self.manager.notify("on_trial_start", study=self.study, trial=record)
        if self.view is not None:
            self.view.trial_started(record, run.epochs, self.tally)
        run.task = self._task(record, algo, params, config)
        if run.task.stage_dir is not None:  # left by a tracker file that was replaced
            remove_staged(Path(run.task.stage_dir))
        return run.task

    def on_report(self, trial_id: int, epoch: int, metrics: Mapping[str, float]) -> bool:
        run = self.running.get(trial_id)
        if run is None or run.failure is not None:
            return False
        values = {name: float(value) for name, value in metrics.items()}
        if self.tally.first_report_at is None:
            self.tally.first_report_at = time.time()
        self.metrics.log_metrics(trial_id, epoch, values)
        self.manager.notify(
            "on_trial_report", study=self.study, trial=run.record, epoch=epoch, metrics=values
        )
        if self.view is not None:
            self.view.trial_reported(run.record, epoch, self.tally)
        # the latest value of every metric: a report may carry only some (the sweeper's
        # final objective)
        run.last = {**(run.last or {}), **values, "epoch": epoch}
        bad = [name for name, value in values.items() if not math.isfinite(value)]
        if bad:
            run.failure = f"{bad[0]} is {values[bad[0]]} at epoch {epoch}"
            return False
        if run.stopped:
            return False
        if epoch <= run.seen:  # reported again by a resumed attempt: the search saw it
            return True
        run.seen = epoch
        if self.search is not None and not self.search.on_report(trial_id, epoch, values):
            # its last epoch: the trial completes, it is not stopped. The last is the
            # trainer's ``epochs``, or the budget's ``max_epochs`` for a trainer without
            # that key, which is ended there (its search stops every trial at the budget)
            last = run.epochs if run.epochs is not None else self.max_epochs
            if last is not None and epoch >= last:
                return run.epochs is not None
            run.stopped = True
            return False
        return True

    def on_end(self, end: TrialEnd) -> TrialRecord:
        run = self.running[end.trial_id]
        error = run.failure or end.error
        error = redact_text(error) if error else None
        if (
            error is None
            and self.require_metric
            and (run.last is None or self.perf_metric not in run.last)
        ):
            error = f"perf_metric '{self.perf_metric}' was never reported"
        if error is not None and self._retry(run, error):
            return run.record
        del self.running[end.trial_id]
        self.tally.running -= 1
        status = "failed" if error else ("stopped" if run.stopped else "completed")
        record = self.tracker.end_trial(end.trial_id, status, error)
        if self.study_dir is not None:
            directory = trial_dir(self.study_dir, end.trial_id)
            if status != "failed":
                remove_checkpoint(directory)
            elif error != INTERRUPTED:  # an interrupted trial resumes from its checkpoint
                remove_staged(directory)
        if self.search is not None:
            self.search.on_end(end.trial_id, status, run.last)
        self.manager.notify("on_trial_end", study=self.study, trial=record)
        self._count(record)
        if self.view is not None:
            self.view.trial_ended(record, self.tally)
        return record

    def _retry(self, run: RunningTrial, error: str) -> bool:
        """Queue a failed trial to run again, when it has retries left in this run and
        the study is not ending; the search goes on seeing it as running."""
        if run.task is None or run.retries >= self.max_retries or error == INTERRUPTED:
            return False
        run.retries += 1
        run.failure, run.stopped, run.retry_error = None, False, error
        self.queue.append(run.task)
        return True

    def _drop_queue(self) -> None:
        """The study ends: queued retries end failed with their last error, queued
        resumptions stay interrupted (a later run resumes them)."""
        while self.queue:
            task = self.queue.popleft()
            run = self.running[task.trial_id]
            run.failure = run.retry_error or INTERRUPTED
            run.retries = self.max_retries
            self.on_end(TrialEnd(task.trial_id))

    def stop(self, trial_id: int) -> None:
        """Mark a running trial as stopped by the study (budget), not by its search."""
        if trial_id in self.running:
            self.running[trial_id].stopped = True

    def _count(self, record: TrialRecord) -> None:
        if record.status == "failed" and record.error:
            self.last_error = record.error
        self.tally.counted += 1
        setattr(self.tally, record.status, getattr(self.tally, record.status) + 1)
        value = record.metrics.get(self.perf_metric)
        if (
            record.status != "failed"
            and value is not None
            and math.isfinite(value)
            and improves(value, self.tally.best, self.mode)
        ):
            self.tally.best, self.tally.best_trial = value, record.id
        if self.tally.best is not None:
            self.tally.history.append((time.time() - self.tally.started, self.tally.best))

    # ------------------------------------------------------------------ the loop

    def run(
        self,
        search: Search,
        backend: Backend,
        recipe: DataRecipe,
        budget: Budget,
        configure: ConfigureTrial,
    ) -> None:
        """Run trials until the search is done or a budget is spent."""
        self.search = search
        self.max_retries = budget.max_retries
        self.max_epochs = budget.max_epochs
        deadline = None
        if budget.max_wall_time_s is not None:
            deadline = self.tally.started + budget.max_wall_time_s
        self.tally.deadline = deadline
        exhausted = stopping = False
        self._check_failures(budget, backend)  # a resumed study may have spent its failures
        self._resume(configure)
        backend.start(recipe, self)
        try:
            while True:
                while self.queue and not stopping and backend.free_slots() > 0:
                    backend.submit(self.queue.popleft())
                while not (exhausted or stopping) and backend.free_slots() > 0:
                    if (
                        budget.max_trials is not None
                        and self.tally.counted + len(self.running) >= budget.max_trials
                    ):
                        exhausted = True
                        break
                    suggestion = search.suggest()
                    if suggestion is None:
                        exhausted = True
                        break
                    self._submit(backend, configure, *suggestion)
                    self._check_failures(budget, backend)
                if not self.running:
                    break
                timeout = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.time()))
                backend.poll(timeout)
                self._check_failures(budget, backend)
                if deadline is not None and time.time() >= deadline and not stopping:
                    stopping = True
                    self._drop_queue()
                    for trial_id in list(self.running):
                        self.stop(trial_id)
                        backend.stop(trial_id)
        finally:
            backend.shutdown()
            self.queue.clear()
            for trial_id in list(self.running):  # only after an error: its worker is gone
                # interrupted, not failed: a resumed study continues it
                self.running[trial_id].failure = INTERRUPTED
                self.on_end(TrialEnd(trial_id))

    def _submit(
        self, backend: Backend, configure: ConfigureTrial, trainer: str, params: dict[str, Any]
    ) -> None:
        try:
            algo, config = configure(trainer, params)
        except ConfigError as exc:  # a sampled value the trainer refuses: a failed trial
            assert self.search is not None
            record = self.tracker.start_trial(self.study.id, trainer, params, {})
            self.trial_ids.append(record.id)
            self.search.on_start(record.id, trainer, params)
            self.running[record.id] = RunningTrial(record, None, failure=str(exc))
            self.tally.running += 1
            self.on_end(TrialEnd(record.id))
            return
        task = self.open_trial(algo, trainer, params, config)
        assert self.search is not None
        self.search.on_start(task.trial_id, trainer, params)
        backend.submit(task)

    def _check_failures(self, budget: Budget, backend: Backend) -> None:
        if budget.max_failures is not None and self.tally.failed > budget.max_failures:
            for trial_id in list(self.running):
                backend.stop(trial_id)
            raise HyperplugError(
                f"study '{self.study.name}': {self.tally.failed} trials failed, more than "
                f"{self.failures_key}={budget.max_failures} (the last: {self.last_error}); "
                f"see `hyperplug study {self.study.name}` for their errors"
            )
