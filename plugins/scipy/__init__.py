"""Built-in scenarios and drift detectors, on numpy and SciPy.

Scenarios cut a dataset into a stream of chunks (``class_incremental``, ``iid``,
``data_incremental``, ``rotation``, ``permutation``, ``feature_sorting``, ``hue_shift``);
detectors test whether new data differs from a model's data (``mmd``, ``ks``). SciPy is
imported only when a scenario cuts or a detector tests.
"""

from __future__ import annotations

from typing import Any

from hyperplug import hookimpl
from hyperplug.components import Component
from hyperplug.plugins.scipy.detector_configs import KSConfig, MMDConfig
from hyperplug.plugins.scipy.scenario_configs import (
    ClassIncrementalConfig,
    DataIncrementalConfig,
    FeatureSortingConfig,
    HueShiftConfig,
    IIDConfig,
    PermutationConfig,
    RotationConfig,
)

#: the extra this plugin needs; without it the plugin registers nothing
HYPERPLUG_EXTRA = "scipy"

#: scenario name -> (config class, class name in ``scenarios``, description)
SCENARIOS: dict[str, tuple[type, str, str]] = {
    "class_incremental": (
        ClassIncrementalConfig,
        "ClassIncremental",
        "Each chunk brings classes of its own.",
    ),
    "iid": (IIDConfig, "IID", "Rows dealt at random: every chunk from one distribution."),
    "data_incremental": (
        DataIncrementalConfig,
        "DataIncremental",
        "Rows in arrival order (or by a column such as a timestamp), cut into chunks.",
    ),
    "feature_sorting": (
        FeatureSortingConfig,
        "FeatureSorting",
        "Rows sorted by one feature (or brightness), cut into chunks.",
    ),
    "rotation": (RotationConfig, "Rotation", "Images rotated further in every chunk."),
    "permutation": (
        PermutationConfig,
        "Permutation",
        "Every chunk's features (pixels) in a random order of its own.",
    ),
    "hue_shift": (HueShiftConfig, "HueShift", "Colour images, every chunk's hue turned further."),
}

#: detector name -> (config class, class name in ``detectors``, description)
DETECTORS: dict[str, tuple[type, str, str]] = {
    "mmd": (MMDConfig, "MMD", "Kernel MMD two-sample test (RBF, median bandwidth, permutations)."),
    "ks": (KSConfig, "KS", "Kolmogorov-Smirnov test per feature, Bonferroni-Holm corrected."),
}


def build_scenario(config: Any) -> Any:
    from hyperplug.plugins.scipy import scenarios

    return getattr(scenarios, SCENARIOS[config.name][1])(config)


def build_detector(config: Any) -> Any:
    from hyperplug.plugins.scipy import detectors

    return getattr(detectors, DETECTORS[config.name][1])(config)


@hookimpl
def register_scenarios() -> list[Component]:
    return [
        Component("scenario", name, build_scenario, config_class, description)
        for name, (config_class, _, description) in SCENARIOS.items()
    ]


@hookimpl
def register_detectors() -> list[Component]:
    return [
        Component("detector", name, build_detector, config_class, description)
        for name, (config_class, _, description) in DETECTORS.items()
    ]
