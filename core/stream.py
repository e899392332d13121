"""A simulated stream: a scenario cuts the dataset into chunks, and the model is updated
chunk after chunk with the configured updater (each update a study of its own, tunable).

After every update the new version is evaluated on the test rows of every chunk, those
seen and those to come: row i of the accuracy matrix ``R[i, j]``. The stream is recorded
in the tracker as a study (``<model_name>-stream-<hash>``, perf_metric
``average_accuracy``) with one trial per update, named by its updater; the trial's metrics
are its row of R (``accuracy_chunk_<j>``) and the stream's metrics so far
(``hyperplug.cl_metrics``). The versions are those of model ``<stream study name>``.

A killed stream resumes: the updates that finished are complete studies, so they are
loaded, not trained again, and the updates recorded in the stream study stay recorded.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from hyperplug.cl_metrics import average_accuracy_per_update, flip_rates, stream_metrics
from hyperplug.data import DataSplits
from hyperplug.errors import ConfigError, HyperplugError
from hyperplug.interfaces import ModelTrainer, StudyRecord
from hyperplug.plugin_manager import PluginManager
from hyperplug.secrets import redact
from hyperplug.staging import study_dir
from hyperplug.study import RUNTIME_KEYS, Study

STREAM_METRIC = "average_accuracy"
#: the per-update metrics of a stream, in the order tables show them
UPDATE_COLUMNS = (
    "average_accuracy",
    "forgetting",
    "backward_transfer",
    "forward_transfer",
    "flips_to_wrong",
    "flips_to_right",
    "seconds",
)


@attrs.frozen
class StreamResult:
    """A finished stream: its study, the accuracy matrix (updates x chunks), the version
    each update made, and the metrics after each update."""

    study: StudyRecord
    updater: str
    accuracy: np.ndarray = attrs.field(repr=False)
    versions: list[str]
    updates: list[dict[str, float]]
    study_dir: Path
    plots: list[Path] = attrs.Factory(list)

    @property
    def final(self) -> dict[str, float]:
        return self.updates[-1] if self.updates else {}

    def to_json(self) -> dict[str, Any]:
        return {
            "study": self.study.name,
            "updater": self.updater,
            "accuracy": self.accuracy.tolist(),
            "versions": self.versions,
            "updates": self.updates,
        }


def stream_name(study: Study) -> str:
    """``<model_name>-stream-<8 hex>``: a hash of the config (without runtime keys), so the
    same command resumes its stream."""
    cfg = {k: v for k, v in study.cfg.items() if k not in RUNTIME_KEYS}
    digest = hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode())
    return study.settings.study or f"{study.settings.model_name}-stream-{digest.hexdigest()[:8]}"


def stream_chunks(study: Study) -> list[DataSplits]:
    """The scenario's chunks of the dataset, each cut by the splitter."""
    dataset = study.build("dataset").load()
    chunks = study.build("scenario").chunks(dataset)
    splitter = study.build("splitter")
    splits = []
    for index, chunk in enumerate(chunks):
        try:
            splits.append(splitter.split_data(chunk))
        except HyperplugError as error:
            name = study.configured["scenario"][1].name
            raise type(error)(f"scenario={name}, chunk {index}: {error}") from error
    return splits


def correct_on(model: ModelTrainer, data: DataSplits) -> np.ndarray:
    """Which test rows of ``data`` the model gets right (a class it does not know: wrong)."""
    known = [str(c) for c in model.model_info().get("classes", ())]
    truth = np.array(
        [known.index(data.classes[y]) if data.classes[y] in known else -1 for y in data.test.y]
    )
    return np.asarray(model.predict(data.test.x)) == truth


def run_stream(
    cfg: Mapping[str, Any],
    manager: PluginManager | None = None,
    view: Any = None,
    overrides: Sequence[str] = (),
) -> StreamResult:
    """Run (or resume) the stream a composed config describes; record and plot it."""
    study = Study.from_config(cfg, manager, overrides)
    if "scenario" not in study.configured:
        raise ConfigError("a stream needs a scenario: add scenario=<name>")
    if not study.is_update:
        raise ConfigError(
            f"scenario={study.configured['scenario'][1].name} updates a model chunk after "
            "chunk: choose an updater (e.g. updater=er)"
        )
    if "detector" in study.configured:
        raise ConfigError(
            f"detector={study.configured['detector'][1].name}: a simulated stream updates on "
            "every chunk; test a chunk with hyperplug drift, or let hyperplug update ... "
            "detector=NAME skip an update"
        )
    chunks = stream_chunks(study)  # a scenario or split that cannot be made fails here
    name = stream_name(study)
    updater = study.configured["updater"][1].name
    tracker = study.build("tracker")
    try:
        record = tracker.start_study(name, STREAM_METRIC, "max", redact(dict(study.cfg)))
        recorded = _recorded_updates(tracker, record)
        accuracy = np.full((len(chunks), len(chunks)), math.nan)
        baseline = 1.0 / max(1, len(chunks[0].classes))
        versions: list[str] = []
        updates: list[dict[str, float]] = []
        previous: list[np.ndarray] | None = None
        ref: str | None = None
        for index, chunk in enumerate(chunks):
            started = time.time()
            tuner = study.update_tuner(chunk, view=view, parent=ref, model_name=name)
            try:
                model = tuner.run_experiment(chunk)
            finally:
                tuner.metadata_tracker.close()
            assert tuner.winner is not None and tuner.study is not None
            ref = tuner.winner.ref
            correct = [correct_on(model, data) for data in chunks]
            accuracy[index] = [float(c.mean()) for c in correct]
            flips = None
            if previous is not None:
                flips = flip_rates(
                    np.concatenate(previous[:index]), np.concatenate(correct[:index])
                )
            metrics = stream_metrics(accuracy[: index + 1], baseline, flips)
            trial = recorded.get(index)
            metrics["seconds"] = (
                trial.metrics.get("seconds", math.nan) if trial else time.time() - started
            )
            if trial is None:
                _record_update(
                    tracker, record, index, updater, ref, tuner.study.name, metrics, accuracy[index]
                )
            versions.append(ref)
            updates.append(metrics)
            previous = correct
        trials = tracker.list_trials(record.id)
        record = tracker.end_study(record.id, "completed", trials[-1].id, ref)
    finally:
        tracker.close()
    directory = study_dir(study.settings.home, name)
    result = StreamResult(record, updater, accuracy, versions, updates, directory)
    return attrs.evolve(result, plots=write_stream_plots(directory, result))


def _recorded_updates(tracker: Any, study: StudyRecord) -> dict[int, Any]:
    """The updates a stream recorded before (a resumed run): completed trials by update
    index; a trial a killed run left running is marked failed (interrupted)."""
    done = {}
    for trial in tracker.list_trials(study.id):
        if trial.status == "running":
            tracker.end_trial(trial.id, "failed", "interrupted: the stream's process ended")
        elif trial.status == "completed":
            done[int(trial.params["update"])] = trial
    return done


def _record_update(
    tracker: Any,
    study: StudyRecord,
    index: int,
    updater: str,
    version: str,
    update_study: str,
    metrics: Mapping[str, float],
    row: np.ndarray,
) -> None:
    params = {"update": index, "version": version, "study": update_study}
    trial = tracker.start_trial(study.id, updater, params, {})
    values = {f"accuracy_chunk_{j}": float(a) for j, a in enumerate(row)}
    values.update({k: float(v) for k, v in metrics.items() if math.isfinite(v)})
    tracker.log_metrics(trial.id, 1, values)
    tracker.end_trial(trial.id, "completed")


# --------------------------------------------------------------------------- output


def write_stream_plots(directory: Path, result: StreamResult) -> list[Path]:
    """The accuracy matrix as a heat map, and the average accuracy after each update; none
    without ``hyperplug[plots]``."""
    from hyperplug.plots import missing_note, pyplot, save_figure

    if missing_note():
        return []
    plt = pyplot()

    directory.mkdir(parents=True, exist_ok=True)
    r = result.accuracy
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * r.shape[1], 1.0 + 0.5 * r.shape[0]))
    image = ax.imshow(r, vmin=0.0, vmax=1.0, cmap="viridis")
    for (i, j), value in np.ndenumerate(r):
        if math.isfinite(value):
            ax.text(
                j,
                i,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if value < 0.6 else "black",
            )
    ax.set(
        xlabel="chunk (test rows)",
        ylabel="after update",
        xticks=range(r.shape[1]),
        yticks=range(r.shape[0]),
        title=f"{result.study.name}: accuracy ({result.updater})",
    )
    fig.colorbar(image, ax=ax)
    paths = [save_figure(fig, directory / "accuracy_matrix.png", plt)]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(range(len(r)), average_accuracy_per_update(r), marker="o")
    ax.set(
        xlabel="update",
        ylabel="average accuracy on chunks seen",
        ylim=(0, 1.02),
        xticks=range(len(r)),
        title=f"{result.study.name}: average accuracy",
    )
    paths.append(save_figure(fig, directory / "average_accuracy.png", plt))
    return paths


def show_stream(result: StreamResult, run_dir: Path | None = None) -> None:
    """Print the per-update table and the accuracy matrix; write ``stream.json``."""
    from rich.table import Table

    from hyperplug.summary import console, format_value, show_plots

    out = console()
    table = Table(title=f"stream {result.study.name} ({result.updater})", title_justify="left")
    for column in ("update", "version", *UPDATE_COLUMNS):
        table.add_column(column, justify="left" if column in ("update", "version") else "right")
    for index, (version, metrics) in enumerate(zip(result.versions, result.updates, strict=True)):
        table.add_row(
            str(index), version, *(_cell(metrics.get(c), format_value) for c in UPDATE_COLUMNS)
        )
    out.print(table)
    matrix = Table(
        title="accuracy after update i (rows) on chunk j (columns)", title_justify="left"
    )
    matrix.add_column("i \\ j")
    for j in range(result.accuracy.shape[1]):
        matrix.add_column(str(j), justify="right")
    for i, row in enumerate(result.accuracy):
        matrix.add_row(str(i), *(format_value(float(v)) for v in row))
    out.print(matrix)
    show_plots(result.plots)
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "stream.json").write_text(json.dumps(result.to_json(), indent=2))


def _cell(value: float | None, fmt: Any) -> str:
    return "-" if value is None or not math.isfinite(value) else fmt(float(value))


def compare_streams(summaries: Sequence[Mapping[str, Any]]) -> Any:
    """A table of several streams' final metrics (a ``--multirun`` over updaters)."""
    from rich.table import Table

    from hyperplug.summary import format_value

    table = Table(title="streams compared (after the last update)", title_justify="left")
    for column in ("updater", "stream", *UPDATE_COLUMNS):
        table.add_column(column, justify="left" if column in ("updater", "stream") else "right")
    for summary in summaries:
        final = summary["updates"][-1] if summary["updates"] else {}
        seconds = sum(u.get("seconds", 0.0) for u in summary["updates"])
        values = {**final, "seconds": seconds}
        table.add_row(
            summary["updater"],
            summary["study"],
            *(_cell(values.get(c), format_value) for c in UPDATE_COLUMNS),
        )
    return table
