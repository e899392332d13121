"""hyperplug-xgboost: the ``xgboost`` trainer and the ``xgboost_digits`` experiment.

Importing this module is cheap: xgboost is imported only when a trainer is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug_xgboost.config import XGBoostConfig

__all__ = [
    "HYPERPLUG_API",
    "XGBoostConfig",
    "build_trainer",
    "register_config_nodes",
    "register_trainers",
]

if TYPE_CHECKING:
    from hyperplug_xgboost.trainer import XGBoostTrainer

__version__ = "0.1.0"

#: the hyperplug hook API this plugin is built against (hyperplug.HOOK_API_VERSION)
HYPERPLUG_API = "1.0"

CONF = Path(__file__).parent / "conf"


def build_trainer(config: XGBoostConfig) -> XGBoostTrainer:
    from hyperplug_xgboost.trainer import XGBoostTrainer

    return XGBoostTrainer(config)


@hookimpl
def register_trainers() -> list[Component]:
    return [
        Component(
            kind="trainer",
            name="xgboost",
            factory=build_trainer,
            config_class=XGBoostConfig,
            description="Gradient-boosted trees on flattened inputs (XGBoost); "
            "an epoch is rounds_per_epoch boosting rounds.",
        )
    ]


@hookimpl
def register_config_nodes() -> list[tuple[str, str, Any]]:
    return [("experiment", "xgboost_digits", CONF / "experiment" / "xgboost_digits.yaml")]
