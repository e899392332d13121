"""The ``mlp`` trainer, trained for real on small slices of sklearn's digits."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path

import attrs
import numpy as np
import pluggy
import pytest
import torch
from safetensors.numpy import load_file, save_file

import hyperplug.plugins.torch as torch_plugin
from hyperplug import hookspecs
from hyperplug.config import make_config
from hyperplug.data import ArraySplit, Dataset, DataSplits
from hyperplug.errors import ConfigError, DataError
from hyperplug.interfaces import ModelTrainer
from hyperplug.plugins.sklearn.configs import DigitsConfig, StratifiedSplitConfig
from hyperplug.plugins.sklearn.digits import DigitsDataset
from hyperplug.plugins.sklearn.splitter import StratifiedSplitter
from hyperplug.plugins.torch.configs import ACTIVATIONS, OPTIMIZERS, MLPConfig
from hyperplug.plugins.torch.mlp import ACTIVATION_MODULES, MLPTrainer, build_mlp
from hyperplug.testing import RecordingReporter


@pytest.fixture(scope="module")
def digits() -> DataSplits:
    dataset = DigitsDataset(DigitsConfig()).load()
    return StratifiedSplitter(StratifiedSplitConfig(seed=1)).split_data(dataset)


def small(**overrides: object) -> MLPConfig:
    defaults = {"hidden_layers": [32], "epochs": 3, "lr": 0.01, "batch_size": 64}
    return MLPConfig(**{**defaults, **overrides})


def fit(
    config: MLPConfig, data: DataSplits, reporter: RecordingReporter | None = None
) -> MLPTrainer:
    trainer = torch_plugin.build_mlp_trainer(config)
    trainer.fit(data, reporter or RecordingReporter())
    return trainer


# --------------------------------------------------------------------------- plugin


def test_hookimpl_registers_the_mlp_trainer() -> None:
    manager = pluggy.PluginManager("hyperplug")
    manager.add_hookspecs(hookspecs)
    manager.register(torch_plugin)
    [components] = manager.hook.register_trainers()
    component = components[0]
    assert (component.kind, component.name, component.config_class) == ("trainer", "mlp", MLPConfig)
    trainer = component.build(MLPConfig())
    assert isinstance(trainer, MLPTrainer)
    assert isinstance(trainer, ModelTrainer)
    assert trainer.name == "mlp"


def test_entry_point_names_the_plugin_module() -> None:
    [entry_point] = entry_points(group="hyperplug", name="torch")
    assert entry_point.value == "hyperplug.plugins.torch"


def test_importing_the_plugin_does_not_import_torch() -> None:
    code = "import hyperplug.plugins.torch, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lr", -0.1, "trainer.lr must be > 0, got -0.1"),
        ("lr", 0, "trainer.lr must be > 0, got 0"),
        ("hidden_layers", [64, 0], "trainer.hidden_layers must be a list of integers > 0"),
        (
            "activation",
            "relux",
            "trainer.activation must be one of relu, gelu, tanh, sigmoid, leaky_relu, silu, "
            "got 'relux' (did you mean 'relu'?)",
        ),
        ("dropout", 1.0, "trainer.dropout must be in [0, 1), got 1.0"),
        ("optimizer", "rmsprop", "trainer.optimizer must be one of adam, adamw, sgd"),
        ("weight_decay", -1e-4, "trainer.weight_decay must be >= 0"),
        ("momentum", -0.5, "trainer.momentum must be >= 0"),
        ("batch_size", 0, "trainer.batch_size must be an integer > 0, got 0"),
        ("epochs", 2.5, "trainer.epochs: Value '2.5' of type 'float' could not be converted"),
        ("threads", -1, "trainer.threads must be an integer >= 0, got -1"),
    ],
)
def test_validators_name_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        make_config(MLPConfig, {field: value}, "trainer")


def test_a_grid_point_error_names_its_training_params_key() -> None:
    with pytest.raises(ConfigError, match=r"^training_params\.mlp\.lr must be > 0, got -0\.1"):
        make_config(MLPConfig, {"lr": -0.1}, "training_params.mlp")


def test_defaults() -> None:
    config = MLPConfig()
    assert attrs.asdict(config) == {
        "name": "mlp",
        "hidden_layers": [128, 64],
        "activation": "relu",
        "dropout": 0.0,
        "optimizer": "adam",
        "lr": 1e-3,
        "weight_decay": 0.0,
        "momentum": 0.9,
        "batch_size": 64,
        "epochs": 10,
        "seed": 0,
        "threads": 0,
        "device": "auto",
        "precision": "fp32",
        "grad_clip": 0.0,
        "lr_schedule": "none",
        "warmup_epochs": 0,
        "lr_step_size": 30,
        "lr_gamma": 0.1,
        "label_smoothing": 0.0,
    }
    assert MLPConfig().hidden_layers is not config.hidden_layers


def test_every_activation_has_a_module() -> None:
    assert set(ACTIVATION_MODULES) == set(ACTIVATIONS)
    for activation in ACTIVATIONS:
        model = build_mlp(4, [3], 2, activation, dropout=0.5)
        assert isinstance(model[1], ACTIVATION_MODULES[activation])
        assert isinstance(model[2], torch.nn.Dropout)


def test_empty_hidden_layers_is_a_linear_model() -> None:
    model = build_mlp(64, [], 10)
    assert [type(m) for m in model] == [torch.nn.Linear]


# --------------------------------------------------------------------------- training


def test_training_beats_chance_and_reports_every_epoch(digits: DataSplits) -> None:
    reporter = RecordingReporter()
    trainer = fit(small(), digits, reporter)
    assert reporter.epochs == [1, 2, 3]
    for metrics in reporter.metrics:
        assert set(metrics) == {"train_loss", "val_loss", "val_accuracy"}
        assert all(isinstance(v, float) for v in metrics.values())
    assert reporter.metrics[-1]["train_loss"] < reporter.metrics[0]["train_loss"]
    assert max(m["val_accuracy"] for m in reporter.metrics) > 0.8  # chance is 0.1
    test = trainer.evaluate(digits.test)
    assert set(test) == {"loss", "accuracy"} and test["accuracy"] > 0.8
    predictions = trainer.predict(digits.test.x)
    assert predictions.shape == (len(digits.test),) and predictions.dtype == np.int64
    assert np.mean(predictions == digits.test.y) == pytest.approx(test["accuracy"])


def test_same_seed_same_metrics_other_seed_other_metrics(digits: DataSplits) -> None:
    runs = []
    for seed in (7, 7, 8):
        reporter = RecordingReporter()
        fit(small(seed=seed, epochs=2, dropout=0.1), digits, reporter)
        runs.append(reporter.metrics)
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_training_stops_when_report_returns_false(digits: DataSplits) -> None:
    reporter = RecordingReporter(stop_after=2)
    fit(small(epochs=10), digits, reporter)
    assert reporter.epochs == [1, 2]


class Snapshots(RecordingReporter):
    """Also keeps the trainer's weights as they are at each report."""

    def __init__(self, trainer: MLPTrainer, perf_metric: str, mode: str) -> None:
        super().__init__(perf_metric, mode)
        self.trainer = trainer
        self.states: list[dict[str, np.ndarray]] = []

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        self.states.append(self.trainer.state_dict())
        return super().__call__(epoch, metrics)


@pytest.mark.parametrize(("perf_metric", "mode"), [("val_accuracy", "min"), ("val_loss", "max")])
def test_best_epoch_weights_are_restored(digits: DataSplits, perf_metric: str, mode: str) -> None:
    # Asking for the *worst* epoch makes the best epoch an early one, not the last.
    trainer = torch_plugin.build_mlp_trainer(small(epochs=4))
    reporter = Snapshots(trainer, perf_metric, mode)
    trainer.fit(digits, reporter)
    values = [m[perf_metric] for m in reporter.metrics]
    best = int(np.argmin(values) if mode == "min" else np.argmax(values))
    assert best < len(values) - 1
    for key, value in trainer.state_dict().items():
        np.testing.assert_array_equal(value, reporter.states[best][key])
    assert trainer.evaluate(digits.val) == {
        "loss": pytest.approx(reporter.metrics[best]["val_loss"]),
        "accuracy": reporter.metrics[best]["val_accuracy"],
    }


def test_last_epoch_kept_when_perf_metric_is_not_reported(digits: DataSplits) -> None:
    reporter = RecordingReporter(perf_metric="test_accuracy")
    trainer = fit(small(epochs=2), digits, reporter)
    assert trainer.evaluate(digits.val)["accuracy"] == reporter.metrics[-1]["val_accuracy"]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_trains(digits: DataSplits, optimizer: str) -> None:
    reporter = RecordingReporter()
    fit(small(optimizer=optimizer, epochs=2, lr=0.05, weight_decay=1e-4), digits, reporter)
    assert reporter.metrics[-1]["val_accuracy"] > 0.3


def test_linear_model_on_image_shaped_inputs() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((120, 2, 3), dtype=np.float32)
    y = (x[:, 0, 0] > 0.5).astype(np.int64)
    part = ArraySplit(x, y)
    data = DataSplits(part, part, part, ("low", "high"), "fp")
    trainer = fit(small(hidden_layers=[], epochs=1), data)
    assert trainer.model_info() == {
        "input_shape": [2, 3],
        "n_classes": 2,
        "classes": ["low", "high"],
    }
    assert trainer.predict(x).shape == (120,)


def test_threads_sets_torch_thread_count(digits: DataSplits) -> None:
    before = torch.get_num_threads()
    try:
        fit(small(epochs=1, threads=1), digits)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------- saving


def test_state_dict_and_restore_roundtrip_through_safetensors(
    digits: DataSplits, tmp_path: Path
) -> None:
    config = small(epochs=2)
    trainer = fit(config, digits)
    path = tmp_path / "model.safetensors"
    save_file(trainer.state_dict(), str(path))
    info = json.loads(json.dumps(trainer.model_info()))
    assert info == {"input_shape": [64], "n_classes": 10, "classes": list(digits.classes)}

    restored = MLPTrainer.restore(config, load_file(str(path)), info)
    np.testing.assert_array_equal(restored.predict(digits.test.x), trainer.predict(digits.test.x))
    assert restored.evaluate(digits.test) == trainer.evaluate(digits.test)
    built = torch_plugin.build_mlp_trainer(config).restore(config, trainer.state_dict(), info)
    np.testing.assert_array_equal(built.predict(digits.val.x), trainer.predict(digits.val.x))


def test_state_dict_is_a_copy(digits: DataSplits) -> None:
    trainer = fit(small(epochs=1), digits)
    state = trainer.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    next(iter(state.values()))[...] = 0
    assert not np.array_equal(next(iter(trainer.state_dict().values())), 0)


def test_using_an_untrained_trainer_fails_clearly() -> None:
    trainer = torch_plugin.build_mlp_trainer(small())
    with pytest.raises(RuntimeError, match=r"MLPTrainer has no model: call fit\(\) or restore\(\)"):
        trainer.predict(np.zeros((1, 64), dtype=np.float32))


def test_wrong_input_shape_fails_clearly(digits: DataSplits) -> None:
    trainer = fit(small(epochs=1), digits)
    with pytest.raises(
        DataError, match=r"MLPTrainer expects inputs shaped \(n, 64\), got \(2, 63\)"
    ):
        trainer.predict(np.zeros((2, 63), dtype=np.float32))


def test_labels_outside_the_classes_fail_clearly() -> None:
    dataset = Dataset.from_arrays("t", np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1]))
    part = ArraySplit(dataset.x, np.array([0, 1, 2, 1]))
    data = DataSplits(part, part, part, dataset.classes, dataset.fingerprint)
    with pytest.raises(DataError, match=r"labels must be class indices 0\.\.1, got values 0\.\.2"):
        fit(small(epochs=1), data)


class Killed(Exception):
    """What the process's death looks like to the trainer under test."""


@attrs.define
class CheckpointedReporter:
    """A reporter with a checkpoint; ``die_at``: the epoch whose report never arrives."""

    checkpoint: object
    perf_metric: str = "val_accuracy"
    mode: str = "max"
    die_at: int | None = None
    reports: list[tuple[int, dict[str, float]]] = attrs.Factory(list)

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        if epoch == self.die_at:
            raise Killed
        self.reports.append((epoch, dict(metrics)))
        return True


@pytest.mark.parametrize(
    "overrides",
    [
        {"optimizer": "adam", "dropout": 0.3, "lr_schedule": "cosine", "warmup_epochs": 1},
        {"optimizer": "sgd", "momentum": 0.9, "lr_schedule": "step", "lr_step_size": 2},
    ],
)
def test_a_resumed_fit_continues_exactly_where_the_checkpoint_left_it(
    digits: DataSplits, tmp_path: Path, overrides: dict[str, object]
) -> None:
    """Weights, optimizer, lr schedule, shuffling and dropout generators all come back:
    epochs 4-5 after a death at epoch 4 report what an uninterrupted run reported."""
    from hyperplug.checkpoint import TrialCheckpoint

    config = small(epochs=5, lr=0.05, **overrides)
    whole = CheckpointedReporter(TrialCheckpoint(tmp_path / "whole"))
    reference = MLPTrainer(config)
    reference.fit(digits, whole)

    first = CheckpointedReporter(TrialCheckpoint(tmp_path / "cut"), die_at=4)
    with pytest.raises(Killed):
        MLPTrainer(config).fit(digits, first)
    again = CheckpointedReporter(TrialCheckpoint(tmp_path / "cut"))
    resumed = MLPTrainer(config)
    resumed.fit(digits, again)
    assert [e for e, _ in first.reports] == [1, 2, 3]
    assert [e for e, _ in again.reports] == [4, 5]
    assert again.checkpoint.resumed_epoch == 3
    assert first.reports + again.reports == whole.reports
    for key, value in reference.state_dict().items():  # the best epoch's weights, too
        assert np.array_equal(value, resumed.state_dict()[key]), key
    saved = sorted(p.name for p in (tmp_path / "cut" / "checkpoint").iterdir())
    assert saved == ["arrays-5.safetensors", "checkpoint.json"]
