"""Configs of the built-in drift detectors (numpy- and SciPy-free: the plugin registers
them at import time).

Every detector tests at level ``alpha`` (a shift is a p-value below it), draws its
randomness from ``seed`` (the same config and data give the same result) and tests at
most ``max_rows`` rows of each side, a random subset of a larger one.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import attrs

from hyperplug.validators import (
    integer,
    is_int,
    non_negative_int,
    open_fraction,
    positive,
    positive_int,
    require,
)

# Optional[...] rather than `X | None`: OmegaConf reads these annotations as strings.


@attrs.define
class DetectorConfig:
    """What every built-in detector has: the level, the seed, the row budget."""

    name: str = "mmd"
    alpha: float = attrs.field(default=0.05, validator=open_fraction)
    seed: int = attrs.field(default=0, validator=integer)
    max_rows: int = attrs.field(
        default=10_000, validator=require(lambda v: is_int(v) and v >= 2, "an integer >= 2")
    )


def _enough_permutations(instance: Any, attribute: Any, value: Any) -> None:
    """A permutation test's smallest p-value is 1/(permutations+1): it must be able to
    fall below ``alpha``, or the test could never find a shift."""
    positive_int(instance, attribute, value)
    needed = math.floor(1 / instance.alpha)
    if value < needed:
        raise ValueError(
            f"{attribute.name} must be at least {needed} for alpha={instance.alpha} (the "
            f"smallest p-value of a permutation test is 1/(permutations+1)), got {value!r}"
        )


def _optional_positive(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None:
        positive(instance, attribute, value)


@attrs.define
class MMDConfig(DetectorConfig):
    """Kernel maximum mean discrepancy with an RBF kernel: ``bandwidth`` null takes the
    median distance between pooled rows; the kernel is approximated by
    ``random_features`` random Fourier features and the p-value is a permutation test
    with ``permutations`` random relabellings. ``threads``: the BLAS threads its matrix
    products use (0: the BLAS library's default); one thread is the fastest on a machine
    whose cores are busy, where BLAS threads wait for each other."""

    name: str = "mmd"
    permutations: int = attrs.field(default=200, validator=_enough_permutations)
    random_features: int = attrs.field(default=256, validator=positive_int)
    bandwidth: Optional[float] = attrs.field(default=None, validator=_optional_positive)  # noqa: UP045
    threads: int = attrs.field(default=1, validator=non_negative_int)


@attrs.define
class KSConfig(DetectorConfig):
    """A two-sample Kolmogorov-Smirnov test per feature, Bonferroni-Holm corrected:
    ``report`` features at most are listed among those that moved (the most moved
    first)."""

    name: str = "ks"
    report: int = attrs.field(default=20, validator=non_negative_int)
