"""A local worker's start-up to its first trial's first report, phase by phase, against a
bare spawned process that imports torch and trains the same MLP epoch by hand.

The worker side runs what ``hyperplug.plugins.local.worker.worker_main`` runs, timed:
the spawn (a fresh interpreter unpickling its arguments), ``import hyperplug``, the
plugin manager, the data (sent pickled, as the local backend does for data up to 64 MiB,
or built from the digits recipe with ``--build-data``), then one trial of the ``mlp``
trainer (``import torch`` happens there) up to its first report. The reference pays the
interpreter, torch and the epoch, nothing else. Both alternate, ``--repeats`` times each.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from multiprocessing.connection import Connection
from typing import Any

PHASES = ("spawn", "import hyperplug", "plugin manager", "data", "trial to first report")


def worker(conn: Connection, spawned: float, data: Any, recipe: Any) -> None:
    marks = [time.time()]
    import hyperplug.plugins.local.worker  # noqa: F401 - what the worker target imports

    marks.append(time.time())
    from hyperplug.plugin_manager import get_plugin_manager

    manager = get_plugin_manager()
    marks.append(time.time())
    from hyperplug.trial_runner import load_recipe

    data = load_recipe(recipe) if data is None else data
    marks.append(time.time())
    import attrs

    from hyperplug.interfaces import TrialTask
    from hyperplug.plugins.torch.configs import MLPConfig
    from hyperplug.trial_runner import execute_trial

    config = attrs.asdict(MLPConfig(epochs=1, hidden_layers=[128, 64], threads=1))

    def report(epoch: int, metrics: Any) -> bool:
        marks.append(time.time())
        conn.send([b - a for a, b in zip([spawned, *marks], marks, strict=False)])
        return True

    execute_trial(TrialTask(1, "mlp", {}, config, "val_accuracy", "max"), data, report, manager)


def bare(conn: Connection, spawned: float, data: Any) -> None:
    import torch
    from torch import nn

    torch.set_num_threads(1)
    x = torch.from_numpy(data.train.x.reshape(len(data.train), -1).astype("float32"))
    y = torch.from_numpy(data.train.y.astype("int64"))
    model = nn.Sequential(nn.Linear(x.shape[1], 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())
    model.append(nn.Linear(64, data.n_classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for start in range(0, len(y), 64):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x[start : start + 64]), y[start : start + 64]).backward()
        optimizer.step()
    conn.send(time.time() - spawned)


def timed(context: Any, target: Any, *args: Any) -> Any:
    parent, child = context.Pipe()
    process = context.Process(target=target, args=(child, time.time(), *args))
    process.start()
    result = parent.recv()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--build-data", action="store_true", help="workers build digits")
    args = parser.parse_args()
    from hyperplug.api import build
    from hyperplug.interfaces import DataRecipe

    data = build("splitter", name="stratified").split_data(build("dataset", name="digits").load())
    recipe = DataRecipe(data.fingerprint, {"name": "digits"}, {"name": "stratified"})
    context = multiprocessing.get_context("spawn")
    phases: list[list[float]] = []
    references: list[float] = []
    for _ in range(args.repeats):
        phases.append(timed(context, worker, None if args.build_data else data, recipe))
        references.append(timed(context, bare, data))
    medians = [statistics.median(p[i] for p in phases) for i in range(len(PHASES))]
    total = statistics.median(sum(p) for p in phases)
    reference = statistics.median(references)
    source = "built from the digits recipe" if args.build_data else "sent"
    print(f"worker start-up to its first report (data {source}), median of {args.repeats}:")
    for name, value in zip(PHASES, medians, strict=True):
        print(f"  {name:>22}: {value:5.2f} s")
    print(f"  {'total':>22}: {total:5.2f} s")
    print(f"bare process (interpreter, torch, the same epoch by hand): {reference:5.2f} s")
    print(f"ratio worker/bare: {total / reference:.2f}")


if __name__ == "__main__":
    main()
