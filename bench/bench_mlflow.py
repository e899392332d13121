"""Per-trial cost of ``tracker=mlflow`` (SQLite + MLflow mirror) against ``tracker=sqlite``.

All run the same grid study through the Python API in this process: N trials of a tiny
1-epoch MLP on sklearn digits, each study's SQLite record in its own temporary directory.
MLflow is measured twice: on a local ``sqlite:///`` store, and on a real ``mlflow server``
this script starts on loopback (``--no-server`` skips it). Each MLflow store is created
by the warm-up, so the studies measure the runs, not MLflow's one-time database setup.
Runs alternate (sqlite, mlflow-sqlite, mlflow-server, sqlite, ...) after one warm-up of
each, so machine noise hits all alike. ``--wandb`` adds ``tracker=wandb`` (W&B offline,
as bench_wandb.py) to the rotation: the other mirror's cost, measured under the same load.
The mirrors' figures include closing the tracker, i.e. waiting until every write is done.
Prints seconds per trial for each, the difference per trial and the ratio against sqlite.

    .venv/bin/python bench/bench_mlflow.py [--trials 10] [--repeats 3] [--no-server] [--wandb]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from hyperplug.config import configure
from hyperplug.plugin_manager import get_plugin_manager
from hyperplug.plugins.mlflow.local_server import local_server
from hyperplug.tuner import GridTuner


def build(kind: str, **node: Any) -> Any:
    component, config = configure(kind, node, get_plugin_manager())
    return component.build(config)


def one_study(node: dict[str, Any], trials: int, data: Any) -> float:
    """Seconds for a whole study of ``trials`` trials, tracker closed (MLflow written)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        if node["name"] == "wandb":
            node = {**node, "dir": str(root / "wandb")}
        tracker = build("tracker", **node, path=str(root / "hp.db"))
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
    parser.add_argument("--no-server", action="store_true", help="skip the mlflow server")
    parser.add_argument("--wandb", action="store_true", help="add tracker=wandb (offline)")
    args = parser.parse_args()
    data = build("splitter", name="stratified").split_data(build("dataset", name="digits").load())
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        nodes = {
            "sqlite": {"name": "sqlite"},
            "mlflow-sqlite": {"name": "mlflow", "uri": f"sqlite:///{tmp}/mlflow.db"},
        }
        if not args.no_server:
            server = stack.enter_context(local_server(Path(tmp) / "server"))
            nodes["mlflow-server"] = {"name": "mlflow", "uri": server.url}
        if args.wandb:
            os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true")
            nodes["wandb"] = {"name": "wandb"}
        for node in nodes.values():  # warm-up: imports, MLflow's store and experiment
            one_study(node, 1, data)
        times: dict[str, list[float]] = {name: [] for name in nodes}
        for _ in range(args.repeats):
            for name, node in nodes.items():
                times[name].append(one_study(node, args.trials, data) / args.trials)
    print(f"{args.trials} trials x {args.repeats} repeats, 1-epoch MLP [16] on digits")
    width = max(map(len, times))
    for name, values in times.items():
        runs = " ".join(f"{t:.3f}" for t in values)
        median = statistics.median(values)
        print(f"  tracker={name:<{width}}  median {median:.3f} s/trial  ({runs})")
    sqlite = statistics.median(times["sqlite"])
    for name in [n for n in times if n != "sqlite"]:
        mlflow = statistics.median(times[name])
        print(
            f"  {name} - sqlite: {mlflow - sqlite:+.3f} s/trial; "
            f"ratio {name}/sqlite: {mlflow / sqlite:.2f}"
        )


if __name__ == "__main__":
    main()
