"""The Python API's conveniences: build a registered component, load a model version,
update a model version on new data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hyperplug.config import (
    DEFAULT_METRICS,
    DEFAULT_SPACE,
    configure,
    default_search_space,
    to_plain,
)
from hyperplug.data import Dataset, DataSplits
from hyperplug.errors import ConfigError
from hyperplug.interfaces import (
    Backend,
    DriftDetector,
    ModelTrainer,
    Optimizer,
    ResourceVersionControl,
)
from hyperplug.plugin_manager import get_plugin_manager
from hyperplug.trainers import restore_config, restore_model, trainer_spec
from hyperplug.update_state import split_arrays

if TYPE_CHECKING:
    from hyperplug.drift import UpdateSkipped
    from hyperplug.study import StudyResult


def build(kind: str, **config: Any) -> Any:
    """Build the ``kind`` component named ``config['name']`` with the other keys as its
    config, validated as on the command line: ``build("tracker", name="sqlite", path=...)``."""
    component, validated = configure(kind, config, get_plugin_manager())
    return component.build(validated)


def load_model(
    ref: str,
    vcs: ResourceVersionControl | None = None,
    device: str | None = None,
    **vcs_config: Any,
) -> ModelTrainer:
    """A working trained model from a version ref (``name``, ``name:v3``, ``name:best``).

    ``vcs`` defaults to the local store, configured by ``vcs_config`` (e.g. ``root=...``).
    Only the version itself is needed: what the training machine had (a pretrained weight
    file, a GPU) is not looked for. The model goes on ``device`` (``cpu``, ``cuda``, ...)
    when given, else on the device it trained on if this machine has it, else on the
    best one here.
    """
    if vcs is None:
        vcs = build("vcs", **{"name": "store", **vcs_config})
    arrays, version = vcs.load(ref)
    spec = trainer_spec(get_plugin_manager(), version.meta.trainer)
    config = restore_config(spec, version.meta.trainer_config, device)
    # a version's arrays also hold what it keeps for its next update: not weights
    return restore_model(spec, config, split_arrays(arrays)[0], version.meta.info)


def update(
    data: DataSplits | Dataset,
    *,
    model: str | None = None,
    updater: str | Mapping[str, Any] = "er",
    trainer: str | Mapping[str, Any] = "mlp",
    model_name: str | None = None,
    training_params: Mapping[str, Mapping[str, Any]] | str | None = None,
    optimizer: Optimizer | Mapping[str, Any] | None = None,
    backend: Backend | None = None,
    tracker: Any = None,
    vcs: ResourceVersionControl | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    perf_metric: str = "val_accuracy",
    mode: str | None = None,
    study: str | None = None,
    home: str | Path = ".hyperplug",
    splitter: str | Mapping[str, Any] = "stratified",
    detector: str | Mapping[str, Any] | DriftDetector | None = None,
) -> StudyResult | UpdateSkipped:
    """Turn model version ``model`` (``name``, ``name:vN``, ``name:alias``) and a chunk of
    new data into the model's next version, without Hydra.

    ``data`` is the chunk: ``DataSplits``, or a ``Dataset`` split by ``splitter``.
    ``model=None`` starts a chain: ``trainer`` (a name or a config mapping) is trained
    from scratch and saved as a version of ``model_name``. With a model, ``trainer``
    may be a mapping of training keys that change for this update (``{"lr": 1e-4}``);
    the new version goes to the same model name unless ``model_name`` says another.
    ``updater`` is a name or a config mapping (``{"name": "er", "memory_size": 200}``);
    ``training_params`` tunes the update (``{"er": {"lr": [1e-3, 1e-4]}}``, or
    ``"default"``: the updater's own search space) with ``optimizer``: an ``Optimizer``,
    a config mapping, or None (grid over lists; over ranges RUSH warm-started from the
    model's lineage, ASHA on a chain's first update); a mapping without ``name`` gives
    budget keys (``{"max_trials": 8}``) to the optimizer the update picks. ``tracker``
    and ``vcs`` default to the SQLite file and model store under ``home``, like the
    command line. Returns the study's result; ``winner`` is the new version.
    ``detector`` (a name, a config mapping or a ``DriftDetector``) tests the chunk
    against the model's data first: with no shift nothing is trained or written and the
    call returns ``UpdateSkipped``; with one the new version records the test
    (``winner.meta.update["drift"]``).
    """
    from hyperplug.drift import UpdateSkipped, detect_shift, drift_record, make_detector
    from hyperplug.study import result_of
    from hyperplug.update_chain import fresh_base, update_tuner
    from hyperplug.update_state import load_base

    home = Path(home)
    manager = get_plugin_manager()
    if isinstance(data, Dataset):
        data = build("splitter", **_node(splitter)).split_data(data)
    vcs = vcs or build("vcs", name="store", root=str(home / "models"))
    updater_component, updater_settings = configure("updater", _node(updater), manager)
    updater_config = to_plain(updater_settings)
    if training_params == DEFAULT_SPACE:
        training_params = {updater_config["name"]: default_search_space(updater_component)}
    if model is None:
        trainer_config = to_plain(configure("trainer", _node(trainer), manager)[1])
        base, overrides = fresh_base(trainer_config), {}
        name = model_name or "model"
    else:
        base = load_base(vcs, model)
        overrides = {k: v for k, v in _node(trainer).items() if k != "name"}
        if isinstance(trainer, Mapping) and trainer.get("name", base.trainer) != base.trainer:
            raise ConfigError(
                f"trainer: model {base.parent} was trained with trainer={base.trainer}, "
                f"not {trainer['name']}"
            )
        name = model_name or str(base.parent).split(":", 1)[0]
    tested = None
    if detector is not None:
        tester = make_detector(detector)
        if model is None:
            raise ConfigError(
                "detector: there is no model to test the chunk against (model=None starts a "
                "chain); leave detector out of a chain's first update"
            )
        tested = detect_shift(tester, vcs, model, data, where="data")
        if not tested[0].shift:
            return UpdateSkipped(tested[1], tested[0])
    budget: Mapping[str, Any] = {}
    if isinstance(optimizer, Mapping) and "name" not in optimizer:
        budget, optimizer = optimizer, None  # budget keys for the optimizer the update picks
    elif isinstance(optimizer, Mapping):
        optimizer = build("optimizer", **optimizer)
    own_tracker = tracker is None  # close only what this call opened
    tracker = tracker or build("tracker", name="sqlite", path=str(home / "hyperplug.db"))
    try:
        tuner = update_tuner(
            base=base,
            updater=updater_config,
            data=data,
            model_name=name,
            trainer_overrides=overrides,
            training_params=training_params,
            optimizer=optimizer,
            budget=budget,
            study_name=study,
            metadata_tracker=tracker,
            metrics_tracker=tracker,
            resource_version_control=vcs,
            backend=backend,
            metrics=metrics,
            perf_metric=perf_metric,
            mode=mode,
            home=home,
            plugin_manager=manager,
        )
        if tested is not None:
            tuner.drift = drift_record(*tested)
        model_object = tuner.run_experiment(data)
    finally:
        if own_tracker:
            tracker.close()
    return result_of(tuner, model_object)


def _node(value: str | Mapping[str, Any]) -> dict[str, Any]:
    """A component given by name or by config mapping, as a config node."""
    return {"name": value} if isinstance(value, str) else dict(value)
