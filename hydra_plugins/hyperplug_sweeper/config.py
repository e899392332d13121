"""The sweeper's config, registered in Hydra's ConfigStore as ``hydra/sweeper: hyperplug``."""

# No ``from __future__ import annotations``: Hydra imports this module while scanning for
# plugins, and OmegaConf must resolve the dataclass's annotations at that point.
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from hydra.core.config_store import ConfigStore


@dataclass
class HyperplugSweeperConf:
    _target_: str = "hydra_plugins.hyperplug_sweeper.sweeper.HyperplugSweeper"
    #: grid, random, bo, tpe, asha, hyperband, bohb or rush (any installed optimizer)
    optimizer: str = "random"
    #: extra keys of the optimizer's config: grace_period, reduction_factor, seed, ...
    optimizer_config: Dict[str, Any] = field(default_factory=dict)
    #: trials the sweep tops up to (a resumed sweep counts the trials it already ran)
    n_trials: int = 10
    #: jobs running at once, each in its own long-lived worker process
    n_workers: int = 1
    #: the objective: a metric the app reports with hyperplug.report, or "objective" for
    #: the task function's return value; null: the app's perf_metric when its config has
    #: one (hyperplug's own app), else "objective"
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


ConfigStore.instance().store(
    group="hydra/sweeper", name="hyperplug", node=HyperplugSweeperConf, provider="hyperplug"
)
