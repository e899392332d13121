"""One sweep of the hyperplug Hydra sweeper: space, optimizer, study, engine, results file.

The sweeper (``hydra_plugins.hyperplug_sweeper``) imports this module when a sweep starts,
so Hydra's plugin scan imports nothing heavy.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import math
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from hyperplug.atomic import atomic_file
from hyperplug.errors import ConfigError, HyperplugError
from hyperplug.interfaces import (
    Budget,
    DataRecipe,
    SearchContext,
    StudyRecord,
    TrialRecord,
)
from hyperplug.sweep.custom import CustomSpace, derive_values, load_custom_space
from hyperplug.sweep.space import APP, SweepSpace, encode, parse_space

RESULTS_FILE = "optimization_results.yaml"

log = logging.getLogger(__name__)


class SweepError(HyperplugError):
    """A sweep that cannot start or had to end; the message is one line for the user."""


@attrs.frozen
class SweepSettings:
    """The ``hydra.sweeper`` node (``HyperplugSweeperConf``) as plain values."""

    #: the optimizer's name (``hydra/sweeper/optimizer=NAME`` or ``hydra.sweeper.optimizer``)
    optimizer: str | None = None
    #: the rest of the typed node ``hydra/sweeper/optimizer=NAME`` composed
    optimizer_settings: dict[str, Any] = attrs.Factory(dict)
    n_trials: int | None = None
    n_workers: int = 1
    backend: str = "local"
    backend_config: dict[str, Any] = attrs.Factory(dict)
    metric: str | None = None
    mode: str | None = None
    max_epochs: int | None = None
    max_failures: int = 3
    reference_study: str | None = None
    study: str | None = None
    tracker_path: str = ".hyperplug/hyperplug.db"
    params: dict[str, str] = attrs.Factory(dict)
    search_space: str | None = None


#: the Optuna sweeper's keys -> hyperplug's
OPTUNA_KEYS = {
    "direction": "hydra.sweeper.mode (min or max)",
    "n_jobs": "hydra.sweeper.n_workers",
    "study_name": "hydra.sweeper.study",
    "storage": "hydra.sweeper.tracker_path (a SQLite file)",
    "max_failure_rate": "hydra.sweeper.max_failures (a number of failed jobs)",
    "custom_search_space": (
        "hydra.sweeper.search_space (module.function returning a hyperplug.sweep.CustomSpace)"
    ),
    "sampler": (
        "hydra/sweeper/optimizer=grid|random|bo|tpe|asha|hyperband|bohb|rush "
        "(a seed: hydra.sweeper.optimizer.seed=N)"
    ),
}

#: n_trials when it is null, for an optimizer other than grid
DEFAULT_TRIALS = 10


def _optuna_hint(key: str, value: Any, sampler: str | None = None) -> str | None:
    """The one-line error for an Optuna sweeper key that was set, or None. ``sampler``:
    the option chosen in ``hydra/sweeper/sampler`` (``none``, ours, unless the user chose
    one; with hydra-optuna-sweeper installed, Hydra hands its sampler over built)."""
    if key == "sampler":
        seed = value.get("seed") if isinstance(value, Mapping) else None
        if sampler in (None, "none") and seed is None:
            return None
        given = (
            f"hydra/sweeper/sampler={sampler}"
            if sampler not in (None, "none")
            else "hydra.sweeper.sampler.seed"
        )
        return f"{given} is the Optuna sweeper's setting; hyperplug's is {OPTUNA_KEYS[key]}"
    if value is None:
        return None
    if key == "direction" and isinstance(value, list | tuple) and len(value) > 1:
        return (
            f"hydra.sweeper.direction={list(value)}: several objectives; hyperplug's sweeper "
            "optimises one, hydra.sweeper.metric in hydra.sweeper.mode (min or max)"
        )
    return f"hydra.sweeper.{key} is the Optuna sweeper's key; hyperplug's is {OPTUNA_KEYS[key]}"


def settings_of(node: Mapping[str, Any], sampler: str | None = None) -> SweepSettings:
    """The sweeper's settings; ``sampler``: the ``hydra/sweeper/sampler`` option chosen."""
    known = {field.name for field in attrs.fields(SweepSettings)} - {"optimizer_settings"}
    plain = {key: value for key, value in node.items() if key != "_target_"}
    optimizer = plain.get("optimizer")
    if isinstance(optimizer, Mapping):  # hydra/sweeper/optimizer=NAME: its typed node
        settings = dict(optimizer)
        plain["optimizer"] = settings.pop("name", None)
        plain["optimizer_settings"] = settings
    for key in OPTUNA_KEYS:
        hint = _optuna_hint(key, plain.pop(key, None), sampler)
        if hint:
            raise SweepError(hint)
    unknown = sorted(set(plain) - known - {"optimizer_settings"})
    if unknown:
        raise SweepError(
            f"hydra.sweeper.{unknown[0]}: unknown key; known: {', '.join(sorted(known))}"
        )
    settings = SweepSettings(**plain)
    if settings.mode not in ("min", "max", None):
        raise SweepError(f"hydra.sweeper.mode must be min, max or null, got {settings.mode!r}")
    if settings.n_workers < 1 or (settings.n_trials is not None and settings.n_trials < 1):
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
    from hyperplug.sweep.driver import OBJECTIVE

    app_metric = app_config.get("perf_metric")
    metric = settings.metric or (str(app_metric) if app_metric else OBJECTIVE)
    mode = settings.mode
    if mode is None and metric == app_metric:
        mode = resolve_mode(app_config.get("mode"), metric)
    elif mode is None:
        mode = "min" if metric == OBJECTIVE else default_mode(metric)
    return attrs.evolve(settings, metric=metric, mode=mode)


def resolve_search(settings: SweepSettings, space: SweepSpace) -> SweepSettings:
    """``optimizer`` left out: grid when Hydra's basic sweeper would enumerate every swept
    key (``a=0,1`` runs exactly 0 and 1; nothing swept runs one job), else random.
    ``n_trials`` left out: every point for grid, ``DEFAULT_TRIALS`` for the others."""
    optimizer = settings.optimizer or ("grid" if space.all_discrete else "random")
    n_trials = settings.n_trials
    if n_trials is None and optimizer != "grid":
        n_trials = DEFAULT_TRIALS
    return attrs.evolve(settings, optimizer=optimizer, n_trials=n_trials)


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


def check_keys(
    space: SweepSpace, configs: Sequence[tuple[str, Any]], derived: Collection[str] = ()
) -> None:
    """Every swept key (not ``+key``, not a config group) must be in the app's config as
    composed with each option of each swept group (``configs``: what chose the options,
    and the config). ``derived``: keys a ``CustomSpace.derive`` turns into the job's
    values (a helper it never passes on is no key of the config)."""
    from omegaconf import OmegaConf

    for chosen, config in configs:
        known = _config_keys(OmegaConf.to_container(config, resolve=False))
        for key in space.keys:
            if key.startswith("+") or key in space.groups or key in derived:
                continue
            if key.lstrip("~") in known:
                continue
            close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
            hint = f"; close keys: {', '.join(close)}" if close else ""
            where = f" with {chosen}" if chosen else ""
            raise SweepError(
                f"hydra.sweeper.params.{key}: '{key}' is not in the app's config{where}{hint} "
                f"(use +{key}=... to add a new key)"
            )


def _build_optimizer(settings: SweepSettings) -> Any:
    from hyperplug.api import build

    # the sweep's own budget keys win over the optimizer node's where they are set
    node: dict[str, Any] = {
        **settings.optimizer_settings,
        "name": settings.optimizer,
        "max_trials": settings.n_trials,
        "max_failures": settings.max_failures,
    }
    for key in ("max_epochs", "reference_study"):
        if getattr(settings, key) is not None:
            node[key] = getattr(settings, key)
    try:
        return build("optimizer", **node)
    except ConfigError as exc:
        message = str(exc)
        for key in ("max_epochs", "max_trials", "max_failures", "reference_study"):
            message = message.replace(f"optimizer.{key}", f"hydra.sweeper.{key}")
        message = message.replace("optimizer.", "hydra.sweeper.optimizer.", 1)
        raise SweepError(message) from exc


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

    def compositions(self, space: SweepSpace) -> list[tuple[str, Any]]:
        """The app's config with the fixed overrides and each option of each swept config
        group (the first option of the others): a swept group may hold the only default
        of a mandatory group (``db: ???``), and another option may bring other keys.
        Each with what chose its options (``db=mysql``)."""
        from hyperplug.search_space import Choice

        options = {
            key: [encode(v) for v in dim.values]
            for key, dim in space.space.trainers[APP].items()
            if key in space.groups and isinstance(dim, Choice)
        }
        first = {key: values[0] for key, values in options.items()}
        choices = [first] + [
            {**first, key: value} for key, values in options.items() for value in values[1:]
        ]
        configs = []
        for chosen in choices:
            picks = [f"{key}={value}" for key, value in chosen.items()]
            configs.append((" ".join(picks), self.load([*space.fixed, *picks])))
        return configs

    def compose(self, record: TrialRecord, config: Mapping[str, Any]) -> Any:
        """The job config of trial ``record`` (``config``: what ``configure`` made of its
        params)."""
        from omegaconf import open_dict

        overrides = config["overrides"]
        log.info(f"Launching job #{record.number} : {' '.join(overrides)}")
        job = self.load(overrides)
        with open_dict(job):
            job.hydra.job.id = f"{job.hydra.job.name}_{record.number}"
            job.hydra.job.num = record.number
        return job

    def plan(self, arguments: Sequence[str]) -> tuple[SweepSpace, CustomSpace | None]:
        """The search space and its Python part, checked against the app's config; the
        settings resolved against them (objective, optimizer, n_trials)."""
        s = self.settings
        loader = self.hydra_context.config_loader
        space = parse_space(arguments, s.params, loader)
        configs = self.compositions(space)
        app_config = configs[0][1]
        custom = None
        if s.search_space:
            custom = load_custom_space(s.search_space, app_config)
            space = parse_space(arguments, {**s.params, **custom.params}, loader)
        check_keys(space, configs, custom.params if custom and custom.derive else ())
        self.settings = s = resolve_search(with_objective(s, app_config), space)
        if s.optimizer == "grid":
            space = space.enumerable()
        return space, custom

    # ------------------------------------------------------------------ the sweep

    def run(self, arguments: Sequence[str]) -> list[list[Any]]:
        """Run the sweep; return the JobReturns of the jobs it ran, in job order, as one
        batch (the sweep has no batches: a free worker starts the next job at once)."""
        import cloudpickle

        from hyperplug.api import build
        from hyperplug.plugin_manager import get_plugin_manager
        from hyperplug.sweep.driver import SweepEngine, build_backend
        from hyperplug.sweep.worker import HydraApp

        space, custom = self.plan(arguments)
        s = self.settings
        optimizer = _build_optimizer(s)
        if optimizer.needs_finite_space():
            try:
                space.space.check_finite(s.optimizer)
            except ConfigError as exc:
                raise SweepError(str(exc).replace(f"training_params.{APP}.", "")) from exc
        # a job that failed is the sweep's record (as with Hydra's sweepers): no retries
        budget: Budget = attrs.evolve(optimizer.budget(), max_retries=0)
        try:
            backend = build_backend(s.backend, s.backend_config, s.n_workers)
        except ConfigError as exc:
            raise SweepError(str(exc)) from exc
        tracker = build("tracker", name="sqlite", path=s.tracker_path)
        try:
            name = study_name(s, str(self.config.hydra.job.name), self.sweep_dir)
            check = SearchContext(space.space, s.metric, s.mode, budget, (), tracker)
            optimizer.check(check)
            backend.check()
            study = tracker.start_study(name, s.metric, s.mode, _study_config(s, arguments))
            check_same_search(study, _study_config(s, arguments), self.sweep_dir)
            self.engine = engine = SweepEngine(
                compose=self.compose,
                needs_reports=s.optimizer if optimizer.needs_epoch_reports() else None,
                study=study,
                metadata_tracker=tracker,
                metrics_tracker=tracker,
                manager=get_plugin_manager(),
                perf_metric=s.metric,
                mode=s.mode,
                study_dir=None,
                failures_key="hydra.sweeper.max_failures",
                require_metric=False,
            )
            past = engine.recover()
            context = attrs.evolve(check, history=tuple(past))
            search = optimizer.search(context)
            app = HydraApp.pack(self.task_function, self.hydra_context)
            save_multirun_config(self.config, self.sweep_dir)

            def configure(trainer: str, params: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
                values = derive_values(custom, params)
                config: dict[str, Any] = {"overrides": space.to_overrides(values)}
                if custom is not None and custom.derive is not None:
                    config["values"] = values
                if budget.max_epochs is not None:
                    config["epochs"] = budget.max_epochs
                return trainer, config

            status = "failed"
            try:
                engine.run(search, backend, DataRecipe(app.digest, data=app), budget, configure)
                status = "completed"
            finally:
                trials = tracker.list_trials(study.id)
                best = best_trial(trials, s.metric, s.mode)
                study = tracker.end_study(study.id, status, best.id if best else None)
                path = write_results(self.sweep_dir, study, trials, best)
            returns = {
                i: cloudpickle.loads(engine.returns[i])
                for i in engine.trial_ids
                if i in engine.returns
            }
            if not engine.trial_ids and past:
                log.warning(finished_line(s, study.name, len(past), self.sweep_dir))
            _warn_valueless([t for t in trials if t.id in engine.trial_ids], s.metric, returns)
            if best is not None:
                log.info(f"Best {s.metric}: {best.metrics[s.metric]} (job #{best.number})")
            log.info(f"Results in {path}; study '{study.name}' in {s.tracker_path}")
        finally:
            tracker.close()
        return [list(returns.values())]


def finished_line(settings: SweepSettings, study: str, jobs: int, sweep_dir: Path) -> str:
    """What a rerun of a finished sweep says: that nothing ran, and how to go on."""
    more = "" if settings.optimizer == "grid" else "; to add jobs, raise hydra.sweeper.n_trials"
    return (
        f"hydra.sweep.dir={sweep_dir} holds study '{study}', which already ran its {jobs} "
        f"jobs: nothing to run. To start afresh, give a new hydra.sweep.dir (or "
        f"hydra.sweeper.study=NEW_NAME){more}"
    )


def describe(value: Any) -> str:
    """A task function's return value, short, for a log line."""
    if isinstance(value, Mapping):
        return f"a dict of {', '.join(map(str, value)) or 'nothing'}"
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _warn_valueless(trials: Sequence[TrialRecord], metric: str, returns: Mapping[int, Any]) -> None:
    """One line when jobs completed without a value of the sweep's metric."""
    from hydra.core.utils import JobStatus

    valueless = [t for t in trials if t.status == "completed" and metric not in t.metrics]
    if not valueless:
        return
    first = valueless[0]
    job = returns.get(first.id)
    returned = (
        f" (job #{first.number} returned {describe(job.return_value)})"
        if job is not None and job.status == JobStatus.COMPLETED
        else ""
    )
    log.warning(
        f"{len(valueless)} of {len(trials)} jobs completed without a value of "
        f"hydra.sweeper.metric={metric}{returned}: they cannot be the best and teach the "
        f"optimizer nothing; return a number, a dict holding {metric}, or report it with "
        "hyperplug.report"
    )


def save_multirun_config(config: Any, sweep_dir: Path) -> None:
    """``multirun.yaml``: the sweep's config, as Hydra's basic sweeper writes it (secrets
    masked)."""
    from omegaconf import OmegaConf

    from hyperplug.secrets import redact

    sweep_dir.mkdir(parents=True, exist_ok=True)
    plain = redact(OmegaConf.to_container(config, resolve=False))
    OmegaConf.save(OmegaConf.create(plain), sweep_dir / "multirun.yaml")


def _study_config(settings: SweepSettings, arguments: Sequence[str]) -> dict[str, Any]:
    return {"sweeper": attrs.asdict(settings), "arguments": sorted(arguments)}


#: sweeper keys a resumed sweep may change: its budget, its parallelism and where it runs
RESUMABLE_KEYS = ("n_trials", "n_workers", "max_failures", "backend", "backend_config")


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


def job_values(trial: TrialRecord) -> dict[str, Any]:
    """The swept values a trial's job got: its params, or what ``derive`` made of them."""
    return dict(trial.trainer_config.get("values", trial.params))


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
        "best_params": job_values(best) if best else None,
        "best_value": best.metrics[study.perf_metric] if best else None,
        "best_job": best.number if best else None,
        "trials": [
            {
                "job": t.number,
                "status": t.status,
                "params": job_values(t),
                "value": t.metrics.get(study.perf_metric),
                "error": t.error,
            }
            for t in trials
        ],
    }
    path = sweep_dir / RESULTS_FILE
    with atomic_file(path) as tmp:
        OmegaConf.save(OmegaConf.create(results), tmp)
    return path
