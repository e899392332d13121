"""Every built-in updater on two simulated streams of digits: final average accuracy,
forgetting and time, each the median of 3 seeds (the table in docs/updates.md).

Streams: ``class_incremental`` (digits, 5 chunks of 2 classes) and ``rotation``
(digits_images, 5 chunks rotated 0-80 degrees). The model is the same MLP (hidden layer
64, Adam lr 1e-3, batch 32, 10 epochs) for every updater; the trainer's seed changes
with the run. Updates run in memory exactly as update trials do
(``hyperplug.testing.updater.run_stream``), so the times are the updaters' own. The
references, measured in the same run: ``fine_tuning`` (no memory: the forgetting to
beat) and ``joint`` (all data every time: the accuracy ceiling); each updater's time is
also printed as a ratio to fine_tuning's.

    .venv/bin/python bench/bench_streams.py [--seeds 3] [--epochs 10]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from hyperplug import build
from hyperplug.cl_metrics import average_accuracy, forgetting
from hyperplug.stream import correct_on
from hyperplug.testing.updater import run_stream

UPDATERS = ["fine_tuning", "joint", "er", "der", "offline_er", "gdumb", "ewc", "lwf"]
STREAMS = {
    "class_incremental": ("digits", {"name": "class_incremental", "n_chunks": 5}),
    "rotation": ("digits_images", {"name": "rotation", "n_chunks": 5, "max_degrees": 80}),
}


def chunks(dataset: str, scenario: dict) -> list:
    data = build("dataset", name=dataset).load()
    splitter = build("splitter", name="stratified")
    return [splitter.split_data(c) for c in build("scenario", **scenario).chunks(data)]


def run(updater: str, stream: list, epochs: int, seed: int) -> tuple[float, float, float]:
    trainer = {
        "name": "mlp",
        "hidden_layers": [64],
        "epochs": epochs,
        "batch_size": 32,
        "lr": 1e-3,
        "seed": seed,
        "threads": 2,
    }
    start = time.perf_counter()
    steps = run_stream(lambda: build("updater", name=updater), trainer, stream)
    seconds = time.perf_counter() - start
    accuracy = np.array(
        [[float(correct_on(step.trainer, data).mean()) for data in stream] for step in steps]
    )
    return average_accuracy(accuracy), forgetting(accuracy), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    for name, (dataset, scenario) in STREAMS.items():
        stream = chunks(dataset, scenario)
        run("fine_tuning", stream[:1], 1, 0)  # warm-up: torch's first calls are slow
        print(f"== {name} ({dataset}, 5 chunks), median of {args.seeds} seeds")
        header = ("updater", "accuracy", "forgetting", "time (s)", "x fine_tuning")
        print("{:<12} {:>9} {:>11} {:>9} {:>14}".format(*header))
        rows = {}
        for updater in UPDATERS:
            runs = [run(updater, stream, args.epochs, seed) for seed in range(args.seeds)]
            rows[updater] = [statistics.median(values) for values in zip(*runs, strict=True)]
        base_time = rows["fine_tuning"][2]
        for updater, (accuracy, forgot, seconds) in rows.items():
            print(
                f"{updater:<12} {accuracy:>9.3f} {forgot:>11.3f} {seconds:>9.2f} "
                f"{seconds / base_time:>14.2f}"
            )


if __name__ == "__main__":
    main()
