"""The built-in drift detectors: two-sample tests of new rows against a model's rows.

Rows of any shape (images, ...) are flattened to vectors of features. Each side is
tested on at most ``max_rows`` rows (a random subset of a larger side, drawn from
``seed``).

``mmd``: the kernel maximum mean discrepancy (Gretton et al., 2012) with the RBF kernel
``k(x, y) = exp(-|x - y|^2 / (2 bandwidth^2))``, the bandwidth by default the median
distance between pooled rows. The kernel is approximated by ``D`` random Fourier
features ``z(x) = sqrt(2/D) cos(W x + b)`` (Rahimi and Recht, 2007), so the statistic
``|mean z(reference) - mean z(new)|^2`` costs O(n D) instead of the exact statistic's
O(n^2) kernel matrix, and every permutation of the pooled rows is one row of a single
matrix product. The p-value is that of a permutation test of this statistic: exact in
level whatever ``D`` (the features are drawn independently of which side a row is on);
``D`` only sets how close its power is to the exact kernel's.

``ks``: a two-sample Kolmogorov-Smirnov test per feature (the statistic computed for all
features at once, the p-value SciPy's asymptotic two-sided distribution, as
``scipy.stats.ks_2samp(method="asymp")``), corrected for testing many features with
Bonferroni-Holm: the p-value is ``min(1, d * min_j p_j)`` over the ``d`` features that
vary, and the features that moved are those Holm's step-down rejects at ``alpha``. Both
hold the family-wise error rate at ``alpha`` whatever the dependence between features
(pixels are far from independent), at the price of being conservative when features
move together. Features constant in both samples cannot move and are not tested.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from typing import Any

import numpy as np

from hyperplug.errors import DataError
from hyperplug.interfaces import DriftDetector, DriftResult

#: pooled rows whose pairwise distances give the median-heuristic bandwidth
BANDWIDTH_ROWS = 1000
#: float32 entries of one block of the permutation matrix (bounds the memory used)
BLOCK_ENTRIES = 4_000_000
#: seeds the projection that orders rows canonically (fixed: not the detector's seed)
CANONICAL_SEED = 20_240_601


def as_rows(reference: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both samples as 2-D (rows, features) arrays; refuses samples a test cannot take."""
    reference, new = np.asarray(reference), np.asarray(new)
    for what, rows in (("reference", reference), ("new", new)):
        count = len(rows) if rows.ndim else 0
        if count < 2:
            raise DataError(
                f"the {what} sample has {count} row{'' if count == 1 else 's'}: a drift test "
                "needs at least 2 on each side"
            )
    reference = reference.reshape(len(reference), -1)
    new = new.reshape(len(new), -1)
    if reference.shape[1] != new.shape[1]:
        raise DataError(
            f"the reference rows have {reference.shape[1]} features but the new rows "
            f"{new.shape[1]}: a drift test compares rows of one shape"
        )
    for what, rows in (("reference", reference), ("new", new)):
        if rows.dtype.kind not in "biuf":
            raise DataError(f"the {what} rows are of dtype {rows.dtype}, not numbers")
        if rows.dtype.kind == "f" and not np.isfinite(rows).all():
            raise DataError(f"the {what} rows hold NaN or infinite values")
    return reference, new


def at_most(rows: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """``rows``, or a random subset of ``limit`` of them (in their order)."""
    if len(rows) <= limit:
        return rows
    return rows[np.sort(rng.choice(len(rows), size=limit, replace=False))]


def canonical(rows: np.ndarray) -> np.ndarray:
    """``rows`` in an order that depends only on the rows, not on the order they came in
    (sorted by a fixed random projection: only identical rows can tie, and their order
    does not matter). So a test's result depends on the two sets of rows alone: a chunk
    tested as a dataset or as its train/val/test splits gives the same result."""
    direction = np.random.default_rng(CANONICAL_SEED).standard_normal(rows.shape[1])
    keys = np.concatenate(
        [
            (rows[start : start + 4096] * direction).sum(axis=1)
            for start in range(0, len(rows), 4096)
        ]
    )
    return rows[np.argsort(keys, kind="stable")]


class Detector(DriftDetector):
    """What the built-in detectors share: flattening, the order of rows, the row budget,
    the verdict."""

    def test(self, reference: np.ndarray, new: np.ndarray) -> DriftResult:
        reference, new = as_rows(reference, new)
        rng = np.random.default_rng(self.config.seed)
        reference = at_most(canonical(reference), self.config.max_rows, rng)
        new = at_most(canonical(new), self.config.max_rows, rng)
        statistic, p_value, details = self.two_sample(reference, new, rng)
        return DriftResult(
            detector=self.config.name,
            statistic=float(statistic),
            p_value=float(p_value),
            shift=bool(p_value < self.config.alpha),
            n_reference=len(reference),
            n_new=len(new),
            details={"alpha": self.config.alpha, **details},
        )

    @abc.abstractmethod
    def two_sample(
        self, reference: np.ndarray, new: np.ndarray, rng: np.random.Generator
    ) -> tuple[float, float, dict[str, Any]]:
        """(statistic, p-value, details) of the test on 2-D samples."""


# --------------------------------------------------------------------------- mmd


def median_distance(rows: np.ndarray, rng: np.random.Generator) -> float:
    """The median Euclidean distance between distinct pairs of up to ``BANDWIDTH_ROWS``
    random rows (the mean of the non-zero distances when most pairs coincide, 0 when
    all do)."""
    rows = at_most(rows, BANDWIDTH_ROWS, rng).astype(np.float64)
    squared = (rows * rows).sum(axis=1)
    distances = squared[:, None] + squared[None, :] - 2.0 * rows @ rows.T
    upper = np.sqrt(np.maximum(distances[np.triu_indices(len(rows), k=1)], 0.0))
    median = float(np.median(upper))
    if median > 0:
        return median
    positive = upper[upper > 0]
    return float(positive.mean()) if len(positive) else 0.0


def random_subsets(rng: np.random.Generator, count: int, pool: int, size: int) -> np.ndarray:
    """``count`` rows of a (count, pool) float32 matrix, each with ones at ``size``
    positions drawn uniformly without replacement and zeros elsewhere."""
    keys = rng.random((count, pool))
    chosen = np.argpartition(keys, size - 1, axis=1)[:, :size]
    mask = np.zeros((count, pool), dtype=np.float32)
    np.put_along_axis(mask, chosen, 1.0, axis=1)
    return mask


class MMD(Detector):
    """Kernel MMD, RBF kernel, random Fourier features, permutation p-value."""

    def two_sample(
        self, reference: np.ndarray, new: np.ndarray, rng: np.random.Generator
    ) -> tuple[float, float, dict[str, Any]]:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=self.config.threads or None, user_api="blas"):
            return self.mmd(reference, new, rng)

    def mmd(
        self, reference: np.ndarray, new: np.ndarray, rng: np.random.Generator
    ) -> tuple[float, float, dict[str, Any]]:
        config = self.config
        pooled = np.concatenate([reference, new]).astype(np.float32)
        n, m, total = len(reference), len(new), len(pooled)
        bandwidth = config.bandwidth or median_distance(pooled, rng)
        details = {
            "bandwidth": bandwidth,
            "permutations": config.permutations,
            "random_features": config.random_features,
        }
        if bandwidth == 0:  # every row is the same row: nothing can differ
            return 0.0, 1.0, details
        dims = config.random_features
        weights = (rng.standard_normal((pooled.shape[1], dims)) / bandwidth).astype(np.float32)
        phases = rng.uniform(0.0, 2.0 * np.pi, dims).astype(np.float32)
        features = np.cos(pooled @ weights + phases)
        features -= features.mean(axis=0)  # centred: a side's sum is its mean difference
        # with the pooled rows centred, mean(side A) - mean(side B) = (n + m)/(n m) * sum(A)
        scale = total / (n * m) * np.sqrt(2.0 / dims)
        side = min(n, m)
        observed = features[:n].sum(axis=0, dtype=np.float64) * scale
        statistic = float(observed @ observed)
        exceed = 0
        block = max(1, BLOCK_ENTRIES // total)
        for start in range(0, config.permutations, block):
            count = min(block, config.permutations - start)
            sums = (random_subsets(rng, count, total, side) @ features).astype(np.float64)
            exceed += int((((sums * scale) ** 2).sum(axis=1) >= statistic).sum())
        p_value = (1 + exceed) / (1 + config.permutations)
        return statistic, p_value, details


# --------------------------------------------------------------------------- ks


def ks_statistics(reference: np.ndarray, new: np.ndarray) -> np.ndarray:
    """The two-sample KS statistic of every feature (column): the largest distance
    between the two empirical distribution functions, as ``scipy.stats.ks_2samp``."""
    n, m = len(reference), len(new)
    pooled = np.ascontiguousarray(np.concatenate([reference, new]).T)  # a feature a row
    order = np.argsort(pooled, axis=1)  # the order within a run of ties does not matter
    values = np.take_along_axis(pooled, order, axis=1)
    # m * n * (F_reference - F_new) after each pooled value, in integers: exact
    gaps = np.cumsum(np.where(order < n, m, -n), axis=1)
    # only where a run of equal values ends is it a difference of the two functions
    ends = np.ones(values.shape, dtype=bool)
    ends[:, :-1] = values[:, 1:] != values[:, :-1]
    return np.abs(np.where(ends, gaps, 0)).max(axis=1) / (n * m)


def holm(smallest_first: Iterable[float], count: int, alpha: float) -> tuple[float, list[float]]:
    """Holm's step-down procedure over ``count`` p-values read smallest first, lazily: it
    stops reading at the first one it cannot reject. Returns the smallest adjusted p-value
    (Bonferroni's, ``min(1, count * p)``) and the adjusted p-values of those rejected at
    ``alpha``, in order."""
    rejected: list[float] = []
    smallest, running = 1.0, 0.0
    for rank, p_value in enumerate(smallest_first):
        running = min(1.0, max(running, (count - rank) * p_value))
        if rank == 0:
            smallest = running
        if running >= alpha:
            break
        rejected.append(running)
    return smallest, rejected


class KS(Detector):
    """A Kolmogorov-Smirnov test per feature, Bonferroni-Holm corrected."""

    def two_sample(
        self, reference: np.ndarray, new: np.ndarray, rng: np.random.Generator
    ) -> tuple[float, float, dict[str, Any]]:
        from scipy import stats

        varying = ~((reference == reference[:1]).all(axis=0) & (new == reference[:1]).all(axis=0))
        tested = np.flatnonzero(varying)
        details: dict[str, Any] = {
            "correction": "bonferroni-holm",
            "features": int(reference.shape[1]),
            "tested": len(tested),
        }
        if not len(tested):
            return 0.0, 1.0, {**details, "moved": 0, "moved_features": []}
        statistics = ks_statistics(reference[:, tested], new[:, tested])
        # every feature has the same sample sizes: the larger statistic, the smaller p-value
        order = np.argsort(-statistics, kind="stable")
        size = np.round(len(reference) * len(new) / (len(reference) + len(new)))
        # SciPy's asymptotic two-sided p-value (ks_2samp, method="asymp"), computed only
        # for as many features as Holm's procedure reads
        p_values = (float(stats.kstwo.sf(statistics[j], size)) for j in order)
        p_value, moved = holm(p_values, len(tested), self.config.alpha)
        details["moved"] = len(moved)
        details["moved_features"] = [
            {
                "feature": int(tested[j]),
                "statistic": float(statistics[j]),
                "p_value": adjusted,
            }
            for j, adjusted in zip(order[: self.config.report], moved, strict=False)
        ]
        return float(statistics.max()), p_value, details
