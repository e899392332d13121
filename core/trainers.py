"""Resolving a trainer (a registered name or a ``ModelTrainer`` class) and its config.

A trainer's config class may also define two optional methods, which core calls where
it has no trainer instance yet (building one can import torch):

* ``check_data(self, data: DataSplits) -> None``: raise a ``HyperplugError`` (``DataError``)
  naming the key when this config cannot train on ``data`` (a channel count, a flat
  dataset for an image model). Called once per trial config known up front, before the
  first trial.
* ``for_restore(cls, node: dict, device: str | None) -> dict`` (a classmethod): the saved
  config ``node`` of a model version as it must be to restore the model on this machine,
  with only the version itself: drop what the training machine had (a pretrained weight
  file, a GPU) and use ``device`` when the caller asks for one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from hyperplug.config import make_config, to_plain
from hyperplug.data import DataSplits
from hyperplug.errors import ConfigError
from hyperplug.interfaces import ModelTrainer
from hyperplug.plugin_manager import PluginManager

Algo = str | type[ModelTrainer]


@attrs.frozen
class TrainerSpec:
    """How to build one trainer: its registered name, factory and config class."""

    name: str
    factory: Callable[[Any], ModelTrainer]
    config_class: type


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


def check_data(config: Any, data: DataSplits) -> None:
    """Run the config's optional ``check_data`` on ``data`` (see the module docstring)."""
    check = getattr(config, "check_data", None)
    if check is not None:
        check(data)


def restore_config(spec: TrainerSpec, saved: Mapping[str, Any], device: str | None = None) -> Any:
    """The validated config to restore a saved model of ``spec`` with, on this machine: the
    saved config through the config class's optional ``for_restore``. Without one, the
    saved config is used as it is and asking for a ``device`` is an error."""
    node = {**to_plain(saved), "name": spec.name}
    adapt = getattr(spec.config_class, "for_restore", None)
    if adapt is not None:
        node = adapt(node, device)
    elif device is not None:
        raise ConfigError(f"device={device!r}: trainer {spec.name} has no device to choose")
    return make_config(spec.config_class, node, "trainer")


def restore_model(spec: TrainerSpec, config: Any, weights: Any, info: Any) -> ModelTrainer:
    """A trained model back from staged or versioned arrays, through the trainer's
    ``restore`` (the factory may be a function, so its class comes from an instance); the
    arrays a version keeps besides the weights are left out."""
    from hyperplug.update_state import split_arrays

    return type(spec.factory(config)).restore(config, split_arrays(weights)[0], info)
