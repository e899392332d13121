"""The hyperparameter tuner: the component spec's API, word for word, and a grid tuner.

``BaseHyperparameterTuner`` keeps the spec's names: ``run_experiment(data)``,
``build_model(data, model_version, algo, params, trainer_config={})``,
``save_model(model, experiment, params, algo)``, ``_build_training_grid(params)`` and
``_get_winning_experiment(exp_list, reverse=False)``. In hyperplug's words an
*experiment* is a trial (a ``TrialRecord`` in the metadata tracker) and the
``model_version`` handed to ``build_model`` is the study (``StudyRecord``) whose
winner becomes the next model version.
"""

from __future__ import annotations

import abc
import itertools
import math
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from hyperplug.config import DEFAULT_METRICS, MODES, make_config, to_plain
from hyperplug.data import DataSplits
from hyperplug.errors import ConfigError, HyperplugError, NotFoundError
from hyperplug.interfaces import (
    Backend,
    MetadataTracker,
    MetricsTracker,
    ModelTrainer,
    ModelVersion,
    ResourceVersionControl,
    StudyRecord,
    TrialJob,
    TrialRecord,
    VersionMeta,
)
from hyperplug.plugin_manager import PluginManager, get_plugin_manager
from hyperplug.secrets import redact, redact_text

Algo = str | type[ModelTrainer]


@attrs.frozen
class TrainerSpec:
    """How to build one trainer: its registered name, factory and config class."""

    name: str
    factory: Callable[[Any], ModelTrainer]
    config_class: type


@attrs.define
class TrialReporter:
    """The ``Reporter`` a trainer calls every epoch: records metrics, spots NaN,
    and asks ``should_continue`` (an optimizer's decision) whether to go on."""

    trial: TrialRecord
    study: StudyRecord
    metrics_tracker: MetricsTracker
    manager: PluginManager
    perf_metric: str
    mode: str
    should_continue: Callable[[TrialRecord, int, Mapping[str, float]], bool] | None = None
    last_epoch: int = -1
    stopped: bool = False
    failure: str | None = None

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        values = {name: float(value) for name, value in metrics.items()}
        self.metrics_tracker.log_metrics(self.trial.id, epoch, values)
        self.manager.notify(
            "on_trial_report", study=self.study, trial=self.trial, epoch=epoch, metrics=values
        )
        self.last_epoch = epoch
        bad = [name for name, value in values.items() if not math.isfinite(value)]
        if bad:
            self.failure = f"{bad[0]} is {values[bad[0]]} at epoch {epoch}"
            return False
        if self.should_continue is not None and not self.should_continue(self.trial, epoch, values):
            self.stopped = True
            return False
        return True


class BaseHyperparameterTuner(abc.ABC):
    """Runs experiments over trainers and their params, tracks them, saves the winner.

    Required components: ``metadata_tracker``, ``resource_version_control``,
    ``metrics_tracker``. Required config: ``training_params`` (trainer class or
    registered name -> {param: [values]}), ``metrics``, ``perf_metric``.
    """

    def __init__(
        self,
        *,
        metadata_tracker: MetadataTracker,
        resource_version_control: ResourceVersionControl,
        metrics_tracker: MetricsTracker,
        training_params: Mapping[Algo, Mapping[str, Sequence[Any]]],
        metrics: Sequence[str] = DEFAULT_METRICS,
        perf_metric: str = "val_accuracy",
        mode: str = "max",
        study_name: str | None = None,
        model_name: str = "model",
        trainer_configs: Mapping[str, Mapping[str, Any]] | None = None,
        backend: Backend | None = None,
        study_config: Mapping[str, Any] | None = None,
        plugin_manager: PluginManager | None = None,
    ) -> None:
        if perf_metric not in metrics:
            raise ConfigError(f"perf_metric '{perf_metric}' is not among metrics {list(metrics)}")
        if mode not in MODES:
            raise ConfigError(f"mode must be 'max' or 'min', got {mode!r}")
        if not training_params:
            raise ConfigError("training_params is empty: name at least one trainer")
        self.metadata_tracker = metadata_tracker
        self.resource_version_control = resource_version_control
        self.metrics_tracker = metrics_tracker
        self.training_params = dict(training_params)
        self.metrics = list(metrics)
        self.perf_metric = perf_metric
        self.mode = mode
        self.model_name = model_name
        self.study_name = study_name or new_study_name(model_name)
        self.trainer_configs = {k: dict(v) for k, v in (trainer_configs or {}).items()}
        self.backend = backend
        self.study_config = dict(study_config or {})
        self.manager = plugin_manager or get_plugin_manager()
        self.study: StudyRecord | None = None
        self.winner: ModelVersion | None = None
        self.data: DataSplits | None = None

    # ------------------------------------------------------------------ spec API

    @abc.abstractmethod
    def run_experiment(self, data: DataSplits, *args: Any, **kwargs: Any) -> Any:
        """Run every experiment on ``data`` (a splitter's output); return the best model."""

    def build_model(
        self,
        data: DataSplits,
        model_version: StudyRecord,
        algo: Algo,
        params: Mapping[str, Any],
        trainer_config: Mapping[str, Any] = {},
        *args: Any,
        **kwargs: Any,
    ) -> tuple[ModelTrainer | None, TrialRecord]:
        """Train one trainer with ``trainer_config`` updated by ``params``.

        Returns the trained model (None if the trial failed) and the final
        experiment record. A trial that raises or reports a non-finite metric is
        recorded as failed with its reason; the study goes on.
        """
        spec = self.trainer_spec(algo)
        config = trial_config(spec, params, trainer_config)
        experiment = self.metadata_tracker.start_trial(
            model_version.id, spec.name, redact(dict(params)), redact(to_plain(config))
        )
        self.manager.notify("on_trial_start", study=model_version, trial=experiment)
        reporter = TrialReporter(
            experiment,
            model_version,
            self.metrics_tracker,
            self.manager,
            self.perf_metric,
            self.mode,
            kwargs.get("should_continue"),
        )
        model: ModelTrainer | None = None
        try:
            model = spec.factory(config)
            model.fit(data, reporter)
        except Exception as exc:  # a failing trial is data, not a crash of the study
            reporter.failure = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if reporter.failure is None and reporter.last_epoch < 0:
            reporter.failure = "the trainer reported no epoch"
        if reporter.failure is not None:
            status, model = "failed", None
        else:
            status = "stopped" if reporter.stopped else "completed"
        error = redact_text(reporter.failure) if reporter.failure else None
        experiment = self.metadata_tracker.end_trial(experiment.id, status, error)
        if status != "failed" and self.perf_metric not in experiment.metrics:
            experiment = self.metadata_tracker.end_trial(
                experiment.id, "failed", f"perf_metric '{self.perf_metric}' was never reported"
            )
            model = None
        self.manager.notify("on_trial_end", study=model_version, trial=experiment)
        return model, experiment

    def save_model(
        self,
        model: ModelTrainer,
        experiment: TrialRecord,
        params: Mapping[str, Any],
        algo: Algo,
        *args: Any,
        **kwargs: Any,
    ) -> ModelVersion:
        """Save ``model`` as a new version of ``model_name`` with its lineage.

        The version gets alias ``latest``, and ``best`` when its perf_metric beats the
        version that holds ``best`` now. Test-split metrics are added when ``data`` is known.
        """
        extra = model.evaluate(self.data.test) if self.data is not None else {}
        return self.save_weights(
            model.state_dict(),
            model.model_info(),
            experiment,
            params,
            self.trainer_spec(algo).name,
            {f"test_{k}": v for k, v in extra.items()},
            parent=kwargs.get("parent"),
        )

    def save_weights(
        self,
        weights: Mapping[str, Any],
        info: Mapping[str, Any],
        experiment: TrialRecord,
        params: Mapping[str, Any],
        trainer: str,
        extra_metrics: Mapping[str, float],
        parent: str | None = None,
        data_fingerprint: str | None = None,
    ) -> ModelVersion:
        """The part of ``save_model`` that needs no live model (a sweep's winner is
        promoted from the weights its job staged)."""
        metrics = {**experiment.metrics, **extra_metrics}
        meta = VersionMeta(
            trainer=trainer,
            trainer_config=redact(dict(experiment.trainer_config)),
            params=redact(dict(params)),
            metrics=metrics,
            info=dict(info),
            study=self.study.name if self.study else None,
            trial_id=experiment.id,
            data_fingerprint=data_fingerprint or (self.data.fingerprint if self.data else None),
            parent=parent,
        )
        aliases = ["latest"]
        if self._beats_best(metrics.get(self.perf_metric)):
            aliases.append("best")
        return self.resource_version_control.save(self.model_name, weights, meta, aliases)

    def _build_training_grid(self, params: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
        """Every combination of the value lists: ``{"a": [1], "b": [1, 2]}`` gives
        ``[{"a": 1, "b": 1}, {"a": 1, "b": 2}]``. No params give one empty point."""
        keys = list(params)
        for key in keys:
            if isinstance(params[key], str | bytes) or not isinstance(params[key], Sequence):
                raise ConfigError(f"training_params: '{key}' must be a list of values")
            if len(params[key]) == 0:
                raise ConfigError(f"training_params: '{key}' is an empty grid: give values")
        return [
            dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(params[key] for key in keys))
        ]

    def _get_winning_experiment(self, exp_list: Mapping[Any, float], reverse: bool = False) -> Any:
        """The id with the lowest value (``reverse=True``: highest); ties go to the first.
        Non-finite values never win. ``None`` when nothing can win."""
        finite = [(k, v) for k, v in exp_list.items() if v is not None and math.isfinite(v)]
        if not finite:
            return None
        pick = max if reverse else min
        return pick(finite, key=lambda item: item[1])[0]

    # ------------------------------------------------------------------ helpers

    def trainer_spec(self, algo: Algo) -> TrainerSpec:
        return trainer_spec(self.manager, algo)

    def trial_points(self) -> list[tuple[Algo, dict[str, Any], dict[str, Any]]]:
        return plan_trials(self.manager, self.training_params, self.trainer_configs)

    def start_study(self) -> StudyRecord:
        config = redact(self.study_config)  # what trackers and observers may write down
        self.study = self.metadata_tracker.start_study(
            self.study_name, self.perf_metric, self.mode, config
        )
        self.manager.notify("on_study_start", study=self.study, config=config)
        return self.study

    def _beats_best(self, value: float | None) -> bool:
        if value is None:
            return False
        try:
            current = self.resource_version_control.get(f"{self.model_name}:best")
        except NotFoundError:
            return True
        old = current.meta.metrics.get(self.perf_metric)
        if old is None:
            return True
        return value > old if self.mode == "max" else value < old

    def perf_value(self, experiment: TrialRecord) -> float | None:
        return experiment.metrics.get(self.perf_metric)


def build_training_grid(params: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The cartesian product of ``params``' value lists, in key order."""
    keys = list(params)
    for key in keys:
        if isinstance(params[key], str | bytes) or not isinstance(params[key], Sequence):
            raise ConfigError(f"training_params: '{key}' must be a list of values")
        if len(params[key]) == 0:
            raise ConfigError(f"training_params: '{key}' is an empty grid: give values")
    combos = itertools.product(*(params[key] for key in keys))
    return [dict(zip(keys, combo, strict=True)) for combo in combos]


def trainer_spec(manager: PluginManager, algo: Algo) -> TrainerSpec:
    """Resolve a trainer class or registered trainer name."""
    if isinstance(algo, str):
        component = manager.registry.get("trainer", algo).component
        return TrainerSpec(component.name, component.factory, component.config_class)
    if isinstance(algo, type) and issubclass(algo, ModelTrainer):
        name = getattr(algo, "name", None)
        config_class = getattr(algo, "config_class", None)
        if config_class is None and name in manager.registry.names("trainer"):
            config_class = manager.registry.get("trainer", name).component.config_class
        if name is None or config_class is None:
            raise ConfigError(
                f"trainer class {algo.__name__} needs class attributes `name` and "
                "`config_class` (or a registered trainer of that name)"
            )
        return TrainerSpec(name, algo, config_class)
    raise ConfigError(f"training_params key {algo!r} is neither a trainer name nor class")


def trial_config(spec: TrainerSpec, params: Mapping[str, Any], base: Mapping[str, Any]) -> Any:
    """The trainer's config: its defaults, updated by ``base`` then by ``params``."""
    node = {**to_plain(base), **dict(params), "name": spec.name}
    return make_config(spec.config_class, node, f"training_params.{spec.name}")


def plan_trials(
    manager: PluginManager,
    training_params: Mapping[Algo, Mapping[str, Sequence[Any]]],
    trainer_configs: Mapping[str, Mapping[str, Any]],
) -> list[tuple[Algo, dict[str, Any], dict[str, Any]]]:
    """(algo, params, base trainer config) of every trial, each config validated up
    front so that a bad grid value fails before any trial runs."""
    points = []
    for algo, grid in training_params.items():
        spec = trainer_spec(manager, algo)
        base = dict(trainer_configs.get(spec.name, {}))
        for params in build_training_grid(grid):
            trial_config(spec, params, base)
            points.append((algo, params, base))
    return points


def new_study_name(model_name: str) -> str:
    """``<model>-<YYYYmmdd-HHMMSS>-<4 hex>``: sortable by time, unique across processes."""
    return f"{model_name}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


@attrs.frozen
class TrialOutcome:
    model: ModelTrainer | None
    experiment: TrialRecord
    algo: Algo
    params: dict[str, Any]


class GridTuner(BaseHyperparameterTuner):
    """Runs every point of every trainer's grid, then saves the winner.

    With no backend the trials run one after another in this process.
    """

    def run_trials(self, data: DataSplits) -> Iterator[TrialOutcome]:
        """Run every trial of the grid on ``data``, yielding outcomes as they finish."""
        points = self.trial_points()
        self.data = data
        study = self.start_study()

        algos = {self.trainer_spec(algo).name: algo for algo in self.training_params}

        def execute(job: TrialJob) -> TrialOutcome:
            algo = algos[job.trainer]
            model, experiment = self.build_model(data, study, algo, job.params, job.trainer_config)
            return TrialOutcome(model, experiment, algo, job.params)

        jobs = [
            TrialJob(self.trainer_spec(algo).name, params, base) for algo, params, base in points
        ]
        if self.backend is None:
            yield from map(execute, jobs)
        else:
            yield from self.backend.run(jobs, execute)

    def best_of(self, outcomes: Iterator[TrialOutcome]) -> tuple[TrialOutcome | None, int]:
        """Consume outcomes keeping only the best model in memory; also count them."""
        best: TrialOutcome | None = None
        count = 0
        for outcome in outcomes:
            count += 1
            if outcome.model is None:
                continue
            exp_list = {"new": self.perf_value(outcome.experiment)}
            if best is not None:
                exp_list = {"best": self.perf_value(best.experiment), **exp_list}
            if self._get_winning_experiment(exp_list, reverse=self.mode == "max") == "new":
                best = outcome
        return best, count

    def run_experiment(self, data: DataSplits, *args: Any, **kwargs: Any) -> ModelTrainer:
        best, count = self.best_of(self.run_trials(data))
        assert self.study is not None
        if best is None:
            self.study = self.metadata_tracker.end_study(self.study.id, "failed")
            self.manager.notify("on_study_end", study=self.study, winner=None)
            raise HyperplugError(
                f"study '{self.study.name}': none of its {count} trials reached "
                f"perf_metric '{self.perf_metric}' (see `hyperplug study {self.study.name}`)"
            )
        self.winner = self.save_model(best.model, best.experiment, best.params, best.algo)
        self.study = self.metadata_tracker.end_study(
            self.study.id, "completed", best.experiment.id, self.winner.ref
        )
        self.manager.notify("on_study_end", study=self.study, winner=self.winner)
        return best.model
