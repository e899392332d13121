"""The sweeper's config, registered in Hydra's ConfigStore as ``hydra/sweeper: hyperplug``."""

# No ``from __future__ import annotations``: Hydra imports this module while scanning for
# plugins, and OmegaConf must resolve the dataclass's annotations at that point.
from dataclasses import dataclass, field
from importlib.util import find_spec
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore

#: the Optuna sweeper's samplers: ``hydra/sweeper/sampler=tpe`` composes (into a node that
#: only says which hyperplug key to use) instead of failing without a hint. Registered
#: only when hydra-optuna-sweeper is not installed: its own nodes have these names (and
#: the sweeper recognises them by their ``_target_``).
OPTUNA_SAMPLERS = ("tpe", "random", "grid", "cmaes", "nsgaii", "motpe", "qmc", "partial_fixed")


@dataclass
class OptunaSamplerHint:
    #: the Optuna sampler asked for with hydra/sweeper/sampler=NAME (null: none)
    optuna: Optional[str] = None
    #: Optuna's hydra.sweeper.sampler.seed
    seed: Optional[Any] = None


@dataclass
class HyperplugSweeperConf:
    _target_: str = "hydra_plugins.hyperplug_sweeper.sweeper.HyperplugSweeper"
    defaults: List[Any] = field(
        default_factory=lambda: ["_self_", {"sampler": "none"}, {"optimizer": None}]
    )
    #: the optimizer, chosen as a config group: hydra/sweeper/optimizer=asha gives its
    #: typed settings (hydra.sweeper.optimizer.grace_period=2, .seed=3, ...; any
    #: installed optimizer: grid, random, bo, tpe, asha, hyperband, bohb, rush, ...);
    #: hydra.sweeper.optimizer=asha names one with its defaults; null: grid when every
    #: swept key is a list of values (a,b / choice / range / glob), as Hydra's basic
    #: sweeper runs them, else random
    optimizer: Any = None
    #: jobs the sweep tops up to (a resumed sweep counts the jobs it already ran);
    #: null: every point for grid, 10 for any other optimizer
    n_trials: Optional[int] = None
    #: jobs running at once, each in its own long-lived worker (the backend's n_workers)
    n_workers: int = 1
    #: where the jobs run: any installed backend (local, inline, ray, ...)
    backend: str = "local"
    #: more keys of the backend's config: threads_per_worker (local), address and
    #: resources_per_trial (ray), ...
    backend_config: Dict[str, Any] = field(default_factory=dict)
    #: the objective: a metric the app reports with hyperplug.report or returns in a
    #: dict, or "objective" for a number the task function returns; null: the app's
    #: perf_metric when its config has one (hyperplug's own app), else "objective"
    metric: Optional[str] = None
    #: min or max; null: the app's mode for its perf_metric, min for "objective", else
    #: min for a metric named like a loss or an error and max for any other
    mode: Optional[str] = None
    #: the epoch budget of one trial (required by asha, hyperband, bohb and rush)
    max_epochs: Optional[int] = None
    #: the sweep ends with an error once more trials than this have failed
    max_failures: int = 3
    #: for rush: the study whose best trials warm-start this one
    reference_study: Optional[str] = None
    #: the study in the tracker; null: named after the sweep directory
    study: Optional[str] = None
    #: the SQLite tracker the sweep records into
    tracker_path: str = ".hyperplug/hyperplug.db"
    #: the search space: key -> Hydra sweep expression, e.g. lr: tag(log, interval(1e-4, 1))
    params: Dict[str, str] = field(default_factory=dict)
    #: module.function returning a hyperplug.sweep.CustomSpace: more of the space, defined
    #: in Python (derived and conditional parameters)
    search_space: Optional[str] = None
    # The Optuna sweeper's keys: set, each is a one-line error naming hyperplug's key.
    direction: Optional[Any] = None
    n_jobs: Optional[Any] = None
    study_name: Optional[Any] = None
    storage: Optional[Any] = None
    max_failure_rate: Optional[Any] = None
    custom_search_space: Optional[Any] = None
    sampler: Any = None


store = ConfigStore.instance()
store.store(
    group="hydra/sweeper", name="hyperplug", node=HyperplugSweeperConf, provider="hyperplug"
)
store.store(
    group="hydra/sweeper/sampler", name="none", node=OptunaSamplerHint, provider="hyperplug"
)
if find_spec("hydra_plugins.hydra_optuna_sweeper") is None:
    for _name in OPTUNA_SAMPLERS:
        store.store(
            group="hydra/sweeper/sampler",
            name=_name,
            node=OptunaSamplerHint(optuna=_name),
            provider="hyperplug",
        )
