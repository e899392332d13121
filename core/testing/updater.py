"""``UpdaterConformance``: what every ``updater`` component must do.

The suite runs the updater along a small class-incremental stream (``chunks()``: Gaussian
blobs of 4 classes cut into chunks of 2), on the trainer named by ``trainer`` (the
built-in ``mlp`` by default), the way an update study does: version N restored, the
chunk re-encoded in the model's class order and joined with a validation memory, the
state of the previous update handed in. It checks the reports, early stopping, learning,
the state's form (numpy arrays and JSON, through a real model store), determinism and,
for updaters with a ``memory_size``, the memory budget.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np
import pytest

from hyperplug.components import Component
from hyperplug.config import configure, to_plain
from hyperplug.data import ArraySplit, Dataset, DataSplits, fingerprint_arrays
from hyperplug.errors import ConfigError
from hyperplug.interfaces import ModelTrainer, UpdateContext, Updater, UpdateState, VersionMeta
from hyperplug.plugin_manager import get_plugin_manager
from hyperplug.testing.base import ComponentConformance
from hyperplug.testing.data import RecordingReporter, blobs
from hyperplug.update_state import (
    UPDATER_KEY,
    VALMEM_KEY,
    UpdateBase,
    join_arrays,
    load_base,
    prefixed,
    prepare_chunk,
    update_seed,
    val_memory,
)

REQUIRED_METRICS = ("train_loss", "val_loss", "val_accuracy")


@attrs.frozen
class Step:
    """One update of the stream: the trainer after it, what it reported, its state, and
    the base the next update starts from."""

    trainer: ModelTrainer
    reporter: RecordingReporter
    state: UpdateState
    base: UpdateBase
    chunk: DataSplits


class UpdaterConformance(ComponentConformance):
    """Subclass as ``class TestMyUpdater(UpdaterConformance)`` and set ``component``."""

    kind = "updater"
    trainer: ClassVar[Mapping[str, Any]] = {
        "name": "mlp",
        "hidden_layers": [16],
        "epochs": 4,
        "batch_size": 16,
        "lr": 0.02,
    }
    """The trainer config the stream trains (a registered trainer; small and fast)."""
    min_new_accuracy: ClassVar[float] = 0.6
    """The accuracy an update reaches at least on its own chunk's test rows."""

    def foreign_trainer(self) -> ModelTrainer | None:
        """A trainer this updater cannot update and must refuse in ``check`` (None: the
        suite does not test refusing)."""
        return None

    def chunks(self) -> list[DataSplits]:
        """The stream: 4 blob classes in chunks of 2 (class-incremental), then all 4."""
        data = blobs(n_per_class=40, n_classes=4, n_features=4, seed=1)
        groups = [[0, 1], [2, 3], [0, 1, 2, 3]]
        return [_chunk(data, classes, i) for i, classes in enumerate(groups)]

    # ------------------------------------------------------------------ driving

    def stream(self, build: Any) -> list[Step]:
        """Update the ``trainer`` chunk after chunk with updaters from ``build``; every step."""
        return run_stream(build, self.trainer, self.chunks())

    @pytest.fixture(scope="class")
    @classmethod
    def steps(cls, registered: Component, tmp_path_factory: pytest.TempPathFactory) -> list[Step]:
        """Fixture: ``stream`` run once per suite."""
        suite = cls()
        directory = tmp_path_factory.mktemp("updater")
        return suite.stream(lambda: suite.build_component(registered, directory))

    def memory_rows(self, state: UpdateState) -> int:
        """How many memory rows a state keeps: arrays named ``x`` or ``.../x``."""
        return sum(
            len(value) for key, value in state.arrays.items() if key == "x" or key.endswith("/x")
        )

    # ------------------------------------------------------------------ tests

    def test_builds_an_updater(self, build: Any) -> None:
        """The factory builds an ``Updater``."""
        assert isinstance(build(), Updater)

    def test_reports_the_required_metrics_every_epoch(self, steps: list[Step]) -> None:
        """Every update reports epochs 1, 2, ... with finite ``train_loss``, ``val_loss`` and
        ``val_accuracy``."""
        for step in steps:
            epochs = step.reporter.epochs
            assert epochs and epochs == list(range(1, len(epochs) + 1)), epochs
            for metrics in step.reporter.metrics:
                assert set(REQUIRED_METRICS) <= set(metrics), metrics
                for name, value in metrics.items():
                    assert isinstance(value, float) and math.isfinite(value), (name, value)

    def test_learns_each_new_chunk(self, steps: list[Step]) -> None:
        """After each update the model reaches ``min_new_accuracy`` on that chunk's test rows."""
        for step in steps:
            trainer = step.trainer
            known = list(trainer.model_info()["classes"])
            truth = np.array([known.index(step.chunk.classes[y]) for y in step.chunk.test.y])
            accuracy = float(np.mean(trainer.predict(step.chunk.test.x) == truth))
            assert accuracy >= self.min_new_accuracy, f"accuracy {accuracy} on its own chunk"

    def test_the_model_predicts_every_class_it_has_seen(self, steps: list[Step]) -> None:
        """After the stream the model knows all four classes (the output layer grew)."""
        classes = steps[-1].trainer.model_info()["classes"]
        assert sorted(classes) == ["c0", "c1", "c2", "c3"], classes

    def test_stops_when_report_returns_false(self, build: Any) -> None:
        """An update returns after the epoch whose report was answered False."""
        base = UpdateBase(trainer=str(self.trainer["name"]), trainer_config=dict(self.trainer))
        reporter = RecordingReporter("val_accuracy", "max", stop_after=2)
        update_step(build(), base, self.chunks()[0], reporter)
        assert reporter.epochs == [1, 2]

    def test_state_is_numpy_arrays_and_json(self, steps: list[Step]) -> None:
        """The returned ``UpdateState`` holds numeric numpy arrays by name and JSON ``info``."""
        for step in steps:
            assert isinstance(step.state, UpdateState)
            for key, value in step.state.arrays.items():
                assert isinstance(key, str) and isinstance(value, np.ndarray), key
                assert value.dtype != object, key
            assert json.loads(json.dumps(step.state.info)) == step.state.info

    def test_does_not_change_the_state_it_is_given(self, build: Any, steps: list[Step]) -> None:
        """The state of version N is the same after the update that used it."""
        given = steps[0].base.state
        before = copy.deepcopy(given)
        update_step(build(), steps[0].base, self.chunks()[1])
        assert given.info == before.info
        assert given.arrays.keys() == before.arrays.keys()
        for key, value in before.arrays.items():
            np.testing.assert_array_equal(given.arrays[key], value, err_msg=key)

    def test_the_same_seed_gives_the_same_model(self, build: Any, steps: list[Step]) -> None:
        """Running the stream again gives the same weights and state."""
        again = self.stream(build)
        for first, second in zip(steps, again, strict=True):
            _assert_same_arrays(first.trainer.state_dict(), second.trainer.state_dict())
            _assert_same_arrays(first.state.arrays, second.state.arrays)

    def test_an_update_from_the_store_is_the_update_from_memory(
        self, build: Any, steps: list[Step], tmp_path: Path
    ) -> None:
        """Version N saved in a real model store (safetensors and JSON) and loaded back
        gives the very update the in-memory version N gives."""
        component, config = configure(
            "vcs", {"name": "store", "root": str(tmp_path / "models")}, get_plugin_manager()
        )
        vcs = component.build(config)
        base = steps[0].base
        state = prefixed(base.state.arrays, UPDATER_KEY)
        arrays = join_arrays(base.weights, {**state, **prefixed(base.val_memory, VALMEM_KEY)})
        meta = VersionMeta(
            trainer=base.trainer,
            trainer_config=to_plain(base.trainer_config),
            info=base.info,
            updater=self.component if isinstance(self.component, str) else self.component.name,
            update={"index": 0, "state": base.state.info, "val_memory": base.val_memory_info},
        )
        version = vcs.save("stream", arrays, meta)
        loaded = load_base(vcs, version.ref)
        assert loaded.index == base.index
        stored = update_step(build(), loaded, self.chunks()[1])
        _assert_same_arrays(stored.trainer.state_dict(), steps[1].trainer.state_dict())
        _assert_same_arrays(stored.state.arrays, steps[1].state.arrays)
        assert stored.state.info == steps[1].state.info

    def test_keeps_its_memory_within_memory_size(self, build: Any, steps: list[Step]) -> None:
        """An updater with ``memory_size`` keeps at most that many rows, and some (skipped without
        one)."""
        size = getattr(build().config, "memory_size", None)
        if size is None:
            pytest.skip("the updater has no memory_size")
        for step in steps:
            assert self.memory_rows(step.state) <= size
        assert self.memory_rows(steps[-1].state) > 0, "a replay updater keeps rows"

    def test_refuses_a_trainer_it_cannot_update(self, build: Any) -> None:
        """``check(foreign_trainer())`` raises a one-line ``ConfigError`` (skipped when it gives
        None)."""
        foreign = self.foreign_trainer()
        if foreign is None:
            pytest.skip("foreign_trainer() gives no trainer to refuse")
        with pytest.raises(ConfigError) as error:
            build().check(foreign)
        assert "\n" not in str(error.value)


def update_step(
    updater: Updater,
    base: UpdateBase,
    chunk: DataSplits,
    reporter: RecordingReporter | None = None,
    val_memory_size: int = 200,
) -> Step:
    """One update as an update trial runs it (version N restored, the chunk re-encoded in
    its class order, validation joined with its memory), in memory, and the base of the
    next one."""
    manager = get_plugin_manager()
    component, config = configure("trainer", base.trainer_config, manager)
    if base.weights:
        trainer = type(component.build(config)).restore(config, base.weights, base.info)
    else:
        trainer = component.build(config)
    data = prepare_chunk(chunk, base)
    reporter = reporter or RecordingReporter("val_accuracy", "max")
    seed = update_seed(getattr(config, "seed", 0), base.index)
    context = UpdateContext(base.index, seed, data.n_new_val, base.parent)
    state = updater.update(trainer, data, base.state, reporter, context)
    memory, memory_info = val_memory(data, val_memory_size, seed)
    following = UpdateBase(
        trainer=base.trainer,
        trainer_config=base.trainer_config,
        parent=f"stream:v{base.index + 1}",
        weights=trainer.state_dict(),
        info=trainer.model_info(),
        state=state,
        val_memory=memory,
        val_memory_info=memory_info,
        index=base.index + 1,
    )
    return Step(trainer, reporter, state, following, chunk)


def run_stream(build: Any, trainer: Mapping[str, Any], chunks: list[DataSplits]) -> list[Step]:
    """Update a model chunk after chunk (the first update trains ``trainer`` from
    scratch) with updaters from ``build()``; every step."""
    base = UpdateBase(trainer=str(trainer["name"]), trainer_config=dict(trainer))
    steps = []
    for chunk in chunks:
        steps.append(update_step(build(), base, chunk))
        base = steps[-1].base
    return steps


def _chunk(data: Dataset, classes: list[int], seed: int) -> DataSplits:
    """The rows of ``classes``, cut 60/20/20 in a shuffled order."""
    rows = np.flatnonzero(np.isin(data.y, classes))
    rows = np.random.default_rng(seed).permutation(rows)
    n = len(rows)
    parts = [rows[: int(0.6 * n)], rows[int(0.6 * n) : int(0.8 * n)], rows[int(0.8 * n) :]]
    splits = [ArraySplit(data.x[p], data.y[p]) for p in parts]
    fingerprint = fingerprint_arrays(data.x[rows], data.y[rows])
    return DataSplits(*splits, classes=data.classes, fingerprint=fingerprint)


def _assert_same_arrays(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
