"""Turning a composed config into validated settings and component configs.

Component configs are attrs classes; OmegaConf checks types when a node is merged
into the class's schema, and attrs validators run at ``OmegaConf.to_object``. Both
kinds of failure become one-line ``ConfigError``s naming the key, before any trial
starts.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import attrs
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from hyperplug.components import KINDS, Component
from hyperplug.errors import ConfigError, did_you_mean
from hyperplug.plugin_manager import PluginManager

MODES = ("max", "min")
#: model and study names: safe as file and directory names in any store
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
DEFAULT_METRICS = ("train_loss", "val_loss", "val_accuracy")
#: the top-level keys of the composed config besides the component groups (``KINDS``)
STUDY_KEYS = (
    "study",
    "model_name",
    "model",
    "perf_metric",
    "mode",
    "metrics",
    "training_params",
    "home",
)
#: words in a metric's name that mean lower is better (when ``mode`` is not given)
_LOWER_IS_BETTER = re.compile(r"loss|error|mse|mae|rmse|perplexity|nll", re.IGNORECASE)


def default_mode(perf_metric: str) -> str:
    """``min`` for a metric named like a loss or an error, else ``max``: what a user who
    left ``mode`` out means (``perf_metric=val_loss`` must not pick the worst trial)."""
    return "min" if _LOWER_IS_BETTER.search(perf_metric) else "max"


def improves(value: float, best: float | None, mode: str) -> bool:
    """Whether ``value`` beats ``best`` (None: nothing yet) in direction ``mode``; NaN
    never does."""
    if math.isnan(value):
        return False
    return best is None or (value > best if mode == "max" else value < best)


def resolve_mode(mode: str | None, perf_metric: str) -> str:
    if mode is None:
        return default_mode(perf_metric)
    if mode not in MODES:
        raise ConfigError(f"mode must be 'max', 'min' or null, got {mode!r}")
    return mode


def to_plain(value: Any) -> Any:
    """Resolve OmegaConf containers (and attrs configs) into plain dicts and lists."""
    if isinstance(value, DictConfig | ListConfig):
        return OmegaConf.to_container(value, resolve=True)
    if attrs.has(type(value)):
        return attrs.asdict(value)
    return value


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


#: configs validated before, by (class, node as JSON): OmegaConf's merge and conversion
#: cost ~10 ms a call, and a study validates the same trial config several times
_VALIDATED: dict[tuple[type, str], Any] = {}
_VALIDATED_MAX = 512


def make_config(config_class: type, node: Mapping[str, Any] | None, where: str) -> Any:
    """An instance of ``config_class`` with ``node``'s values, validated.

    ``where`` is the config path of the node (``trainer``, ``training_params.mlp``) and
    prefixes every error so the user sees which key is wrong. Each call returns a new
    instance (a node validated before is copied, not validated again).
    """
    try:
        key = (config_class, json.dumps(to_plain(node or {}), sort_keys=True))
    except (TypeError, ValueError):
        key = None  # not JSON: validate it every time
    if key is not None and key in _VALIDATED:
        return copy.deepcopy(_VALIDATED[key])
    config = _validated(config_class, node, where)
    if key is not None:
        if len(_VALIDATED) >= _VALIDATED_MAX:
            _VALIDATED.clear()
        _VALIDATED[key] = copy.deepcopy(config)
    return config


def _validated(config_class: type, node: Mapping[str, Any] | None, where: str) -> Any:
    try:
        # an instance: a class with attrs.Factory defaults does not convert
        schema = OmegaConf.structured(config_class())
        merged = OmegaConf.merge(schema, node or {})
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None)
        message = _first_line(exc)
        if "not in" in message and key:
            known = [f.name for f in attrs.fields(config_class)]
            message = f"unknown key{did_you_mean(str(key), known)}; known keys: {', '.join(known)}"
        raise ConfigError(f"{where}.{key}: {message}" if key else f"{where}: {message}") from exc
    except (ValueError, TypeError) as exc:
        raise ConfigError(_with_path(_first_line(exc), where, config_class)) from exc


def _with_path(message: str, where: str, config_class: type) -> str:
    """Put the config path in front of a validator's message: ``lr must be > 0`` becomes
    ``trainer.lr must be > 0``; a message that already starts with a group name (``trainer.lr``)
    gets ``where`` instead, so a grid point's error reads ``training_params.mlp.lr ...``."""
    for kind in KINDS:
        if message.startswith(f"{kind}.") and message.split(".", 1)[1].split(" ", 1)[0] in {
            f.name for f in attrs.fields(config_class)
        }:
            message = message.split(".", 1)[1]
            break
    first_word = message.split(" ", 1)[0]
    if first_word in {f.name for f in attrs.fields(config_class)}:
        return f"{where}.{message}"
    return message if message.startswith(where) else f"{where}: {message}"


def configure(kind: str, node: Mapping[str, Any], manager: PluginManager) -> tuple[Component, Any]:
    """Find the ``kind`` component a config node names and validate the node against it."""
    node = to_plain(node)
    if not isinstance(node, Mapping) or "name" not in node:
        raise ConfigError(f"{kind}: expected a config with a 'name' key, got {node!r}")
    component = manager.registry.get(kind, str(node["name"])).component
    return component, make_config(component.config_class, node, kind)


@attrs.frozen
class StudySettings:
    """The top-level keys of the composed config that describe the study."""

    model_name: str
    perf_metric: str
    mode: str
    metrics: tuple[str, ...]
    training_params: dict[str, dict[str, Any]]
    study: str | None = None
    home: str = ".hyperplug"
    #: ``training_params=default``: search the component's own default space
    default_space: bool = False

    @property
    def maximize(self) -> bool:
        return self.mode == "max"


#: ``training_params=default``: the trainer's (an update: the updater's) own search space
DEFAULT_SPACE = "default"


def default_search_space(component: Component) -> dict[str, Any]:
    """The search space a trainer or updater declares (``search_space`` on its config
    class), for ``training_params=default``."""
    space = getattr(component.config_class, "search_space", None)
    if not space:
        raise ConfigError(
            f"training_params=default: {component.kind} {component.name} declares no default "
            f"search space; give training_params.{component.name}.<param>=<values or range>"
        )
    return dict(space)


def _check_training_params(raw: Any) -> dict[str, dict[str, Any]]:
    """The shape of ``training_params`` (trainer -> {param: spec}); the specs themselves
    are parsed by ``hyperplug.search_space``."""
    from hyperplug.search_space import SearchSpace

    if raw is None or raw == DEFAULT_SPACE:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"training_params must map trainer names to {{param: spec}} (or be 'default': "
            f"the trainer's own search space), got {raw!r}"
        )
    grid: dict[str, dict[str, Any]] = {}
    for trainer, params in raw.items():
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise ConfigError(
                f"training_params.{trainer} must map params to values, lists or ranges, "
                f"got {params!r}"
            )
        grid[str(trainer)] = {str(key): spec for key, spec in params.items()}
    SearchSpace.parse(grid)
    return grid


def study_settings(cfg: Mapping[str, Any]) -> StudySettings:
    """Validate the study keys of a composed config (a DictConfig or a plain mapping)."""
    cfg = to_plain(cfg)
    known = (*KINDS, *STUDY_KEYS, "hydra")
    for key in cfg:
        # a key of the user's own (``+data_root=...`` for interpolations) is fine; one
        # that is nearly a known key is a typo that would silently change nothing
        hint = did_you_mean(str(key), known, cutoff=0.8) if key not in known else ""
        if hint:
            raise ConfigError(
                f"{key}: unknown top-level key{hint} "
                f"(the keys are {', '.join(STUDY_KEYS)} and the groups {', '.join(KINDS)})"
            )
    metrics = cfg.get("metrics", list(DEFAULT_METRICS))
    if isinstance(metrics, str) or not all(isinstance(m, str) for m in metrics or [None]):
        raise ConfigError(f"metrics must be a non-empty list of metric names, got {metrics!r}")
    perf_metric = cfg.get("perf_metric", "val_accuracy")
    if perf_metric not in metrics:
        raise ConfigError(
            f"perf_metric '{perf_metric}' is not among metrics [{', '.join(metrics)}]"
            f"{did_you_mean(str(perf_metric), metrics)}"
        )
    mode = resolve_mode(cfg.get("mode"), perf_metric)
    model_name = cfg.get("model_name") or "model"
    study = cfg.get("study")
    for key, value in (("model_name", model_name), ("study", study)):
        if value is not None and (not isinstance(value, str) or not NAME_PATTERN.match(value)):
            raise ConfigError(
                f"{key} must be letters, digits, '.', '_' or '-' (not starting with a symbol), "
                f"got {value!r}"
            )
    return StudySettings(
        model_name=model_name,
        perf_metric=perf_metric,
        mode=mode,
        metrics=tuple(metrics),
        training_params=_check_training_params(cfg.get("training_params")),
        default_space=cfg.get("training_params") == DEFAULT_SPACE,
        study=study,
        home=str(cfg.get("home") or ".hyperplug"),
    )
