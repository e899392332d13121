"""One sweep of the hyperplug Hydra sweeper: space, optimizer, study, engine, results file.

The sweeper (``hydra_plugins.hyperplug_sweeper``) imports this module when a sweep starts,
so Hydra's plugin scan imports nothing heavy.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from hyperplug.errors import ConfigError, HyperplugError
from hyperplug.interfaces import (
    Budget,
    DataRecipe,
    SearchContext,
    StudyRecord,
    TrialRecord,
    TrialTask,
)
from hyperplug.sweep.space import APP, SweepSpace, parse_space

RESULTS_FILE = "optimization_results.yaml"

log = logging.getLogger(__name__)


class SweepError(HyperplugError):
    """A sweep that cannot start or had to end; the message is one line for the user."""


@attrs.frozen
class SweepSettings:
    """The ``hydra.sweeper`` node (``HyperplugSweeperConf``) as plain values."""

    optimizer: str = "random"
    optimizer_config: dict[str, Any] = attrs.Factory(dict)
    n_trials: int = 10
    n_workers: int = 1
    metric: str | None = None
    mode: str | None = None
    max_epochs: int | None = None
    max_failures: int = 3
    reference_study: str | None = None
    study: str | None = None
    tracker_path: str = ".hyperplug/hyperplug.db"
    params: dict[str, str] = attrs.Factory(dict)


def settings_of(node: Mapping[str, Any]) -> SweepSettings:
    known = {field.name for field in attrs.fields(SweepSettings)}
    plain = {key: value for key, value in node.items() if key != "_target_"}
    unknown = sorted(set(plain) - known)
    if unknown:
        raise SweepError(
            f"hydra.sweeper.{unknown[0]}: unknown key; known: {', '.join(sorted(known))}"
        )
    settings = SweepSettings(**plain)
    if settings.mode not in ("min", "max", None):
        raise SweepError(f"hydra.sweeper.mode must be min, max or null, got {settings.mode!r}")
    if settings.n_workers < 1 or settings.n_trials < 1:
        raise SweepError("hydra.sweeper.n_workers and hydra.sweeper.n_trials must be >= 1")
    return settings


def study_name(settings: SweepSettings, job_name: str, sweep_dir: Path) -> str:
    """``study``, or one name per sweep directory: the same directory resumes the study."""
    if settings.study:
        return settings.study
    digest = hashlib.sha1(str(sweep_dir.resolve()).encode()).hexdigest()[:8]
    return f"{job_name}-{sweep_dir.name}-{digest}"


def with_objective(settings: SweepSettings, app_config: Any) -> SweepSettings:
    """``metric`` and ``mode`` left out: the app's ``perf_metric`` and ``mode`` when its
    config has them (hyperplug's own app), else the task function's return value
    (``objective``, minimised); a named metric without a mode follows its name."""
    from hyperplug.config import default_mode, resolve_mode
    from hyperplug.sweep.backend import OBJECTIVE

    app_metric = app_config.get("perf_metric")
    metric = settings.metric or (str(app_metric) if app_metric else OBJECTIVE)
    mode = settings.mode
    if mode is None and metric == app_metric:
        mode = resolve_mode(app_config.get("mode"), metric)
    elif mode is None:
        mode = "min" if metric == OBJECTIVE else default_mode(metric)
    return attrs.evolve(settings, metric=metric, mode=mode)


def _config_keys(node: Any, prefix: str = "") -> list[str]:
    keys = []
    if isinstance(node, Mapping):
        for key, value in node.items():
            if prefix == "" and key == "hydra":
                continue
            path = f"{prefix}{key}"
            keys.append(path)
            keys.extend(_config_keys(value, f"{path}."))
    return keys


def check_keys(space: SweepSpace, app_config: Any) -> None:
    """Every swept key (not ``+key``) must be in the app's composed config."""
    from omegaconf import OmegaConf

    plain = OmegaConf.to_container(app_config, resolve=False)
    known = _config_keys(plain)
    for key in space.keys:
        if key.startswith("+"):
            continue
        if key.lstrip("~") not in known:
            close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
            hint = f"; close keys: {', '.join(close)}" if close else ""
            raise SweepError(
                f"hydra.sweeper.params.{key}: '{key}' is not in the app's config{hint} "
                f"(use +{key}=... to add a new key)"
            )


def _build_optimizer(settings: SweepSettings) -> Any:
    from hyperplug.api import build

    node: dict[str, Any] = {
        **settings.optimizer_config,
        "name": settings.optimizer,
        "max_trials": settings.n_trials,
        "max_failures": settings.max_failures,
        "max_epochs": settings.max_epochs,
    }
    if settings.reference_study is not None:
        node["reference_study"] = settings.reference_study
    try:
        return build("optimizer", **node)
    except ConfigError as exc:
        message = str(exc).replace("optimizer.max_epochs=", "hydra.sweeper.max_epochs=")
        raise SweepError(message.replace("optimizer.", "hydra.sweeper.", 1)) from exc


class Sweep:
    """One run of the sweeper: everything it needs from Hydra, and the study it drives."""

    def __init__(
        self,
        settings: SweepSettings,
        hydra_context: Any,
        task_function: Any,
        config: Any,
    ) -> None:
        self.settings = settings
        self.hydra_context = hydra_context
        self.task_function = task_function
        self.config = config
        self.sweep_dir = Path(str(config.hydra.sweep.dir))
        self.engine: Any = None

    # ------------------------------------------------------------------ composing

    def load(self, overrides: Sequence[str]) -> Any:
        """The app's config with ``overrides``, composed as a job's config."""
        try:
            return self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        except Exception as exc:
            from hyperplug.hydra_app import error_line

            raise SweepError(f"cannot compose the app's config: {error_line(exc)}") from exc

    def compose(self, space: SweepSpace, task: TrialTask) -> Any:
        from omegaconf import open_dict

        record = self.engine.running[task.trial_id].record
        overrides = space.to_overrides(task.params)
        log.info(f"Launching job #{record.number} : {' '.join(overrides)}")
        job = self.load(overrides)
        with open_dict(job):
            job.hydra.job.id = f"{job.hydra.job.name}_{record.number}"
            job.hydra.job.num = record.number
        return job

    # ------------------------------------------------------------------ the sweep

    def run(self, arguments: Sequence[str]) -> Path:
        """Run the sweep; return the results file."""
        import cloudpickle
        from hydra.core.singleton import Singleton

        from hyperplug.api import build
        from hyperplug.engine import Engine
        from hyperplug.plugin_manager import get_plugin_manager
        from hyperplug.sweep.backend import HydraJobBackend

        s = self.settings
        space = parse_space([f"{k}={v}" for k, v in s.params.items()] + list(arguments))
        if not space.keys:
            raise SweepError(
                "nothing to sweep: give hydra.sweeper.params.KEY=EXPRESSION or KEY=a,b "
                "on the command line"
            )
        app_config = self.load(space.fixed)
        check_keys(space, app_config)
        self.settings = s = with_objective(s, app_config)
        optimizer = _build_optimizer(s)
        if optimizer.needs_finite_space():
            try:
                space.space.check_finite(s.optimizer)
            except ConfigError as exc:
                raise SweepError(str(exc).replace(f"training_params.{APP}.", "")) from exc
        # a job that failed is the sweep's record (as with Hydra's sweepers): no retries
        budget: Budget = attrs.evolve(optimizer.budget(), max_retries=0)
        tracker = build("tracker", name="sqlite", path=s.tracker_path)
        try:
            name = study_name(s, str(self.config.hydra.job.name), self.sweep_dir)
            check = SearchContext(space.space, s.metric, s.mode, budget, (), tracker)
            optimizer.check(check)
            study = tracker.start_study(name, s.metric, s.mode, _study_config(s, arguments))
            check_same_search(study, _study_config(s, arguments), self.sweep_dir)
            self.engine = engine = Engine(
                study=study,
                metadata_tracker=tracker,
                metrics_tracker=tracker,
                manager=get_plugin_manager(),
                perf_metric=s.metric,
                mode=s.mode,
                study_dir=None,
                failures_key="hydra.sweeper.max_failures",
            )
            past = engine.recover()
            context = attrs.evolve(check, history=tuple(past))
            search = optimizer.search(context)
            payload = cloudpickle.dumps(
                (self.task_function, self.hydra_context, Singleton.get_state())
            )
            backend = HydraJobBackend(
                s.n_workers,
                payload,
                lambda task: self.compose(space, task),
                s.optimizer if optimizer.needs_epoch_reports() else None,
                s.metric,
            )
            self.sweep_dir.mkdir(parents=True, exist_ok=True)

            def configure(trainer: str, params: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
                config: dict[str, Any] = {"overrides": space.to_overrides(params)}
                if budget.max_epochs is not None:
                    config["epochs"] = budget.max_epochs
                return trainer, config

            status = "failed"
            try:
                engine.run(search, backend, DataRecipe(""), budget, configure)
                status = "completed"
            finally:
                trials = tracker.list_trials(study.id)
                best = best_trial(trials, s.metric, s.mode)
                study = tracker.end_study(study.id, status, best.id if best else None)
                path = write_results(self.sweep_dir, study, trials, best)
            if best is not None:
                log.info(f"Best {s.metric}: {best.metrics[s.metric]} (job #{best.number})")
            log.info(f"Results in {path}; study '{study.name}' in {s.tracker_path}")
        finally:
            tracker.close()
        return path


def _study_config(settings: SweepSettings, arguments: Sequence[str]) -> dict[str, Any]:
    return {"sweeper": attrs.asdict(settings), "arguments": sorted(arguments)}


#: sweeper keys a resumed sweep may change: its budget and its parallelism
RESUMABLE_KEYS = ("n_trials", "n_workers", "max_failures")


def check_same_search(study: StudyRecord, wanted: Mapping[str, Any], sweep_dir: Path) -> None:
    """A sweep directory resumes its study only for the same search: another space,
    optimizer or metric would mix two searches' trials in one result."""

    def search(config: Mapping[str, Any]) -> dict[str, Any]:
        sweeper = {k: v for k, v in config.get("sweeper", {}).items() if k not in RESUMABLE_KEYS}
        return {"sweeper": sweeper, "arguments": sorted(config.get("arguments", []))}

    found, asked = search(study.config), search(wanted)
    if found != asked:
        changed = sorted(
            {
                k
                for k in {*found["sweeper"], *asked["sweeper"]}
                if found["sweeper"].get(k) != asked["sweeper"].get(k)
            }
            | ({"the command-line sweep"} if found["arguments"] != asked["arguments"] else set())
        )
        raise SweepError(
            f"hydra.sweep.dir={sweep_dir} holds study '{study.name}' of another search "
            f"({', '.join(changed)} differ); give a new hydra.sweep.dir, or "
            "hydra.sweeper.study=NAME for a new study"
        )


def best_trial(trials: Sequence[TrialRecord], metric: str, mode: str) -> TrialRecord | None:
    """The finished trial with the best ``metric``; failed trials never win."""
    candidates = [
        t
        for t in trials
        if t.status in ("completed", "stopped") and math.isfinite(t.metrics.get(metric, math.nan))
    ]
    if not candidates:
        return None
    sign = -1 if mode == "max" else 1
    return min(candidates, key=lambda t: (sign * t.metrics[metric], t.number))


def write_results(
    sweep_dir: Path, study: StudyRecord, trials: Sequence[TrialRecord], best: TrialRecord | None
) -> Path:
    """``optimization_results.yaml``: best params and value, and every trial (written
    atomically, so a reader never sees half a file)."""
    from omegaconf import OmegaConf

    results = {
        "name": "hyperplug",
        "study": study.name,
        "status": study.status,
        "metric": study.perf_metric,
        "mode": study.mode,
        "best_params": dict(best.params) if best else None,
        "best_value": best.metrics[study.perf_metric] if best else None,
        "best_job": best.number if best else None,
        "trials": [
            {
                "job": t.number,
                "status": t.status,
                "params": dict(t.params),
                "value": t.metrics.get(study.perf_metric),
                "error": t.error,
            }
            for t in trials
        ],
    }
    path = sweep_dir / RESULTS_FILE
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    OmegaConf.save(OmegaConf.create(results), tmp)
    os.replace(tmp, path)
    return path
