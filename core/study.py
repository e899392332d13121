"""The path of a study: composed config -> components -> data -> tuner -> winner.

``run_study`` serves a single run; in a ``--multirun`` sweep every job calls
``run_sweep_job`` (its trials join the sweep's study and its best model is staged in
the sweep directory) and ``finish_sweep`` picks and saves the winner once at the end.
Every config is validated and the data loaded before the tracker or the store is
touched, so bad input leaves nothing half-written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from hyperplug.components import Component
from hyperplug.config import StudySettings, configure, study_settings, to_plain
from hyperplug.data import DataSplits
from hyperplug.errors import ConfigError, HyperplugError
from hyperplug.interfaces import ModelVersion, StudyRecord, TrialRecord
from hyperplug.plugin_manager import PluginManager, get_plugin_manager
from hyperplug.tuner import GridTuner, plan_trials


@attrs.frozen
class StudyResult:
    """What a finished study hands back to the CLI or a Python caller."""

    study: StudyRecord
    trials: list[TrialRecord]
    settings: StudySettings
    winner: ModelVersion | None
    model: Any = None
    store_uri: str | None = None

    @property
    def best_value(self) -> float | None:
        values = [t.metrics.get(self.settings.perf_metric) for t in self.trials]
        values = [v for v in values if v is not None and math.isfinite(v)]
        if not values:
            return None
        return max(values) if self.settings.maximize else min(values)


@attrs.define
class Study:
    """The components and settings of one composed config, validated."""

    cfg: Mapping[str, Any]
    settings: StudySettings
    manager: PluginManager
    configured: dict[str, tuple[Component, Any]]

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], manager: PluginManager | None = None) -> Study:
        manager = manager or get_plugin_manager()
        cfg = to_plain(cfg)
        settings = study_settings(cfg)
        configured = {
            kind: configure(kind, cfg[kind], manager)
            for kind in ("trainer", "dataset", "splitter", "tracker", "vcs", "backend")
            if kind in cfg
        }
        for kind in ("trainer", "dataset", "tracker", "vcs"):
            if kind not in configured:
                raise ConfigError(f"the config has no '{kind}' group: add e.g. {kind}=<name>")
        return cls(cfg, settings, manager, configured)

    def build(self, kind: str) -> Any:
        component, config = self.configured[kind]
        return component.build(config)

    def load_data(self) -> DataSplits:
        dataset = self.build("dataset").load()
        if "splitter" not in self.configured:
            raise ConfigError("the config has no 'splitter' group: add splitter=stratified")
        return self.build("splitter").split_data(dataset)

    def grid(self, swept: list[str] | None = None) -> dict[str, dict[str, list[Any]]]:
        """``training_params``, or the configured trainer alone; ``swept`` trainer keys
        (a sweep job's overrides) become the trial's params."""
        trainer_cfg = to_plain(self.configured["trainer"][1])
        if self.settings.training_params:
            return self.settings.training_params
        return {trainer_cfg["name"]: {key: [trainer_cfg[key]] for key in swept or []}}

    def tuner(self, study_name: str | None = None, swept: list[str] | None = None) -> GridTuner:
        """A grid tuner over ``training_params``, or over the one configured trainer."""
        trainer_cfg = to_plain(self.configured["trainer"][1])
        grid = self.grid(swept)
        vcs = self.build("vcs")  # first: an unwritable store fails before the tracker writes
        tracker = self.build("tracker")
        return GridTuner(
            metadata_tracker=tracker,
            metrics_tracker=tracker,
            resource_version_control=vcs,
            training_params=grid,
            metrics=self.settings.metrics,
            perf_metric=self.settings.perf_metric,
            mode=self.settings.mode,
            study_name=study_name or self.settings.study,
            model_name=self.settings.model_name,
            trainer_configs={trainer_cfg["name"]: trainer_cfg},
            backend=self.build("backend") if "backend" in self.configured else None,
            study_config=self.cfg,
            plugin_manager=self.manager,
        )

    def validate_trials(self) -> None:
        """Check every trial's config now, before any file is written."""
        trainer_cfg = to_plain(self.configured["trainer"][1])
        plan_trials(self.manager, self.grid(), {trainer_cfg["name"]: trainer_cfg})


def result_of(tuner: GridTuner, model: Any = None) -> StudyResult:
    assert tuner.study is not None
    return StudyResult(
        study=tuner.study,
        trials=tuner.metadata_tracker.list_trials(tuner.study.id),
        settings=StudySettings(
            model_name=tuner.model_name,
            perf_metric=tuner.perf_metric,
            mode=tuner.mode,
            metrics=tuple(tuner.metrics),
            training_params={},
            study=tuner.study.name,
        ),
        winner=tuner.winner,
        model=model,
    )


def run_study(cfg: Mapping[str, Any], manager: PluginManager | None = None) -> StudyResult:
    """Run a whole study from a composed config and save its winner."""
    study = Study.from_config(cfg, manager)
    study.validate_trials()
    data = study.load_data()
    tuner = study.tuner()
    try:
        model = tuner.run_experiment(data)
    finally:
        _close(tuner)
    return result_of(tuner, model)


# --------------------------------------------------------------------------- sweeps

STAGE_DIR = "staged"


def sweep_study_name(settings: StudySettings, sweep_dir: Path) -> str:
    """Every job of a sweep joins the study named after the sweep directory."""
    return settings.study or f"{settings.model_name}-{sweep_dir.name}"


def run_sweep_job(
    cfg: Mapping[str, Any],
    sweep_dir: Path,
    swept: list[str] | None = None,
    manager: PluginManager | None = None,
) -> float | None:
    """Run this job's trials into the sweep's study; stage the job's best model.

    Returns the job's best perf_metric value, the objective Hydra sweepers read.
    """
    study = Study.from_config(cfg, manager)
    study.validate_trials()
    data = study.load_data()
    tuner = study.tuner(sweep_study_name(study.settings, sweep_dir), swept)
    try:
        best, _ = tuner.best_of(tuner.run_trials(data))
        if best is None or best.model is None:
            return None
        stage = sweep_dir / STAGE_DIR / f"trial-{best.experiment.id}"
        _stage(stage, best, data)
        return tuner.perf_value(best.experiment)
    finally:
        _close(tuner)


def _stage(stage: Path, best: Any, data: DataSplits) -> None:
    from safetensors.numpy import save_file

    stage.mkdir(parents=True, exist_ok=True)
    extra = {f"test_{k}": v for k, v in best.model.evaluate(data.test).items()}
    save_file(dict(best.model.state_dict()), str(stage / "weights.safetensors"))
    record = {
        "info": best.model.model_info(),
        "params": best.params,
        "extra_metrics": extra,
        "data_fingerprint": data.fingerprint,
    }
    (stage / "staged.json").write_text(json.dumps(record, default=float))


def finish_sweep(
    cfg: Mapping[str, Any], sweep_dir: Path, manager: PluginManager | None = None
) -> StudyResult:
    """Pick the sweep's winner among all its jobs' trials and version it once."""
    from safetensors.numpy import load_file

    study = Study.from_config(cfg, manager)
    tuner = study.tuner(sweep_study_name(study.settings, sweep_dir))
    try:
        tracker = tuner.metadata_tracker
        tuner.study = tracker.get_study(tuner.study_name)
        trials = tracker.list_trials(tuner.study.id)
        staged = {
            t.id: sweep_dir / STAGE_DIR / f"trial-{t.id}"
            for t in trials
            if (sweep_dir / STAGE_DIR / f"trial-{t.id}" / "staged.json").exists()
        }
        exp_list = {
            t.id: tuner.perf_value(t) for t in trials if t.id in staged and t.status != "failed"
        }
        winner_id = tuner._get_winning_experiment(exp_list, reverse=study.settings.maximize)
        if winner_id is None:
            tuner.study = tracker.end_study(tuner.study.id, "failed")
            tuner.manager.notify("on_study_end", study=tuner.study, winner=None)
            raise HyperplugError(
                f"study '{tuner.study_name}': none of its {len(trials)} trials reached "
                f"perf_metric '{study.settings.perf_metric}'"
            )
        experiment = next(t for t in trials if t.id == winner_id)
        record = json.loads((staged[winner_id] / "staged.json").read_text())
        weights = load_file(str(staged[winner_id] / "weights.safetensors"))
        tuner.winner = tuner.save_weights(
            weights,
            record["info"],
            experiment,
            record["params"],
            experiment.trainer,
            record["extra_metrics"],
            data_fingerprint=record["data_fingerprint"],
        )
        tuner.study = tracker.end_study(tuner.study.id, "completed", winner_id, tuner.winner.ref)
        tuner.manager.notify("on_study_end", study=tuner.study, winner=tuner.winner)
        return result_of(tuner)
    finally:
        _close(tuner)


def _close(tuner: GridTuner) -> None:
    tuner.metadata_tracker.close()
    if tuner.metrics_tracker is not tuner.metadata_tracker:
        tuner.metrics_tracker.close()
