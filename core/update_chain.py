"""The update chain: model version N and a chunk of new data become version N+1.

An update is a study like any other (``UpdateTuner`` is a ``Tuner``): recorded in the
tracker, run by any backend, tunable with any optimizer. Its trials are named by
updater (``training_params: {er: {lr: ..., alpha: ...}}``; a key may be the updater's or
the trainer's) and each one restores version N, lets the updater train it on the
chunk, and stages the weights with the updater's new state. The winner is saved as
version N+1 of the same model with ``parent`` N, the updater, the chunk's fingerprint
and everything the next update needs (``hyperplug.update_state``). Version N is never
touched: a failed or killed update leaves no N+1, and the same command resumes it.

Validation: the update's ``val_accuracy`` is measured on the chunk's validation rows and
on a class-balanced memory of earlier chunks' validation rows (``val_accuracy_new`` and
``val_accuracy_old`` apart), so a tuned update is chosen for learning the new data
without forgetting the old.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from hyperplug.config import DEFAULT_METRICS, configure, make_config, to_plain
from hyperplug.data import DataSplits
from hyperplug.errors import ConfigError, HyperplugError, NotFoundError, did_you_mean
from hyperplug.interfaces import (
    DataRecipe,
    ModelTrainer,
    TrialRecord,
    UpdaterConfig,
)
from hyperplug.search_space import SearchSpace
from hyperplug.staging import load_staged
from hyperplug.trainers import (
    Algo,
    TrainerSpec,
    restore_model,
    trainer_spec,
    trial_config,
)
from hyperplug.trial_runner import first_line
from hyperplug.tuner import Tuner
from hyperplug.update_state import (
    UpdateBase,
    UpdateData,
    UpdatePlan,
    join_arrays,
    kept_data,
    prepare_chunk,
    split_arrays,
    update_seed,
)

#: what an update reports besides a study's metrics: validation on the chunk's own rows
#: and on the memory of earlier chunks
UPDATE_METRICS = ("val_accuracy_new", "val_accuracy_old")
#: updater config keys that hold for the whole chain, not for one trial
CHAIN_SETTINGS = tuple(field.name for field in attrs.fields(UpdaterConfig))


class UpdateTuner(Tuner):
    """A study whose trials update ``base`` (version N, or nothing for the first update)
    with ``updater`` (a plain updater config with its ``name``).

    ``training_params`` maps updater names to {param: spec}; a key naming the base's
    trainer means the configured updater; params are the updater's config keys or the
    trainer's. ``trainer_configs`` may hold the trainer config the trials start from
    (default: the parent's). ``update_tuner`` builds one from a base and a chunk and picks
    the optimizer when none is given (``default_optimizer``).
    """

    def __init__(
        self,
        *,
        base: UpdateBase,
        updater: Mapping[str, Any],
        training_params: Mapping[str, Mapping[str, Any]] | None = None,
        trainer_algo: Algo | None = None,
        **kwargs: Any,
    ) -> None:
        self.base = base
        self.updater_config = dict(updater)
        self.trainer_algo = trainer_algo or base.trainer
        name = str(self.updater_config["name"])
        grid = _by_updater(training_params or {}, name, base.trainer)
        kwargs.setdefault("trainer_configs", {base.trainer: base.trainer_config})
        super().__init__(training_params=grid, **kwargs)
        self.lineage = base.lineage
        #: why nothing ran (the parent was updated on this very chunk), or None
        self.notice: str | None = None
        #: the drift test that let the update run (``hyperplug.drift.drift_record``)
        self.drift: dict[str, Any] | None = None

    # ------------------------------------------------------------------ names

    @property
    def algos(self) -> dict[str, Algo]:
        return {name: name for name in self.training_params}

    def trainer_spec(self, algo: Algo) -> TrainerSpec:
        if algo in self.training_params or algo == self.base.trainer:
            return trainer_spec(self.manager, self.trainer_algo)
        return super().trainer_spec(algo)

    @property
    def trainer_name(self) -> str:
        return self.trainer_spec(self.base.trainer).name

    # ------------------------------------------------------------------ trials

    def configure_trial(self, updater: str, params: Mapping[str, Any]) -> tuple[Algo, dict]:
        """(UpdatePlan, trainer config) of one trial: ``params`` split between the
        updater's config (the configured one, or another updater's defaults with the
        chain's settings) and the trainer's (the base config and the epoch budget)."""
        component = self.manager.registry.get("updater", updater).component
        updater_fields = attrs.fields_dict(component.config_class)
        spec = self.trainer_spec(self.base.trainer)
        trainer_fields = attrs.fields_dict(spec.config_class)
        own: dict[str, Any] = {}
        training: dict[str, Any] = {}
        for key, value in params.items():
            where = f"training_params.{updater}.{key}"
            if key in CHAIN_SETTINGS:
                raise ConfigError(
                    f"{where}: '{key}' is a setting of the whole update (updater.{key}), "
                    "not a searchable param"
                )
            if key in updater_fields:
                own[key] = value
            elif key in trainer_fields:
                training[key] = value
            else:
                known = [*updater_fields, *trainer_fields]
                raise ConfigError(
                    f"{where}: neither updater {updater} nor trainer {spec.name} has a key "
                    f"'{key}'{did_you_mean(key, known)}"
                )
        start = self.updater_config if updater == self.updater_config["name"] else {}
        chain = {k: self.updater_config[k] for k in CHAIN_SETTINGS if k in self.updater_config}
        node = {**start, **chain, **own, "name": updater}
        updater_config = make_config(component.config_class, node, f"training_params.{updater}")
        base = dict(self.trainer_configs.get(spec.name, {}))
        max_epochs = self.optimizer.budget().max_epochs
        if max_epochs is not None and "epochs" in trainer_fields:
            base["epochs"] = max_epochs
        config = to_plain(trial_config(spec, training, base))
        return UpdatePlan(self.trainer_algo, to_plain(updater_config)), config

    def validate(self, data: DataSplits | None = None) -> SearchSpace:
        space = super().validate(data)
        self.check_base()
        return space

    def check_base(self) -> None:
        """The update's trainer config fits version N's weights, and the updater can
        update that trainer: checked once, before anything is written."""
        spec = self.trainer_spec(self.base.trainer)
        config = make_config(spec.config_class, self.trainer_configs.get(spec.name, {}), "trainer")
        if self.base.weights:
            try:
                trainer = restore_model(spec, config, self.base.weights, self.base.info)
            except HyperplugError:
                raise
            except Exception as exc:
                changed = sorted(
                    key
                    for key, value in to_plain(config).items()
                    if key in self.base.trainer_config and self.base.trainer_config[key] != value
                )
                keys = ", ".join(f"trainer.{key}" for key in changed)
                hint = f" (changed: {keys})" if changed else ""
                raise ConfigError(
                    f"trainer: the config does not fit the weights of {self.base.parent}"
                    f"{hint}: {first_line(exc)}"
                ) from exc
        else:
            trainer = spec.factory(config)
        for name in self.training_params:
            component, updater_config = configure(
                "updater", {**self.updater_config, "name": name}, self.manager
            )
            component.build(updater_config).check(trainer)

    # ------------------------------------------------------------------ running

    def prepare(self, data: DataSplits) -> UpdateData:
        """The chunk as an update trains on it (see ``hyperplug.update_state``)."""
        if isinstance(data, UpdateData):
            return data
        return prepare_chunk(data, self.base, str(self.updater_config.get("new_classes", "grow")))

    def run_experiment(self, data: DataSplits, *args: Any, **kwargs: Any) -> ModelTrainer | None:
        chunk = self.prepare(data)
        if self.is_up_to_date(chunk):
            return self.load_parent()
        return super().run_experiment(chunk)

    def run_trials(self, space: SearchSpace, data: DataSplits, resume: bool = True) -> list[int]:
        self.data = self.prepare(data)
        # the trials need the prepared chunk and the base, not the dataset to rebuild
        self.data_recipe = DataRecipe(self.data.fingerprint)
        return super().run_trials(space, self.data, resume)

    def is_up_to_date(self, chunk: UpdateData) -> bool:
        """Version N was itself made by an update on this very chunk (the same command
        run again after it succeeded): nothing to do."""
        if not (self.base.parent and self.base.fingerprint == chunk.fingerprint):
            return False
        parent = self.resource_version_control.get(self.base.parent)
        return parent.meta.updater is not None

    def load_parent(self) -> ModelTrainer | None:
        """Version N as this update's result: the update that made it ran on this chunk."""
        parent = self.resource_version_control.get(str(self.base.parent))
        self.already_complete = True
        self.winner = parent
        self.notice = (
            f"model {parent.ref} was updated on this data already (study {parent.meta.study}); "
            "nothing to run (point model= at its parent to update it again)"
        )
        try:
            self.study = self.metadata_tracker.get_study(str(parent.meta.study))
        except NotFoundError as error:
            raise NotFoundError(
                f"model {parent.ref} was updated on this data by study {parent.meta.study}, "
                "which this tracker does not hold: nothing to run"
            ) from error
        self.study_name = self.study.name
        return self.restore(self.base.weights, self.base.info, self.base.trainer_config)

    def restore(
        self, weights: Mapping[str, Any], info: Mapping[str, Any], config: Mapping[str, Any]
    ) -> ModelTrainer | None:
        """The model, from the version or the staged trial alone (see restore_config);
        None when ``restore_winner`` is off."""
        spec = self.trainer_spec(self.base.trainer)
        return self.restore_winner_model(spec, config, weights, {"info": info})

    # ------------------------------------------------------------------ promotion

    def promote(self, experiment: TrialRecord, directory: Path) -> ModelTrainer | None:
        """Save the winning trial as version N+1: its weights, the updater's state, the
        next validation memory, and what the update did (``VersionMeta.update``)."""
        if not isinstance(self.data, UpdateData):
            raise HyperplugError(f"study '{self.study_name}': the update's chunk is not loaded")
        weights, record = load_staged(directory)
        model_weights, state = split_arrays(weights)
        plan, _ = self.configure_trial(experiment.trainer, experiment.params)
        settings = plan.updater
        seed = update_seed(int(experiment.trainer_config.get("seed", 0)), self.base.index)
        kept, kept_info = kept_data(self.data, seed, int(settings.get("val_memory_size", 0)))
        arrays = join_arrays(model_weights, {**state, **kept})
        buffer = record.get("update_state", {}).get("buffer", {})
        update = {
            **kept_info,
            "index": self.base.index,
            "updater_config": settings,
            "state": record.get("update_state", {}),
            "classes_added": list(self.data.new_classes),
            "chunk": {
                "train": len(self.data.train),
                "val": self.data.n_new_val,
                "test": len(self.data.test),
            },
            "buffer_size": int(buffer.get("size", 0)),
        }
        if self.drift is not None:
            update["drift"] = self.drift
        self.winner = self.save_weights(
            arrays,
            record["info"],
            experiment,
            record["params"],
            self.trainer_name,
            record["extra_metrics"],
            parent=self.base.parent,
            data_fingerprint=record["data_fingerprint"],
            updater=str(settings["name"]),
            update=update,
        )
        return self.restore(model_weights, record["info"], experiment.trainer_config)

    def version_aliases(self, metrics: Mapping[str, float]) -> list[str]:
        """``latest``; ``best`` passes from version N to N+1 (an update supersedes its
        parent: metrics measured on other data do not compare), or goes to the first
        version of a model."""
        aliases = ["latest"]
        if "best" in self.base.aliases:
            aliases.append("best")
        else:
            try:
                self.resource_version_control.get(f"{self.model_name}:best")
            except NotFoundError:
                aliases.append("best")
        return aliases


def _by_updater(
    training_params: Mapping[str, Mapping[str, Any]], updater: str, trainer: str
) -> dict[str, dict[str, Any]]:
    """``training_params`` keyed by updater: a key naming the trainer means ``updater``."""
    grid: dict[str, dict[str, Any]] = {}
    for key, params in training_params.items():
        name = updater if key == trainer else str(key)
        grid.setdefault(name, {}).update(dict(params or {}))
    return grid or {updater: {}}


def default_optimizer(
    space: SearchSpace, lineage: tuple[str, ...], epochs: int, budget: Mapping[str, Any]
) -> dict | None:
    """The optimizer config of an update that chose none: grid (None) over lists of
    values; for ranges RUSH, warm-started from the chain's earlier studies, with the
    trainer's epochs as the epoch budget (ASHA on the first update, which has none).
    ``budget``: budget keys the user set (``max_trials``, ``seed``, ...) carry over."""
    if space.finite:
        return None
    given = {key: value for key, value in budget.items() if value is not None}
    return {"max_epochs": epochs, **given, "name": "rush" if lineage else "asha"}


def update_study_name(
    model_name: str, base: UpdateBase, chunk_fingerprint: str, config: Mapping[str, Any]
) -> str:
    """``<model>-update-<8 hex>``: a hash of the parent, the chunk and the update's config,
    so that the same update run again resumes its study."""
    payload = {"parent": base.parent, "chunk": chunk_fingerprint, "config": config}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
    return f"{model_name}-update-{digest.hexdigest()[:8]}"


def fresh_base(trainer_config: Mapping[str, Any]) -> UpdateBase:
    """The base of a chain's first update: the trainer to build, nothing trained yet."""
    config = dict(trainer_config)
    return UpdateBase(trainer=str(config["name"]), trainer_config=config)


def update_tuner(
    *,
    base: UpdateBase,
    updater: Mapping[str, Any],
    data: DataSplits,
    model_name: str,
    trainer_overrides: Mapping[str, Any] | None = None,
    training_params: Mapping[str, Mapping[str, Any]] | None = None,
    optimizer: Any = None,
    budget: Mapping[str, Any] | None = None,
    study_name: str | None = None,
    study_config: Mapping[str, Any] | None = None,
    **tuner: Any,
) -> UpdateTuner:
    """A validated ``UpdateTuner`` for updating ``base`` on ``data`` (the chunk's splits).

    ``trainer_overrides`` change training keys of the parent's trainer config (lr,
    epochs, ...); ``optimizer`` is an ``Optimizer`` or None (``default_optimizer``,
    with the ``budget`` keys given);
    ``study_name`` defaults to ``update_study_name``; the rest goes to ``UpdateTuner``
    (trackers, vcs, backend, metrics, perf_metric, mode, home, view, plugin_manager).
    """
    from hyperplug.plugin_manager import get_plugin_manager

    manager = tuner.setdefault("plugin_manager", get_plugin_manager())
    trainer_config = {**base.trainer_config, **dict(trainer_overrides or {})}
    trainer_config["name"] = base.trainer
    name = str(updater["name"])
    grid = _by_updater(training_params or {}, name, base.trainer)
    space = SearchSpace.parse(grid)
    if optimizer is None:
        epochs = trainer_config.get("epochs")
        if epochs is None:
            spec = trainer_spec(manager, base.trainer)
            epochs = getattr(spec.config_class(), "epochs", None)
        default = default_optimizer(space, base.lineage, int(epochs or 1), budget or {})
        if default is not None:
            component, config = configure("optimizer", default, manager)
            optimizer = component.build(config)
    if (
        space.finite
        and len(space.grid()) == 1
        and getattr(tuner.get("backend"), "inline_single_trial", True)
    ):
        tuner["backend"] = None  # one trial: a worker process would only add its start-up
    config = {
        "updater": dict(updater),
        "trainer": trainer_config,
        "training_params": grid,
        "optimizer": getattr(getattr(optimizer, "config", None), "name", None),
    }
    metrics = list(tuner.pop("metrics", DEFAULT_METRICS))
    metrics += [name for name in UPDATE_METRICS if name not in metrics]
    result = UpdateTuner(
        base=base,
        metrics=metrics,
        updater=updater,
        training_params=grid,
        trainer_configs={base.trainer: trainer_config},
        optimizer=optimizer,
        model_name=model_name,
        study_name=study_name or update_study_name(model_name, base, data.fingerprint, config),
        study_config={**config, **dict(study_config or {})},
        **tuner,
    )
    result.validate()
    return result
