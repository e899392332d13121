"""The updater conformance suite fails a careless updater on exactly its faults."""

from __future__ import annotations

from pathlib import Path

from faulty import run_suites

CARELESS = '''
import attrs
import numpy as np

from hyperplug.components import Component
from hyperplug.interfaces import UpdaterConfig, UpdateState
from hyperplug.plugins.torch.updaters import TorchUpdater
from hyperplug.testing import UpdaterConformance


@attrs.define
class HoarderConfig(UpdaterConfig):
    name: str = "hoarder"
    memory_size: int = 10


class Deaf:
    """A reporter that passes every epoch on and never lets training stop."""

    def __init__(self, report):
        self.report, self.perf_metric, self.mode = report, report.perf_metric, report.mode

    def __call__(self, epoch, metrics):
        self.report(epoch, metrics)
        return True


class Hoarder(TorchUpdater):
    """Replays nothing but keeps every row it sees (far past memory_size), in the state
    it was given; shuffles its rows with the global random generator; trains every
    epoch whatever the reporter says."""

    def update(self, trainer, data, state, report, context):
        trainer.train(data, Deaf(report))
        rows = np.concatenate([state.arrays.get("buffer/x", data.train.x[:0]), data.train.x])
        np.random.shuffle(rows)
        state.info["updates"] = state.info.get("updates", 0) + 1
        return UpdateState({**state.arrays, "buffer/x": rows}, state.info)


class TestHoarder(UpdaterConformance):
    component = Component("updater", "hoarder", Hoarder, HoarderConfig, "keeps everything")
'''

EXPECTED_FAILURES = {
    "TestHoarder::test_stops_when_report_returns_false",
    "TestHoarder::test_does_not_change_the_state_it_is_given",
    "TestHoarder::test_the_same_seed_gives_the_same_model",
    "TestHoarder::test_an_update_from_the_store_is_the_update_from_memory",
    "TestHoarder::test_keeps_its_memory_within_memory_size",
}


def test_the_updater_suite_fails_exactly_the_broken_rules(tmp_path: Path) -> None:
    failed, passed, output = run_suites(tmp_path, CARELESS)
    assert failed == EXPECTED_FAILURES, output
    assert passed >= 8, output
