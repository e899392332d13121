"""The results of a study as a table on the terminal and as files in its run directory."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from hyperplug.interfaces import ModelVersion, StudyRecord, TrialRecord


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    return str(value)


def format_params(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={format_value(v)}" for k, v in params.items()) or "-"


def trials_table(
    trials: Sequence[TrialRecord],
    metrics: Sequence[str],
    winner_trial_id: int | None = None,
    title: str | None = None,
) -> Any:
    """A rich Table: one row per trial with params, metrics, status and time."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in ("#", "trainer", "params", *metrics, "status", "time (s)"):
        table.add_column(
            column,
            justify="right" if column in metrics else "left",
            no_wrap=column != "params",
            overflow="fold",
        )
    for trial in trials:
        elapsed = (trial.ended_at or trial.started_at) - trial.started_at
        mark = "*" if trial.id == winner_trial_id else ""
        table.add_row(
            f"{trial.number}{mark}",
            trial.trainer,
            format_params(trial.params),
            *(format_value(trial.metrics[m]) if m in trial.metrics else "-" for m in metrics),
            trial.status,
            f"{elapsed:.1f}",
        )
    return table


def winner_lines(
    study: StudyRecord, trials: Sequence[TrialRecord], winner: ModelVersion | None
) -> list[str]:
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.status] = counts.get(trial.status, 0) + 1
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    lines = [f"study {study.name}: {len(trials)} trials ({tally or 'none'})"]
    lines += [f"trial {t.number} {t.status}: {t.error}" for t in trials if t.error]
    if winner is None and study.winner_version is None:
        lines.append(f"no winner: no trial reached {study.perf_metric}")
        return lines
    best = next((t for t in trials if t.id == study.winner_trial_id), None)
    if best is not None:
        lines.append(
            f"winner: trial {best.number} ({best.trainer} {format_params(best.params)}) "
            f"{study.perf_metric}={format_value(best.metrics.get(study.perf_metric))} "
            f"({study.mode})"
        )
    if winner is None:  # the tracker names the version; its store is not at hand
        lines.append(f"model version: {study.winner_version}")
        return lines
    tests = {k: v for k, v in winner.meta.metrics.items() if k.startswith("test_")}
    if tests:
        lines.append("test: " + " ".join(f"{k}={format_value(v)}" for k, v in tests.items()))
    lines.append(f"model version: {winner.ref} [{', '.join(winner.aliases)}] at {winner.uri}")
    return lines


def console(file: Any = None) -> Any:
    """A rich console that does not squeeze tables to 80 columns when output is piped."""
    import os

    from rich.console import Console

    width = None if file is None and os.isatty(1) else int(os.environ.get("COLUMNS", 160))
    return Console(file=file, width=width, soft_wrap=True)


def print_study(
    study: StudyRecord,
    trials: Sequence[TrialRecord],
    metrics: Sequence[str],
    winner: ModelVersion | None,
) -> None:
    out = console()
    out.print(trials_table(trials, metrics, study.winner_trial_id))
    for line in winner_lines(study, trials, winner):
        out.print(line, highlight=False, markup=False)


def write_summary(
    directory: Path,
    study: StudyRecord,
    trials: Sequence[TrialRecord],
    metrics: Sequence[str],
    winner: ModelVersion | None,
) -> Path:
    """Write ``summary.json`` (machine-readable) and ``summary.txt`` (the printed table)."""
    directory.mkdir(parents=True, exist_ok=True)
    payload = {
        "study": attrs.asdict(study),
        "trials": [attrs.asdict(t) for t in trials],
        "winner": attrs.asdict(winner) if winner else None,
    }
    path = directory / "summary.json"
    path.write_text(json.dumps(payload, indent=2, default=str))
    with (directory / "summary.txt").open("w") as handle:
        out = console(handle)
        out.print(trials_table(trials, metrics, study.winner_trial_id))
        for line in winner_lines(study, trials, winner):
            out.print(line, highlight=False, markup=False)
    return path


def show_result(result: Any, run_dir: Path) -> None:
    """Print a finished study (a ``StudyResult``), write its summary to ``run_dir``,
    print where its plots are."""
    out = console()
    if result.already_complete:
        out.print(
            result.notice
            or f"study {result.study.name} is complete; nothing to run "
            "(choose another study=NAME to start a new one)",
            highlight=False,
            markup=False,
        )
    print_study(result.study, result.trials, result.settings.metrics, result.winner)
    write_summary(run_dir, result.study, result.trials, result.settings.metrics, result.winner)
    show_plots(result.plots)


def show_plots(paths: Sequence[Path]) -> None:
    """Say where a study's plots are, one ``plot: PATH`` line each, or why there are none."""
    from hyperplug.plots import missing_note

    out = console()
    for path in paths:
        out.print(f"plot: {path}", highlight=False, markup=False)
    note = None if paths else missing_note()
    if note:
        out.print(f"plots: none drawn: {note}", highlight=False, markup=False, soft_wrap=True)
