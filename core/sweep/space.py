"""Hydra's sweep grammar as a Syne Tune search space, and suggested configs back as overrides.

| Hydra override                      | Syne Tune domain                  |
| ----------------------------------- | --------------------------------- |
| ``choice(a, b)`` / ``a,b``          | ``choice([a, b])``                |
| ``range(2, 6)`` (int, step 1)       | ``randint(2, 5)`` (stop exclusive) |
| ``range(0.1, 0.5, 0.1)``, int steps | ``ordinal([...])``                |
| ``tag(log, range(1, 9))``           | ``lograndint(1, 8)``              |
| ``interval(a, b)``                  | ``uniform(a, b)``                 |
| ``tag(log, interval(a, b))``        | ``loguniform(a, b)``              |
| ``int(interval(a, b))`` (+ ``log``) | ``randint`` / ``lograndint``      |
| ``shuffle(...)``                    | ``choice`` of its values          |

Anything else is a fixed override passed to every job unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from hyperplug.errors import ConfigError

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


def _domain(key: str, override: Any) -> Any:
    """The Syne Tune domain of one sweep override."""
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
    from syne_tune.config_space import (
        choice,
        lograndint,
        loguniform,
        ordinal,
        randint,
        uniform,
    )

    value = override.value()
    where = f"hydra.sweeper.params.{key}"
    log = "log" in getattr(value, "tags", set())
    if isinstance(value, ChoiceSweep) or (isinstance(value, RangeSweep) and value.shuffle):
        values = list(override.sweep_iterator())
        if not values:
            raise ConfigError(f"{where}: a choice needs at least one value")
        return choice([v if isinstance(v, str | int | float | bool) else encode(v) for v in values])
    if isinstance(value, RangeSweep):
        values = list(override.sweep_iterator())
        if not values:
            raise ConfigError(f"{where}: range({value.start}, {value.stop}) is empty")
        integral = all(isinstance(v, int) for v in (value.start, value.stop, value.step))
        if integral and value.step == 1:
            if log:
                _positive(where, value.start)
                return lograndint(int(value.start), int(value.stop) - 1)
            return randint(int(value.start), int(value.stop) - 1)
        return ordinal(values)
    if isinstance(value, IntervalSweep):
        start, end = value.start, value.end
        if start is None or end is None or not start < end:
            raise ConfigError(f"{where}: interval({start}, {end}) is empty or inverted")
        integral = isinstance(start, int) and isinstance(end, int)
        if log:
            _positive(where, start)
            return lograndint(start, end) if integral else loguniform(start, end)
        return randint(start, end) if integral else uniform(start, end)
    raise ConfigError(f"{where}: unsupported sweep {override.input_line!r}")


def _positive(where: str, start: float) -> None:
    if start <= 0:
        raise ConfigError(f"{where}: a log range must be above 0, got a start of {start}")


@attrs.frozen
class SweepSpace:
    """The sweep's search space: Syne Tune domains, fixed overrides, and the keys whose
    choices are override text already (lists, dicts: written back unquoted)."""

    domains: dict[str, Any]
    fixed: list[str]
    verbatim: frozenset[str] = frozenset()

    def to_overrides(self, config: Mapping[str, Any]) -> list[str]:
        """A suggested config as ``key=value`` overrides, then the fixed ones."""
        chosen = [
            f"{key}={value if key in self.verbatim else encode(value)}"
            for key, value in config.items()
            if key in self.domains
        ]
        return chosen + self.fixed


def parse_space(arguments: Sequence[str]) -> SweepSpace:
    """Split sweep overrides into a Syne Tune config space and fixed overrides."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    space: dict[str, Any] = {}
    fixed: list[str] = []
    verbatim: set[str] = set()
    for argument in arguments:
        try:
            override = parser.parse_override(argument)
        except HydraException as exc:
            message = str(exc).splitlines()[0]
            raise ConfigError(f"malformed sweep expression {argument!r}: {message}") from exc
        key = override.get_key_element()
        if override.is_sweep_override():
            space[key] = _domain(key, override)
            if any(not isinstance(v, str | int | float | bool) for v in _values(override)):
                verbatim.add(key)
        else:
            fixed.append(argument)
    return SweepSpace(space, fixed, frozenset(verbatim))


def _values(override: Any) -> list[Any]:
    from hydra.core.override_parser.types import ChoiceSweep

    return list(override.sweep_iterator()) if isinstance(override.value(), ChoiceSweep) else []
