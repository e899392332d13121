"""A ``SearchSpace`` as one Syne Tune config space, and back.

Keys: ``trainer`` (the trainer's name: a choice when there are several) and
``<trainer>.<param>`` for every non-fixed param; a trial uses its own trainer's keys
and ignores the others. Choices are JSON strings so any value (a list of layer sizes)
is a hashable category.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hyperplug.search_space import Choice, Fixed, Range, SearchSpace

TRAINER = "trainer"


def key(trainer: str, param: str) -> str:
    return f"{trainer}.{param}"


def config_space(space: SearchSpace) -> dict[str, Any]:
    from syne_tune import config_space as sd

    names = list(space.trainers)
    result: dict[str, Any] = {TRAINER: sd.choice(names) if len(names) > 1 else names[0]}
    for trainer, dims in space.trainers.items():
        for param, dim in dims.items():
            if isinstance(dim, Choice):
                result[key(trainer, param)] = sd.choice(dim.keys())
            elif isinstance(dim, Range):
                make = getattr(sd, dim.kind)
                result[key(trainer, param)] = make(dim.low, dim.high)
    return result


def decode(space: SearchSpace, config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    trainer = str(config[TRAINER])
    params: dict[str, Any] = {}
    for param, dim in space.trainers[trainer].items():
        if isinstance(dim, Fixed):
            params[param] = dim.value
        elif isinstance(dim, Choice):
            params[param] = json.loads(config[key(trainer, param)])
        else:
            value = config[key(trainer, param)]
            params[param] = int(value) if dim.integer else float(value)
    return trainer, params


def encode(space: SearchSpace, trainer: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The config of a known point (``space.contains`` it); other trainers' keys get
    their first value, as Syne Tune wants every key."""
    config: dict[str, Any] = {TRAINER: trainer}
    for name, dims in space.trainers.items():
        for param, dim in dims.items():
            value = params.get(param) if name == trainer else None
            if isinstance(dim, Choice):
                keys = dim.keys()
                config[key(name, param)] = (
                    json.dumps(value, sort_keys=True) if name == trainer else keys[0]
                )
            elif isinstance(dim, Range):
                config[key(name, param)] = value if name == trainer else dim.low
    return config
