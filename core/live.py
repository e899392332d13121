"""The live view of a running study, on stderr.

On a terminal: a rich status line (trials running/finished/stopped/failed, best so far)
that redraws as trials end. Otherwise (a pipe, a log file): one plain line per finished
trial, so logs stay readable.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from hyperplug.interfaces import TrialRecord
from hyperplug.summary import format_params, format_value


class LiveView:
    def __init__(self, perf_metric: str, stream: TextIO | None = None) -> None:
        self.perf_metric = perf_metric
        self.stream = stream or sys.stderr
        self.live: Any = None
        if self.stream.isatty():
            from rich.console import Console
            from rich.live import Live

            self.live = Live(console=Console(file=self.stream), transient=False, auto_refresh=False)
            self.live.start()

    def status(self, tally: Any) -> str:
        best = "-" if tally.best is None else format_value(tally.best)
        finished = tally.completed + tally.stopped + tally.failed
        return (
            f"trials: {tally.running} running, {finished} finished ({tally.completed} completed,"
            f" {tally.stopped} stopped, {tally.failed} failed); best {self.perf_metric}: {best}"
        )

    def trial_ended(self, trial: TrialRecord, tally: Any) -> None:
        value = trial.metrics.get(self.perf_metric)
        line = (
            f"trial {trial.number} {trial.status} {trial.trainer} {format_params(trial.params)}"
            f" {self.perf_metric}={format_value(value) if value is not None else '-'}"
            + (f" ({trial.error})" if trial.error else "")
        )
        if self.live is not None:
            self.live.console.print(line, highlight=False, markup=False)
            self.live.update(self.status(tally), refresh=True)
        else:
            self.stream.write(f"{line} | {self.status(tally)}\n")
            self.stream.flush()

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
