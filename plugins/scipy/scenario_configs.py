"""Configs of the scenarios (no SciPy import here: the plugin registers them at import).

Every scenario cuts the dataset into ``n_chunks`` chunks with a ``seed`` of its own; the
same config and dataset always give the same chunks.
"""

from __future__ import annotations

from typing import Any, Optional

import attrs

from hyperplug.validators import integer, non_negative, require

# Optional[...] rather than `X | None`: OmegaConf reads these annotations as strings.

_at_least_two = require(
    lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 2, "an integer >= 2"
)


def _groups(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is None:
        return
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(group, list) and group for group in value)
    ):
        raise ValueError(
            f"{attribute.name} must be a list of non-empty lists of class names, got {value!r}"
        )


def _angles(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is None:
        return
    numbers = isinstance(value, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    )
    if not numbers or not value:
        raise ValueError(f"{attribute.name} must be a list of numbers, got {value!r}")


@attrs.define
class ScenarioConfig:
    name: str = "iid"
    n_chunks: int = attrs.field(default=5, validator=_at_least_two)
    seed: int = attrs.field(default=0, validator=integer)


@attrs.define
class ClassIncrementalConfig(ScenarioConfig):
    """Each chunk brings classes of its own: ``groups`` (lists of class names, one list a
    chunk; its length is the chunk count), or the classes in order cut into ``n_chunks``
    groups as equal as possible."""

    name: str = "class_incremental"
    groups: Optional[list[list[Any]]] = attrs.field(default=None, validator=_groups)  # noqa: UP045


@attrs.define
class IIDConfig(ScenarioConfig):
    """Rows dealt at random into ``n_chunks`` chunks of one distribution."""

    name: str = "iid"


@attrs.define
class DataIncrementalConfig(ScenarioConfig):
    """Rows in arrival order (the dataset's order, or sorted by ``column``: a numeric
    feature such as a timestamp) cut into ``n_chunks`` consecutive chunks."""

    name: str = "data_incremental"
    column: Optional[str] = None  # noqa: UP045


@attrs.define
class FeatureSortingConfig(ScenarioConfig):
    """Rows sorted by one feature's value (``feature``: its index in the flattened row;
    null: the row's mean, e.g. an image's brightness) and cut into consecutive chunks."""

    name: str = "feature_sorting"
    feature: Optional[int] = attrs.field(  # noqa: UP045
        default=None,
        validator=attrs.validators.optional(
            require(
                lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
                "an integer >= 0 or null",
            )
        ),
    )


@attrs.define
class RotationConfig(ScenarioConfig):
    """Images dealt at random into chunks, chunk k rotated by ``degrees[k]`` (default:
    0 to ``max_degrees`` in even steps)."""

    name: str = "rotation"
    degrees: Optional[list[float]] = attrs.field(default=None, validator=_angles)  # noqa: UP045
    max_degrees: float = attrs.field(default=90.0, validator=non_negative)


@attrs.define
class PermutationConfig(ScenarioConfig):
    """Rows dealt at random into chunks; every chunk after the first has its features
    (an image's pixels) in a fixed random order of its own."""

    name: str = "permutation"


@attrs.define
class HueShiftConfig(ScenarioConfig):
    """Colour images dealt at random into chunks, chunk k's hue turned by k/n_chunks of
    the colour wheel."""

    name: str = "hue_shift"
