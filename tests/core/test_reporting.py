"""hyperplug.report is a no-op outside a sweep and routes to the sweep's sink inside one."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

import hyperplug
from hyperplug.reporting import reporting_to


def test_report_outside_a_sweep_does_nothing() -> None:
    hyperplug.report(epoch=1, val_loss=0.5)
    hyperplug.report(val_loss=0.4)


def test_report_numbers_epochs_and_stops_when_told() -> None:
    seen: list[tuple[int, Mapping[str, float]]] = []

    def sink(epoch: int, metrics: Mapping[str, float]) -> bool:
        seen.append((epoch, dict(metrics)))
        return epoch < 2

    with reporting_to(sink):
        hyperplug.report(val_loss=np.float32(0.5), acc=1)
        with pytest.raises(hyperplug.TrialStopped, match="after epoch 2"):
            hyperplug.report(val_loss=0.4)
    assert seen == [(1, {"val_loss": 0.5, "acc": 1.0}), (2, {"val_loss": pytest.approx(0.4)})]
    hyperplug.report(val_loss=0.3)  # outside again: a no-op


def test_report_refuses_non_numbers() -> None:
    with pytest.raises(TypeError, match="metric 'val_loss' must be a number, got 'low'"):
        hyperplug.report(val_loss="low")
