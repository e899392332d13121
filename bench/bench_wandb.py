"""Per-trial cost of ``tracker=wandb`` (SQLite + W&B mirror) against ``tracker=sqlite``.

Both run the same grid study through the Python API in this process: N trials of a tiny
1-epoch MLP on sklearn digits, W&B offline, each tracker writing to its own temporary
directory. Runs alternate (sqlite, wandb, sqlite, wandb, ...) after one warm-up of each,
so machine noise hits both alike. The wandb figure includes closing the tracker, i.e.
waiting until every W&B run is finished and on disk. Prints seconds per trial for each,
the difference per trial and the ratio wandb/sqlite.

    .venv/bin/python bench/bench_wandb.py [--trials 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from hyperplug.config import configure
from hyperplug.plugin_manager import get_plugin_manager
from hyperplug.tuner import GridTuner


def build(kind: str, **node: Any) -> Any:
    component, config = configure(kind, node, get_plugin_manager())
    return component.build(config)


def one_study(tracker_name: str, trials: int, data: Any) -> float:
    """Seconds for a whole study of ``trials`` trials, tracker closed (W&B flushed)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        node = {"name": tracker_name, "path": str(root / "hp.db")}
        if tracker_name == "wandb":
            node["dir"] = str(root / "wb")
        start = time.perf_counter()
        tracker = build("tracker", **node)
        tuner = GridTuner(
            metadata_tracker=tracker,
            metrics_tracker=tracker,
            resource_version_control=build("vcs", name="store", root=str(root / "models")),
            training_params={"mlp": {"seed": list(range(trials))}},
            trainer_configs={"mlp": {"epochs": 1, "hidden_layers": [16], "threads": 1}},
        )
        try:
            tuner.run_experiment(data)
        finally:
            tracker.close()
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true")
    data = build("splitter", name="stratified").split_data(build("dataset", name="digits").load())
    for name in ("sqlite", "wandb"):  # warm-up: imports, the wandb-core service
        one_study(name, 1, data)
    times: dict[str, list[float]] = {"sqlite": [], "wandb": []}
    for _ in range(args.repeats):
        for name in times:
            times[name].append(one_study(name, args.trials, data) / args.trials)
    sqlite, wandb = (statistics.median(times[n]) for n in ("sqlite", "wandb"))
    print(f"{args.trials} trials x {args.repeats} repeats, 1-epoch MLP [16] on digits")
    for name in times:
        runs = " ".join(f"{t:.3f}" for t in times[name])
        print(f"  tracker={name:<6}  median {statistics.median(times[name]):.3f} s/trial  ({runs})")
    ratio = wandb / sqlite
    print(f"  wandb - sqlite: {wandb - sqlite:+.3f} s/trial; ratio wandb/sqlite: {ratio:.2f}")


if __name__ == "__main__":
    main()
