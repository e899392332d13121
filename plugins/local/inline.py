"""The ``inline`` backend: no processes, no threads; a debugger sees every trial."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import attrs

from hyperplug.interfaces import Backend, TrialJob


@attrs.define
class InlineBackendConfig:
    name: str = "inline"


class InlineBackend(Backend):
    def __init__(self, config: InlineBackendConfig) -> None:
        self.config = config

    def run(self, jobs: Iterable[TrialJob], execute: Callable[[TrialJob], Any]) -> Iterator[Any]:
        for job in jobs:
            yield execute(job)
