"""Optimizers on Syne Tune 0.16: random, bo, tpe, asha, hyperband, bohb, rush.

Importing this plugin does not import syne_tune: schedulers are built when a study runs.
"""

from __future__ import annotations

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug.plugins.synetune.configs import (
    ASHAConfig,
    BOConfig,
    BOHBConfig,
    HyperbandConfig,
    RandomConfig,
    RUSHConfig,
    TPEConfig,
)
from hyperplug.plugins.synetune.optimizers import SyneTuneOptimizer

#: the extra this plugin needs; without it the plugin registers nothing
HYPERPLUG_EXTRA = "synetune"

OPTIMIZERS = (
    ("random", RandomConfig, "random search (Syne Tune RandomSearch)"),
    ("bo", BOConfig, "Gaussian-process Bayesian optimisation (Syne Tune BOTorch)"),
    ("tpe", TPEConfig, "tree-Parzen estimator (Syne Tune TPE)"),
    ("asha", ASHAConfig, "asynchronous successive halving: stops poor trials early"),
    ("hyperband", HyperbandConfig, "asynchronous Hyperband: ASHA over several brackets"),
    ("bohb", BOHBConfig, "ASHA with a TPE-like model proposing configs (Syne Tune BOHB)"),
    ("rush", RUSHConfig, "ASHA warm-started from a reference study, with its hurdles"),
)


@hookimpl
def register_optimizers() -> list[Component]:
    return [
        Component(
            kind="optimizer",
            name=name,
            factory=SyneTuneOptimizer,
            config_class=config_class,
            description=description,
        )
        for name, config_class, description in OPTIMIZERS
    ]
