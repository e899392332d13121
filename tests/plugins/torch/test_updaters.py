"""The torch updaters on real training: each does what its name says on a stream of
digits, and updates every torch trainer, a third party's included."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
from torch import nn

import hyperplug
from hyperplug import build, hookimpl, load_model
from hyperplug.components import Component
from hyperplug.data import ArraySplit, DataSplits, fingerprint_arrays
from hyperplug.plugin_manager import get_plugin_manager, reset_plugin_manager
from hyperplug.plugins.torch.configs import TrainingConfig
from hyperplug.plugins.torch.trainer import TorchTrainer
from hyperplug.testing.updater import run_stream

MLP = {"name": "mlp", "hidden_layers": [64], "epochs": 10, "batch_size": 32, "lr": 1e-3}


def chunk(full: DataSplits, keep: Any, transform: Any = None) -> DataSplits:
    """The rows of ``full`` whose label ``keep`` accepts, inputs passed through
    ``transform``."""

    def part(split: ArraySplit) -> ArraySplit:
        rows = keep(split.y)
        x = split.x[rows]
        return ArraySplit(transform(x) if transform else x, split.y[rows])

    parts = [part(s) for s in (full.train, full.val, full.test)]
    fingerprint = fingerprint_arrays(*(a for p in parts for a in (p.x, p.y)))
    return DataSplits(*parts, classes=full.classes, fingerprint=fingerprint)


def class_incremental(full: DataSplits) -> list[DataSplits]:
    """Digits in 5 chunks of 2 classes: 0-1, 2-3, ..., 8-9."""
    return [chunk(full, lambda y, k=k: np.isin(y, [2 * k, 2 * k + 1])) for k in range(5)]


def rotated(full: DataSplits) -> list[DataSplits]:
    """Digits (all classes) rotated by 0, 20, ..., 80 degrees, one chunk per angle, each
    chunk a fifth of the rows."""
    from scipy.ndimage import rotate

    def turn(angle: float) -> Any:
        def apply(x: np.ndarray) -> np.ndarray:
            images = x.reshape(len(x), 8, 8)
            turned = [rotate(image, angle, reshape=False, order=1) for image in images]
            return np.stack(turned).reshape(len(x), 64)

        return apply

    return [
        chunk(full, lambda y, k=k: np.arange(len(y)) % 5 == k, turn(20.0 * k)) for k in range(5)
    ]


def final_accuracies(
    chunks: list[DataSplits], updater: str, trainer: Mapping[str, Any] = MLP
) -> list[float]:
    """Update a model chunk after chunk (in memory, as update trials do); the final
    model's accuracy on each chunk's test rows."""
    steps = run_stream(lambda: build("updater", name=updater), trainer, chunks)
    return [accuracy(steps[-1].trainer, data) for data in chunks]


def api_stream(
    chunks: list[DataSplits], updater: str, home: Path, trainer: Mapping[str, Any]
) -> str:
    """Update a model chunk after chunk through ``hyperplug.update``; the last version."""
    ref = None
    for data in chunks:
        result = hyperplug.update(
            data,
            model=ref,
            updater=updater,
            trainer=trainer if ref is None else {},
            model_name="stream",
            home=home,
        )
        ref = result.winner.ref
    return str(ref)


def accuracy(model: Any, data: DataSplits) -> float:
    truth = np.array([list(model.classes).index(data.classes[y]) for y in data.test.y])
    return float(np.mean(model.predict(data.test.x) == truth))


@pytest.fixture(scope="module")
def class_incremental_results(digits_splits: DataSplits) -> dict[str, list[float]]:
    chunks = class_incremental(digits_splits)
    names = ["fine_tuning", "er", "der", "offline_er", "gdumb", "joint"]
    return {name: final_accuracies(chunks, name) for name in names}


def test_fine_tuning_forgets_the_earlier_classes(
    class_incremental_results: dict[str, list[float]],
) -> None:
    accuracies = class_incremental_results["fine_tuning"]
    assert max(accuracies[:2]) < 0.2 and np.mean(accuracies) < 0.45, accuracies


@pytest.mark.parametrize("name", ["er", "der", "offline_er", "gdumb", "joint"])
def test_replay_retains_clearly_more_than_fine_tuning(
    class_incremental_results: dict[str, list[float]], name: str
) -> None:
    replay = class_incremental_results[name]
    fine_tuning = np.mean(class_incremental_results["fine_tuning"])
    assert np.mean(replay) >= fine_tuning + 0.25, (name, replay, fine_tuning)
    assert np.mean(replay[:2]) >= 0.5, f"{name} keeps the first chunks: {replay}"


def test_joint_training_is_the_upper_bound(
    class_incremental_results: dict[str, list[float]],
) -> None:
    joint = np.mean(class_incremental_results["joint"])
    assert joint >= 0.85
    assert all(joint >= np.mean(r) - 0.02 for r in class_incremental_results.values())


SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def rotated_stream(digits_splits: DataSplits) -> list[DataSplits]:
    return rotated(digits_splits)


@pytest.fixture(scope="module")
def rotated_fine_tuning(rotated_stream: list[DataSplits]) -> dict[int, float]:
    return {
        seed: float(np.mean(final_accuracies(rotated_stream, "fine_tuning", {**MLP, "seed": seed})))
        for seed in SEEDS
    }


@pytest.mark.parametrize("name", ["ewc", "lwf"])
def test_regularisers_forget_less_than_fine_tuning_on_rotated_digits(
    rotated_stream: list[DataSplits], rotated_fine_tuning: dict[int, float], name: str
) -> None:
    """Same classes, drifting inputs (domain-incremental): EWC's penalty and LwF's
    distillation keep more of the earlier angles than fine-tuning does, on each of 3
    seeds and by 3 points on average (measured: 4-9 points)."""
    gaps = [
        np.mean(final_accuracies(rotated_stream, name, {**MLP, "seed": seed}))
        - rotated_fine_tuning[seed]
        for seed in SEEDS
    ]
    assert min(gaps) > 0 and np.mean(gaps) > 0.03, gaps


# --------------------------------------------------------------------------- the chain


CONTINUE = """
import sys
import numpy as np
import hyperplug
from hyperplug.data import ArraySplit, DataSplits, fingerprint_arrays

data = np.load(sys.argv[2])
split = lambda p: ArraySplit(data[p + "_x"], data[p + "_y"])
chunk = DataSplits(split("train"), split("val"), split("test"),
                   tuple(str(i) for i in range(10)), "third-chunk")
hyperplug.update(chunk, model="stream:v2", updater="der", home=sys.argv[1])
"""


def test_an_update_in_a_fresh_process_gives_the_weights_of_an_unbroken_chain(
    digits_splits: DataSplits, tmp_path: Path
) -> None:
    """v1 -> v2 -> v3 in one process, and v3 made again from the stored v2 by another
    process: the same weights to the bit (buffer rows, logits, counters and seeds all
    live in the version)."""
    chunks = class_incremental(digits_splits)[:3]
    chunks[2] = attrs.evolve(chunks[2], fingerprint="third-chunk")  # as the process names it
    # one torch thread: a multi-threaded CPU kernel may sum in another order elsewhere
    trainer = {**MLP, "threads": 1}
    api_stream(chunks, "der", tmp_path / "one", trainer)
    api_stream(chunks[:2], "der", tmp_path / "two", trainer)
    arrays = {}
    for name, split in (("train", chunks[2].train), ("val", chunks[2].val)):
        arrays.update({f"{name}_x": split.x, f"{name}_y": split.y})
    arrays.update({"test_x": chunks[2].test.x, "test_y": chunks[2].test.y})
    np.savez(tmp_path / "chunk.npz", **arrays)
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CONTINUE), str(tmp_path / "two"), "chunk.npz"],
        cwd=tmp_path,
        check=True,
        timeout=300,
    )
    one = hyperplug.build("vcs", name="store", root=str(tmp_path / "one" / "models"))
    two = hyperplug.build("vcs", name="store", root=str(tmp_path / "two" / "models"))
    first, v3 = one.load("stream:v3")
    second, again = two.load("stream:v3")
    assert v3.meta.parent == again.meta.parent == "stream:v2"
    assert first.keys() == second.keys()
    assert any(key.startswith("__update__/updater/buffer/") for key in first)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)


# --------------------------------------------------------------------------- trainers


@pytest.mark.parametrize(
    ("variant", "options"),
    [
        ("resnet", {"model_kwargs": {"layers": [1, 1, 1, 1], "channels": [8, 8, 16, 16]}}),
        (
            "vit",
            {
                "model_kwargs": {"patch_size": 4, "depth": 1, "embed_dim": 16, "num_heads": 2},
                "img_size": 8,
            },
        ),
    ],
)
def test_image_trainers_grow_their_head_and_keep_old_classes(
    tmp_path: Path, variant: str, options: Mapping[str, Any]
) -> None:
    from conftest import build

    images = build("splitter", name="stratified").split_data(
        build("dataset", name="digits_images", max_samples=400).load()
    )
    chunks = [chunk(images, lambda y, k=k: np.isin(y, [2 * k, 2 * k + 1])) for k in range(2)]
    trainer = {"name": variant, "epochs": 4, "batch_size": 32, "lr": 0.01, **options}
    ref = None
    for data in chunks:
        ref = hyperplug.update(
            data, model=ref, updater="er", trainer=trainer if ref is None else {}, home=tmp_path
        ).winner.ref
    model = load_model(str(ref), root=str(tmp_path / "models"))
    assert list(model.classes) == ["0", "1", "2", "3"]
    predicted = set(model.predict(np.concatenate([c.test.x for c in chunks])).tolist())
    assert {0, 1} & predicted and {2, 3} & predicted, predicted


@attrs.define
class TinyConvConfig(TrainingConfig):
    name: str = "tiny_conv"
    channels: int = 4


class TinyConv(TorchTrainer):
    """A third party's trainer: a small CNN on (n, 8, 8) digits, through the documented
    ``TorchTrainer`` interface only (``build_model``, ``prepare_inputs``)."""

    name = "tiny_conv"

    def build_model(self, input_shape: tuple[int, ...], n_classes: int) -> nn.Module:
        c = self.config.channels
        return nn.Sequential(
            nn.Unflatten(1, (1, 8, 8)),
            nn.Conv2d(1, c, 3, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(c * 64, n_classes),
        )


class TinyConvPlugin:
    @hookimpl
    def register_trainers(self) -> list[Component]:
        return [Component("trainer", "tiny_conv", TinyConv, TinyConvConfig, "a small CNN")]


@pytest.fixture
def tiny_conv_plugin() -> Any:
    get_plugin_manager().register(TinyConvPlugin(), "tiny_conv_plugin", "third-party")
    yield
    reset_plugin_manager()


def test_a_third_party_torch_trainer_is_updated_with_replay(
    tiny_conv_plugin: Any, digits_splits: DataSplits, tmp_path: Path
) -> None:
    chunks = class_incremental(digits_splits)[:3]
    trainer = {"name": "tiny_conv", "epochs": 10, "batch_size": 32}
    fine_tuning = final_accuracies(chunks, "fine_tuning", trainer)
    ref = api_stream(chunks, "er", tmp_path, trainer)  # through the store and the registry
    model = load_model(ref, root=str(tmp_path / "models"))
    replay = [accuracy(model, data) for data in chunks]
    assert np.mean(replay) > np.mean(fine_tuning) + 0.2, (replay, fine_tuning)
