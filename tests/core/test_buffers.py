"""The memory buffers keep the rows their policy promises, within their budget, and come
back from their saved state exactly."""

from __future__ import annotations

import numpy as np
import pytest

from hyperplug.buffers import load_buffer, make_buffer
from hyperplug.errors import ConfigError


def rows(start: int, n: int, label: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose single feature is their position in the stream."""
    x = np.arange(start, start + n, dtype=np.float32).reshape(n, 1)
    y = np.full(n, label, dtype=np.int64) if label is not None else np.arange(n) % 3
    return x, y


def test_reservoir_keeps_a_uniform_sample_of_every_row_offered() -> None:
    """Over 400 seeds, each of 200 rows offered to a 20-row reservoir stays with
    probability 0.1: early and late rows alike (sampling on arrival would keep the first,
    a FIFO the last)."""
    kept = np.zeros(200)
    for seed in range(400):
        buffer = make_buffer("reservoir", 20, np.random.default_rng(seed))
        for start in range(0, 200, 25):  # offered in batches, as training does
            buffer.add(*rows(start, 25))
        assert len(buffer) == 20
        kept[buffer.x[:, 0].astype(int)] += 1
    rate = kept / 400
    assert abs(rate.mean() - 0.1) < 1e-9
    assert abs(rate[:100].mean() - rate[100:].mean()) < 0.02
    assert rate.min() > 0.03 and rate.max() < 0.2  # no row is never or always kept


def test_class_balanced_evens_out_a_skewed_stream() -> None:
    buffer = make_buffer("class_balanced", 90, np.random.default_rng(0))
    for label, count in ((0, 600), (1, 120), (2, 20)):
        buffer.add(*rows(0, count, label))
    assert len(buffer) == 90
    assert buffer.counts() == {0: 35, 1: 35, 2: 20}  # a small class keeps every row
    buffer.add(*rows(0, 40, 3))  # a new class takes its share from the largest
    counts = buffer.counts()
    assert len(buffer) == 90 and counts.pop(2) == 20
    assert max(counts.values()) - min(counts.values()) <= 1, counts


def test_sliding_window_keeps_the_most_recent_rows() -> None:
    buffer = make_buffer("sliding_window", 30, np.random.default_rng(0))
    for start in range(0, 100, 16):
        buffer.add(*rows(start, 16))
    assert sorted(buffer.x[:, 0].astype(int)) == list(range(82, 112))  # 7 batches: 112 rows


def test_unbounded_keeps_every_row() -> None:
    buffer = make_buffer("unbounded", None, np.random.default_rng(0))
    for start in range(0, 3000, 500):
        buffer.add(*rows(start, 500))
    assert sorted(buffer.x[:, 0].astype(int)) == list(range(3000))


@pytest.mark.parametrize("kind", ["reservoir", "class_balanced", "sliding_window", "unbounded"])
def test_a_saved_buffer_goes_on_as_if_it_had_never_stopped(kind: str) -> None:
    """Save after 3 batches, load with a generator in the same state, add 3 more: the
    same rows in the same slots as a buffer that was never saved."""
    size = None if kind == "unbounded" else 25

    def offer(buffer, first, last):
        for start in range(first, last, 20):
            buffer.add(*rows(start, 20), {"logits": np.full((20, 2), start, np.float32)})

    straight = make_buffer(kind, size, np.random.default_rng(5))
    offer(straight, 0, 60)
    arrays, info = straight.to_state("memory/")
    state = straight.rng.bit_generator.state
    offer(straight, 60, 120)

    rng = np.random.default_rng()
    rng.bit_generator.state = state
    resumed = load_buffer(kind, size, rng, arrays, info, "memory/")
    offer(resumed, 60, 120)
    np.testing.assert_array_equal(resumed.x, straight.x)
    np.testing.assert_array_equal(resumed.y, straight.y)
    np.testing.assert_array_equal(resumed.extras["logits"], straight.extras["logits"])
    assert resumed.seen == straight.seen == 120


def test_a_smaller_budget_or_another_policy_takes_the_saved_rows_within_it() -> None:
    big = make_buffer("reservoir", 50, np.random.default_rng(0))
    big.add(*rows(0, 50))
    arrays, info = big.to_state("")
    small = load_buffer("class_balanced", 12, np.random.default_rng(0), arrays, info, "")
    assert len(small) == 12 and set(small.counts().values()) == {4}


def test_extras_of_another_width_are_padded_with_nan() -> None:
    buffer = make_buffer("reservoir", 4, np.random.default_rng(0))
    buffer.add(*rows(0, 2), {"logits": np.ones((2, 2), np.float32)})
    buffer.add(*rows(2, 2), {"logits": np.ones((2, 3), np.float32)})
    logits = buffer.extras["logits"]
    assert logits.shape == (4, 3)
    assert np.isnan(logits[:2, 2]).all() and not np.isnan(logits[2:]).any()
    buffer.add(*rows(4, 0))
    assert len(buffer) == 4


def test_bad_buffers_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match="size >= 1"):
        make_buffer("reservoir", 0, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="unknown memory buffer 'fifo'"):
        make_buffer("fifo", 10, np.random.default_rng(0))
    buffer = make_buffer("reservoir", 3, np.random.default_rng(0))
    buffer.add(*rows(0, 2))
    with pytest.raises(ConfigError, match=r"rows shaped \(1,\), got a row shaped \(2,\)"):
        buffer.add(np.zeros((1, 2)), np.zeros(1, dtype=np.int64))
