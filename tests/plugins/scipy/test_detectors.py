"""The built-in drift detectors, tested as statistical tests.

No shift: two disjoint random parts of digits, 40 seeds (the reference 500 rows, the
size of the sample a version keeps; the new rows the rest of the other half). A test at
level 0.05 raises 2 false alarms of 40 on average; we accept at most 6 (a correct test
raises 7 or more with probability 0.34%, binomial(40, 0.05)), and the mmd p-values must
look uniform (a KS test of the 40 p-values against U(0, 1) above 0.01). The seeds are
fixed, so each check is deterministic; the bounds say how surprised we would be if a
correct test failed them.

A shift: digits rotated by 10 degrees (scipy.ndimage.rotate), and one feature of 20
moved by half a standard deviation (ks), each over 20 seeds; we accept at least 19
detections of 20.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from scipy import ndimage, stats

from hyperplug import build
from hyperplug.errors import ConfigError, DataError
from hyperplug.plugins.scipy.detectors import holm, ks_statistics

DIGITS = build("dataset", name="digits").load()
IMAGES = DIGITS.x.reshape(-1, 8, 8)
NO_SHIFT_SEEDS = 40
MAX_FALSE_ALARMS = 6
SHIFT_SEEDS = 20
MIN_DETECTIONS = 19


def digits_halves(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(500 images of one random half of digits, the other half's images)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(IMAGES))
    half = len(order) // 2
    return IMAGES[rng.choice(order[:half], 500, replace=False)], IMAGES[order[half:]]


def rotate(images: np.ndarray, degrees: float) -> np.ndarray:
    return np.stack([ndimage.rotate(i, degrees, reshape=False, order=1) for i in images])


def detector(name: str, **config: Any) -> Any:
    return build("detector", name=name, **config)


@pytest.mark.parametrize("name", ["mmd", "ks"])
def test_no_shift_gives_false_alarms_at_about_alpha(name: str) -> None:
    results = [detector(name, seed=seed).test(*digits_halves(seed)) for seed in range(40)]
    p_values = np.array([result.p_value for result in results])
    alarms = int(sum(result.shift for result in results))
    assert alarms <= MAX_FALSE_ALARMS, p_values
    assert alarms == int((p_values < 0.05).sum())
    assert np.median(p_values) > 0.25, p_values
    if name == "mmd":  # a permutation p-value is uniform under no shift
        assert stats.kstest(p_values, "uniform").pvalue > 0.01, p_values


def test_ks_p_values_are_calibrated_per_feature() -> None:
    """One continuous feature: no correction, so the p-value is the KS test's own, uniform
    with no shift."""
    rng = np.random.default_rng(0)
    results = [
        detector("ks").test(rng.standard_normal((300, 1)), rng.standard_normal((500, 1)))
        for _ in range(NO_SHIFT_SEEDS)
    ]
    p_values = [result.p_value for result in results]
    assert sum(result.shift for result in results) <= MAX_FALSE_ALARMS
    assert stats.kstest(p_values, "uniform").pvalue > 0.01, p_values


@pytest.mark.parametrize("name", ["mmd", "ks"])
def test_rotated_digits_are_a_shift(name: str) -> None:
    found = 0
    for seed in range(SHIFT_SEEDS):
        reference, new = digits_halves(seed)
        result = detector(name, seed=seed).test(reference, rotate(new, 10))
        found += result.shift
    assert found >= MIN_DETECTIONS


def test_ks_finds_the_one_feature_that_moved() -> None:
    found, others = 0, 0
    for seed in range(SHIFT_SEEDS):
        rng = np.random.default_rng(seed)
        reference, new = rng.standard_normal((500, 20)), rng.standard_normal((500, 20))
        new[:, 7] += 0.5
        result = detector("ks").test(reference, new)
        moved = [entry["feature"] for entry in result.details["moved_features"]]
        found += result.shift and moved[0] == 7
        others += len(set(moved) - {7}) > 0
    assert found >= MIN_DETECTIONS
    # Holm holds the family-wise error at alpha: some other feature flagged in about 1
    # seed of 20 at most; 4 or more would happen with probability 1.6% (binomial)
    assert others <= 3


def test_mmd_statistic_approximates_the_exact_kernel_mmd() -> None:
    """With many random features the statistic is the (biased) squared MMD of the RBF
    kernel with the same bandwidth, computed exactly from the kernel matrix."""
    reference, new = digits_halves(0)
    new = rotate(new[:400], 20)
    result = detector("mmd", random_features=8192, permutations=20).test(reference, new)
    bandwidth = result.details["bandwidth"]
    pooled = np.concatenate([reference, new]).reshape(900, -1).astype(np.float64)
    squared = (pooled * pooled).sum(axis=1)
    kernel = np.exp(-(squared[:, None] + squared[None] - 2 * pooled @ pooled.T) / bandwidth**2 / 2)
    weights = np.r_[np.full(500, 1 / 500), np.full(400, -1 / 400)]
    exact = weights @ kernel @ weights
    assert result.statistic == pytest.approx(exact, rel=0.1)


def test_mmd_p_value_is_a_permutation_p_value() -> None:
    reference, new = digits_halves(1)
    result = detector("mmd", permutations=99).test(reference, new)
    assert result.details["permutations"] == 99
    exceed = result.p_value * 100 - 1
    assert exceed == pytest.approx(round(exceed)) and 0 <= round(exceed) <= 99


def test_ks_statistics_and_p_values_are_scipys() -> None:
    """Ties included (digits' pixels take 17 values), samples of different sizes."""
    reference, new = digits_halves(2)
    reference, new = reference.reshape(500, -1), new.reshape(len(new), -1)
    expected = [stats.ks_2samp(reference[:, j], new[:, j], method="asymp") for j in range(64)]
    statistics = ks_statistics(reference, new)
    np.testing.assert_allclose(statistics, [e.statistic for e in expected], rtol=0, atol=1e-12)
    for j in (10, 20, 36):  # one feature: the detector's p-value is the test's own
        result = detector("ks").test(reference[:, j : j + 1], new[:, j : j + 1])
        assert result.statistic == pytest.approx(expected[j].statistic, abs=1e-12)
        assert result.p_value == pytest.approx(expected[j].pvalue, rel=1e-9)


def test_holm_adjusts_as_worked_by_hand_and_reads_no_further_than_it_must() -> None:
    # 0.005 * 4 = 0.02, 0.01 * 3 = 0.03: rejected; 0.03 * 2 = 0.06 >= 0.05: stop there
    read: list[float] = []

    def smallest_first() -> Iterator[float]:
        for p_value in (0.005, 0.01, 0.03, 0.04):
            read.append(p_value)
            yield p_value

    assert holm(smallest_first(), 4, 0.05) == (0.02, [0.02, 0.03])
    assert read == [0.005, 0.01, 0.03]
    # the adjusted values never decrease, and stay <= 1
    assert holm(iter([0.001, 0.001, 0.002]), 3, 0.05) == (0.003, [0.003, 0.003, 0.003])
    assert holm(iter([0.5, 0.9]), 2, 0.05) == (1.0, [])


def test_ks_reports_bonferroni_and_the_features_it_tested() -> None:
    reference, new = digits_halves(3)
    new = rotate(new, 30)
    result = detector("ks", report=5).test(reference, new)
    details = result.details
    assert details["correction"] == "bonferroni-holm" and details["features"] == 64
    # pixels that are 0 in every image of both samples are not tested
    constant = ((reference == 0).all(axis=0) & (new == 0).all(axis=0)).sum()
    assert details["tested"] == 64 - constant
    assert details["moved"] > 5 and len(details["moved_features"]) == 5
    statistics = [entry["statistic"] for entry in details["moved_features"]]
    assert statistics == sorted(statistics, reverse=True)
    assert result.statistic == statistics[0]


@pytest.mark.parametrize("name", ["mmd", "ks"])
def test_images_are_flattened_and_row_order_does_not_matter(name: str) -> None:
    reference, new = digits_halves(4)
    new = rotate(new, 5)
    result = detector(name).test(reference, new)
    assert detector(name).test(reference.reshape(500, 64), new.reshape(len(new), 64)) == result
    rng = np.random.default_rng(0)
    shuffled = detector(name).test(rng.permutation(reference), rng.permutation(new))
    assert shuffled == result


@pytest.mark.parametrize("name", ["mmd", "ks"])
def test_a_side_above_max_rows_is_subsampled(name: str) -> None:
    reference, new = digits_halves(5)
    result = detector(name, max_rows=300).test(reference, new)
    assert (result.n_reference, result.n_new) == (300, 300)
    assert detector(name, max_rows=300, seed=1).test(reference, new) != result


@pytest.mark.parametrize("name", ["mmd", "ks"])
def test_identical_rows_everywhere_are_no_shift(name: str) -> None:
    rows = np.ones((50, 4))
    result = detector(name).test(rows, rows[:30])
    assert (result.statistic, result.p_value, result.shift) == (0.0, 1.0, False)


@pytest.mark.parametrize(
    ("reference", "new", "message"),
    [
        (
            np.zeros((1, 4)),
            np.zeros((5, 4)),
            "the reference sample has 1 row: a drift test needs at least 2",
        ),
        (np.zeros((5, 4)), np.full((5, 4), np.nan), "the new rows hold NaN"),
        (np.zeros((5, 4)), np.zeros((5, 2, 3)), "4 features but the new rows 6"),
        (np.zeros((5, 4)), np.full((5, 4), "a"), "not numbers"),
    ],
)
def test_samples_a_test_cannot_take_are_one_line_errors(
    reference: np.ndarray, new: np.ndarray, message: str
) -> None:
    for name in ("mmd", "ks"):
        with pytest.raises(DataError, match=message):
            detector(name).test(reference, new)


def test_permutations_must_be_able_to_reach_below_alpha() -> None:
    detector("mmd", permutations=20)  # smallest p-value 1/21 < 0.05
    with pytest.raises(ConfigError, match=r"detector.permutations must be at least 20"):
        detector("mmd", permutations=19)
    detector("mmd", permutations=100, alpha=0.01)
    with pytest.raises(ConfigError, match=r"at least 100 for alpha=0.01"):
        detector("mmd", permutations=99, alpha=0.01)
