"""Every hook a hyperplug plugin can implement: the one place each is declared, typed and
described.

A plugin is a module named by an entry point in group ``hyperplug``. It implements
any of these hooks with the ``hyperplug.hookimpl`` marker. ``register_*`` hooks return
a list of ``hyperplug.components.Component``; the component's ``config_class`` becomes
a Hydra config group option automatically. Lifecycle hooks observe a study and must
not raise: an observer that fails is reported and the study goes on.

The docstrings are Markdown: docs/hooks.md's section of each hook is generated from its
signature and docstring (``python -m hyperplug.hookdocs docs/hooks.md`` rewrites them;
``tests/core/test_hooks_documented.py`` fails when they differ, or when a hook has no test
marked ``@pytest.mark.hooks("<name>")``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from hyperplug.components import Component
    from hyperplug.interfaces import ModelVersion, StudyRecord, TrialRecord

hookspec = pluggy.HookspecMarker("hyperplug")

ConfigNode = object | dict[str, Any] | str | Path
"""What ``register_config_nodes`` may give as a node: an attrs (or dataclass) instance, a
dict, or the path of a YAML file."""


@hookspec
def register_trainers() -> list[Component]:
    """`trainer` components. The factory returns a
    `hyperplug.interfaces.ModelTrainer`: `fit(data, report)` trains on `data.train`, evaluates
    on `data.val` every epoch and calls `report(epoch, {"train_loss": ..., "val_loss": ...,
    "val_accuracy": ...})`, stopping when `report` returns False; it keeps its best epoch's
    weights (by `report.perf_metric` and `report.mode`). `evaluate`, `predict`, `state_dict`,
    `model_info` and the classmethod `restore` complete it. Optional: `report.checkpoint`,
    where it keeps its state after each epoch so that an interrupted or retried trial goes
    on from there ([trainers.md](trainers.md#checkpoints)); `warm_up()`, called once in a
    fresh local worker on a trainer built with its default config, before the worker has
    data: do there what the first `fit` would otherwise pay for (the torch trainers import
    `torch._dynamo`, which `torch.optim` imports at an optimizer's first step). The factory
    itself should import the trainer's library: a worker builds each trainer of the search
    once, while the study process loads the data ([backends.md](backends.md)).

    The trainer's config class may define two optional methods, which hyperplug calls where
    building the trainer would be too early or too costly (it may import torch):

    - `check_data(self, data: DataSplits) -> None`: raise a `DataError` naming the key when
      this config cannot train on `data` (the torch image trainers check the channel count
      against `in_chans`, flat samples, and the image size against a ViT's patch size). The
      tuner calls it once for every trial config it can know up front (each grid point, each
      trainer's first values), before the first trial, so one line says what is wrong instead
      of every trial failing the same way.
    - `for_restore(cls, node: dict, device: str | None) -> dict`, a classmethod: the saved
      trainer config `node` of a model version, rewritten so the model can be restored on this
      machine from the version alone. `load_model`, a completed study and a sweep's winner go
      through it. The torch trainers drop `pretrained` (the saved weights replace those; the
      file may be gone) and choose the device: the caller's `device`, else the saved one if
      this machine has it, else `auto`; fp16 becomes fp32 on the CPU. Without the method the
      saved config is used as it is, and `load_model(..., device=...)` is an error."""


@hookspec
def register_datasets() -> list[Component]:
    """`dataset` components whose factory returns a
    `DatasetSource` with `load() -> hyperplug.data.Dataset` (use `Dataset.from_arrays`). Raise
    `hyperplug.errors.DataError` naming the file or key when the data cannot be read."""


@hookspec
def register_splitters() -> list[Component]:
    """`splitter` components whose factory returns a
    `DataSplitter` with `split_data(dataset) -> hyperplug.data.DataSplits` (train, val, test)."""


@hookspec
def register_trackers() -> list[Component]:
    """`tracker` components. The factory returns one
    object that is both a `MetadataTracker` (studies and trials: `start_study`, `end_study`,
    `start_trial`, `end_trial`, `get_study`, `list_studies`, `list_trials`) and a
    `MetricsTracker` (`log_metrics`, `get_metrics`). Several processes of one sweep may write
    to the same tracker at once. `reopen_trial(trial_id)` sets an ended trial running again
    with its metrics kept: a rerun continues interrupted trials and retries failed ones under
    their ids (without it, the rerun runs new trials instead)."""


@hookspec
def register_vcs() -> list[Component]:
    """`vcs` (version-control system) components whose
    factory returns a `ResourceVersionControl`: `save(name, weights, meta, aliases)` writes an
    immutable version atomically, `load(ref)` returns verified weights and metadata, plus `get`,
    `list_versions`, `set_alias`. Refs are `name`, `name:vN` or `name:<alias>`. Optional:
    `check_writable()`, called before a study trains anything, raises a `StorageError` when
    `save` cannot work (the local store writes and removes a 64 KiB probe in its root, so a
    full disk fails there; reading a store creates nothing); `find_version(name, study,
    trial_id)`, the version saved from a study's trial (a version is keyed by study and
    trial, so a promotion repeated after a crash saves nothing twice; the default scans
    `list_versions`)."""


@hookspec
def register_backends() -> list[Component]:
    """`backend` components whose factory returns a
    `Backend` (`start`, `free_slots`, `submit`, `poll`, `stop`, `shutdown`, and optionally
    `check` and `warm_up`): it runs `TrialTask`s and hands every epoch's report and every
    trial's end to the study engine (see [backends.md](backends.md#writing-a-backend)).
    Built in: `inline`, `local`, `ray` (the `[ray]` extra), `sagemaker` (the `[sagemaker]`
    extra). Studies, updates and the Hydra sweeper (`hydra.sweeper.backend`) all take their
    backend from this registry."""


@hookspec
def register_optimizers() -> list[Component]:
    """`optimizer` components, the search strategies
    that decide which trial runs next and whether a running trial goes on. The factory
    returns an `Optimizer` (`budget()`, `search(context) -> Search`); see
    [optimizers.md](optimizers.md). Built in: `grid` (plugin `grid`), and `random`, `bo`,
    `tpe`, `asha`, `hyperband`, `bohb`, `rush` (plugin `synetune`)."""


@hookspec
def register_updaters() -> list[Component]:
    """`updater` components, the ways a saved model is
    retrained on new data. The factory returns a `hyperplug.interfaces.Updater`
    (`check(trainer)`, `update(trainer, data, state, report, context) -> UpdateState`); its
    config class subclasses `UpdaterConfig`. See [updates.md](updates.md#writing-an-updater).
    Built in (plugin `torch`): `fine_tuning`, `joint`, `er`, `der`, `offline_er`, `gdumb`,
    `ewc`, `lwf`."""


@hookspec
def register_scenarios() -> list[Component]:
    """`scenario` components, which cut a dataset into
    a stream of chunks to simulate a model's updates (`hyperplug scenario=class_incremental
    updater=er`). The factory returns a `hyperplug.interfaces.Scenario` whose
    `chunks(dataset) -> list[Dataset]` gives the chunks in arrival order, seeded; see
    [updates.md](updates.md#simulating-a-stream). Built in (plugin `scipy`):
    `class_incremental`, `iid`, `data_incremental`, `rotation`, `permutation`,
    `feature_sorting`, `hue_shift`."""


@hookspec
def register_detectors() -> list[Component]:
    """`detector` components, two-sample tests of new
    data against the data a model version was trained on (`hyperplug drift`). The factory
    returns a `hyperplug.interfaces.DriftDetector` whose `test(reference, new) -> DriftResult`
    gives a statistic and a p-value; see [updates.md](updates.md#is-the-data-shifting).
    Built in (plugin `scipy`): `mmd`, `ks`."""


@hookspec
def register_config_nodes() -> list[tuple[str, str, ConfigNode]]:
    """Extra Hydra config nodes as
    `(group, name, node)`; `node` is an attrs instance, a dict, or the path of a YAML file. Use
    it for presets (`("trainer", "mlp_wide", {...})`) and ready-made studies
    (`("experiment", "my_study", "path/to/my_study.yaml")`, used as `+experiment=my_study`;
    start such a YAML with `# @package _global_`). A component's own defaults need no node."""


@hookspec
def on_study_start(study: StudyRecord, config: Mapping[str, Any]) -> None:
    """Once when a study starts or resumes; `study` is the
    `StudyRecord`, `config` the composed config as plain dicts."""


@hookspec
def on_trial_start(study: StudyRecord, trial: TrialRecord) -> None:
    """When a trial starts; `trial` is its new `TrialRecord`
    (status `running`, its `params` and full `trainer_config`)."""


@hookspec
def on_trial_report(
    study: StudyRecord,
    trial: TrialRecord,
    epoch: int,
    metrics: Mapping[str, float],
) -> None:
    """After every epoch a trial reports, once
    the metrics tracker has recorded `metrics` (a dict of floats)."""


@hookspec
def on_trial_end(study: StudyRecord, trial: TrialRecord) -> None:
    """When a trial ends; the `TrialRecord` has its final `status`
    (`completed`, `stopped` or `failed`), `error` (the reason of a failure) and `metrics`
    (those of its best epoch)."""


@hookspec
def on_study_end(study: StudyRecord, winner: ModelVersion | None) -> None:
    """When a study ends; `winner` is the saved `ModelVersion`,
    or None when no trial reached the perf_metric."""
