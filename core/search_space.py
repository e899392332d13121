"""The search space: ``training_params`` parsed into dimensions, per trainer.

``training_params: {trainer: {param: spec}}`` where a spec is

- a YAML list: a set of choices (what a grid enumerates),
- a string ``loguniform(a, b)``, ``uniform(a, b)``, ``randint(a, b)``, ``lograndint(a, b)``
  or ``choice(a, b, ...)`` (parsed with ``ast``: literals only, never evaluated),
- anything else: a fixed value.

Each trial belongs to one trainer and gets only that trainer's params. No Syne Tune
import here: the synetune plugin turns these dimensions into its domains.
"""

from __future__ import annotations

import ast
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from hyperplug.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    from hyperplug.interfaces import PastTrial

RANGES = ("uniform", "loguniform", "randint", "lograndint")
"""The range distributions a param may be drawn from: ``loguniform(1e-4, 1e-1)``."""
DISTRIBUTIONS = (*RANGES, "choice")
"""Every distribution the spec strings name."""
_CALL = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*$", re.DOTALL)


@attrs.frozen
class Fixed:
    """A param every trial of the trainer gets as it is."""

    value: Any
    """The value."""


@attrs.frozen
class Choice:
    """A param that takes one of several values (a YAML list, or ``choice(a, b)``)."""

    values: tuple[Any, ...]
    """The values, in the config's order."""

    def keys(self) -> list[str]:
        """The values as JSON strings: categories any searcher can hash and compare."""
        return [json.dumps(v, sort_keys=True) for v in self.values]


@attrs.frozen
class Range:
    """A param drawn from a range: ``uniform(a, b)`` and its kin (``RANGES``)."""

    kind: str
    """One of ``RANGES``."""
    low: float
    """The lower bound, included."""
    high: float
    """The upper bound, included."""

    @property
    def log(self) -> bool:
        """Drawn uniformly in log space (``loguniform``, ``lograndint``)."""
        return self.kind.startswith("log")

    @property
    def integer(self) -> bool:
        """Drawn as an integer (``randint``, ``lograndint``)."""
        return self.kind.endswith("randint")

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a number within the bounds."""
        return isinstance(value, int | float) and self.low <= value <= self.high


Dimension = Fixed | Choice | Range
"""One param's part of the space."""


#: bare words that stand for YAML's constants, as in the rest of the config
_WORDS = {"true": True, "false": False, "null": None, "none": None}


def _arguments(spec: str, name: str, where: str) -> list[Any]:
    """The arguments of ``name(...)``, parsed with the standard library's ``ast``: literals
    only (numbers, quoted strings, lists, ...), never evaluated; a bare word is a string
    (``choice(relu, gelu)``), or true/false/null. ``choice('a,b', c)`` is two values."""
    try:
        tree = ast.parse(spec.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ConfigError(f"{where}: cannot read {spec.strip()!r}: {exc.msg}") from None
    if not isinstance(tree, ast.Call) or tree.keywords:
        raise ConfigError(f"{where}: {name}(...) takes values only, as in {name}(a, b)")
    return [_literal(node, spec, where) for node in tree.args]


def _literal(node: ast.expr, spec: str, where: str) -> Any:
    if isinstance(node, ast.Name):
        return _WORDS.get(node.id.lower(), node.id)
    try:
        return ast.literal_eval(node)
    except ValueError:
        text = ast.get_source_segment(spec.strip(), node)
        raise ConfigError(f"{where}: {text!r} is not a value (quote a string: '{text}')") from None


def parse_dimension(spec: Any, where: str) -> Dimension:
    """One param's spec -> a dimension; ``where`` (``training_params.mlp.lr``) names it
    in every error."""
    if isinstance(spec, list | tuple):
        if not spec:
            raise ConfigError(f"{where} is an empty grid: give values")
        return Choice(tuple(spec))
    if not isinstance(spec, str):
        return Fixed(spec)
    call = _CALL.match(spec)
    if call is None:
        return Fixed(spec)
    name, body = call.group(1), call.group(2)
    if name not in DISTRIBUTIONS:
        raise ConfigError(
            f"{where}: unknown distribution '{name}'{did_you_mean(name, DISTRIBUTIONS)}; "
            f"known: {', '.join(DISTRIBUTIONS)}"
        )
    args = _arguments(spec, name, where)
    if name == "choice":
        if not args:
            raise ConfigError(f"{where}: choice() needs at least one value")
        return Choice(tuple(args))
    if len(args) != 2:
        raise ConfigError(f"{where}: {name}(low, high) takes 2 numbers, got {len(args)}")
    low, high = args
    integer = name.endswith("randint")
    number = int if integer else (int, float)
    for value in (low, high):
        if isinstance(value, bool) or not isinstance(value, number):
            kind = "integers" if integer else "numbers"
            raise ConfigError(f"{where}: {name}({body.strip()}) needs {kind}, got {value!r}")
    if not math.isfinite(low) or not math.isfinite(high) or low >= high:
        raise ConfigError(
            f"{where}: {name}({low}, {high}) is an empty or inverted range (need low < high)"
        )
    if name.startswith("log") and low <= 0:
        raise ConfigError(f"{where}: {name}({low}, {high}) is a log range: it needs low > 0")
    return Range(name, low, high)


@attrs.frozen
class SearchSpace:
    """trainer name -> {param: dimension}, in the order the config gives them."""

    trainers: dict[str, dict[str, Dimension]]
    """trainer name -> {param: dimension}."""

    @classmethod
    def parse(cls, training_params: Mapping[str, Mapping[str, Any]]) -> SearchSpace:
        """Parse ``training_params`` (trainer -> {param: spec}); a spec that does not
        parse is a ``ConfigError`` naming ``training_params.<trainer>.<param>``."""
        trainers: dict[str, dict[str, Dimension]] = {}
        for trainer, params in training_params.items():
            trainers[trainer] = {
                str(key): parse_dimension(spec, f"training_params.{trainer}.{key}")
                for key, spec in (params or {}).items()
            }
        return cls(trainers)

    @property
    def finite(self) -> bool:
        """No param is a range: the space can be enumerated."""
        return not any(
            isinstance(dim, Range) for params in self.trainers.values() for dim in params.values()
        )

    def check_finite(self, optimizer: str) -> None:
        """Raise a ``ConfigError`` naming the first range, for an ``optimizer`` that
        enumerates the space."""
        for trainer, params in self.trainers.items():
            for key, dim in params.items():
                if isinstance(dim, Range):
                    raise ConfigError(
                        f"training_params.{trainer}.{key}: optimizer={optimizer} enumerates "
                        f"values and cannot use the range {dim.kind}({dim.low}, {dim.high}); "
                        "give a list of values or choose optimizer=random|bo|tpe|asha|..."
                    )

    def grid(self) -> list[tuple[str, dict[str, Any]]]:
        """Every point of every trainer's grid, trainer by trainer, in config order."""
        self.check_finite("grid")
        points = []
        for trainer, params in self.trainers.items():
            keys = list(params)
            values = [
                dim.values if isinstance(dim, Choice) else (dim.value,)  # type: ignore[union-attr]
                for dim in params.values()
            ]
            for combo in itertools.product(*values):
                points.append((trainer, dict(zip(keys, combo, strict=True))))
        return points

    def contains(self, trainer: str, params: Mapping[str, Any]) -> bool:
        """Whether a trial of another study (or run) is a point of this space."""
        if trainer not in self.trainers:
            return False
        for key, dim in self.trainers[trainer].items():
            if key not in params:
                return False
            value = params[key]
            if isinstance(dim, Fixed) and value != dim.value:
                return False
            if isinstance(dim, Choice) and value not in dim.values:
                return False
            if isinstance(dim, Range) and not dim.contains(value):
                return False
        return True


def not_run(
    points: Sequence[tuple[str, dict[str, Any]]], history: Sequence[PastTrial]
) -> list[tuple[str, dict[str, Any]]]:
    """The points no finished trial of the study ran yet (each past trial used once)."""
    done = [(p.trainer, p.params) for p in history]
    todo = []
    for point in points:
        if point in done:
            done.remove(point)
        else:
            todo.append(point)
    return todo
