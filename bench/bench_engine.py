"""The study engine: per-trial overhead of the backends, 2 workers against 1, and search
efficiency of ASHA and RUSH against the grid on digits.

1. overhead: a trivial trainer (3 epochs, no computation) run as N trials by
   ``backend=inline``, ``backend=local`` (1 worker) and Syne Tune's own ``LocalBackend``
   (one Python process per trial, the same 3 reports through ``syne_tune.Reporter``),
   all in this run. Seconds per trial = wall time of the study / trials; for local also
   the steady state (first to last trial end, worker start-up excluded).
2. scaling: the same CPU-bound MLP trials (1 torch thread each) on 1 and on 2 local
   workers; trials/s ratio (goal >= 1.8, on a machine with 2 free cores).
3. efficiency: a digits grid study, then ASHA and RUSH (warm-started from the grid
   study) over the matching ranges; the time each needs to get within 0.5 points of the
   grid's best val accuracy, as a fraction of the grid's whole time (goal ASHA <= 1/3).

    .venv/bin/python bench/bench_engine.py [--trials 40] [--st-trials 6] [--skip ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from hyperplug.config import configure
from hyperplug.interfaces import ModelTrainer
from hyperplug.plugin_manager import get_plugin_manager
from hyperplug.tuner import Tuner


@attrs.define
class NoopConfig:
    name: str = "noop"
    epochs: int = 3
    x: int = 0


class NoopTrainer(ModelTrainer):
    """Reports ``epochs`` epochs and does nothing else: all that is left is overhead."""

    name = "noop"
    config_class = NoopConfig

    def fit(self, data: Any, report: Any) -> None:
        for epoch in range(1, self.config.epochs + 1):
            if not report(epoch, {"train_loss": 1.0, "val_loss": 1.0, "val_accuracy": 0.5}):
                return

    def evaluate(self, split: Any) -> dict[str, float]:
        return {"loss": 1.0, "accuracy": 0.5}

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(len(x), dtype=np.int64)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"w": np.zeros(4, dtype=np.float32)}

    def model_info(self) -> dict[str, Any]:
        return {}

    @classmethod
    def restore(cls, config: Any, state: Any, info: Any) -> NoopTrainer:
        return cls(config)


def build(kind: str, **node: Any) -> Any:
    component, config = configure(kind, node, get_plugin_manager())
    return component.build(config)


def digits() -> Any:
    return build("splitter", name="stratified").split_data(build("dataset", name="digits").load())


def tuner(root: Path, name: str, params: Any, **kw: Any) -> Tuner:
    tracker = build("tracker", name="sqlite", path=str(root / "hp.db"))
    return Tuner(
        metadata_tracker=tracker,
        metrics_tracker=tracker,
        resource_version_control=build("vcs", name="store", root=str(root / "models")),
        training_params=params,
        home=root,
        study_name=name,
        model_name=name,
        **kw,
    )


def ends(t: Tuner) -> list[Any]:
    return sorted(t.metadata_tracker.list_trials(t.study.id), key=lambda r: r.ended_at)


# --------------------------------------------------------------------------- 1. overhead


SYNE_SCRIPT = """
from syne_tune import Reporter
from argparse import ArgumentParser
parser = ArgumentParser()
parser.add_argument("--x", type=int)
parser.parse_known_args()
report = Reporter()
for epoch in range(1, 4):
    report(epoch=epoch, val_accuracy=0.5)
"""


def syne_tune_local(root: Path, n: int) -> float:
    from syne_tune import StoppingCriterion
    from syne_tune import Tuner as SyneTuner
    from syne_tune.backend import LocalBackend
    from syne_tune.config_space import randint
    from syne_tune.optimizer.baselines import RandomSearch

    os.environ["SYNETUNE_FOLDER"] = str(root / "syne-tune")  # not ~/syne-tune
    script = root / "noop_script.py"
    script.write_text(textwrap.dedent(SYNE_SCRIPT))
    scheduler = RandomSearch(
        {"x": randint(0, 10**6)}, metrics=["val_accuracy"], do_minimize=False, random_seed=0
    )
    st = SyneTuner(
        trial_backend=LocalBackend(entry_point=str(script)),
        scheduler=scheduler,
        stop_criterion=StoppingCriterion(max_num_trials_completed=n),
        n_workers=1,
        save_tuner=False,
        start_jobs_without_delay=True,
    )
    here = os.getcwd()
    os.chdir(root)  # Syne Tune writes std.out into the working directory
    try:
        start = time.perf_counter()
        st.run()
        return (time.perf_counter() - start) / n
    finally:
        os.chdir(here)


def overhead(root: Path, n: int, st_n: int) -> None:
    data = digits()
    params = {NoopTrainer: {"x": list(range(n))}}
    start = time.perf_counter()
    t = tuner(root / "inline", "inline", params)
    t.run_experiment(data)
    inline = (time.perf_counter() - start) / n
    trials = ends(t)
    inline_steady = (trials[-1].ended_at - trials[0].ended_at) / (n - 1)

    start = time.perf_counter()
    t = tuner(root / "local", "local", params, backend=build("backend", name="local"))
    t.run_experiment(data)
    local = (time.perf_counter() - start) / n
    trials = ends(t)
    steady = (trials[-1].ended_at - trials[0].ended_at) / (n - 1)

    syne = syne_tune_local(root, st_n)
    print(f"overhead, trivial trainer (3 epochs): {n} trials (Syne Tune: {st_n})")
    print(
        f"  backend=inline          {inline * 1000:8.2f} ms/trial incl. study set-up; "
        f"steady state {inline_steady * 1000:.2f} ms/trial"
    )
    print(
        f"  backend=local (1 worker){local * 1000:8.2f} ms/trial incl. worker start-up; "
        f"steady state {steady * 1000:.2f} ms/trial"
    )
    print(f"  Syne Tune LocalBackend  {syne * 1000:8.2f} ms/trial")
    print(
        f"  ratio Syne Tune / local: {syne / local:.1f}x (steady state {syne / steady:.1f}x); "
        f"Syne Tune / inline: {syne / inline:.0f}x"
    )


# --------------------------------------------------------------------------- 2. scaling


def scaling(root: Path, n: int) -> None:
    """1 worker, 2 workers, and again, so that the machine's load hits both alike; the
    best of the two runs of each counts."""
    data = digits()
    params = {
        "mlp": {
            "lr": [0.01 * (i + 1) / n for i in range(n)],
            "hidden_layers": [[256, 256]],
            "epochs": 40,
            "threads": 1,
        }
    }
    rates: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    for run, workers in enumerate((1, 2, 1, 2)):
        backend = build("backend", name="local", n_workers=workers, threads_per_worker=1)
        t = tuner(root / f"w{run}", f"w{run}", params, backend=backend)
        start = time.perf_counter()
        t.run_experiment(data)
        total = time.perf_counter() - start
        trials = ends(t)
        steady = (len(trials) - workers) / (trials[-1].ended_at - trials[workers - 1].ended_at)
        rates[workers].append((n / total, steady))
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(
            f"  {workers} worker(s): {n / total:.2f} trials/s incl. start-up, "
            f"{steady:.2f} trials/s steady state (load average after: {load})"
        )
    one = max(r[1] for r in rates[1])
    two = max(r[1] for r in rates[2])
    whole = max(r[0] for r in rates[2]) / max(r[0] for r in rates[1])
    print(
        f"  ratio 2/1 workers (best runs): {two / one:.2f}x steady state, "
        f"{whole:.2f}x incl. start-up"
    )


# --------------------------------------------------------------------------- 3. efficiency


def time_to(t: Tuner, target: float) -> float | None:
    start = min(r.started_at for r in ends(t))
    for record in ends(t):
        if record.status != "failed" and record.metrics.get("val_accuracy", 0) >= target:
            return record.ended_at - start
    return None


def efficiency(root: Path) -> None:
    data = digits()
    lrs = [0.001, 0.003, 0.01, 0.03]
    layers = [[32], [64], [128, 64]]
    base = {"mlp": {"epochs": 20, "batch_size": 64}}
    grid = tuner(
        root / "eff", "grid", {"mlp": {"lr": lrs, "hidden_layers": layers}}, trainer_configs=base
    )
    grid.run_experiment(data)
    trials = ends(grid)
    grid_time = trials[-1].ended_at - min(r.started_at for r in trials)
    best = max(r.metrics["val_accuracy"] for r in trials)
    target = best - 0.005
    own = time_to(grid, best)
    print(
        f"  grid: 12 trials x 20 epochs, {grid_time:.1f} s (first trial start to last end), "
        f"best val_accuracy {best:.4f}, reached at {own:.1f} s"
    )
    space = {"mlp": {"lr": "loguniform(0.001, 0.03)", "hidden_layers": layers}}
    for name, extra in (("asha", {}), ("rush", {"reference_study": "grid"})):
        opt = build("optimizer", name=name, max_epochs=20, max_trials=12, seed=0, **extra)
        t = tuner(root / "eff", name, space, optimizer=opt, trainer_configs=base)
        t.run_experiment(data)
        total = ends(t)[-1].ended_at - min(r.started_at for r in ends(t))
        reached = time_to(t, target)
        top = max(r.metrics.get("val_accuracy", 0) for r in ends(t))
        shown = "not reached" if reached is None else f"{reached:.1f} s = {reached / grid_time:.2f}"
        print(
            f"  {name}: 12 trials, {total:.1f} s, best {top:.4f}; within 0.5 points of the "
            f"grid's best: {shown} of the grid's time"
        )


LOAD = ""


def main() -> None:
    global LOAD
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--st-trials", type=int, default=6)
    parser.add_argument("--scale-trials", type=int, default=8)
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["overhead", "scaling", "efficiency"]
    )
    args = parser.parse_args()
    LOAD = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {LOAD}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if "overhead" not in args.skip:
            overhead(root, args.trials, args.st_trials)
        if "scaling" not in args.skip:
            print(f"scaling: {args.scale_trials} CPU-bound MLP trials (1 torch thread each)")
            scaling(root, args.scale_trials)
        if "efficiency" not in args.skip:
            print("search efficiency on digits (inline backend)")
            efficiency(root)


if __name__ == "__main__":
    main()
