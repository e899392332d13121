"""Updates on a class-incremental digits stream: hyperplug against a hand-written loop.

The stream is sklearn digits' stratified splits cut into 5 chunks of 2 classes (0-1,
2-3, ..., 8-9), as in tests/plugins/torch/test_updaters.py. Every side trains the same
MLP (64 -> 64 -> 2, ReLU; the output layer grows by 2 rows per chunk, initialised
after seeding torch with the run's seed) with a fresh Adam per update, lr 1e-3, batch
32, 10 epochs, on 1 torch thread by default, validating once per epoch on the chunk's
validation rows and those of the earlier chunks and keeping the best epoch's weights.
ER keeps a reservoir buffer of 500 rows that takes each chunk's rows as the first epoch
trains on them, and adds 32 of its rows to every batch (loss: the new rows' mean
cross-entropy plus the memory rows').

1. in memory: ``fine_tuning`` and ``er`` driven by ``hyperplug.testing.updater.
   update_step`` (what an update trial does, in memory: version N restored from its
   arrays, the chunk re-encoded, the updater's training, the next validation memory,
   the weights out) against a PyTorch loop written below that keeps its model in
   memory, ``--repeats`` streams per seed and side, alternating which goes first.
   Prints the time per update, training samples/s (new rows x epochs / time) and the
   ratio hyperplug/raw of their medians, by wall time, by CPU time (less disturbed by
   other load on a shared machine) and for the training alone (the time inside the
   updater's ``update``); goal >= 0.97. And the final average accuracy over every
   chunk's test rows (mean ± standard deviation over the seeds) with the difference
   of the means; goal: within noise. Both sides shuffle the batches alike, so
   fine-tuning gives the very same accuracies; ER's memory draws differ.
2. the chain: the same stream through ``hyperplug.update`` (SQLite tracker and local
   model store in a temporary home: load version N with its buffer, record the study,
   stage, save N+1). Training is the time in the epoch loop (``loop.fit``, validation
   included) less its per-epoch reports to the tracker; the overhead of an update is
   its wall time minus that. Goal < 0.2 s for an update from version N.
   ``--profile N`` prints the N top lines of a cProfile of those updates.
3. Avalanche, only when ``avalanche`` imports: its ``Naive`` strategy against
   ``fine_tuning``, and Naive with its ``ReplayPlugin`` (the ``Replay`` strategy's
   plugin, given a reservoir buffer of 500 rows and 32 memory rows per batch) against
   ``er`` and ``offline_er`` (whose buffer, like Avalanche's, takes a chunk after
   training on it). Same chunks, model, optimizer and batch sizes; Avalanche validates
   every epoch (``eval_every=1``) but keeps the last epoch's weights. Avalanche is not
   a dependency of hyperplug: bench/README.md shows how to install it in a venv of its
   own.

    .venv/bin/python bench/bench_update.py [--seeds 3] [--repeats 3] [--threads 1]
        [--tile 1] [--epochs 10] [--profile 0] [--skip memory chain avalanche]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import pstats
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

import hyperplug
from hyperplug import build
from hyperplug.data import ArraySplit, DataSplits, fingerprint_arrays
from hyperplug.plugins.torch import loop
from hyperplug.plugins.torch import updaters as torch_updaters
from hyperplug.testing.updater import update_step
from hyperplug.update_state import UpdateBase

HIDDEN = 64
LR = 1e-3
BATCH_SIZE = 32
MEMORY_SIZE = 500
MEMORY_BATCH_SIZE = 32
#: the validation memory an update keeps (the updaters' default; digits' ~360
#: validation rows all fit, so every side validates on all chunks seen so far)
VAL_MEMORY_SIZE = 1000
EVAL_BATCH_SIZE = 1024
UPDATERS = ("fine_tuning", "er")
#: the updaters that take the memory settings
REPLAY = ("er", "offline_er")
GOAL_RATIO = 0.97
GOAL_OVERHEAD_S = 0.2


@attrs.frozen
class Settings:
    epochs: int
    threads: int
    seed: int = 0

    def trainer(self) -> dict[str, Any]:
        return {
            "name": "mlp",
            "hidden_layers": [HIDDEN],
            "epochs": self.epochs,
            "batch_size": BATCH_SIZE,
            "lr": LR,
            "threads": self.threads,
            "seed": self.seed,
        }

    def updater(self, name: str) -> dict[str, Any]:
        node: dict[str, Any] = {"name": name, "val_memory_size": VAL_MEMORY_SIZE}
        if name in REPLAY:
            node.update(
                memory_size=MEMORY_SIZE, memory_batch_size=MEMORY_BATCH_SIZE, buffer="reservoir"
            )
        return node


@attrs.frozen
class Run:
    """One pass over the stream: seconds per update and the final model's accuracy on
    each chunk's test rows."""

    seconds: list[float]
    #: CPU seconds of this process per update: what the other load on a shared machine
    #: disturbs least
    cpu: list[float]
    accuracies: list[float]
    #: seconds of each update spent training (the updater's ``update``; raw: all of it)
    training: list[float]

    @property
    def average_accuracy(self) -> float:
        return float(np.mean(self.accuracies))


# --------------------------------------------------------------------------- the stream


def class_incremental_stream(tile: int = 1) -> list[DataSplits]:
    """Digits' stratified splits in 5 chunks of 2 classes: 0-1, 2-3, ..., 8-9, each
    chunk's training rows repeated ``tile`` times."""
    full = build("splitter", name="stratified").split_data(build("dataset", name="digits").load())
    chunks = []
    for k in range(5):
        parts = []
        for split in (full.train, full.val, full.test):
            rows = np.isin(split.y, [2 * k, 2 * k + 1])
            copies = tile if split is full.train else 1
            parts.append(
                ArraySplit(np.tile(split.x[rows], (copies, 1)), np.tile(split.y[rows], copies))
            )
        fingerprint = fingerprint_arrays(*(a for p in parts for a in (p.x, p.y)))
        chunks.append(DataSplits(*parts, classes=full.classes, fingerprint=fingerprint))
    return chunks


def training_samples(chunks: Sequence[DataSplits], epochs: int) -> int:
    return sum(len(chunk.train) for chunk in chunks) * epochs


def chunk_accuracies(predict: Callable[[np.ndarray], np.ndarray], chunks: Sequence[DataSplits]):
    """Accuracy on each chunk's test rows; ``predict`` answers digit labels."""
    return [float(np.mean(predict(c.test.x) == c.test.y)) for c in chunks]


# --------------------------------------------------------------------------- hyperplug


@contextlib.contextmanager
def training_seconds() -> Iterator[list[float]]:
    """Seconds spent inside the torch updaters' ``update`` (restored model in, trained
    model and next state out), one entry per call, while the block runs."""
    original = torch_updaters.TorchUpdater.update
    spent: list[float] = []

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            spent.append(time.perf_counter() - start)

    torch_updaters.TorchUpdater.update = timed  # type: ignore[method-assign]
    try:
        yield spent
    finally:
        torch_updaters.TorchUpdater.update = original  # type: ignore[method-assign]


def hyperplug_run(updater: str, settings: Settings, chunks: Sequence[DataSplits]) -> Run:
    """The stream through ``update_step``, the in-memory driver of update trials."""
    torch.set_num_threads(settings.threads)
    trainer = settings.trainer()
    base = UpdateBase(trainer="mlp", trainer_config=trainer)
    seconds, cpu = [], []
    step = None
    with training_seconds() as training:
        for chunk in chunks:
            built = build("updater", **settings.updater(updater))
            start, cpu_start = time.perf_counter(), time.process_time()
            step = update_step(built, base, chunk, val_memory_size=VAL_MEMORY_SIZE)
            seconds.append(time.perf_counter() - start)
            cpu.append(time.process_time() - cpu_start)
            base = step.base
    assert step is not None
    model = step.trainer
    digits = np.array([int(c) for c in model.classes])
    accuracies = chunk_accuracies(lambda x: digits[model.predict(x)], chunks)
    return Run(seconds, cpu, accuracies, training)


# --------------------------------------------------------------------------- raw PyTorch


class Reservoir:
    """A reservoir sample of ``size`` rows (Vitter's algorithm R) in preallocated tensors."""

    def __init__(self, size: int, width: int, seed: int) -> None:
        self.x = torch.zeros((size, width))
        self.y = torch.zeros(size, dtype=torch.int64)
        self.size, self.stored, self.seen = size, 0, 0
        self.rng = np.random.default_rng(seed)
        self.picker = torch.Generator().manual_seed(seed)

    def add(self, x: torch.Tensor, y: torch.Tensor) -> None:
        for row in range(len(y)):
            if self.stored < self.size:
                slot = self.stored
                self.stored += 1
            else:
                slot = int(self.rng.integers(0, self.seen + 1))
            self.seen += 1
            if slot < self.size:
                self.x[slot] = x[row]
                self.y[slot] = y[row]

    def sample(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        picked = torch.randperm(self.stored, generator=self.picker)[:n]
        return self.x[picked], self.y[picked]


def raw_run(updater: str, settings: Settings, chunks: Sequence[DataSplits]) -> Run:
    """The same stream as a hand-written PyTorch loop: the model's output layer grows to
    the chunk's largest label (digits arrive in label order), a fresh Adam per update,
    ER's reservoir filled during the first epoch, per-epoch validation on the chunk's
    and the earlier chunks' validation rows, the best epoch's weights kept."""
    torch.set_num_threads(settings.threads)
    seed, replay = settings.seed, updater == "er"
    width = chunks[0].train.x.shape[1]
    model: nn.Sequential | None = None
    memory = Reservoir(MEMORY_SIZE, width, seed)
    old_val_x, old_val_y = torch.zeros((0, width)), torch.zeros(0, dtype=torch.int64)
    seconds, cpu = [], []
    for chunk in chunks:
        start, cpu_start = time.perf_counter(), time.process_time()
        torch.manual_seed(seed)  # the init of a new model or of the grown output layer
        x = torch.from_numpy(chunk.train.x.astype(np.float32))
        y = torch.from_numpy(chunk.train.y.astype(np.int64))
        n_classes = int(y.max()) + 1
        if model is None:
            model = nn.Sequential(nn.Linear(width, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, n_classes))
        elif n_classes > model[-1].out_features:
            old = model[-1]
            head = nn.Linear(HIDDEN, n_classes)
            with torch.no_grad():
                head.weight[: old.out_features] = old.weight
                head.bias[: old.out_features] = old.bias
            model[-1] = head
        val_x = torch.cat([torch.from_numpy(chunk.val.x.astype(np.float32)), old_val_x])
        val_y = torch.cat([torch.from_numpy(chunk.val.y.astype(np.int64)), old_val_y])
        optimizer = torch.optim.Adam(model.parameters(), lr=LR)
        order = torch.Generator().manual_seed(seed)
        best, best_state = -1.0, None
        for epoch in range(settings.epochs):
            model.train()
            rows = torch.randperm(len(y), generator=order)
            total = torch.zeros(())
            for i in range(0, len(y), BATCH_SIZE):
                index = rows[i : i + BATCH_SIZE]
                xb, yb = x[index], y[index]
                n_new = len(yb)
                if replay and memory.stored:
                    mx, my = memory.sample(MEMORY_BATCH_SIZE)
                    xb, yb = torch.cat([xb, mx]), torch.cat([yb, my])
                optimizer.zero_grad(set_to_none=True)
                logits = model(xb)
                loss = F.cross_entropy(logits[:n_new], yb[:n_new])
                if len(yb) > n_new:
                    loss = loss + F.cross_entropy(logits[n_new:], yb[n_new:])
                loss.backward()
                optimizer.step()
                total += loss.detach() * n_new
                if replay and epoch == 0:
                    memory.add(xb[:n_new], yb[:n_new])
            model.eval()
            with torch.inference_mode():
                logits = torch.cat(
                    [
                        model(val_x[i : i + EVAL_BATCH_SIZE])
                        for i in range(0, len(val_y), EVAL_BATCH_SIZE)
                    ]
                )
                val_loss = F.cross_entropy(logits, val_y).item()
                val_accuracy = (logits.argmax(1) == val_y).double().mean().item()
            _ = (total.item() / len(y), val_loss)
            if val_accuracy > best:
                best = val_accuracy
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        assert best_state is not None
        model.load_state_dict(best_state)
        old_val_x, old_val_y = val_x, val_y
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    assert model is not None
    final = model.eval()

    def predict(inputs: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return final(torch.from_numpy(inputs.astype(np.float32))).argmax(1).numpy()

    return Run(seconds, cpu, chunk_accuracies(predict, chunks), seconds)


# --------------------------------------------------------------------------- the chain


def clocks() -> np.ndarray:
    """(wall, CPU) seconds now: their differences time a span."""
    return np.array([time.perf_counter(), time.process_time()])


class TimedReporter:
    """A reporter passing every epoch's report on, timing it (wall and CPU)."""

    def __init__(self, report: Any) -> None:
        self.report = report
        self.perf_metric, self.mode = report.perf_metric, report.mode
        self.spent = np.zeros(2)

    def __call__(self, epoch: int, metrics: Any) -> bool:
        start = clocks()
        try:
            return self.report(epoch, metrics)
        finally:
            self.spent += clocks() - start


@contextlib.contextmanager
def epoch_seconds() -> Iterator[list[np.ndarray]]:
    """(wall, CPU) seconds spent in the torch epoch loop (``loop.fit``: the epochs and
    their validation) less its per-epoch reports (which write to the tracker), per call."""
    original = loop.fit
    spent: list[np.ndarray] = []

    def timed(model: Any, config: Any, train: Any, val: Any, report: Any, *a: Any, **k: Any):
        reporter = TimedReporter(report)
        start = clocks()
        try:
            return original(model, config, train, val, reporter, *a, **k)
        finally:
            spent.append(clocks() - start - reporter.spent)

    loop.fit = timed
    try:
        yield spent
    finally:
        loop.fit = original


@attrs.frozen
class ChainUpdate:
    """One ``hyperplug.update``: (wall, CPU) seconds in all and in training."""

    total: np.ndarray
    training: np.ndarray

    @property
    def overhead(self) -> np.ndarray:
        return self.total - self.training


def chain_run(
    updater: str,
    settings: Settings,
    chunks: Sequence[DataSplits],
    home: Path,
    profile: cProfile.Profile | None = None,
) -> list[ChainUpdate]:
    """The stream through ``hyperplug.update``, one call per chunk. ``profile`` records
    every update after the first (those that load version N)."""
    ref: str | None = None
    updates = []
    with epoch_seconds() as spent:
        for chunk in chunks:
            profiling = profile is not None and ref is not None
            start = clocks()
            if profiling:
                profile.enable()
            result = hyperplug.update(
                chunk,
                model=ref,
                updater=settings.updater(updater),
                trainer=settings.trainer() if ref is None else {},
                model_name="stream",
                home=home,
            )
            if profiling:
                profile.disable()
            updates.append(ChainUpdate(clocks() - start, spent[-1]))
            assert result.winner is not None
            ref = result.winner.ref
    return updates


# --------------------------------------------------------------------------- Avalanche


def avalanche_run(strategy: str, settings: Settings, chunks: Sequence[DataSplits]) -> Run:
    """Avalanche's ``Naive`` (``replay``: with its ``ReplayPlugin``, a reservoir buffer)
    on the same chunks: one experience per chunk, evaluated on the validation rows of
    the chunks so far after every epoch (``eval_every=1``)."""
    from avalanche.benchmarks.scenarios.supervised import class_incremental_benchmark
    from avalanche.models import IncrementalClassifier
    from avalanche.training.plugins import EvaluationPlugin, ReplayPlugin
    from avalanche.training.storage_policy import ReservoirSamplingBuffer
    from avalanche.training.supervised import Naive

    class Split(torch.utils.data.TensorDataset):
        def __init__(self, parts: Sequence[ArraySplit]) -> None:
            x = np.concatenate([p.x for p in parts]).astype(np.float32)
            y = np.concatenate([p.y for p in parts]).astype(np.int64)
            super().__init__(torch.from_numpy(x), torch.from_numpy(y))
            self.targets = y.tolist()

    # the chunks' rows: class_order 0..9 in 5 experiences gives back exactly the chunks
    stream = class_incremental_benchmark(
        {name: Split([getattr(c, name) for c in chunks]) for name in ("train", "val", "test")},
        class_order=list(range(10)),
        num_experiences=len(chunks),
    )
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    width = chunks[0].train.x.shape[1]
    model = nn.Sequential(nn.Linear(width, HIDDEN), nn.ReLU(), IncrementalClassifier(HIDDEN, 2))
    plugins = []
    if strategy == "replay":
        buffer = ReservoirSamplingBuffer(MEMORY_SIZE)
        plugins.append(
            ReplayPlugin(MEMORY_SIZE, batch_size_mem=MEMORY_BATCH_SIZE, storage_policy=buffer)
        )
    learner = Naive(
        model=model,
        optimizer=torch.optim.Adam(model.parameters(), lr=LR),
        criterion=nn.CrossEntropyLoss(),
        train_mb_size=BATCH_SIZE,
        train_epochs=settings.epochs,
        eval_mb_size=EVAL_BATCH_SIZE,
        device="cpu",
        plugins=plugins,
        evaluator=EvaluationPlugin(loggers=[]),
        eval_every=1,
    )
    seconds, cpu = [], []
    for i, experience in enumerate(stream.train_stream):
        start, cpu_start = time.perf_counter(), time.process_time()
        learner.train(
            experience,
            eval_streams=[stream.val_stream[: i + 1]],
            num_workers=0,
            reset_optimizer_state=True,  # a fresh Adam per update, as hyperplug's
        )
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    model.eval()

    def predict(inputs: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(inputs.astype(np.float32))).argmax(1).numpy()

    return Run(seconds, cpu, chunk_accuracies(predict, chunks), seconds)


# --------------------------------------------------------------------------- report


def spread(values: Sequence[float]) -> str:
    """``mean ± standard deviation (each value)``."""
    each = " ".join(f"{v:.3f}" for v in values)
    return f"{np.mean(values):.3f} ± {deviation(values):.3f} ({each})"


def deviation(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def rates(runs: Sequence[Run], samples: int, of: str = "seconds") -> list[float]:
    """Training samples/s of each run, by wall time (``of="training"``: of its training
    time alone; ``of="cpu"``: by CPU time)."""
    return [samples / sum(getattr(r, of)) for r in runs]


def describe(label: str, side: str, runs: Sequence[Run], samples: int, repeats: int) -> None:
    """One line: time per update, samples/s and accuracy (one run per seed counts: a
    seed's repeats give the same accuracy)."""
    per_update = statistics.median(s for r in runs for s in r.seconds)
    accuracy = spread([r.average_accuracy for r in runs[::repeats]])
    print(
        f"  {label:<11} {side:>9}: {per_update:.3f} s/update, "
        f"{statistics.median(rates(runs, samples)):7,.0f} samples/s; "
        f"final average accuracy {accuracy}"
    )


def accuracy_difference(a: Sequence[float], b: Sequence[float]) -> str:
    """The difference of the mean accuracies, and whether it is within two standard
    errors of the seeds (the noise)."""
    difference = float(np.mean(a) - np.mean(b))
    if min(len(a), len(b)) < 2:
        return f"{difference:+.3f} (one seed: no noise estimate)"
    error = np.sqrt(deviation(a) ** 2 / len(a) + deviation(b) ** 2 / len(b))
    within = abs(difference) <= 2 * error + 1e-9
    return f"{difference:+.3f} ({'within' if within else 'BEYOND'} two standard errors)"


def ratio_line(label: str, ours: Sequence[float], theirs: Sequence[float]) -> str:
    median = statistics.median(ours) / statistics.median(theirs)
    return f"{label} median {median:.3f}, best {max(ours) / max(theirs):.3f}"


def alternate(
    sides: dict[str, Callable[[Settings], Run]], args: argparse.Namespace
) -> dict[str, list[Run]]:
    """Every side's runs, ``args.repeats`` per seed, the first side alternating."""
    runs: dict[str, list[Run]] = {name: [] for name in sides}
    for seed in range(args.seeds):
        settings = Settings(epochs=args.epochs, threads=args.threads, seed=seed)
        for repeat in range(args.repeats):
            order = list(sides) if (seed + repeat) % 2 == 0 else list(reversed(sides))
            for name in order:
                runs[name].append(sides[name](settings))
    return runs


def in_memory(chunks: list[DataSplits], args: argparse.Namespace) -> None:
    samples = training_samples(chunks, args.epochs)
    print(
        f"1. in memory: update_step vs a hand-written PyTorch loop, seeds 0-{args.seeds - 1}, "
        f"{args.repeats} stream(s) per seed and side, alternating"
    )
    warm = Settings(epochs=1, threads=args.threads)
    hyperplug_run("er", warm, chunks)  # warm-up: allocator, kernels, lazy imports
    raw_run("er", warm, chunks)
    for updater in UPDATERS:
        runs = alternate(
            {
                "hyperplug": lambda s, u=updater: hyperplug_run(u, s, chunks),
                "raw": lambda s, u=updater: raw_run(u, s, chunks),
            },
            args,
        )
        for side, side_runs in runs.items():
            describe(updater, side, side_runs, samples, args.repeats)
        ours, raw = runs["hyperplug"], runs["raw"]
        parts = []
        for label, of in (
            ("update_step", "seconds"),
            ("by CPU time", "cpu"),
            ("training alone", "training"),
        ):
            mine, theirs = (
                rates(ours, samples, of),
                rates(raw, samples, "cpu" if of == "cpu" else "seconds"),
            )
            median = statistics.median(mine) / statistics.median(theirs)
            verdict = "ok" if median >= GOAL_RATIO else "below"
            parts.append(f"{label} {median:.3f} ({verdict}; best {max(mine) / max(theirs):.3f})")
        print(
            f"  {updater:<11} ratio hyperplug/raw samples/s, medians (goal >= {GOAL_RATIO}): "
            + ", ".join(parts)
        )
        difference = accuracy_difference(
            [r.average_accuracy for r in ours[:: args.repeats]],
            [r.average_accuracy for r in raw[:: args.repeats]],
        )
        print(f"  {updater:<11} accuracy hyperplug - raw: {difference}")


def chain(chunks: list[DataSplits], args: argparse.Namespace) -> None:
    settings = Settings(epochs=args.epochs, threads=args.threads)
    print(
        "2. the chain: hyperplug.update per chunk (SQLite tracker, local model store); "
        "training = the epoch loop with its validation, less its reports to the tracker"
    )
    with tempfile.TemporaryDirectory() as directory:
        chain_run("er", settings, chunks[:2], Path(directory) / "warm-up")
        for updater in UPDATERS:
            updates = chain_run(updater, settings, chunks, Path(directory) / updater)
            for label, values in (
                ("wall", [u.total[0] for u in updates]),
                ("training", [u.training[0] for u in updates]),
                ("beyond training", [u.overhead[0] for u in updates]),
                ("ditto, CPU time", [u.overhead[1] for u in updates]),
            ):
                print(f"  {updater:<11} {label:>15}: {' '.join(f'{v:.3f}' for v in values)} s")
            wall, cpu = np.median([u.overhead for u in updates[1:]], axis=0)
            verdict = "ok" if wall < GOAL_OVERHEAD_S else "ABOVE GOAL"
            print(
                f"  {updater:<11} overhead of an update from version N (updates 2-5): median "
                f"{wall:.3f} s, CPU time {cpu:.3f} s (goal < {GOAL_OVERHEAD_S} s: {verdict})"
            )
        if args.profile:  # once more, under the profiler (which slows it down)
            profile = cProfile.Profile()
            for updater in UPDATERS:
                chain_run(
                    updater, settings, chunks, Path(directory) / f"profiled-{updater}", profile
                )
            print("  profile of the updates from version N (both updaters), by cumulative time:")
            pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile)


def avalanche(chunks: list[DataSplits], args: argparse.Namespace) -> None:
    try:
        import avalanche as avalanche_lib
    except ImportError:
        print(
            "3. Avalanche: not installed (it is no dependency of hyperplug). To compare, give "
            "it a venv of its own (bench/README.md): cp -al .venv .venv-avalanche; "
            ".venv-avalanche/bin/python -m pip install -c constraints.txt avalanche-lib==0.6.0; "
            "then run this script with .venv-avalanche/bin/python"
        )
        return
    samples = training_samples(chunks, args.epochs)
    print(
        f"3. Avalanche {avalanche_lib.__version__} (Naive; replay: Naive with ReplayPlugin, "
        f"reservoir {MEMORY_SIZE}, {MEMORY_BATCH_SIZE} per batch, the chunk joins the buffer "
        f"after training on it) vs hyperplug in memory, seeds 0-{args.seeds - 1}"
    )
    # Avalanche warns of its own deprecations, resetting the filters: record, not print
    with warnings.catch_warnings(record=True):
        avalanche_run("replay", Settings(epochs=1, threads=args.threads), chunks)  # warm-up
        for strategy, updaters in (("naive", ["fine_tuning"]), ("replay", ["er", "offline_er"])):
            sides = {strategy: lambda s, a=strategy: avalanche_run(a, s, chunks)}
            sides.update({u: lambda s, u=u: hyperplug_run(u, s, chunks) for u in updaters})
            runs = alternate(sides, args)
            describe(strategy, "avalanche", runs[strategy], samples, args.repeats)
            theirs = rates(runs[strategy], samples)
            for updater in updaters:
                describe(updater, "hyperplug", runs[updater], samples, args.repeats)
                ratio = ratio_line("samples/s", rates(runs[updater], samples), theirs)
                difference = accuracy_difference(
                    [r.average_accuracy for r in runs[updater][:: args.repeats]],
                    [r.average_accuracy for r in runs[strategy][:: args.repeats]],
                )
                print(f"  {updater:<11} hyperplug/avalanche: {ratio}; accuracy {difference}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="timed streams per seed and side")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tile", type=int, default=1, help="copies of each chunk's train rows")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print N profile lines")
    parser.add_argument("--skip", nargs="*", default=[], choices=["memory", "chain", "avalanche"])
    args = parser.parse_args()

    chunks = class_incremental_stream(args.tile)
    sizes = "/".join(str(len(c.train)) for c in chunks)
    print(
        f"class-incremental digits, 5 chunks of 2 classes (train rows {sizes}), mlp [{HIDDEN}], "
        f"Adam lr {LR}, batch {BATCH_SIZE}, {args.epochs} epochs, er: reservoir {MEMORY_SIZE} "
        f"rows, {MEMORY_BATCH_SIZE} per batch; threads {args.threads}, torch {torch.__version__}"
    )
    if "memory" not in args.skip:
        in_memory(chunks, args)
    if "chain" not in args.skip:
        chain(chunks, args)
    if "avalanche" not in args.skip:
        avalanche(chunks, args)


if __name__ == "__main__":
    main()
