"""PNG plots of a study, written to its directory: learning curves (perf_metric per epoch,
one line per trial) and the best perf_metric so far against time. matplotlib (Agg) is
imported only here; without ``hyperplug[plots]`` no plot is drawn and the summary says
why (``missing_note``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hyperplug.extras import missing_extra_message
from hyperplug.interfaces import MetricsTracker, StudyRecord, TrialRecord


def missing_note() -> str | None:
    """Why no plot is drawn (matplotlib is not installed), or None."""
    return missing_extra_message("drawing PNG plots", "plots")


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_plots(
    directory: Path, study: StudyRecord, trials: list[TrialRecord], metrics: MetricsTracker
) -> list[Path]:
    """The study's plots, written to ``directory``; none without ``hyperplug[plots]``."""
    if missing_note():
        return []
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    directory.mkdir(parents=True, exist_ok=True)
    metric = study.perf_metric
    curves: dict[int, tuple[list[int], list[float], float]] = {}
    for trial in trials:
        points = sorted(
            (r.epoch, r.value, r.recorded_at)
            for r in metrics.get_metrics(trial.id)
            if r.name == metric
        )
        if points:
            curves[trial.number] = ([p[0] for p in points], [p[1] for p in points], points[-1][2])
    paths = []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for number, (epochs, values, _) in sorted(curves.items()):
        ax.plot(epochs, values, marker=".", linewidth=1, label=f"trial {number}")
    ax.set(xlabel="epoch", ylabel=metric, title=f"{study.name}: learning curves")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if 0 < len(curves) <= 12:
        ax.legend(fontsize="small")
    paths.append(save_figure(fig, directory / "learning_curves.png", plt))

    fig, ax = plt.subplots(figsize=(7, 4.5))
    start = min((t.started_at for t in trials), default=0.0)
    ends = sorted(
        (t.ended_at - start, t.metrics[metric])
        for t in trials
        if t.ended_at is not None and t.status != "failed" and metric in t.metrics
    )
    times, best = [], []
    for elapsed, value in ends:
        current = value if not best else (max if study.mode == "max" else min)(best[-1], value)
        times.append(elapsed)
        best.append(current)
    ax.step(times, best, where="post")
    ax.set(
        xlabel="seconds since the first trial",
        ylabel=f"best {metric}",
        title=f"{study.name}: best so far",
    )
    paths.append(save_figure(fig, directory / "best_so_far.png", plt))
    return paths


def save_figure(fig: Any, path: Path, plt: Any) -> Path:
    """Write ``fig`` as a PNG at ``path`` and close it."""
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
