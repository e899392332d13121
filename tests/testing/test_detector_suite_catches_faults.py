"""The detector conformance suite passes a careful detector and fails faulty ones on
exactly their faults."""

from __future__ import annotations

from pathlib import Path

from faulty import run_suites

DETECTORS = '''
import attrs
import numpy as np

from hyperplug.components import Component
from hyperplug.errors import DataError
from hyperplug.interfaces import DriftDetector, DriftResult
from hyperplug.testing import DetectorConformance
from hyperplug.validators import open_fraction


@attrs.define
class MeansConfig:
    name: str = "means"
    alpha: float = attrs.field(default=0.05, validator=open_fraction)
    seed: int = 0


class Means(DriftDetector):
    """A permutation test of the squared distance between the two samples' means."""

    def test(self, reference, new):
        reference = np.asarray(reference).reshape(len(reference), -1)
        new = np.asarray(new).reshape(len(new), -1)
        self.check(reference, new)
        self.prepare(reference, new)
        pooled = np.concatenate([reference, new])
        n = len(reference)

        def distance(rows):
            gap = rows[:n].mean(axis=0) - rows[n:].mean(axis=0)
            return float(gap @ gap)

        statistic = distance(pooled)
        rng = self.rng()
        exceed = sum(distance(pooled[rng.permutation(len(pooled))]) >= statistic
                     for _ in range(200))
        p_value = self.p_value((1 + exceed) / 201)
        return DriftResult(self.config.name, statistic, p_value, self.verdict(p_value),
                           n, len(new))

    def check(self, reference, new):
        if reference.shape[1] != new.shape[1]:
            raise DataError("the samples' rows are of different shapes")

    def prepare(self, reference, new):
        pass

    def rng(self):
        return np.random.default_rng(self.config.seed)

    def p_value(self, p):
        return p

    def verdict(self, p_value):
        return bool(p_value < self.config.alpha)


def detector(cls, config=MeansConfig):
    return Component("detector", "means", cls, config, "means test")


class TestMeans(DetectorConformance):
    component = detector(Means)
    invalid_config = {"alpha": 2.0}


class Mutating(Means):
    """Sorts the caller's arrays, column by column, in place."""

    def prepare(self, reference, new):
        reference.sort(axis=0)
        new.sort(axis=0)


class TestMutating(DetectorConformance):
    component = detector(Mutating)


class Unseeded(Means):
    """Draws its permutations from fresh entropy: another p-value every run."""

    def rng(self):
        return np.random.default_rng()


class TestUnseeded(DetectorConformance):
    component = detector(Unseeded)


class Inverted(Means):
    """Calls a shift when the p-value is large."""

    def verdict(self, p_value):
        return bool(p_value >= self.config.alpha)


class TestInverted(DetectorConformance):
    component = detector(Inverted)


class Alarmist(Means):
    """Reports a tenth of the p-value: alarms on noise."""

    def p_value(self, p):
        return p / 10


class TestAlarmist(DetectorConformance):
    component = detector(Alarmist)


@attrs.define
class LaxConfig:
    name: str = "means"
    alpha: float = 0.05  # no validator: 2.0 gets through
    seed: int = 0


class Unchecked(Means):
    """Takes rows of two shapes (and fails inside numpy)."""

    def check(self, reference, new):
        pass


class TestUnchecked(DetectorConformance):
    component = detector(Unchecked, LaxConfig)
    invalid_config = {"alpha": 2.0}
'''

EXPECTED_FAILURES = {
    "TestMutating::test_leaves_its_inputs_unchanged",
    "TestUnseeded::test_same_data_same_result",
    "TestInverted::test_shift_means_a_p_value_below_the_level",
    "TestInverted::test_no_shift_raises_few_false_alarms",
    "TestInverted::test_finds_a_plain_shift",
    "TestInverted::test_takes_rows_of_any_shape",
    "TestAlarmist::test_no_shift_raises_few_false_alarms",
    "TestUnchecked::test_refuses_rows_of_two_shapes_in_one_line",
    "TestUnchecked::test_config_rejects_invalid_values_naming_the_key",
}


def test_the_detector_suite_fails_exactly_the_broken_rules(tmp_path: Path) -> None:
    failed, passed, output = run_suites(tmp_path, DETECTORS)
    assert failed == EXPECTED_FAILURES, output
    assert passed == 6 * 12 - len(EXPECTED_FAILURES), output
