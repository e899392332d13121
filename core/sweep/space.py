"""Hydra's sweep grammar as a hyperplug ``SearchSpace``, and suggested params back as overrides.

The swept keys are the params of one pseudo-trainer, ``app`` (the Hydra app), so every
registered optimizer works unchanged.

| Hydra override                      | dimension                          |
| ----------------------------------- | ---------------------------------- |
| ``choice(a, b)`` / ``a,b``          | ``Choice((a, b))``                 |
| ``range(2, 6)`` (int, step 1)       | ``randint(2, 5)`` (stop exclusive) |
| ``range(0.1, 0.5, 0.1)``, int steps | ``Choice`` of its values           |
| ``tag(log, range(1, 9))``           | ``lograndint(1, 8)``               |
| ``interval(a, b)``                  | ``uniform(a, b)``                  |
| ``tag(log, interval(a, b))``        | ``loguniform(a, b)``               |
| ``int(interval(a, b))`` (+ ``log``) | ``randint`` / ``lograndint``       |
| ``shuffle(...)``                    | ``Choice`` of its values           |

Anything else is a fixed override passed to every job unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from hyperplug.errors import ConfigError
from hyperplug.search_space import Choice, Dimension, Range, SearchSpace

#: the pseudo-trainer whose params are the swept keys
APP = "app"

PLAIN = re.compile(r"^[A-Za-z0-9_./:+-]+$")


def encode(value: Any) -> str:
    """A value as a Hydra override value that parses back to the same value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if PLAIN.match(value) and value.lower() not in ("null", "true", "false"):
            return value
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, Sequence):
        return "[" + ",".join(encode(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{encode(v)}" for k, v in value.items()) + "}"
    raise ConfigError(f"cannot write {value!r} as a Hydra override value")


def _dimension(key: str, override: Any) -> Dimension:
    """The dimension of one sweep override."""
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep

    value = override.value()
    where = f"hydra.sweeper.params.{key}"
    log = "log" in getattr(value, "tags", set())
    if isinstance(value, ChoiceSweep) or (isinstance(value, RangeSweep) and value.shuffle):
        values = tuple(override.sweep_iterator())
        if not values:
            raise ConfigError(f"{where}: a choice needs at least one value")
        return Choice(values)
    if isinstance(value, RangeSweep):
        values = tuple(override.sweep_iterator())
        if not values:
            raise ConfigError(f"{where}: range({value.start}, {value.stop}) is empty")
        integral = all(isinstance(v, int) for v in (value.start, value.stop, value.step))
        if integral and value.step == 1 and len(values) > 1:
            if log:
                _positive(where, value.start)
            return Range("lograndint" if log else "randint", value.start, value.stop - 1)
        return Choice(values)
    if isinstance(value, IntervalSweep):
        start, end = value.start, value.end
        if start is None or end is None or not start < end:
            raise ConfigError(f"{where}: interval({start}, {end}) is empty or inverted")
        integral = isinstance(start, int) and isinstance(end, int)
        if log:
            _positive(where, start)
        kind = "randint" if integral else "uniform"
        return Range(f"log{kind}" if log else kind, start, end)
    raise ConfigError(f"{where}: unsupported sweep {override.input_line!r}")


def _positive(where: str, start: float) -> None:
    if start <= 0:
        raise ConfigError(f"{where}: a log range must be above 0, got a start of {start}")


@attrs.frozen
class SweepSpace:
    """The sweep's search space (params of the ``app`` pseudo-trainer) and the fixed
    overrides every job gets."""

    space: SearchSpace
    fixed: list[str]

    @property
    def keys(self) -> list[str]:
        return list(self.space.trainers[APP])

    def to_overrides(self, params: Mapping[str, Any]) -> list[str]:
        """A trial's params as ``key=value`` overrides, then the fixed ones."""
        swept = self.space.trainers[APP]
        return [f"{key}={encode(value)}" for key, value in params.items() if key in swept] + list(
            self.fixed
        )


def parse_space(arguments: Sequence[str]) -> SweepSpace:
    """Split overrides into the swept dimensions and the fixed overrides; a later
    override of the same key replaces an earlier one (the command line wins over
    ``hydra.sweeper.params``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    dims: dict[str, Dimension] = {}
    fixed: dict[str, str] = {}
    for argument in arguments:
        try:
            override = parser.parse_override(argument)
        except HydraException as exc:
            message = str(exc).splitlines()[0]
            raise ConfigError(f"malformed sweep expression {argument!r}: {message}") from exc
        key = override.get_key_element()
        dims.pop(key, None)
        fixed.pop(key, None)
        if override.is_sweep_override():
            dims[key] = _dimension(key, override)
        else:
            fixed[key] = argument
    return SweepSpace(SearchSpace({APP: dims}), list(fixed.values()))
