"""The path of a study: composed config -> components -> data -> tuner -> winner.

``run_study`` serves a single run: the study is named by ``study`` or, by default,
``<model_name>-<hash of the composed config>`` so that running the same command again
resumes it (or, once completed, shows its results). In a ``--multirun`` sweep every job
calls ``run_sweep_job`` (its trials join the sweep's study and stage their weights in the
study directory) and ``finish_sweep`` picks and saves the winner once at the end, through
the same promotion as a single run (``Tuner.finish``); under the hyperplug sweeper each
job is one trial of the sweep's own study (``run_swept_trial``). Every config is validated before
the tracker or the store is written, so bad input leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from hyperplug.components import KINDS, Component
from hyperplug.config import (
    StudySettings,
    configure,
    default_search_space,
    improves,
    study_settings,
    to_plain,
)
from hyperplug.data import DataSplits, check_learnable
from hyperplug.drift import UpdateSkipped, drift_record
from hyperplug.errors import ConfigError, DataError, NotFoundError
from hyperplug.interfaces import (
    Backend,
    DataRecipe,
    DriftResult,
    ModelVersion,
    StudyRecord,
    TrialRecord,
    TrialTask,
)
from hyperplug.plots import write_plots
from hyperplug.plugin_manager import PluginManager, get_plugin_manager
from hyperplug.reporting import ReportSink, TrialStopped
from hyperplug.search_space import SearchSpace
from hyperplug.trainers import trainer_spec, trial_config
from hyperplug.trial_runner import fit_trainer
from hyperplug.tuner import Tuner
from hyperplug.update_chain import UpdateTuner

#: keys that do not change what a study searches: left out of its default name's hash
RUNTIME_KEYS = ("hydra", "study", "backend")
BUDGET_KEYS = ("max_trials", "max_wall_time_s", "max_failures", "max_retries")


@attrs.frozen
class StudyResult:
    """What a finished study hands back to the CLI or a Python caller."""

    study: StudyRecord
    """The study as the tracker recorded it at its end."""
    trials: list[TrialRecord]
    """Every trial of the study, by number."""
    settings: StudySettings
    """The study-wide settings (``perf_metric``, ``mode``, ``metrics``, ...)."""
    winner: ModelVersion | None
    """The model version the winner was saved as; None when no trial reached the
    perf_metric."""
    model: Any = None
    """The winning trained ``ModelTrainer`` (None when nothing ran)."""
    store_uri: str | None = None
    """Where the winner's version lives."""
    already_complete: bool = False
    """The study was already completed: nothing ran."""
    study_dir: Path | None = None
    """The study's directory (plots, staged weights)."""
    plots: list[Path] = attrs.Factory(list)
    """PNG plots written to the study directory."""
    notice: str | None = None
    """Why nothing ran, when ``already_complete`` (None: the study was complete)."""

    @property
    def best_value(self) -> float | None:
        """The best finite ``perf_metric`` value among the trials, or None."""
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
    #: the command line's overrides (``trainer.lr=0.1``): what the user set explicitly
    overrides: tuple[str, ...] = ()
    #: the backend ``warm_backend`` built and started early; ``tuner`` uses it
    backend: Backend | None = None

    @classmethod
    def from_config(
        cls,
        cfg: Mapping[str, Any],
        manager: PluginManager | None = None,
        overrides: Sequence[str] = (),
    ) -> Study:
        manager = manager or get_plugin_manager()
        cfg = to_plain(cfg)
        settings = study_settings(cfg)
        configured = {
            kind: configure(kind, cfg[kind], manager) for kind in KINDS if cfg.get(kind) is not None
        }
        for kind in ("trainer", "dataset", "tracker", "vcs"):
            if kind not in configured:
                raise ConfigError(f"the config has no '{kind}' group: add e.g. {kind}=<name>")
        return cls(cfg, settings, manager, configured, tuple(overrides))

    @property
    def is_update(self) -> bool:
        """An ``updater`` is chosen: the run updates a model version (or starts a chain)."""
        return "updater" in self.configured

    def explicit(self, key: str) -> bool:
        """Whether the command line set ``key`` (``trainer``, ``trainer.lr``)."""
        return any(o.split("=", 1)[0].lstrip("+~") == key for o in self.overrides)

    def test_drift(self, data: DataSplits) -> tuple[DriftResult, ModelVersion] | None:
        """With ``detector=``: the update's chunk tested against the sample of training
        inputs its ``model`` keeps (``hyperplug.drift``); None without a detector."""
        if "detector" not in self.configured:
            return None
        from hyperplug.drift import detect_shift

        name = self.configured["detector"][1].name
        if not self.is_update or not self.cfg.get("model"):
            raise ConfigError(
                f"detector={name} tests an update's data against the model it updates: "
                "give model=NAME (hyperplug update model=NAME ... detector=NAME)"
            )
        return detect_shift(self.build("detector"), self.build("vcs"), str(self.cfg["model"]), data)

    def _inline_single_trial(self) -> bool:
        """Whether the configured backend lets a one-trial study run in this process."""
        factory = self.configured["backend"][0].factory
        return bool(getattr(factory, "inline_single_trial", True))

    def build(self, kind: str) -> Any:
        component, config = self.configured[kind]
        return component.build(config)

    def load_data(self) -> DataSplits:
        dataset = self.build("dataset").load()
        if "splitter" not in self.configured:
            raise ConfigError("the config has no 'splitter' group: add splitter=stratified")
        data = self.build("splitter").split_data(dataset)
        check_learnable(data)
        return data

    def recipe(self, data: DataSplits) -> DataRecipe:
        """How a worker process rebuilds ``data``: the dataset and splitter configs."""
        return DataRecipe(
            data.fingerprint,
            dataset=to_plain(self.configured["dataset"][1]),
            splitter=to_plain(self.configured["splitter"][1]),
        )

    def grid(self, swept: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """``training_params``, or the configured trainer alone; ``swept`` keys (a sweep
        job's overrides, ``trainer.lr``) become the trial's params."""
        trainer_cfg = to_plain(self.configured["trainer"][1])
        if self.settings.training_params:
            return self.settings.training_params
        if self.settings.default_space:
            return {trainer_cfg["name"]: default_search_space(self.configured["trainer"][0])}
        return {trainer_cfg["name"]: self.swept_params(swept)}

    def swept_params(self, swept: list[str] | None) -> dict[str, list[Any]]:
        """``{key: [value]}`` of the swept ``<group>.<key>`` overrides, from this config."""
        params = {}
        for swept_key in swept or []:
            group, _, key = swept_key.partition(".")
            params[key] = [to_plain(self.configured[group][1])[key]]
        return params

    def check(self, swept: list[str] | None = None) -> None:
        """What can be checked without writing or loading anything, beyond the study keys
        and component configs ``from_config`` checked: the search space, and the trial
        config of every point of a finite one (an update's search is over its updater,
        checked when the update starts)."""
        if self.is_update:
            return
        space = SearchSpace.parse(self.grid(swept))
        if not space.finite:
            return
        trainer_cfg = to_plain(self.configured["trainer"][1])
        for trainer, params in space.grid():
            base = trainer_cfg if trainer == trainer_cfg["name"] else {}
            trial_config(trainer_spec(self.manager, trainer), params, base)

    def default_name(self) -> str:
        """``<model_name>-<8 hex>``: a hash of the composed config without the keys that
        do not change the search (hydra, study, backend, the optimizer's budgets)."""
        cfg = {k: v for k, v in self.cfg.items() if k not in RUNTIME_KEYS}
        if isinstance(cfg.get("optimizer"), Mapping):
            cfg["optimizer"] = {k: v for k, v in cfg["optimizer"].items() if k not in BUDGET_KEYS}
        digest = hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode())
        return f"{self.settings.model_name}-{digest.hexdigest()[:8]}"

    def uses_backend(self, space: SearchSpace) -> bool:
        """Whether trials run on the configured backend; not a single trial, for which a
        worker process would only add its start-up (it runs inline), unless the backend
        says its trials must run where it puts them (``inline_single_trial``)."""
        if "backend" not in self.configured:
            return False
        single = space.finite and len(space.grid()) == 1
        return not (single and self._inline_single_trial())

    def warm_backend(self, swept: list[str] | None = None) -> None:
        """Build the study's backend and start its workers now (``Backend.warm_up`` with
        the search's trainers), so that their start-up overlaps loading the data; the
        caller shuts it down (``run_study`` does). Not for an update, whose trials run
        an updater on a chunk prepared later."""
        if self.is_update or self.backend is not None:
            return
        grid = self.grid(swept)
        if self.uses_backend(SearchSpace.parse(grid)):
            self.backend = self.build("backend")
            self.backend.warm_up(list(grid))

    def tuner(
        self,
        study_name: str | None = None,
        swept: list[str] | None = None,
        view: Any = None,
        data: DataSplits | None = None,
    ) -> Tuner:
        """A tuner over ``training_params`` (or the one configured trainer), validated
        (against ``data`` too, when given); for an update an ``UpdateTuner`` on ``data``
        (the chunk)."""
        if self.is_update:
            if data is None:
                data = self.load_data()
            return self.update_tuner(data, study_name, swept, view)
        trainer_cfg = to_plain(self.configured["trainer"][1])
        optimizer = self.build("optimizer") if "optimizer" in self.configured else None
        grid = self.grid(swept)
        backend = None
        if self.uses_backend(SearchSpace.parse(grid)):
            backend = self.backend or self.build("backend")
        vcs = self.build("vcs")  # first: an unwritable store fails before the tracker writes
        tracker = self.build("tracker")
        tuner = Tuner(
            metadata_tracker=tracker,
            metrics_tracker=tracker,
            resource_version_control=vcs,
            training_params=grid,
            metrics=self.settings.metrics,
            perf_metric=self.settings.perf_metric,
            mode=self.settings.mode,
            study_name=study_name or self.settings.study or self.default_name(),
            model_name=self.settings.model_name,
            trainer_configs={trainer_cfg["name"]: trainer_cfg},
            backend=backend,
            optimizer=optimizer,
            study_config=self.cfg,
            plugin_manager=self.manager,
            home=self.settings.home,
            view=view,
        )
        try:
            tuner.validate(data)
        except Exception:
            _close(tuner)
            raise
        return tuner

    def update_tuner(
        self,
        data: DataSplits,
        study_name: str | None = None,
        swept: list[str] | None = None,
        view: Any = None,
        parent: str | None = None,
        model_name: str | None = None,
    ) -> Tuner:
        """An ``UpdateTuner`` from the config: ``parent`` (default: ``model``, the version to
        update; none starts a chain with the configured trainer), ``updater``, and the
        trainer keys the command line set (they change the parent's training config).
        Versions go to ``model_name`` (default: the parent's model)."""
        from hyperplug.update_chain import fresh_base, update_tuner
        from hyperplug.update_state import check_trainer_matches, load_base

        trainer_cfg = to_plain(self.configured["trainer"][1])
        updater_cfg = to_plain(self.configured["updater"][1])
        vcs = self.build("vcs")
        ref = parent or self.cfg.get("model")
        if ref:
            base = load_base(vcs, str(ref))
            check_trainer_matches(base, trainer_cfg["name"], self.explicit("trainer"))
            defaults = attrs.asdict(self.configured["trainer"][0].config_class())
            same = trainer_cfg["name"] == base.trainer
            overrides = {
                key: value
                for key, value in trainer_cfg.items()
                if key != "name"
                and (self.explicit(f"trainer.{key}") or (same and value != defaults.get(key)))
            }
            named = self.explicit("model_name") or self.settings.study is not None
            own = self.settings.model_name if named else str(base.parent).split(":")[0]
            model_name = model_name or own
        else:
            base, overrides = fresh_base(trainer_cfg), {}
            model_name = model_name or self.settings.model_name
        if self.settings.default_space:
            grid = {updater_cfg["name"]: default_search_space(self.configured["updater"][0])}
        else:
            grid = self.settings.training_params or {updater_cfg["name"]: self.swept_params(swept)}
        optimizer, budget = None, {}
        if "optimizer" in self.configured:
            configured = to_plain(self.configured["optimizer"][1])
            chosen = configured["name"] != "grid" or SearchSpace.parse(grid).finite
            if chosen:
                optimizer = self.build("optimizer")
            else:  # no optimizer chosen: the update picks one, with the budget given
                keys = (*BUDGET_KEYS, "seed", "max_epochs")
                budget = {key: configured.get(key) for key in keys}
        backend = self.build("backend") if "backend" in self.configured else None
        tracker = self.build("tracker")
        try:
            return update_tuner(
                base=base,
                updater=updater_cfg,
                data=data,
                model_name=model_name,
                trainer_overrides=overrides,
                training_params=grid,
                optimizer=optimizer,
                budget=budget,
                study_name=study_name or self.settings.study,
                study_config=self.cfg,
                metadata_tracker=tracker,
                metrics_tracker=tracker,
                resource_version_control=vcs,
                backend=backend,
                metrics=self.settings.metrics,
                perf_metric=self.settings.perf_metric,
                mode=self.settings.mode,
                plugin_manager=self.manager,
                home=self.settings.home,
                view=view,
            )
        except Exception:
            tracker.close()
            raise


def result_of(tuner: Tuner, model: Any = None, plots: list[Path] | None = None) -> StudyResult:
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
        already_complete=tuner.already_complete,
        notice=getattr(tuner, "notice", None),
        study_dir=tuner.study_dir,
        plots=plots or [],
    )


def run_study(
    cfg: Mapping[str, Any],
    manager: PluginManager | None = None,
    view: Any = None,
    overrides: Sequence[str] = (),
    swept: list[str] | None = None,
    restore: bool = True,
) -> StudyResult | UpdateSkipped:
    """Run (or resume) a whole study from a composed config and save its winner (an
    update when the config chooses an updater). ``overrides``: the command line's;
    ``swept``: the keys among them that are the one trial's params (``trainer.lr``), as
    a sweep job's are; ``restore``: restore the winning model into ``result.model`` (the
    command line does not: it only shows the version). An update with a ``detector``
    whose test finds no shift returns ``UpdateSkipped``."""
    study = Study.from_config(cfg, manager, overrides)
    try:
        study.warm_backend(swept)  # workers start while the data loads
        data = study.load_data()  # a missing or broken dataset fails before anything is written
        tested = study.test_drift(data)
        if tested is not None and not tested[0].shift:
            return UpdateSkipped(tested[1], tested[0])
        # an update takes the trainer keys of the command line as its training config
        tuner = study.tuner(swept=None if study.is_update else swept, view=view, data=data)
        tuner.restore_winner = restore
        try:
            if tested is not None and isinstance(tuner, UpdateTuner):
                tuner.drift = drift_record(*tested)
            tuner.data_recipe = study.recipe(data)
            model = tuner.run_experiment(data)
            plots = _plots(tuner)
        finally:
            _close(tuner)
    finally:
        if study.backend is not None:  # the engine shut it down, unless it never ran
            study.backend.shutdown()
    return result_of(tuner, model, plots)


# --------------------------------------------------------------------------- sweeps


def sweep_study_name(settings: StudySettings, sweep_dir: Path) -> str:
    """Every job of a sweep joins the study named after the sweep directory."""
    return settings.study or f"{settings.model_name}-{sweep_dir.name}"


def run_sweep_job(
    cfg: Mapping[str, Any],
    sweep_dir: Path,
    swept: list[str] | None = None,
    manager: PluginManager | None = None,
) -> float | None:
    """Run this job's trials into the sweep's study (their weights staged in the study
    directory). Returns the job's best perf_metric value, the objective Hydra sweepers
    read."""
    study = Study.from_config(cfg, manager)
    if "detector" in study.configured:
        raise ConfigError(
            "detector: a --multirun update does not test for a shift; test the data first "
            "with hyperplug drift model=NAME dataset=..."
        )
    data = study.load_data()
    tuner = study.tuner(sweep_study_name(study.settings, sweep_dir), swept, data=data)
    tuner.restore_winner = False  # a sweep job returns its best value, not a model
    try:
        tuner.data_recipe = study.recipe(data)
        tuner.start_study()
        trial_ids = tuner.run_trials(tuner.search_space(), data, resume=False)
        trials = tuner.metadata_tracker.list_trials(tuner.study.id)
        values = {
            t.id: tuner.perf_value(t)
            for t in trials
            if t.id in trial_ids and t.status in ("completed", "stopped")
        }
        best = tuner._get_winning_experiment(values, reverse=study.settings.maximize)
        return None if best is None else values[best]
    finally:
        _close(tuner)


def run_swept_trial(
    cfg: Mapping[str, Any],
    sink: ReportSink,
    max_epochs: int | None = None,
    manager: PluginManager | None = None,
) -> float:
    """One job of the hyperplug Hydra sweeper on hyperplug's own app: one trial of the
    configured trainer (``max_epochs``, the sweep's epoch budget, as its ``epochs``) whose
    every epoch goes to the sweep, which records it and may stop it. The sweep's study is
    the record: this job starts no study and saves no model version. Returns the
    perf_metric of the trial's best epoch; raises ``TrialStopped`` when the sweep stopped
    it, and whatever the trainer raised when it failed."""
    study = Study.from_config(cfg, manager)
    settings = study.settings
    if settings.training_params:
        raise ConfigError(
            "training_params: under hydra/sweeper=hyperplug every job is one trial; sweep "
            "trainer keys instead, e.g. 'trainer.lr=tag(log, interval(1e-4, 1e-1))'"
        )
    data = study.load_data()
    component, config = study.configured["trainer"]
    trainer_config = to_plain(config)
    if max_epochs is not None and "epochs" in trainer_config:
        trainer_config["epochs"] = max_epochs
    best: float | None = None
    stopped = False

    def report(epoch: int, metrics: Mapping[str, float]) -> bool:
        nonlocal best, stopped
        value = metrics.get(settings.perf_metric)
        if value is not None and improves(value, best, settings.mode):
            best = value
        stopped = stopped or not sink(epoch, metrics)
        return not stopped

    task = TrialTask(0, component.name, {}, trainer_config, settings.perf_metric, settings.mode)
    fit_trainer(task, data, report, study.manager)
    if stopped:
        raise TrialStopped("stopped by the sweep's optimizer")
    if best is None:
        raise DataError(f"perf_metric '{settings.perf_metric}' was never reported")
    return best


def finish_sweep(
    cfg: Mapping[str, Any], sweep_dir: Path, manager: PluginManager | None = None
) -> StudyResult:
    """Pick the sweep's winner among all its jobs' trials and version it once."""
    study = Study.from_config(cfg, manager)
    name = sweep_study_name(study.settings, sweep_dir)
    if not study.is_update:  # a sweep over updater=...: the sweep's own config has none
        updater = _recorded_config(study, name).get("updater")
        if updater:
            study = Study.from_config({**study.cfg, "updater": updater}, manager)
    data = study.load_data() if study.is_update else None
    tuner = study.tuner(name, data=data)
    tuner.restore_winner = False  # the sweep's end shows the version, not a model
    try:
        tuner.study = tuner.metadata_tracker.get_study(tuner.study_name)
        if isinstance(tuner, UpdateTuner):
            tuner.data = tuner.prepare(data)  # the winner's version keeps the chunk's memory
        tuner.finish()
        return result_of(tuner, plots=_plots(tuner))
    finally:
        _close(tuner)


def _plots(tuner: Tuner) -> list[Path]:
    """Write the study's PNG plots to its directory."""
    assert tuner.study is not None
    trials = tuner.metadata_tracker.list_trials(tuner.study.id)
    return write_plots(tuner.study_dir, tuner.study, trials, tuner.metrics_tracker)


def _recorded_config(study: Study, name: str) -> dict[str, Any]:
    """The config study ``name`` recorded (its first job's), or nothing."""
    tracker = study.build("tracker")
    try:
        return dict(tracker.get_study(name).config)
    except NotFoundError:
        return {}
    finally:
        tracker.close()


def _close(tuner: Tuner) -> None:
    tuner.metadata_tracker.close()
    if tuner.metrics_tracker is not tuner.metadata_tracker:
        tuner.metrics_tracker.close()
