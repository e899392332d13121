"""``DetectorConformance``: what every ``detector`` component must do.

The suite draws its own samples: Gaussian rows, the same distribution on both sides (no
shift), or the new side's mean moved by one standard deviation in every feature (a
shift any sensible test finds at a few hundred rows a side). Override ``samples`` for a
detector that needs other data (images for an embedding model, ...).
"""

from __future__ import annotations

import json
import math
from typing import Any, ClassVar

import numpy as np
import pytest

from hyperplug.errors import HyperplugError
from hyperplug.interfaces import DriftDetector, DriftResult
from hyperplug.testing.base import ComponentConformance


class DetectorConformance(ComponentConformance):
    """Subclass as ``class TestMyDetector(DetectorConformance)`` and set ``component``.

    The no-shift check tests ``seeds`` pairs of samples of one distribution at level
    ``alpha`` (the default config's, else 0.05) and accepts at most
    ``max_false_alarms`` shifts: a test at level 0.05 raises more than 4 of 20 with
    probability 0.26% (binomial), and a test that raises alarms freely far more often.
    """

    kind = "detector"
    seeds: ClassVar[int] = 20
    """How many no-shift sample pairs the false-alarm check tests."""
    max_false_alarms: ClassVar[int] = 4
    """How many of them may be called a shift."""

    def samples(
        self, seed: int, shift: float = 0.0, shape: tuple[int, ...] = (8,)
    ) -> tuple[np.ndarray, np.ndarray]:
        """(reference, new): 200 and 300 rows of ``shape``, standard normal; the new
        rows' mean moved by ``shift`` in every feature."""
        rng = np.random.default_rng([seed, 7])
        reference = rng.standard_normal((200, *shape)).astype(np.float32)
        new = (rng.standard_normal((300, *shape)) + shift).astype(np.float32)
        return reference, new

    @pytest.fixture
    def detector(self, build: Any) -> DriftDetector:
        """Fixture: the detector under test, built from ``config``."""
        return build()

    def alpha(self, detector: DriftDetector) -> float:
        """The detector's level: its config's ``alpha``, else 0.05."""
        return float(getattr(detector.config, "alpha", 0.05))

    # ------------------------------------------------------------------ tests

    def test_builds_a_drift_detector(self, detector: DriftDetector) -> None:
        """The factory builds a ``DriftDetector``."""
        assert isinstance(detector, DriftDetector)

    def test_result_is_well_formed(self, detector: DriftDetector) -> None:
        """A ``DriftResult`` with the detector's name, a finite statistic, a p-value in [0, 1], a
        bool ``shift``, sample sizes within the inputs' and JSON ``details``."""
        for shift in (0.0, 1.0):
            reference, new = self.samples(0, shift)
            result = detector.test(reference, new)
            assert isinstance(result, DriftResult)
            assert result.detector == detector.config.name
            assert math.isfinite(result.statistic)
            assert 0.0 <= result.p_value <= 1.0
            assert isinstance(result.shift, bool)
            assert 0 < result.n_reference <= len(reference)
            assert 0 < result.n_new <= len(new)
            json.dumps(result.details)  # stored in a version's JSON metadata

    def test_shift_means_a_p_value_below_the_level(self, detector: DriftDetector) -> None:
        """``shift`` is exactly ``p_value < alpha``."""
        alpha = self.alpha(detector)
        for seed, shift in ((0, 0.0), (1, 0.0), (0, 1.0), (1, 0.3)):
            result = detector.test(*self.samples(seed, shift))
            assert result.shift == (result.p_value < alpha), result

    def test_same_data_same_result(self, build: Any) -> None:
        """No shift: a p-value in the middle, where a careless random draw shows."""
        reference, new = self.samples(3)
        assert build().test(reference, new) == build().test(reference, new)

    def test_leaves_its_inputs_unchanged(self, detector: DriftDetector) -> None:
        """``test`` does not change the arrays it is given."""
        reference, new = self.samples(4, 0.5)
        copies = reference.copy(), new.copy()
        detector.test(reference, new)
        np.testing.assert_array_equal(reference, copies[0])
        np.testing.assert_array_equal(new, copies[1])

    def test_no_shift_raises_few_false_alarms(self, detector: DriftDetector) -> None:
        """Of ``seeds`` no-shift pairs at most ``max_false_alarms`` are called a shift, and the
        median p-value is above 0.2."""
        results = [detector.test(*self.samples(seed)) for seed in range(self.seeds)]
        alarms = sum(result.shift for result in results)
        assert alarms <= self.max_false_alarms, [r.p_value for r in results]
        median = float(np.median([result.p_value for result in results]))
        assert median > 0.2, f"p-values are small with no shift (median {median:.3f})"

    def test_finds_a_plain_shift(self, detector: DriftDetector) -> None:
        """A mean moved by one standard deviation in every feature is a shift with p < 0.01."""
        for seed in range(3):
            result = detector.test(*self.samples(seed, shift=1.0))
            assert result.shift, result
            assert result.p_value < 0.01, result

    def test_takes_rows_of_any_shape(self, detector: DriftDetector) -> None:
        """Images and other multi-dimensional rows: (n, 2, 2, 2) instead of (n, 8)."""
        calm = detector.test(*self.samples(5, 0.0, shape=(2, 2, 2)))
        moved = detector.test(*self.samples(5, 1.0, shape=(2, 2, 2)))
        assert 0.0 <= calm.p_value <= 1.0
        assert moved.shift and moved.p_value < calm.p_value

    def test_refuses_rows_of_two_shapes_in_one_line(self, detector: DriftDetector) -> None:
        """Rows of two shapes raise a one-line ``HyperplugError``."""
        reference, _ = self.samples(6)
        _, new = self.samples(6, shape=(9,))
        with pytest.raises(HyperplugError) as error:
            detector.test(reference, new)
        assert "\n" not in str(error.value)
