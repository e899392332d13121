"""The continual-learning metrics on accuracy matrices worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hyperplug.cl_metrics import (
    average_accuracy,
    average_accuracy_per_update,
    backward_transfer,
    flip_rates,
    forgetting,
    forward_transfer,
    stream_metrics,
)

# R[i, j]: accuracy after update i on chunk j (3 updates, 3 chunks)
R = np.array(
    [
        [0.9, 0.1, 0.2],
        [0.6, 0.8, 0.3],
        [0.5, 0.7, 0.9],
    ]
)


def test_average_accuracy_is_the_mean_over_the_chunks_seen() -> None:
    # A_0 = 0.9; A_1 = (0.6 + 0.8) / 2 = 0.7; A_2 = (0.5 + 0.7 + 0.9) / 3 = 0.7
    np.testing.assert_allclose(average_accuracy_per_update(R), [0.9, 0.7, 0.7])
    assert average_accuracy(R) == pytest.approx(0.7)


def test_forgetting_is_the_drop_from_the_best_earlier_accuracy() -> None:
    # chunk 0: max(0.9, 0.6) - 0.5 = 0.4; chunk 1: max(0.8) - 0.7 = 0.1; mean 0.25
    assert forgetting(R) == pytest.approx(0.25)
    # a chunk that got better later is negative forgetting: max(0.5) - 0.9 = -0.4
    assert forgetting(np.array([[0.5, 0.0], [0.9, 0.8]])) == pytest.approx(-0.4)


def test_backward_transfer_compares_final_with_just_learned() -> None:
    # chunk 0: 0.5 - 0.9 = -0.4; chunk 1: 0.7 - 0.8 = -0.1; mean -0.25
    assert backward_transfer(R) == pytest.approx(-0.25)
    assert backward_transfer(np.array([[0.5, 0.0], [0.9, 0.8]])) == pytest.approx(0.4)


def test_forward_transfer_is_accuracy_before_training_against_a_baseline() -> None:
    # chunk 1 before update 1: 0.1; chunk 2 before update 2: 0.3; baseline 0.1 each
    assert forward_transfer(R, 0.1) == pytest.approx(((0.1 - 0.1) + (0.3 - 0.1)) / 2)
    assert forward_transfer(R, np.array([0.0, 0.05, 0.35])) == pytest.approx(
        ((0.1 - 0.05) + (0.3 - 0.35)) / 2
    )


def test_metrics_of_a_partial_stream_use_the_updates_so_far() -> None:
    first_two = R[:2]  # 2 updates of a 3-chunk stream
    assert average_accuracy(first_two) == pytest.approx(0.7)
    assert forgetting(first_two) == pytest.approx(0.3)  # chunk 0: 0.9 - 0.6
    assert backward_transfer(first_two) == pytest.approx(-0.3)
    one = R[:1]
    assert math.isnan(forgetting(one)) and math.isnan(backward_transfer(one))
    assert math.isnan(forward_transfer(one, 0.1))


def test_flip_rates_count_rows_that_changed_sides() -> None:
    before = np.array([True, True, True, False, False, True, False, True])
    after = np.array([True, False, True, True, False, False, False, True])
    # right -> wrong: rows 1 and 5; wrong -> right: row 3
    assert flip_rates(before, after) == (pytest.approx(2 / 8), pytest.approx(1 / 8))
    with pytest.raises(ValueError, match="same rows"):
        flip_rates(before, after[:3])


def test_stream_metrics_and_bad_matrices() -> None:
    metrics = stream_metrics(R, 0.1, (0.2, 0.1))
    assert metrics == pytest.approx(
        {
            "average_accuracy": 0.7,
            "forgetting": 0.25,
            "backward_transfer": -0.25,
            "forward_transfer": 0.1,
            "flips_to_wrong": 0.2,
            "flips_to_right": 0.1,
        }
    )
    with pytest.raises(ValueError, match="updates x chunks"):
        average_accuracy(np.zeros((3, 2)))
