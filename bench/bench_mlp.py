"""Training speed of the ``mlp`` trainer against a hand-written PyTorch loop.

Both train the same MLP (64 -> 128 -> 64 -> 10, ReLU, Adam, lr 1e-3) on the same
training data (sklearn digits' stratified train split, tiled), batch size 64, with 2
torch threads, in this process. Both evaluate the validation split once per epoch,
as any real loop does; the hyperplug run also reports metrics and keeps the best
epoch's weights. Runs alternate between the two (after one warm-up each) so that
machine noise hits both alike. Prints samples/s for each and the ratio
hyperplug/raw; the goal is >= 0.97.

    .venv/bin/python bench/bench_mlp.py [--repeats 5] [--epochs 3] [--tile 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from hyperplug.data import ArraySplit, DataSplits
from hyperplug.plugins.sklearn import build_digits, build_stratified
from hyperplug.plugins.sklearn.configs import DigitsConfig, StratifiedSplitConfig
from hyperplug.plugins.torch import build_mlp_trainer
from hyperplug.plugins.torch.configs import MLPConfig

THREADS = 2
BATCH_SIZE = 64
HIDDEN = [128, 64]
LR = 1e-3


class KeepGoing:
    """A reporter that never stops the trial."""

    perf_metric = "val_accuracy"
    mode = "max"

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        return True


def make_data(tile: int) -> DataSplits:
    dataset = build_digits(DigitsConfig()).load()
    splits = build_stratified(StratifiedSplitConfig()).split_data(dataset)
    train = ArraySplit(np.tile(splits.train.x, (tile, 1)), np.tile(splits.train.y, tile))
    return DataSplits(train, splits.val, splits.test, splits.classes, splits.fingerprint)


def run_hyperplug(data: DataSplits, epochs: int) -> float:
    config = MLPConfig(
        hidden_layers=HIDDEN, lr=LR, batch_size=BATCH_SIZE, epochs=epochs, threads=THREADS
    )
    trainer = build_mlp_trainer(config)
    start = time.perf_counter()
    trainer.fit(data, KeepGoing())
    return time.perf_counter() - start


def run_raw(data: DataSplits, epochs: int) -> float:
    """The loop one would write by hand for in-memory tensors."""
    start = time.perf_counter()
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    x = torch.from_numpy(data.train.x)
    y = torch.from_numpy(data.train.y)
    val_x = torch.from_numpy(data.val.x)
    val_y = torch.from_numpy(data.val.y)
    model = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y), generator=generator)
        xs, ys = x[order], y[order]
        total = torch.zeros(())
        for i in range(0, len(ys), BATCH_SIZE):
            xb, yb = xs[i : i + BATCH_SIZE], ys[i : i + BATCH_SIZE]
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(yb)
        model.eval()
        with torch.inference_mode():
            logits = model(val_x)
            val_loss = F.cross_entropy(logits, val_y).item()
            val_accuracy = (logits.argmax(1) == val_y).float().mean().item()
        _ = (total.item() / len(ys), val_loss, val_accuracy)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--tile", type=int, default=20, help="copies of the training split")
    args = parser.parse_args()

    data = make_data(args.tile)
    samples = len(data.train) * args.epochs
    runs: dict[str, Callable[[DataSplits, int], float]] = {
        "hyperplug": run_hyperplug,
        "raw": run_raw,
    }
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():  # warm-up: allocator, kernels, lazy imports
        run(data, 1)
    for repeat in range(args.repeats):
        order = list(runs) if repeat % 2 == 0 else list(reversed(runs))
        for name in order:
            rates[name].append(samples / runs[name](data, args.epochs))

    print(
        f"mlp {HIDDEN}, batch {BATCH_SIZE}, threads {THREADS}, {len(data.train)} train samples "
        f"x {args.epochs} epochs, {args.repeats} repeats, torch {torch.__version__}"
    )
    for name, values in rates.items():
        print(
            f"{name:>10}: median {statistics.median(values):9,.0f} samples/s, "
            f"best {max(values):9,.0f} samples/s"
        )
    median_ratio = statistics.median(rates["hyperplug"]) / statistics.median(rates["raw"])
    best_ratio = max(rates["hyperplug"]) / max(rates["raw"])
    verdict = "ok" if median_ratio >= 0.97 else "BELOW GOAL"
    print(
        f"ratio hyperplug/raw: median {median_ratio:.3f}, best {best_ratio:.3f} "
        f"(goal >= 0.97: {verdict})"
    )


if __name__ == "__main__":
    main()
