"""Running one trial where a backend puts it: in the study process or in a worker.

``load_recipe`` turns a ``DataRecipe`` into the study's data, once per process.
``execute_trial`` builds the trainer from its config, fits it with a reporter that hands
every epoch to ``report`` (the engine, directly or through a pipe) and stages the best
weights. An update trial (its ``algo`` an ``UpdatePlan``, its data ``UpdateData``)
restores the parent model instead and lets the updater train it; the updater's new state
is staged with the weights. A ``TrialJob`` (the sweeper's Hydra job) runs itself.
Whatever the trainer, updater or job raises becomes the trial's one-line error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from hyperplug.checkpoint import TrialCheckpoint
from hyperplug.config import configure, make_config
from hyperplug.data import DataSplits
from hyperplug.errors import ConfigError, DataError
from hyperplug.interfaces import (
    DataRecipe,
    ModelTrainer,
    TrialEnd,
    TrialJob,
    TrialTask,
    UpdateContext,
    UpdateState,
)
from hyperplug.plugin_manager import PluginManager, get_plugin_manager
from hyperplug.staging import stage
from hyperplug.trainers import restore_model, trainer_spec
from hyperplug.update_state import UpdateData, UpdatePlan, update_seed

ReportFn = Callable[[int, Mapping[str, float]], bool]

_RECIPE_CACHE: dict[str, Any] = {}


def load_recipe(recipe: DataRecipe) -> Any:
    """The recipe's data: handed over, cached, or built from the dataset and splitter
    configs (and checked against the fingerprint the study process computed). A backend
    calls it once per worker."""
    if recipe.data is not None:
        return recipe.data
    if recipe.fingerprint in _RECIPE_CACHE:
        return _RECIPE_CACHE[recipe.fingerprint]
    manager = get_plugin_manager()
    if recipe.dataset is None or recipe.splitter is None:
        raise DataError("a data recipe needs the data or the dataset and splitter configs")
    component, config = configure("dataset", recipe.dataset, manager)
    dataset = component.build(config).load()
    component, config = configure("splitter", recipe.splitter, manager)
    data = component.build(config).split_data(dataset)
    if data.fingerprint != recipe.fingerprint:
        raise DataError(
            f"dataset {recipe.dataset.get('name')!r} gave other data in a worker "
            f"(fingerprint {data.fingerprint[:12]} != {recipe.fingerprint[:12]})"
        )
    _RECIPE_CACHE.clear()
    _RECIPE_CACHE[recipe.fingerprint] = data
    return data


@attrs.define
class TrialReporter:
    """The ``Reporter`` a trainer calls every epoch."""

    perf_metric: str
    mode: str
    report: ReportFn
    epochs: int = 0
    #: where the trainer may keep the trial's state after each epoch (None: nowhere)
    checkpoint: TrialCheckpoint | None = None

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        self.epochs += 1
        return bool(self.report(int(epoch), {k: float(v) for k, v in metrics.items()}))


def first_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return text[0] if text else type(exc).__name__


def execute_trial(
    task: TrialTask,
    data: Any,
    report: ReportFn,
    manager: PluginManager,
    on_checkpoint: Callable[[Path], None] | None = None,
) -> tuple[TrialEnd, ModelTrainer | None]:
    """Train the task's trainer on ``data``; stage its best weights in ``task.stage_dir``.
    A ``TrialJob`` runs itself on ``data`` (what its study shares) and gives no model.
    ``on_checkpoint(directory)`` follows each checkpoint the trainer saves."""
    if isinstance(task.algo, TrialJob):
        try:
            return task.algo.run(task, data, report), None
        except Exception as exc:
            return TrialEnd(task.trial_id, first_line(exc)), None
    try:
        state = None
        if isinstance(task.algo, UpdatePlan):
            model, reporter, state = update_trainer(task, data, report, manager)
        else:
            model, reporter = fit_trainer(task, data, report, manager, on_checkpoint)
        resumed = reporter.checkpoint is not None and reporter.checkpoint.resumed_epoch
        if reporter.epochs == 0 and not resumed:
            return TrialEnd(task.trial_id, "the trainer reported no epoch"), None
        if task.stage_dir is not None:
            stage(Path(task.stage_dir), model, task.params, data, state)
    except Exception as exc:  # a failing trial is data, not a crash of the study
        return TrialEnd(task.trial_id, first_line(exc)), None
    return TrialEnd(task.trial_id, None, staged=task.stage_dir is not None), model


def fit_trainer(
    task: TrialTask,
    data: DataSplits,
    report: ReportFn,
    manager: PluginManager,
    on_checkpoint: Callable[[Path], None] | None = None,
) -> tuple[ModelTrainer, TrialReporter]:
    """Build the task's trainer from its config and fit it; whatever it raises propagates.
    The reporter carries the trial's checkpoint (in its stage directory) for trainers
    that keep one."""
    checkpoint = None
    if task.stage_dir is not None:
        checkpoint = TrialCheckpoint(task.stage_dir, on_checkpoint)
    reporter = TrialReporter(task.perf_metric, task.mode, report, checkpoint=checkpoint)
    spec = trainer_spec(manager, task.algo)
    config = make_config(spec.config_class, task.trainer_config, f"trainer {spec.name}")
    model = spec.factory(config)
    model.fit(data, reporter)
    return model, reporter


def update_trainer(
    task: TrialTask, data: DataSplits, report: ReportFn, manager: PluginManager
) -> tuple[ModelTrainer, TrialReporter, UpdateState]:
    """Restore the update's parent model (or build a fresh trainer for the first update),
    and let the plan's updater train it on the chunk; return the new updater state."""
    plan: UpdatePlan = task.algo
    if not isinstance(data, UpdateData):
        raise ConfigError("an update trial needs UpdateData (hyperplug.update_state)")
    base = data.base
    spec = trainer_spec(manager, plan.trainer)
    config = make_config(spec.config_class, task.trainer_config, f"trainer {spec.name}")
    if base.weights:
        trainer = restore_model(spec, config, base.weights, base.info)
    else:
        trainer = spec.factory(config)
    component, updater_config = configure("updater", plan.updater, manager)
    updater = component.build(updater_config)
    updater.check(trainer)
    reporter = TrialReporter(task.perf_metric, task.mode, report)
    seed = update_seed(getattr(config, "seed", 0), base.index)
    context = UpdateContext(base.index, seed, data.n_new_val, base.parent)
    state = updater.update(trainer, data, base.state, reporter, context)
    if not isinstance(state, UpdateState):
        kind = type(state).__name__
        raise TypeError(f"updater {component.name} returned {kind}, not UpdateState")
    return trainer, reporter, state
