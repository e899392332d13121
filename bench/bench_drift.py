"""Time of the drift detectors on 10,000 rows of 64 features per side, against references.

Both sides are standard normal rows, the new side's mean moved by 0.02 in every feature
(a small shift). Each detector runs with its default config; the references run on the
same data in this process, alternating with it after one warm-up each:

- ``ks`` against ``scipy.stats.ks_2samp`` called feature by feature (``method="asymp"``,
  the p-values ``ks`` reports, and SciPy's default ``method="auto"``, exact up to 10,000
  rows), then the same Bonferroni correction of the smallest p-value;
- ``mmd`` (random Fourier features on every row) against a plain exact-kernel MMD on a
  random subsample of ``--exact-rows`` rows per side: the RBF kernel matrix with the
  same median-heuristic bandwidth and the same number of permutations, each permutation
  a quadratic form of the kernel matrix (all of them as one matrix product).

Matrix products run on ``--threads`` BLAS threads on both sides (``mmd``'s ``threads``,
default 1; 0: the BLAS library's default). Prints the median and best time of each, the
ratio detector/reference, and the goal (under 1 s per detector for 10,000 rows of 64
features).

    .venv/bin/python bench/bench_drift.py [--rows 10000] [--features 64] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats
from threadpoolctl import threadpool_limits

from hyperplug import build
from hyperplug.plugins.scipy.detectors import median_distance

GOAL_S = 1.0


def ks_by_scipy(reference: np.ndarray, new: np.ndarray, method: str) -> tuple[float, float]:
    results = [
        stats.ks_2samp(reference[:, j], new[:, j], method=method) for j in range(new.shape[1])
    ]
    bonferroni = min(1.0, len(results) * min(result.pvalue for result in results))
    return max(result.statistic for result in results), bonferroni


def exact_mmd(
    reference: np.ndarray, new: np.ndarray, rows: int, permutations: int, seed: int = 0
) -> tuple[float, float]:
    """The biased squared MMD of the RBF kernel on ``rows`` random rows per side, and its
    permutation p-value."""
    rng = np.random.default_rng(seed)
    reference = reference[rng.choice(len(reference), rows, replace=False)]
    new = new[rng.choice(len(new), rows, replace=False)]
    pooled = np.concatenate([reference, new]).astype(np.float64)
    bandwidth = median_distance(pooled, rng)
    squared = (pooled * pooled).sum(axis=1)
    distances = squared[:, None] + squared[None, :] - 2.0 * pooled @ pooled.T
    kernel = np.exp(-np.maximum(distances, 0.0) / (2.0 * bandwidth**2))
    weights = np.r_[np.full(rows, 1.0 / rows), np.full(rows, -1.0 / rows)]
    statistic = float(weights @ kernel @ weights)
    shuffled = np.stack([rng.permutation(weights) for _ in range(permutations)])
    null = ((shuffled @ kernel) * shuffled).sum(axis=1)
    return statistic, (1 + int((null >= statistic).sum())) / (1 + permutations)


def timed(run: Callable[[], Any], repeats: int, other: Callable[[], Any]) -> tuple[list, list]:
    """Times of ``run`` and ``other``, alternating, after one warm-up each."""
    run(), other()
    ours, theirs = [], []
    for _ in range(repeats):
        for times, function in ((ours, run), (theirs, other)):
            start = time.perf_counter()
            function()
            times.append(time.perf_counter() - start)
    return ours, theirs


def line(label: str, times: list[float]) -> str:
    return f"{label:>34}: median {statistics.median(times):7.3f} s, best {min(times):7.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows per side")
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--exact-rows", type=int, default=1000, help="exact MMD rows per side")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (0: default)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((args.rows, args.features)).astype(np.float32)
    new = (rng.standard_normal((args.rows, args.features)) + 0.02).astype(np.float32)
    print(
        f"{args.rows} rows x {args.features} features per side, {args.repeats} repeats, "
        f"BLAS threads {args.threads or 'default'}"
    )
    ks = build("detector", name="ks")
    mmd = build("detector", name="mmd", threads=args.threads)
    permutations = mmd.config.permutations
    cases = [
        (
            "ks",
            ks,
            "scipy ks_2samp per feature (asymp)",
            lambda: ks_by_scipy(reference, new, "asymp"),
        ),
        (
            "ks",
            ks,
            "scipy ks_2samp per feature (auto)",
            lambda: ks_by_scipy(reference, new, "auto"),
        ),
        (
            "mmd",
            mmd,
            f"exact-kernel MMD, {args.exact_rows} rows/side",
            lambda: exact_mmd(reference, new, args.exact_rows, permutations),
        ),
    ]
    verdicts = []
    for name, detector, label, plain_run in cases:

        def reference_run(run: Callable[[], Any] = plain_run) -> Any:
            with threadpool_limits(limits=args.threads or None, user_api="blas"):
                return run()

        ours, theirs = timed(lambda d=detector: d.test(reference, new), args.repeats, reference_run)
        result, (statistic, p_value) = detector.test(reference, new), reference_run()
        ratio = statistics.median(ours) / statistics.median(theirs)
        ok = statistics.median(ours) < GOAL_S
        verdicts.append(ok)
        print(
            line(f"{name} ({mmd.config.random_features} features)" if name == "mmd" else name, ours)
        )
        print(line(label, theirs))
        print(
            f"{'':>34}  statistic {result.statistic:.4g} vs {statistic:.4g}, p-value "
            f"{result.p_value:.4g} vs {p_value:.4g}; ratio detector/reference {ratio:.3f}"
        )
    print(f"goal (each detector under {GOAL_S:g} s): {'ok' if all(verdicts) else 'missed'}")


if __name__ == "__main__":
    main()
