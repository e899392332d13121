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
| ``glob(*)`` (a config group)         | ``Choice`` of the matching options |

Anything else is a fixed override passed to every job unchanged. For grid, every sweep
Hydra enumerates (``a,b``, ``choice``, ``range``, ``glob``) is a ``Choice``
(``SweepSpace.enumerable``).
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
    from hydra.core.override_parser.types import ChoiceSweep, Glob, IntervalSweep, RangeSweep

    value = override.value()
    where = f"hydra.sweeper.params.{key}"
    log = "log" in getattr(value, "tags", set())
    if isinstance(value, Glob):
        if override.config_loader is None:
            raise ConfigError(f"{where}: glob() needs the app's config groups")
        values = tuple(override.sweep_iterator())
        if not values:
            raise ConfigError(
                f"{where}: no option of config group '{override.key_or_group}' matches "
                f"{override.input_line.split('=', 1)[1]}"
            )
        return Choice(values)
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
    #: every key, swept or fixed, in the order it was first given: a job's overrides
    #: keep that order, as Hydra's basic sweeper keeps it
    order: tuple[str, ...] = ()
    #: swept keys that choose a config group option (``db=mysql,postgresql``)
    groups: frozenset[str] = frozenset()
    #: swept keys Hydra enumerates (``a,b``, ``choice``, ``range``, ``glob``)
    discrete: frozenset[str] = frozenset()

    @property
    def keys(self) -> list[str]:
        return list(self.space.trainers[APP])

    @property
    def all_discrete(self) -> bool:
        """Every swept key is one Hydra's basic sweeper enumerates (true of no key)."""
        return set(self.keys) <= self.discrete

    def enumerable(self) -> SweepSpace:
        """The same space with every discrete integer range as the choice of its values,
        so a grid enumerates ``range(1, 4)`` as Hydra's basic sweeper does."""
        dims: dict[str, Dimension] = {}
        for key, dim in self.space.trainers[APP].items():
            if key in self.discrete and isinstance(dim, Range):
                dim = Choice(tuple(range(int(dim.low), int(dim.high) + 1)))
            dims[key] = dim
        return attrs.evolve(self, space=SearchSpace({APP: dims}))

    def to_overrides(self, values: Mapping[str, Any]) -> list[str]:
        """A job's overrides: its swept values and the fixed overrides in the order they
        were given, then any key ``values`` adds (a derived parameter). A swept key
        missing from ``values`` is left out (an inactive conditional parameter)."""
        swept = self.space.trainers[APP]
        fixed = dict(zip(self._fixed_keys(), self.fixed, strict=True))
        overrides = []
        for key in self.order:
            if key in values:
                overrides.append(f"{key}={encode(values[key])}")
            elif key in fixed:
                overrides.append(fixed[key])
        overrides += [
            f"{key}={encode(value)}"
            for key, value in values.items()
            if key not in swept and key not in fixed
        ]
        return overrides

    def _fixed_keys(self) -> list[str]:
        return [key for key in self.order if key not in self.space.trainers[APP]]


def parse_space(
    arguments: Sequence[str],
    params: Mapping[str, str] | None = None,
    config_loader: Any = None,
) -> SweepSpace:
    """Split ``params`` (``hydra.sweeper.params``: key -> expression) and the command
    line's overrides into the swept dimensions and the fixed overrides. A later override
    of a key replaces an earlier one in its place (the command line wins over
    ``params``), and only the one that wins is read: a ``params`` entry the command line
    replaces is never parsed. ``config_loader`` (Hydra's) expands ``glob`` and tells which
    keys are config groups."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create(config_loader=config_loader)

    def parse(argument: str) -> Any:
        try:
            [override] = parser.parse_overrides([argument])  # sets the config loader
            return override
        except HydraException as exc:
            message = str(exc).splitlines()[0]
            raise ConfigError(f"malformed sweep expression {argument!r}: {message}") from exc

    given: dict[str, str] = {f"{key}": f"{key}={value}" for key, value in (params or {}).items()}
    for argument in arguments:
        given[parse(argument).get_key_element()] = argument
    dims: dict[str, Dimension] = {}
    fixed: list[str] = []
    groups: set[str] = set()
    discrete: set[str] = set()
    for key, argument in given.items():
        override = parse(argument)
        if not override.is_sweep_override():
            fixed.append(argument)
            continue
        dims[key] = _dimension(key, override)
        if override.is_discrete_sweep():
            discrete.add(key)
        if config_loader is not None and _is_group(config_loader, override.key_or_group):
            groups.add(key)
    return SweepSpace(
        SearchSpace({APP: dims}), fixed, tuple(given), frozenset(groups), frozenset(discrete)
    )


def _is_group(config_loader: Any, name: str) -> bool:
    return bool(config_loader.get_group_options(name))
