"""``BackendConformance``: what every ``backend`` component must do.

Written against ``Backend.run(jobs, execute)`` (core/interfaces.py); kept in a module of
its own because the backend interface is expected to grow (asynchronous workers).
"""

from __future__ import annotations

from typing import Any

from hyperplug.interfaces import Backend, TrialJob
from hyperplug.testing.base import ComponentConformance


def square(job: TrialJob) -> tuple[int, int]:
    """A module-level ``execute``, so that process-based backends can pickle it."""
    return job.params["i"], job.params["i"] ** 2


class BackendConformance(ComponentConformance):
    """Subclass as ``class TestMyBackend(BackendConformance)`` and set ``component``."""

    kind = "backend"

    def test_is_a_backend(self, build: Any) -> None:
        assert isinstance(build(), Backend)

    def test_runs_every_job_once_and_yields_every_outcome(self, build: Any) -> None:
        jobs = [TrialJob("mlp", {"i": i}, {"name": "mlp"}) for i in range(5)]
        outcomes = list(build().run(jobs, square))
        assert sorted(outcomes) == [(i, i * i) for i in range(5)]

    def test_no_jobs_no_outcomes(self, build: Any) -> None:
        assert list(build().run([], square)) == []
