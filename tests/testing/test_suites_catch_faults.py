"""The conformance suites fail components that break their kind's contract.

Each faulty component below is real code with one or two deliberate faults; a pytest run
of the suites on them (in a fresh process, with no conftest and no pytest plugins) must
fail exactly the tests that check those faults.
"""

from __future__ import annotations

from pathlib import Path

from faulty import run_suites

FAULTY = '''
import random
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from hyperplug.components import Component
from hyperplug.data import ArraySplit, Dataset, DataSplits
from hyperplug.interfaces import Backend, Budget, DataSplitter, ModelTrainer, Optimizer, Search
from hyperplug.plugins.local.inline import InlineBackend, InlineBackendConfig
from hyperplug.search_space import Choice, Range
from hyperplug.testing import (
    BackendConformance,
    OptimizerConformance,
    SplitterConformance,
    TrainerConformance,
)


@attrs.define
class MajorityConfig:
    name: str = "majority"
    epochs: int = 3
    lr: float = 0.1  # no validator: a negative value gets through


class Majority(ModelTrainer):
    """Predicts the most frequent class; ignores the reporter asking it to stop."""

    def fit(self, data: DataSplits, report: Any) -> None:
        self.n_classes = data.n_classes
        self.label = int(np.bincount(data.train.y).argmax())
        for epoch in range(1, self.config.epochs + 1):
            scores = self.evaluate(data.val)
            report(epoch, {"train_loss": 1.0, "val_loss": scores["loss"],
                           "val_accuracy": scores["accuracy"]})

    def evaluate(self, split: ArraySplit) -> dict[str, float]:
        accuracy = float(np.mean(self.predict(split.x) == split.y))
        return {"loss": 1.0 - accuracy, "accuracy": accuracy}

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.full(len(x), self.label, dtype=np.int64)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"label": np.array([self.label])}

    def model_info(self) -> dict[str, Any]:
        return {"n_classes": self.n_classes}

    @classmethod
    def restore(cls, config: Any, state: Mapping[str, np.ndarray], info: Mapping[str, Any]):
        trainer = cls(config)
        trainer.label, trainer.n_classes = int(state["label"][0]), info["n_classes"]
        return trainer


class TestMajority(TrainerConformance):
    component = Component("trainer", "majority", Majority, MajorityConfig, "majority class")
    invalid_config = {"lr": -1.0}


@attrs.define
class HeadConfig:
    name: str = "head"


class Head(DataSplitter):
    """Splits 50/20/20 and drops the last 10% of the rows."""

    def __init__(self, config: HeadConfig) -> None:
        self.config = config

    def split_data(self, dataset: Dataset) -> DataSplits:
        n = len(dataset)
        cuts = [0, n // 2, n * 7 // 10, n * 9 // 10]
        parts = [ArraySplit(dataset.x[a:b], dataset.y[a:b]) for a, b in zip(cuts, cuts[1:])]
        return DataSplits(*parts, classes=dataset.classes, fingerprint=dataset.fingerprint)


class TestHead(SplitterConformance):
    component = Component("splitter", "head", Head, HeadConfig, "the head of the data")


@attrs.define
class LossyConfig:
    name: str = "lossy"


class Lossy(Backend):
    """Runs every trial but never says that the last one ended."""

    def __init__(self, config: LossyConfig) -> None:
        self.config = config
        self.inner = InlineBackend(InlineBackendConfig())

    def start(self, recipe, driver):
        self.driver = driver
        self.tasks = 0
        self.inner.start(recipe, self)

    def on_report(self, trial_id, epoch, metrics):
        return self.driver.on_report(trial_id, epoch, metrics)

    def on_end(self, end):
        if end.trial_id != 2:
            self.driver.on_end(end)

    def free_slots(self):
        return self.inner.free_slots()

    def submit(self, task):
        self.inner.submit(task)

    def poll(self, timeout):
        self.inner.poll(timeout)

    def stop(self, trial_id):
        self.inner.stop(trial_id)

    def shutdown(self):
        self.inner.shutdown()


class TestLossy(BackendConformance):
    component = Component("backend", "lossy", Lossy, LossyConfig, "")
    timeout_s = 20.0


@attrs.define
class CarelessConfig:
    name: str = "careless"
    max_epochs: int = 5


class Careless(Optimizer):
    """Random search that says it stops trials by epoch but never does, that gives up
    after the first failed trial, and that draws with replacement, ignoring the points
    the study ran."""

    def __init__(self, config: CarelessConfig) -> None:
        self.config = config

    def budget(self):
        return Budget(max_epochs=self.config.max_epochs)

    def needs_epoch_reports(self):
        return True

    def search(self, context):
        return CarelessSearch(context.space)


class CarelessSearch(Search):
    def __init__(self, space):
        self.space, self.rng, self.gave_up = space, random.Random(0), False

    def suggest(self):
        if self.gave_up:
            return None
        trainer = self.rng.choice(sorted(self.space.trainers))
        return trainer, {k: self.sample(d) for k, d in self.space.trainers[trainer].items()}

    def sample(self, dim):
        if isinstance(dim, Choice):
            return self.rng.choice(dim.values)
        if isinstance(dim, Range):
            value = self.rng.uniform(dim.low, dim.high)
            return round(value) if dim.integer else value
        return dim.value

    def on_start(self, trial_id, trainer, params):
        pass

    def on_report(self, trial_id, epoch, metrics):
        return True

    def on_end(self, trial_id, status, last):
        self.gave_up = self.gave_up or status == "failed"


class TestCareless(OptimizerConformance):
    component = Component("optimizer", "careless", Careless, CarelessConfig, "random")
'''

EXPECTED_FAILURES = {
    "TestMajority::test_learns_the_data",
    "TestMajority::test_stops_when_report_returns_false",
    "TestMajority::test_config_rejects_invalid_values_naming_the_key",
    "TestHead::test_parts_are_disjoint_non_empty_and_cover_the_dataset",
    "TestLossy::test_component_is_of_this_kind_and_described",
    "TestLossy::test_runs_every_trial_once_with_every_report_in_order",
    "TestCareless::test_failed_trials_do_not_end_the_search",
    "TestCareless::test_stops_clearly_worse_trials_early",
    "TestCareless::test_stopping_by_epoch_spends_fewer_epochs",
    "TestCareless::test_never_proposes_a_point_twice_until_the_space_is_exhausted",
    "TestCareless::test_resumes_from_the_history_of_its_study",
    "TestCareless::test_a_trial_resumed_without_a_proposal_is_not_proposed_again",
}


def test_the_suites_fail_exactly_the_broken_rules(tmp_path: Path) -> None:
    failed, passed, output = run_suites(tmp_path, FAULTY)
    assert failed == EXPECTED_FAILURES, output
    assert passed >= 16, output
