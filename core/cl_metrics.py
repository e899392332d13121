"""Continual-learning metrics from an accuracy matrix (plain numpy).

``R[i, j]`` is the accuracy, after update i, on the test rows of chunk j (i, j from 0;
T chunks, so R is T x T when every update was evaluated on every chunk). With T updates:

- average accuracy after update i: ``A_i = mean_{j <= i} R[i, j]``; the stream's
  *average accuracy* is ``A_{T-1}`` (Lopez-Paz and Ranzato, 2017);
- *forgetting* of chunk j: the best accuracy it had after an update before the last,
  minus its final accuracy, ``f_j = max_{j <= l < T-1} R[l, j] - R[T-1, j]``; the stream's
  forgetting is the mean over j < T-1 (Chaudhry et al., 2018);
- *backward transfer*: ``BWT = mean_{j < T-1} (R[T-1, j] - R[j, j])``, negative when
  learning later chunks hurt earlier ones (Lopez-Paz and Ranzato, 2017);
- *forward transfer*: ``FWT = mean_{j >= 1} (R[j-1, j] - b_j)``, how well the model does
  on a chunk before it trains on it, against ``b_j``, the accuracy of a model that has
  not learned (by default chance: one over the number of classes);
- *flip rates* between two models on the same rows: the share of rows right before and
  wrong after (``to_wrong``, negative flips), and wrong before and right after
  (``to_right``).

Metrics that need more updates than there are (forgetting with one update) are NaN.
"""

from __future__ import annotations

import math

import numpy as np


def _matrix(accuracy: np.ndarray) -> np.ndarray:
    matrix = np.asarray(accuracy, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] == 0 or matrix.shape[0] > matrix.shape[1]:
        raise ValueError(
            f"an accuracy matrix is updates x chunks with no more updates than chunks, "
            f"got shape {matrix.shape}"
        )
    return matrix


def average_accuracy_per_update(accuracy: np.ndarray) -> np.ndarray:
    """``A_i`` for every update i: the mean accuracy on the chunks seen so far."""
    r = _matrix(accuracy)
    return np.array([r[i, : i + 1].mean() for i in range(r.shape[0])])


def average_accuracy(accuracy: np.ndarray) -> float:
    """``A`` after the last update."""
    return float(average_accuracy_per_update(accuracy)[-1])


def forgetting(accuracy: np.ndarray) -> float:
    """Mean over the chunks before the last update of (best earlier accuracy - final)."""
    r = _matrix(accuracy)
    last = r.shape[0] - 1
    if last == 0:
        return math.nan
    return float(np.mean([r[j:last, j].max() - r[last, j] for j in range(last)]))


def backward_transfer(accuracy: np.ndarray) -> float:
    """Mean over the chunks before the last update of (final accuracy - accuracy right
    after learning the chunk)."""
    r = _matrix(accuracy)
    last = r.shape[0] - 1
    if last == 0:
        return math.nan
    return float(np.mean([r[last, j] - r[j, j] for j in range(last)]))


def forward_transfer(accuracy: np.ndarray, baseline: np.ndarray | float) -> float:
    """Mean over updates i >= 1 of (accuracy on chunk i before training on it - the
    ``baseline`` accuracy of a model that has not learned, per chunk or one for all)."""
    r = _matrix(accuracy)
    b = np.broadcast_to(np.asarray(baseline, dtype=np.float64), (r.shape[1],))
    if r.shape[0] < 2:
        return math.nan
    return float(np.mean([r[i - 1, i] - b[i] for i in range(1, r.shape[0])]))


def flip_rates(correct_before: np.ndarray, correct_after: np.ndarray) -> tuple[float, float]:
    """(``to_wrong``, ``to_right``): shares of the rows that a model got right and its
    successor wrong, and the reverse."""
    before = np.asarray(correct_before, dtype=bool)
    after = np.asarray(correct_after, dtype=bool)
    if before.shape != after.shape:
        raise ValueError(f"flip rates compare the same rows, got {before.shape} and {after.shape}")
    if before.size == 0:
        return math.nan, math.nan
    return float(np.mean(before & ~after)), float(np.mean(~before & after))


def stream_metrics(
    accuracy: np.ndarray, baseline: float, flips: tuple[float, float] | None = None
) -> dict[str, float]:
    """Every metric of the stream so far, as a tracker records it."""
    metrics = {
        "average_accuracy": average_accuracy(accuracy),
        "forgetting": forgetting(accuracy),
        "backward_transfer": backward_transfer(accuracy),
        "forward_transfer": forward_transfer(accuracy, baseline),
    }
    if flips is not None:
        metrics["flips_to_wrong"], metrics["flips_to_right"] = flips
    return metrics
