"""``backend=ray`` against Ray Tune itself, and 2 actors against 1, on one Ray instance
this script starts (2 CPUs, a small object store).

1. overhead: the trivial trainer of bench_engine.py (3 epochs, no computation) as N
   trials, two at a time, by hyperplug's study with ``backend=ray`` (2 actors, 1 CPU
   each; tracker, staging and the winner's version included) and by Ray Tune's
   ``Tuner`` running the same trainer in a function trainable (``tune.report`` every
   epoch, the data through ``tune.with_parameters``, ``reuse_actors=True``,
   ``max_concurrent_trials=2``, 1 CPU per trial; Tune's default loggers). Each runs
   twice, alternated; the better run of each counts. Per trial: the run's wall time /
   trials, and the steady state (first to last trial end / the trials in between); and
   the time from the run's start to its first finished trial (actor start included).
2. scaling: CPU-bound MLP trials (256-256 hidden, 40 epochs, 1 torch thread each) on 1
   and on 2 actors, alternated 1, 2, 1, 2; trials/s in the steady state, best run of each.

    .venv/bin/python bench/bench_ray.py [--trials 40] [--mlp-trials 8] [--skip scaling]

Needs the bench extra (Ray Tune): pip install -c constraints.txt -e '.[bench]'.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_engine import NoopConfig, NoopTrainer, build, digits, ends, tuner

CPUS = 2


def hyperplug_ray(root: Path, name: str, params: Any, data: Any, **backend: Any) -> Any:
    """A study on backend=ray; (seconds per trial, steady-state seconds per trial, time to
    the first finished trial, the study's trial records)."""
    t = tuner(root, name, params, backend=build("backend", name="ray", **backend))
    start = time.time()
    t.run_experiment(data)
    total = time.time() - start
    trials = ends(t)
    n = len(trials)
    steady = (trials[-1].ended_at - trials[1].ended_at) / (n - 2)
    return total / n, steady, trials[0].ended_at - start, trials


def ray_tune(root: Path, n: int, data: Any) -> tuple[float, float, float]:
    """The same trials under Ray Tune: (seconds per trial, steady state, first finished)."""
    try:
        from ray import tune
    except ImportError:
        sys.exit("bench_ray.py needs Ray Tune: pip install -c constraints.txt -e '.[bench]'")

    ended: list[float] = []

    class Ends(tune.Callback):
        def on_trial_complete(self, iteration: int, trials: Any, trial: Any, **info: Any) -> None:
            ended.append(time.time())

    def trainable(config: dict[str, Any], data: Any = None) -> None:
        def report(epoch: int, metrics: dict[str, float]) -> bool:
            tune.report({**metrics, "epoch": epoch})
            return True

        NoopTrainer(NoopConfig(x=config["x"])).fit(data, report)

    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(trainable, data=data), {"cpu": 1}),
        param_space={"x": tune.grid_search(list(range(n)))},
        tune_config=tune.TuneConfig(
            metric="val_accuracy", mode="max", max_concurrent_trials=CPUS, reuse_actors=True
        ),
        run_config=tune.RunConfig(
            storage_path=str(root), name="tune", verbose=0, callbacks=[Ends()]
        ),
    )
    start = time.time()
    results = tuner.fit()
    total = time.time() - start
    assert len(results) == n and not results.errors, results.errors
    ended.sort()
    return total / n, (ended[-1] - ended[1]) / (n - 2), ended[0] - start


def overhead(root: Path, n: int) -> None:
    data = digits()
    params = {NoopTrainer: {"x": list(range(n))}}
    ours: list[tuple[float, float, float]] = []
    theirs: list[tuple[float, float, float]] = []
    for run in range(2):
        per, steady, first, _ = hyperplug_ray(
            root / f"hp{run}", f"hp{run}", params, data, n_workers=CPUS
        )
        ours.append((per, steady, first))
        theirs.append(ray_tune(root / f"tune{run}", n, data))
    print(f"overhead, trivial trainer (3 epochs): {n} trials, {CPUS} at a time")
    for label, runs in (("hyperplug backend=ray", ours), ("Ray Tune (reuse_actors)", theirs)):
        for per, steady, first in runs:
            print(
                f"  {label:24} {per * 1000:8.2f} ms/trial incl. start; steady state "
                f"{steady * 1000:7.2f} ms/trial; first trial finished after {first:.2f} s"
            )
    best = [min(r[i] for r in ours) for i in range(3)]
    ref = [min(r[i] for r in theirs) for i in range(3)]
    print(
        f"  ratio hyperplug/Ray Tune (best runs): {best[0] / ref[0]:.2f} incl. start, "
        f"{best[1] / ref[1]:.2f} steady state, {best[2] / ref[2]:.2f} time to first "
        "finished trial (goal: each <= 1)"
    )


def scaling(root: Path, n: int) -> None:
    data = digits()
    params = {
        "mlp": {
            "lr": [0.01 * (i + 1) / n for i in range(n)],
            "hidden_layers": [[256, 256]],
            "epochs": 40,
            "threads": 1,
        }
    }
    print(f"scaling: {n} CPU-bound MLP trials (1 torch thread each)")
    rates: dict[int, list[float]] = {1: [], 2: []}
    for run, workers in enumerate((1, 2, 1, 2)):
        name = f"w{run}"
        _, _, _, trials = hyperplug_ray(root / name, name, params, data, n_workers=workers)
        span = trials[-1].ended_at - trials[workers - 1].ended_at
        rate = (len(trials) - workers) / span
        rates[workers].append(rate)
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"  {workers} actor(s): {rate:.2f} trials/s steady state (load average: {load})")
    ratio = max(rates[2]) / max(rates[1])
    print(f"  ratio 2/1 actors (best runs): {ratio:.2f}x (goal >= 1.8)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--mlp-trials", type=int, default=8)
    parser.add_argument("--skip", nargs="*", default=[], choices=["overhead", "scaling"])
    args = parser.parse_args()
    # a token of this run's own: nothing written to ~/.ray
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(16))
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    ray.init(
        num_cpus=CPUS,
        object_store_memory=200 * 2**20,
        include_dashboard=False,
        logging_level="WARNING",
        log_to_driver=False,
    )
    import torch

    print(f"ray {ray.__version__}, torch {torch.__version__}, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        if "overhead" not in args.skip:
            overhead(Path(tmp), args.trials)
        if "scaling" not in args.skip:
            scaling(Path(tmp), args.mlp_trials)
    ray.shutdown()


if __name__ == "__main__":
    main()
