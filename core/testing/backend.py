"""``BackendConformance``: what every ``backend`` component must do.

A backend is driven the way the study engine drives it (``start``, ``submit`` while
``free_slots()``, ``poll``, ``stop``, ``shutdown``) on real trials: the built-in ``mlp``
trainer, tiny, on ``blobs_splits()`` handed over in memory.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from hyperplug.data import DataSplits
from hyperplug.interfaces import Backend, DataRecipe, TrialEnd, TrialTask
from hyperplug.testing.base import ComponentConformance
from hyperplug.testing.data import blobs_splits

TINY_MLP = {"name": "mlp", "hidden_layers": [4], "epochs": 3, "batch_size": 16, "threads": 1}


@attrs.define
class RecordingDriver:
    """A ``TrialDriver`` that records every event; ``stop_after`` answers False (stop)
    to a trial's report of that epoch."""

    stop_after: dict[int, int] = attrs.Factory(dict)
    reports: dict[int, list[int]] = attrs.Factory(dict)
    ends: dict[int, list[TrialEnd]] = attrs.Factory(dict)

    def on_report(self, trial_id: int, epoch: int, metrics: Mapping[str, float]) -> bool:
        assert all(isinstance(v, float) for v in metrics.values())
        self.reports.setdefault(trial_id, []).append(epoch)
        return epoch < self.stop_after.get(trial_id, 10**9)

    def on_end(self, end: TrialEnd) -> None:
        self.ends.setdefault(end.trial_id, []).append(end)


def task(trial_id: int, **config: Any) -> TrialTask:
    return TrialTask(trial_id, "mlp", {}, {**TINY_MLP, **config}, "val_accuracy", "max")


def drive(
    backend: Backend,
    tasks: list[TrialTask],
    driver: RecordingDriver,
    data: DataSplits | None = None,
    timeout_s: float = 120.0,
) -> None:
    """Drive ``backend`` like the engine: start it on ``data`` (blobs by default), submit
    when a slot is free, poll until every task has ended, always shut down."""
    data = blobs_splits() if data is None else data
    backend.start(DataRecipe(data.fingerprint, data=data), driver)
    queue = list(tasks)
    deadline = time.monotonic() + timeout_s
    try:
        while len(driver.ends) < len(tasks):
            assert time.monotonic() < deadline, f"trials still running: {driver.ends}"
            while queue and backend.free_slots() > 0:
                backend.submit(queue.pop(0))
            backend.poll(0.5)
    finally:
        backend.shutdown()


class BackendConformance(ComponentConformance):
    """Subclass as ``class TestMyBackend(BackendConformance)`` and set ``component``.

    Set ``asynchronous = True`` for a backend whose trials run on without waiting for
    the answer to their reports (a cloud job the study process polls): a False answer
    stops such a trial soon after that epoch rather than at it, and its later epochs
    still come back (its staged weights may come from them). The stop test then gives
    its trial ``asynchronous_epochs`` epochs and checks that it ends well before them.
    """

    kind = "backend"
    timeout_s: float = 120.0
    """Seconds a test may wait for its trials to end."""
    asynchronous: ClassVar[bool] = False
    """The backend's trials run on without waiting for the answers to their reports."""
    asynchronous_epochs: ClassVar[int] = 300
    """The epochs the stop test gives its trial when ``asynchronous``."""

    def run(self, backend: Backend, tasks: list[TrialTask], driver: RecordingDriver) -> None:
        """Drive ``backend`` like the engine (``drive``) within ``timeout_s``."""
        drive(backend, tasks, driver, timeout_s=self.timeout_s)

    def test_is_a_backend(self, build: Any) -> None:
        """The factory builds a ``Backend``."""
        assert isinstance(build(), Backend)

    def test_runs_every_trial_once_with_every_report_in_order(self, build: Any) -> None:
        """Three trials each run once, report epochs 1, 2, 3 in order and end without error."""
        driver = RecordingDriver()
        self.run(build(), [task(i) for i in range(3)], driver)
        assert sorted(driver.ends) == [0, 1, 2]
        for trial_id, ends in driver.ends.items():
            assert [e.error for e in ends] == [None], f"trial {trial_id} ended {ends}"
            assert driver.reports[trial_id] == [1, 2, 3]

    def test_a_false_answer_stops_the_trial_at_that_epoch(self, build: Any) -> None:
        """A trial whose report is answered False reports no further epoch and ends without error;
        the others go on."""
        driver = RecordingDriver(stop_after={0: 1})
        epochs = self.asynchronous_epochs if self.asynchronous else 3
        self.run(build(), [task(0, epochs=epochs), task(1)], driver)
        assert driver.reports[1] == [1, 2, 3]
        assert [e.error for e in driver.ends[0]] == [None]
        if not self.asynchronous:
            assert driver.reports[0] == [1]
            return
        reported = driver.reports[0]
        assert reported == list(range(1, len(reported) + 1)), reported
        assert len(reported) < epochs // 2, f"stopped at epoch {len(reported)} of {epochs}"

    def test_a_failing_trial_ends_with_its_reason_and_others_go_on(self, build: Any) -> None:
        """A trial whose trainer config is bad ends with a one-line error naming the key; the other
        trial completes."""
        driver = RecordingDriver()
        self.run(build(), [task(0, activation="no_such"), task(1)], driver)
        [failed] = driver.ends[0]
        assert failed.error and "activation" in failed.error and "\n" not in failed.error
        assert [e.error for e in driver.ends[1]] == [None]

    def test_offers_a_slot_once_started(self, build: Any) -> None:
        """After ``start``, ``free_slots()`` is at least 1."""
        backend = build()
        data = blobs_splits()
        backend.start(DataRecipe(data.fingerprint, data=data), RecordingDriver())
        try:
            assert backend.free_slots() >= 1
        finally:
            backend.shutdown()
