"""The update chain through the Python API: version N plus a chunk becomes version N+1 in
a real store and tracker, with its lineage; bad input is one line and writes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

import hyperplug
from hyperplug import build, hookimpl
from hyperplug.components import Component
from hyperplug.data import ArraySplit, DataSplits, fingerprint_arrays
from hyperplug.errors import ConfigError, DataError, HyperplugError, NotFoundError
from hyperplug.interfaces import ModelTrainer
from hyperplug.plugin_manager import get_plugin_manager, reset_plugin_manager

TINY = {"name": "mlp", "hidden_layers": [16], "epochs": 3, "batch_size": 32, "lr": 0.01}


def chunk(full: DataSplits, labels: list[int], x_transform: Any = None) -> DataSplits:
    def part(split: ArraySplit) -> ArraySplit:
        rows = np.isin(split.y, labels)
        x = split.x[rows] if x_transform is None else x_transform(split.x[rows])
        return ArraySplit(x, split.y[rows])

    parts = [part(s) for s in (full.train, full.val, full.test)]
    fingerprint = fingerprint_arrays(*(a for p in parts for a in (p.x, p.y)))
    return DataSplits(*parts, classes=full.classes, fingerprint=fingerprint)


@pytest.fixture(scope="module")
def chunks(digits_splits: DataSplits) -> list[DataSplits]:
    return [chunk(digits_splits, [0, 1]), chunk(digits_splits, [2, 3]), chunk(digits_splits, [4])]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "hp"


def update(data: DataSplits, home: Path, **kwargs: Any) -> Any:
    kwargs.setdefault("trainer", TINY if kwargs.get("model") is None else {})
    kwargs.setdefault("model_name", "stream")
    return hyperplug.update(data, home=home, **kwargs)


def recorded(home: Path) -> tuple[list[str], list[str]]:
    """(studies in the tracker, model versions in the store): what an update wrote."""
    studies = []
    if (home / "hyperplug.db").exists():
        tracker = build("tracker", name="sqlite", path=str(home / "hyperplug.db"))
        studies = [s.name for s in tracker.list_studies()]
        tracker.close()
    store = build("vcs", name="store", root=str(home / "models"))
    return studies, [v.ref for v in store.list_versions()]


def test_updates_make_a_chain_of_versions_with_their_lineage(
    chunks: list[DataSplits], home: Path
) -> None:
    first = update(chunks[0], home)
    second = update(chunks[1], home, model="stream")
    v1, v2 = first.winner, second.winner
    assert (v1.ref, v1.meta.parent, v1.meta.updater) == ("stream:v1", None, "er")
    assert (v2.ref, v2.meta.parent, v2.meta.updater) == ("stream:v2", "stream:v1", "er")
    assert v2.meta.data_fingerprint == chunks[1].fingerprint
    assert v2.meta.study == second.study.name and v2.meta.study.startswith("stream-update-")
    assert v2.meta.info["classes"] == ["0", "1", "2", "3"]
    update_info = v2.meta.update
    assert update_info["index"] == 1 and update_info["classes_added"] == ["2", "3"]
    assert update_info["chunk"]["train"] == len(chunks[1].train)
    assert 0 < update_info["buffer_size"] <= 500
    assert update_info["updater_config"]["name"] == "er"
    # best passes from parent to child; every version keeps its weights and its state
    store = build("vcs", name="store", root=str(home / "models"))
    assert store.get("stream:best").ref == "stream:v2" == store.get("stream:latest").ref
    arrays, _ = store.load("stream:v2")
    assert "__update__/updater/buffer/x" in arrays and "__update__/valmem/x" in arrays
    model = hyperplug.load_model("stream:v2", root=str(home / "models"))
    assert model.predict(chunks[0].test.x[:3]).shape == (3,)
    # the update's trials are named by updater and validated on new and old rows
    trial = second.trials[0]
    assert trial.trainer == "er"
    assert {"val_accuracy_new", "val_accuracy_old"} <= set(trial.metrics)


def test_the_same_update_again_changes_nothing(chunks: list[DataSplits], home: Path) -> None:
    update(chunks[0], home)
    second = update(chunks[1], home, model="stream:v1")
    again = update(chunks[1], home, model="stream:v1")  # same parent, same chunk
    assert again.already_complete and again.study.name == second.study.name
    latest = update(chunks[1], home, model="stream")  # latest is v2, made from this chunk
    assert latest.already_complete and latest.winner.ref == "stream:v2"
    assert "was updated on this data already" in latest.notice
    assert recorded(home)[1] == ["stream:v1", "stream:v2"]


def test_a_failed_update_leaves_version_n_as_it_was_and_adds_none(
    chunks: list[DataSplits], home: Path
) -> None:
    update(chunks[0], home)
    store = build("vcs", name="store", root=str(home / "models"))
    before = store.get("stream:v1")
    with pytest.raises(HyperplugError, match="none of its 1 trials reached perf_metric"):
        # a learning rate this large makes the loss overflow: the trial fails
        update(chunks[1], home, model="stream:v1", trainer={"lr": 1e30})
    assert recorded(home)[1] == ["stream:v1"]
    after = store.get("stream:v1")
    assert (after.sha256, after.aliases) == (before.sha256, before.aliases)
    fixed = update(chunks[1], home, model="stream:v1")
    assert fixed.winner.ref == "stream:v2"


def test_a_tuned_update_warm_starts_from_the_lineage(chunks: list[DataSplits], home: Path) -> None:
    """With ranges and no optimizer the first update runs ASHA, the next RUSH with the
    earlier update study's best config first."""
    space = {"er": {"lr": "loguniform(1e-3, 1e-1)", "alpha": [0.5, 1.0]}}
    budget = {"max_trials": 3, "max_epochs": 3}
    first = update(chunks[0], home, training_params=space, optimizer={"name": "asha", **budget})
    best = next(t for t in first.trials if t.id == first.study.winner_trial_id)
    second = update(chunks[1], home, model="stream", training_params=space, optimizer=budget)
    assert second.study.config["optimizer"] == "rush"
    assert second.trials[0].params == best.params
    assert len(second.trials) == 3


def test_a_search_keyed_by_the_trainer_means_the_configured_updater(
    chunks: list[DataSplits], home: Path
) -> None:
    update(chunks[0], home)
    result = update(
        chunks[1],
        home,
        model="stream",
        updater="der",
        training_params={"mlp": {"lr": [0.01, 0.02]}},
    )
    assert sorted((t.trainer, t.params["lr"]) for t in result.trials) == [
        ("der", 0.01),
        ("der", 0.02),
    ]
    assert result.winner.meta.updater == "der"


def test_the_default_search_space_of_an_updater(chunks: list[DataSplits], home: Path) -> None:
    update(chunks[0], home)
    result = update(
        chunks[1],
        home,
        model="stream",
        updater="lwf",
        training_params="default",
        optimizer={"name": "random", "max_trials": 2},
    )
    assert set(result.trials[0].params) == {"lr", "alpha", "temperature"}


def bad_update(chunks: list[DataSplits], home: Path, error: type, match: str, **kwargs) -> None:
    update(chunks[0], home)
    before = recorded(home)
    with pytest.raises(error) as info:
        update(kwargs.pop("data", chunks[1]), home, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert match in message, message
    assert recorded(home) == before, "a refused update must write nothing"


@pytest.mark.parametrize(
    ("error", "match", "kwargs"),
    [
        (NotFoundError, "model 'strem' not found (did you mean 'stream'?)", {"model": "strem"}),
        (NotFoundError, "model version 'stream:v7' not found", {"model": "stream:v7"}),
        (HyperplugError, "updater 'err'", {"model": "stream", "updater": "err"}),
        (
            ConfigError,
            "updater.memory_size must be an integer > 0, got 0",
            {"model": "stream", "updater": {"name": "er", "memory_size": 0}},
        ),
        (
            ConfigError,
            "training_params.er.alpha must be >= 0, got -1",
            {"model": "stream", "training_params": {"er": {"alpha": [-1, 1]}}},
        ),
        (
            ConfigError,
            "training_params.er.alfa: neither updater er nor trainer mlp has a key 'alfa' "
            "(did you mean 'alpha'?)",
            {"model": "stream", "training_params": {"er": {"alfa": [1, 2]}}},
        ),
        (
            ConfigError,
            "'val_memory_size' is a setting of the whole update",
            {"model": "stream", "training_params": {"er": {"val_memory_size": [1, 2]}}},
        ),
        (
            ConfigError,
            "does not fit the weights of stream:v1 (changed: trainer.hidden_layers)",
            {"model": "stream", "trainer": {"hidden_layers": [32]}},
        ),
        (
            DataError,
            "updater.new_classes=refuse: the chunk brings classes ['2', '3']",
            {"model": "stream", "updater": {"name": "er", "new_classes": "refuse"}},
        ),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    chunks: list[DataSplits], home: Path, error: type, match: str, kwargs: dict
) -> None:
    bad_update(chunks, home, error, match, **kwargs)


def test_a_chunk_of_another_shape_or_an_empty_chunk_is_refused(
    chunks: list[DataSplits], home: Path
) -> None:
    wide = chunk(
        build("splitter", name="stratified").split_data(build("dataset", name="digits").load()),
        [2, 3],
        lambda x: np.concatenate([x, x], axis=1),
    )
    bad_update(
        chunks,
        home,
        DataError,
        "shaped (n, 128) but model stream:v1 takes (n, 64)",
        data=wide,
        model="stream",
    )
    empty = attrs.evolve(chunks[1], train=ArraySplit(chunks[1].train.x[:0], chunks[1].train.y[:0]))
    bad_update(chunks, home, DataError, "training split is empty", data=empty, model="stream")


@attrs.define
class CentroidConfig:
    name: str = "centroid"


class Centroid(ModelTrainer):
    """A real non-torch trainer (nearest class mean): no torch updater can update it."""

    name = "centroid"

    def fit(self, data: DataSplits, report: Any) -> None:
        self.means = np.stack([data.train.x[data.train.y == c].mean(0) for c in range(2)])
        report(1, {"train_loss": 0.0, "val_loss": 0.0, "val_accuracy": 1.0})

    def evaluate(self, split: ArraySplit) -> dict[str, float]:
        return {"loss": 0.0, "accuracy": float(np.mean(self.predict(split.x) == split.y))}

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.argmin(((x[:, None] - self.means[None]) ** 2).sum(-1), axis=1)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"means": self.means}

    def model_info(self) -> dict[str, Any]:
        return {"classes": ["0", "1"], "input_shape": [64]}

    @classmethod
    def restore(cls, config: Any, state: Any, info: Any) -> Centroid:
        trainer = cls(config)
        trainer.means = state["means"]
        return trainer


class CentroidPlugin:
    @hookimpl
    def register_trainers(self) -> list[Component]:
        return [Component("trainer", "centroid", Centroid, CentroidConfig, "nearest mean")]


def test_a_trainer_no_updater_can_update_is_refused_before_anything_is_written(
    chunks: list[DataSplits], home: Path
) -> None:
    get_plugin_manager().register(CentroidPlugin(), "centroid_plugin", "third-party")
    try:
        with pytest.raises(ConfigError, match=r"^updater=er updates torch trainers .* centroid"):
            update(chunks[0], home, trainer={"name": "centroid"})
        assert recorded(home) == ([], [])
    finally:
        reset_plugin_manager()
