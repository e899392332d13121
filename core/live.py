"""The live view of a running study, on stderr.

How far the study is: "k of N trials" (N when the search or the budget says it: a grid,
``max_trials``), the counts by status, the best perf_metric so far, the time elapsed and,
once a trial has ended, an estimate of the time left (the mean time per finished trial
so far, capped by a wall-time budget).

On a terminal: a rich display redrawn a few times a second, that status line above one
progress bar per running trial (its epochs), and a line printed for every trial that
ends. Otherwise (a pipe, a log file): one plain line per finished trial, with the status,
so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from hyperplug.interfaces import TrialRecord
from hyperplug.summary import format_params, format_value

#: a running trial's bar is redrawn at most this often (its first epoch always)
REDRAW_S = 0.1


def format_duration(seconds: float) -> str:
    """``0:07``, ``12:30``, ``1:02:03``."""
    minutes, secs = divmod(round(max(seconds, 0.0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def time_left(tally: Any, now: float) -> float | None:
    """Seconds the study will still take: the trials left times the time per trial this
    run has finished so far, counted from its first report (the workers' start-up is no
    trial's time), capped by a wall-time budget. None when it cannot be told (no trial of
    this run ended yet, or the number of trials is not known)."""
    finished = tally.completed + tally.stopped + tally.failed
    estimate = None
    done_here = finished - tally.resumed
    if tally.total is not None and tally.first_report_at is not None and done_here > 0:
        per_trial = (now - tally.first_report_at) / done_here
        estimate = per_trial * max(tally.total - finished, 0)
    if tally.deadline is not None:
        estimate = min(estimate if estimate is not None else float("inf"), tally.deadline - now)
    return None if estimate is None else max(estimate, 0.0)


class LiveView:
    """What the study engine tells about its trials, shown as they run (see the module
    docstring). The engine calls ``trial_started``, ``trial_reported`` and
    ``trial_ended``; ``close`` ends the display."""

    def __init__(self, perf_metric: str, stream: TextIO | None = None) -> None:
        self.perf_metric = perf_metric
        self.stream = stream or sys.stderr
        self.tally: Any = None
        self.live: Any = None
        self.progress: Any = None
        self.bars: dict[int, tuple[Any, int | None]] = {}  # trial id -> (bar, its epochs)
        self.drawn: dict[int, float] = {}  # trial id -> when its bar was last redrawn
        if self.stream.isatty():
            from rich.console import Console, Group
            from rich.live import Live
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[epochs]}"),
                TimeElapsedColumn(),
                auto_refresh=False,
            )
            self.live = Live(
                console=Console(file=self.stream),
                get_renderable=lambda: Group(self.status_text(), self.progress),
                refresh_per_second=4,
                transient=False,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self.live.start()

    # ------------------------------------------------------------------ text

    def status(self, tally: Any, now: float | None = None) -> str:
        """``4 of 10 trials (3 completed, 0 stopped, 1 failed), 2 running; best val_accuracy:
        0.95; elapsed 0:12, about 0:18 left``."""
        now = time.time() if now is None else now
        finished = tally.completed + tally.stopped + tally.failed
        of = (
            f"{finished} of {tally.total} trials"
            if tally.total is not None
            else (f"{finished} trials")
        )
        best = "-" if tally.best is None else format_value(tally.best)
        left = None if tally.total == finished else time_left(tally, now)
        return (
            f"{of} ({tally.completed} completed, {tally.stopped} stopped, {tally.failed} "
            f"failed), {tally.running} running; best {self.perf_metric}: {best}; elapsed "
            f"{format_duration(now - tally.started)}"
            + ("" if left is None else f", about {format_duration(left)} left")
        )

    def status_text(self) -> Any:
        from rich.text import Text

        return Text("" if self.tally is None else self.status(self.tally))

    def trial_line(self, trial: TrialRecord) -> str:
        value = trial.metrics.get(self.perf_metric)
        return (
            f"trial {trial.number} {trial.status} {trial.trainer} {format_params(trial.params)}"
            f" {self.perf_metric}={format_value(value) if value is not None else '-'}"
            + (f" ({trial.error})" if trial.error else "")
        )

    # ------------------------------------------------------------------ engine events

    def trial_started(self, trial: TrialRecord, epochs: int | None, tally: Any) -> None:
        self.tally = tally
        if self.progress is None:
            return
        description = f"trial {trial.number} {trial.trainer} {format_params(trial.params)}"
        bar = self.progress.add_task(description, total=epochs, epochs=_epochs(0, epochs))
        self.bars[trial.id] = bar, epochs
        self.live.refresh()

    def trial_reported(self, trial: TrialRecord, epoch: int, tally: Any) -> None:
        self.tally = tally
        if trial.id not in self.bars:
            return
        bar, epochs = self.bars[trial.id]
        self.progress.update(bar, completed=epoch, epochs=_epochs(epoch, epochs))
        now = time.monotonic()
        if now - self.drawn.get(trial.id, 0.0) >= REDRAW_S:
            self.drawn[trial.id] = now
            self.live.refresh()

    def trial_ended(self, trial: TrialRecord, tally: Any) -> None:
        self.tally = tally
        if self.live is None:
            self.stream.write(f"{self.trial_line(trial)} | {self.status(tally)}\n")
            self.stream.flush()
            return
        if trial.id in self.bars:
            self.progress.remove_task(self.bars.pop(trial.id)[0])
            self.drawn.pop(trial.id, None)
        self.live.console.print(self.trial_line(trial), highlight=False, markup=False)
        self.live.refresh()

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()


def _epochs(epoch: int, total: int | None) -> str:
    return f"epoch {epoch}" if total is None else f"epoch {epoch}/{total}"
