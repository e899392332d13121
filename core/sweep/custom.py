"""A sweep's search space defined in Python: ``hydra.sweeper.search_space``.

The setting names a function ``(cfg) -> CustomSpace``, called once when the sweep starts
with the app's composed config. Its ``params`` join ``hydra.sweeper.params`` (bounds may
come from the config), and its ``derive`` turns each trial's sampled values into the
job's values: derived parameters (computed from others) and conditional ones (left out
when another value makes them meaningless). The optimizer searches the sampled values,
so every optimizer works with it; the job, the results file and its JobReturn see the
derived ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from hyperplug.errors import ConfigError

KEY = "hydra.sweeper.search_space"


@attrs.frozen
class CustomSpace:
    """What a ``hydra.sweeper.search_space`` function returns.

    ``params``: key -> Hydra sweep expression (``"interval(0, 1)"``, ``"choice(a, b)"``),
    added to ``hydra.sweeper.params`` (a command-line sweep of the same key replaces it).
    ``derive``: a trial's sampled values -> the job's values; a key it leaves out is not
    passed to the job, a key it adds is (``+key`` for a key the config lacks). It must be
    deterministic: the sweep records what it returned for each job.
    """

    params: Mapping[str, str] = attrs.field(factory=dict, converter=dict)
    """key -> Hydra sweep expression, added to ``hydra.sweeper.params``."""
    derive: Callable[[dict[str, Any]], Mapping[str, Any]] | None = None
    """A trial's sampled values -> the job's values; None: the sampled values as they are."""


def load_custom_space(path: str, cfg: Any) -> CustomSpace:
    """Import the function at ``path`` (``module.function``), call it with ``cfg`` and
    check what it returns."""
    from hydra.utils import get_method

    try:
        function = get_method(path)
    except Exception as exc:
        cause = exc.__cause__ or exc
        raise ConfigError(f"{KEY}: cannot import {path!r}: {cause}") from exc
    try:
        space = function(cfg)
    except Exception as exc:
        raise ConfigError(f"{KEY}: {path} raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(space, CustomSpace):
        raise ConfigError(
            f"{KEY}: {path} returned {type(space).__name__}, not a hyperplug.sweep.CustomSpace"
        )
    for key, expression in space.params.items():
        if not isinstance(expression, str):
            raise ConfigError(
                f"{KEY}: {path} gave params[{key!r}] = {expression!r}; give a Hydra sweep "
                "expression as a string, e.g. 'interval(0, 1)'"
            )
    return space


def derive_values(space: CustomSpace | None, params: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's job values: ``derive(params)``, or the params themselves. An error in
    ``derive`` is the trial's (a ``ConfigError``: the trial fails with it)."""
    if space is None or space.derive is None:
        return dict(params)
    try:
        values = space.derive(dict(params))
    except Exception as exc:
        raise ConfigError(f"{KEY}: derive failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(values, Mapping):
        raise ConfigError(f"{KEY}: derive returned {type(values).__name__}, not a mapping")
    return dict(values)
