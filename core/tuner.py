"""The hyperparameter tuner: the component spec's API, word for word, on the study engine.

``BaseHyperparameterTuner`` keeps the spec's names: ``run_experiment(data)``,
``build_model(data, model_version, algo, params, trainer_config={})``,
``save_model(model, experiment, params, algo)``, ``_build_training_grid(params)`` and
``_get_winning_experiment(exp_list, reverse=False)``. In hyperplug's words an
*experiment* is a trial (a ``TrialRecord`` in the metadata tracker) and the
``model_version`` handed to ``build_model`` is the study (``StudyRecord``) whose
winner becomes the next model version. ``Tuner`` runs a study through
``hyperplug.engine``: an optimizer proposes trials, a backend runs them.
"""

from __future__ import annotations

import abc
import itertools
import json
import math
import secrets
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from hyperplug.config import (
    DEFAULT_METRICS,
    configure,
    improves,
    make_config,
    resolve_mode,
    to_plain,
)
from hyperplug.data import DataSplits, check_learnable
from hyperplug.engine import Engine
from hyperplug.errors import ConfigError, HyperplugError, NotFoundError
from hyperplug.interfaces import (
    Backend,
    DataRecipe,
    MetadataTracker,
    MetricsTracker,
    ModelTrainer,
    ModelVersion,
    Optimizer,
    ResourceVersionControl,
    SearchContext,
    StudyRecord,
    TrialRecord,
    VersionMeta,
)
from hyperplug.paths import check_directory
from hyperplug.plugin_manager import PluginManager, get_plugin_manager
from hyperplug.search_space import Choice, Dimension, Fixed, SearchSpace
from hyperplug.secrets import redact
from hyperplug.staging import is_staged, load_staged, remove_staged, study_dir, trial_dir
from hyperplug.trainers import (
    Algo,
    TrainerSpec,
    check_data,
    restore_config,
    restore_model,
    trainer_spec,
    trial_config,
)
from hyperplug.trial_runner import execute_trial
from hyperplug.update_state import join_arrays, kept_data

#: the key of a study's recorded config that says what it searches
SIGNATURE = "search_signature"


class BaseHyperparameterTuner(abc.ABC):
    """Runs experiments over trainers and their params, tracks them, saves the winner.

    Required components: ``metadata_tracker``, ``resource_version_control``,
    ``metrics_tracker``. Required config: ``training_params`` (trainer class or
    registered name -> {param: spec}, see ``hyperplug.search_space``), ``metrics``,
    ``perf_metric``, with ``mode`` (None: ``min`` for a metric named like a loss or an
    error, else ``max``). Optional: an ``optimizer`` (default: grid), a ``backend``
    (default: inline), ``home`` (the study directory's root), a ``data_recipe`` (how
    worker processes rebuild the data; default: the data itself is sent to them).
    """

    def __init__(
        self,
        *,
        metadata_tracker: MetadataTracker,
        resource_version_control: ResourceVersionControl,
        metrics_tracker: MetricsTracker,
        training_params: Mapping[Algo, Mapping[str, Any]],
        metrics: Sequence[str] = DEFAULT_METRICS,
        perf_metric: str = "val_accuracy",
        mode: str | None = None,
        study_name: str | None = None,
        model_name: str = "model",
        trainer_configs: Mapping[str, Mapping[str, Any]] | None = None,
        backend: Backend | None = None,
        optimizer: Optimizer | None = None,
        study_config: Mapping[str, Any] | None = None,
        plugin_manager: PluginManager | None = None,
        home: str | Path = ".hyperplug",
        data_recipe: DataRecipe | None = None,
        view: Any = None,
    ) -> None:
        if perf_metric not in metrics:
            raise ConfigError(f"perf_metric '{perf_metric}' is not among metrics {list(metrics)}")
        mode = resolve_mode(mode, perf_metric)
        if not training_params:
            raise ConfigError("training_params is empty: name at least one trainer")
        self.metadata_tracker = metadata_tracker
        """Records the study and its trials."""
        self.resource_version_control = resource_version_control
        """Stores the winner as a model version."""
        self.metrics_tracker = metrics_tracker
        """Records every epoch's metrics."""
        self.training_params = dict(training_params)
        """The search: trainer (name or class) -> {param: values or range}."""
        self.metrics = list(metrics)
        """The metrics every trial must report."""
        self.perf_metric = perf_metric
        """The metric that picks the best epoch and the winner."""
        self.mode: str = mode
        """``"max"`` or ``"min"``."""
        self.model_name = model_name
        """The name the winner is versioned under."""
        self.study_name = study_name or new_study_name(model_name)
        """The study the trials join (a new unique name unless given)."""
        self.trainer_configs = {k: dict(v) for k, v in (trainer_configs or {}).items()}
        """trainer name -> config keys every trial of it starts from."""
        self.manager = plugin_manager or get_plugin_manager()
        """The plugin manager components are found in."""
        self.backend = backend or self._default("backend", "inline")
        """Runs the trials (default: ``inline``, in this process)."""
        self.optimizer: Optimizer = optimizer or self._default("optimizer", "grid")
        """Decides which trial runs next (default: ``grid``)."""
        self.study_config = dict(study_config or {})
        """What the study's record keeps as its config."""
        self.home = Path(home)
        """The root of the study directory (plots, staged weights, checkpoints)."""
        self.data_recipe = data_recipe
        """How worker processes rebuild the data (None: the data itself is sent)."""
        self.view = view
        """The live progress display, if any."""
        self.lineage: tuple[str, ...] = ()
        """Studies whose results this one may warm-start from (an update's lineage)."""
        self.study: StudyRecord | None = None
        """The study's record, once ``run_experiment`` started it."""
        self.winner: ModelVersion | None = None
        """The winner's model version, once the study ended with one."""
        self.data: DataSplits | None = None
        """The data of the run."""
        self.already_complete = False
        """True when ``run_experiment`` found the study already completed."""
        self.restore_winner = True
        """Restore the winning model for the caller (``run_experiment`` returns it); the
        command line turns it off: it only shows the version."""

    def _default(self, kind: str, name: str) -> Any:
        component, config = configure(kind, {"name": name}, self.manager)
        return component.build(config)

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
        """Train one trainer with ``trainer_config`` updated by ``params``, in this
        process, as one trial of ``model_version`` (the study).

        Returns the trained model (None if the trial failed) and the final
        experiment record. A trial that raises or reports a non-finite metric is
        recorded as failed with its reason.
        """
        spec = self.trainer_spec(algo)
        config = to_plain(trial_config(spec, params, trainer_config))
        engine = self._engine(model_version, staged=False)
        task = engine.open_trial(algo, spec.name, params, config)
        end, model = execute_trial(task, data, engine.on_report, self.manager)
        experiment = engine.on_end(end)
        return (None if experiment.status == "failed" else model), experiment

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
        updater: str | None = None,
        update: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """The part of ``save_model`` that needs no live model (a sweep's winner is
        promoted from the weights its job staged; an update's with its state). A trial of
        a study is versioned once: saved again (a rerun after a crash between saving and
        ending the study), it returns the version saved before."""
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
            updater=updater,
            update=dict(update or {}),
        )
        if meta.study is not None:
            saved = self.resource_version_control.find_version(
                self.model_name, meta.study, experiment.id
            )
            if saved is not None:  # promoted before a crash: complete it, never twice
                return self._complete_aliases(saved, metrics.get(self.perf_metric))
        aliases = self.version_aliases(metrics)
        return self.resource_version_control.save(self.model_name, weights, meta, aliases)

    def version_aliases(self, metrics: Mapping[str, float]) -> list[str]:
        """``latest``, and ``best`` when the perf_metric beats the version holding it."""
        aliases = ["latest"]
        if self._beats_best(metrics.get(self.perf_metric)):
            aliases.append("best")
        return aliases

    def _complete_aliases(self, version: ModelVersion, value: float | None) -> ModelVersion:
        """Give a version saved by a run that died during promotion the aliases ``save``
        would have moved to it (``latest`` if it is the newest, ``best`` if it beats)."""
        vcs = self.resource_version_control
        newest = max(v.version for v in vcs.list_versions(version.name))
        if "latest" not in version.aliases and version.version == newest:
            version = vcs.set_alias(version.ref, "latest")
        if "best" not in version.aliases and self._beats_best(value):
            version = vcs.set_alias(version.ref, "best")
        return version

    def _build_training_grid(self, params: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
        """Every combination of the value lists: ``{"a": [1], "b": [1, 2]}`` gives
        ``[{"a": 1, "b": 1}, {"a": 1, "b": 2}]``. No params give one empty point."""
        return build_training_grid(params)

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
        """The name, factory and config class of a trainer name or class."""
        return trainer_spec(self.manager, algo)

    @property
    def algos(self) -> dict[str, Algo]:
        """trainer name -> what ``training_params`` names it by (a name or a class)."""
        return {self.trainer_spec(algo).name: algo for algo in self.training_params}

    @property
    def study_dir(self) -> Path:
        """``<home>/studies/<study name>``."""
        return study_dir(self.home, self.study_name)

    def search_space(self) -> SearchSpace:
        """``training_params`` parsed, keyed by trainer name."""
        algos = self.algos
        return SearchSpace.parse({name: self.training_params[algo] for name, algo in algos.items()})

    def configure_trial(self, trainer: str, params: Mapping[str, Any]) -> tuple[Algo, dict]:
        """(algo, full trainer config) of one trial: the trainer's defaults, its
        ``trainer_configs`` entry, the optimizer's epoch budget (when the trainer has an
        ``epochs`` field and the params do not set it), then the params."""
        algo = self.algos[trainer]
        spec = self.trainer_spec(algo)
        base = dict(self.trainer_configs.get(spec.name, {}))
        max_epochs = self.optimizer.budget().max_epochs
        if max_epochs is not None and "epochs" in attrs.fields_dict(spec.config_class):
            base["epochs"] = max_epochs
        return algo, to_plain(trial_config(spec, params, base))

    def validate(self, data: DataSplits | None = None) -> SearchSpace:
        """Check the search space and every trial config that can be known up front
        (every grid point; each trainer's first values otherwise), before any write;
        given the ``data``, also that each of those configs can train on it (once here,
        instead of every trial failing the same way). The store's writability probe comes
        last, as the only check that writes (and removes) a file: a command refused for
        another reason leaves nothing behind."""
        space = self.search_space()
        check_directory("home", self.home)
        self.optimizer.check(
            SearchContext(
                space,
                self.perf_metric,
                self.mode,
                self.optimizer.budget(),
                (),
                self.metadata_tracker,
                self.lineage,
            )
        )
        if self.optimizer.needs_finite_space():
            space.check_finite(getattr(getattr(self.optimizer, "config", None), "name", "grid"))
            self._check_points(space.grid(), data)
        else:
            if space.finite and len(space.grid()) == 1:
                name = getattr(getattr(self.optimizer, "config", None), "name", "this optimizer")
                raise ConfigError(
                    f"optimizer={name} has nothing to search: the space is one point; give "
                    "ranges or lists in training_params (e.g. "
                    "+training_params.mlp.lr='\"loguniform(1e-4,1e-1)\"') or use optimizer=grid"
                )
            firsts = [
                (t, {key: _first(dim) for key, dim in dims.items()})
                for t, dims in space.trainers.items()
            ]
            self._check_points(firsts, data)
        self.backend.check()
        self.resource_version_control.check_writable()
        return space

    def _check_points(
        self, points: Sequence[tuple[str, Mapping[str, Any]]], data: DataSplits | None
    ) -> None:
        """Configure each point (a bad value is a ``ConfigError`` naming it); given the
        data, check each distinct trainer config against it once."""
        configs: dict[str, tuple[str, dict[str, Any]]] = {}
        for trainer, params in points:
            _, config = self.configure_trial(trainer, params)
            configs[repr(sorted(config.items()))] = trainer, config
        for trainer, config in configs.values() if data is not None else ():
            spec = self.trainer_spec(self.algos[trainer])
            check_data(make_config(spec.config_class, config, f"trainer {spec.name}"), data)

    def start_study(self) -> StudyRecord:
        """Start the study, or join it if it exists. Its record keeps what it searches
        (``SIGNATURE``: the space, the trainers' configs, the data's fingerprint), which a
        resumed run must match (``check_same_search``)."""
        config = redact({**self.study_config, SIGNATURE: self.signature()})
        self.study = self.metadata_tracker.start_study(
            self.study_name, self.perf_metric, self.mode, config
        )
        self.manager.notify("on_study_start", study=self.study, config=config)
        return self.study

    def signature(self) -> dict[str, Any]:
        """What a study searches, as JSON: a run of the study must search the same."""
        names = self.algos
        return {
            "training_params": {name: self.training_params[algo] for name, algo in names.items()},
            "trainer_configs": {
                name: config for name, config in self.trainer_configs.items() if name in names
            },
            "data": self.data.fingerprint if self.data is not None else None,
        }

    def check_same_search(self, study: StudyRecord) -> None:
        """Refuse to run a study that was started with another search space, trainer
        config or data: its trials would mix two searches (and an old trial could win)."""
        recorded = study.config.get(SIGNATURE)
        if not isinstance(recorded, Mapping):
            return  # recorded before signatures were
        ours = json.loads(json.dumps(redact(self.signature()), default=str))
        parts = {"training_params": "search space", "trainer_configs": "trainer config"}
        differ = [what for key, what in parts.items() if recorded.get(key) != ours[key]]
        if recorded.get("data") and ours["data"] and recorded["data"] != ours["data"]:
            differ.append("data")
        if differ:
            raise ConfigError(
                f"study '{study.name}' was started with another {' and '.join(differ)}; "
                "run it with the same ones, or start a new study: study=<new name>"
            )

    def _engine(self, study: StudyRecord, staged: bool = True) -> Engine:
        return Engine(
            study=study,
            metadata_tracker=self.metadata_tracker,
            metrics_tracker=self.metrics_tracker,
            manager=self.manager,
            perf_metric=self.perf_metric,
            mode=self.mode,
            study_dir=self.study_dir if staged else None,
            view=self.view,
        )

    def _beats_best(self, value: float | None) -> bool:
        if value is None:
            return False
        try:
            current = self.resource_version_control.get(f"{self.model_name}:best")
        except NotFoundError:
            return True
        return improves(value, current.meta.metrics.get(self.perf_metric), self.mode)

    def perf_value(self, experiment: TrialRecord) -> float | None:
        """The trial's best-epoch ``perf_metric`` value, or None."""
        return experiment.metrics.get(self.perf_metric)


def _first(dim: Dimension) -> Any:
    """A value of the dimension to check the trainer's config with up front."""
    if isinstance(dim, Fixed):
        return dim.value
    if isinstance(dim, Choice):
        return dim.values[0]
    return int(dim.low) if dim.integer else dim.low


def planned_trials(space: SearchSpace, optimizer: Optimizer, max_trials: int | None) -> int | None:
    """How many trials a study will have: its grid's size, capped by ``max_trials``
    (None when neither says)."""
    grid = len(space.grid()) if optimizer.needs_finite_space() else None
    if max_trials is None or grid is None:
        return grid if max_trials is None else max_trials
    return min(grid, max_trials)


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


def new_study_name(model_name: str) -> str:
    """``<model>-<YYYYmmdd-HHMMSS>-<4 hex>``: sortable by time, unique across processes."""
    return f"{model_name}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


class Tuner(BaseHyperparameterTuner):
    """Runs a study: the optimizer proposes trials, the backend runs them, the engine
    records everything; then the winner is promoted from its staged weights.

    Running it again on a study that was interrupted resumes it; on a completed study
    it returns the winning model without training (``already_complete``).
    """

    def run_experiment(self, data: DataSplits, *args: Any, **kwargs: Any) -> ModelTrainer:
        """Validate everything, run the study on ``data`` and return the winning model,
        saved as a new version of ``model_name`` (``self.winner``).

        Every config and the data are checked before anything is written; a bad one is
        a ``ConfigError`` or ``DataError``. A study that cannot pick a winner (no trial
        reached the perf_metric) raises a ``HyperplugError`` and is recorded ``failed``.
        """
        space = self.validate(data)
        check_learnable(data)
        self.data = data
        study = self.start_study()
        self.check_same_search(study)
        if study.status == "completed" and study.winner_version:
            self.already_complete = True
            return self.load_winner()
        try:
            self.run_trials(space, data)
            return self.finish()
        except HyperplugError:  # a failed save too: the study must not stay "running"
            if self.study.status == "running":
                self.study = self.metadata_tracker.end_study(study.id, "failed")
                self.manager.notify("on_study_end", study=self.study, winner=None)
            raise

    def run_trials(self, space: SearchSpace, data: DataSplits, resume: bool = True) -> list[int]:
        """Run the search on ``data``; return the ids of the trials this run started.

        ``resume``: first continue the trials a dead study process left running (and
        retry failed ones, within ``max_retries``), and let the search and the budget
        count the finished ones (a sweep job shares its study with concurrent jobs, so
        it does not)."""
        assert self.study is not None
        engine = self._engine(self.study)
        budget = self.optimizer.budget()
        past = engine.recover(budget.max_retries) if resume else []
        context = SearchContext(
            space,
            self.perf_metric,
            self.mode,
            budget,
            tuple(past),
            self.metadata_tracker,
            self.lineage,
        )
        search = self.optimizer.search(context)
        engine.tally.total = planned_trials(space, self.optimizer, budget.max_trials)
        recipe = self.data_recipe or DataRecipe(data.fingerprint)
        recipe = attrs.evolve(recipe, data=data)
        engine.run(search, self.backend, recipe, budget, self.configure_trial)
        return engine.trial_ids

    def finish(self) -> ModelTrainer | None:
        """Pick the winner among the study's trials that reached the perf_metric, version
        it (``save_model`` when this process has the data, else ``save_weights`` with the
        staged test metrics), end the study, remove the other trials' staged weights.
        Returns the winning model restored from its staged weights."""
        assert self.study is not None
        trials = self.metadata_tracker.list_trials(self.study.id)
        staged = {t.id: trial_dir(self.study_dir, t.id) for t in trials}
        exp_list = {
            t.id: self.perf_value(t)
            for t in trials
            if t.status in ("completed", "stopped") and is_staged(staged[t.id])
        }
        winner_id = self._get_winning_experiment(exp_list, reverse=self.mode == "max")
        if winner_id is None:
            self.study = self.metadata_tracker.end_study(self.study.id, "failed")
            self.manager.notify("on_study_end", study=self.study, winner=None)
            raise HyperplugError(
                f"study '{self.study.name}': none of its {len(trials)} trials reached "
                f"perf_metric '{self.perf_metric}' (see `hyperplug study {self.study.name}`)"
            )
        experiment = next(t for t in trials if t.id == winner_id)
        model = self.promote(experiment, staged[winner_id])
        assert self.winner is not None
        self.study = self.metadata_tracker.end_study(
            self.study.id, "completed", winner_id, self.winner.ref
        )
        self.manager.notify("on_study_end", study=self.study, winner=self.winner)
        for trial_id, directory in staged.items():
            if trial_id != winner_id:
                remove_staged(directory)
        return model

    def promote(self, experiment: TrialRecord, directory: Path) -> ModelTrainer | None:
        """Version the winning trial from its staged files (weights, the test metrics its
        trial measured) with what the version keeps of its data when this process has the
        data (``hyperplug.update_state.kept_data``); set ``self.winner``, return the
        winning model."""
        weights, record = load_staged(directory)
        algo = self.algos.get(experiment.trainer, experiment.trainer)
        spec = self.trainer_spec(algo)
        model = self.restore_winner_model(spec, experiment.trainer_config, weights, record)
        arrays, kept = dict(weights), {}
        if self.data is not None:
            state, kept = kept_data(self.data, int(experiment.trainer_config.get("seed", 0)))
            arrays = join_arrays(weights, state)
        self.winner = self.save_weights(
            arrays,
            record["info"],
            experiment,
            record["params"],
            spec.name,
            record["extra_metrics"],
            data_fingerprint=record["data_fingerprint"],
            update=kept,
        )
        return model

    def restore_winner_model(
        self,
        spec: TrainerSpec,
        trainer_config: Mapping[str, Any],
        weights: Mapping[str, Any],
        record: Mapping[str, Any],
    ) -> ModelTrainer | None:
        """The winning model, restored where the study runs (which need not be where the
        trial trained); None when ``restore_winner`` is off (the command line shows the
        version and never uses the model, and restoring imports the trainer's library)."""
        if not self.restore_winner:
            return None
        config = restore_config(spec, trainer_config)
        return restore_model(spec, config, weights, record["info"])

    def load_winner(self) -> ModelTrainer | None:
        """The completed study's winning model, from the vcs."""
        assert self.study is not None and self.study.winner_version
        if not self.restore_winner:
            self.winner = self.resource_version_control.get(self.study.winner_version)
            return None
        arrays, version = self.resource_version_control.load(self.study.winner_version)
        self.winner = version
        spec = self.trainer_spec(self.algos.get(version.meta.trainer, version.meta.trainer))
        return self.restore_winner_model(
            spec, version.meta.trainer_config, arrays, {"info": version.meta.info}
        )


class GridTuner(Tuner):
    """The component spec's grid tuner: every point of every trainer's grid runs once.

    A ``Tuner`` whose optimizer is always ``grid``; give ``Tuner`` an ``optimizer`` for
    random search, Bayesian optimisation, ASHA or RUSH.
    """

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("optimizer") is not None:
            raise ConfigError(
                "GridTuner always runs the whole grid; use Tuner(optimizer=...) for another "
                "optimizer"
            )
        super().__init__(**kwargs)
