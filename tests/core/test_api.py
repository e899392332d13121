"""The README's Python API example works as written, without Hydra."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hyperplug
from hyperplug.errors import ConfigError, NotFoundError


def test_readme_python_api(tmp_path: Path) -> None:
    from hyperplug import GridTuner, build, load_model

    tracker = build("tracker", name="sqlite", path=str(tmp_path / "hp.db"))
    data = build("splitter", name="stratified").split_data(build("dataset", name="digits").load())
    tuner = GridTuner(
        metadata_tracker=tracker,
        metrics_tracker=tracker,
        resource_version_control=build("vcs", name="store", root=str(tmp_path / "models")),
        training_params={"mlp": {"lr": [0.01], "hidden_layers": [[16]], "epochs": [2]}},
        metrics=["train_loss", "val_loss", "val_accuracy"],
        perf_metric="val_accuracy",
        model_name="digits_mlp",
    )
    best = tuner.run_experiment(data)
    model = load_model("digits_mlp:best", root=str(tmp_path / "models"))
    assert np.array_equal(model.predict(data.test.x), best.predict(data.test.x))
    tracker.close()


def test_a_model_trained_on_a_gpu_loads_on_any_machine(tmp_path: Path, digits_splits: Any) -> None:
    """The version a GPU machine saved (trainer_config device=cuda, precision=fp16) loads
    here with only the version: on a device this machine has, or the one asked for."""
    import attrs
    import torch

    from hyperplug import GridTuner, build, load_model

    root = str(tmp_path / "models")
    store = build("vcs", name="store", root=root)
    tracker = build("tracker", name="sqlite", path=str(tmp_path / "hp.db"))
    tuner = GridTuner(
        metadata_tracker=tracker,
        metrics_tracker=tracker,
        resource_version_control=store,
        training_params={"mlp": {"hidden_layers": [[16]], "epochs": [1]}},
        model_name="m",
    )
    here = tuner.run_experiment(digits_splits)
    tracker.close()
    weights, trained_here = store.load("m:v1")
    on_gpu = {**trained_here.meta.trainer_config, "device": "cuda", "precision": "fp16"}
    store.save("m", weights, attrs.evolve(trained_here.meta, trainer_config=on_gpu))

    for model in (load_model("m:v2", root=root), load_model("m:v2", root=root, device="cpu")):
        assert np.array_equal(
            model.predict(digits_splits.test.x), here.predict(digits_splits.test.x)
        )
        assert model.config.device in ("auto", "cpu") and model.config.precision == "fp32"
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="device=cuda but this machine has no CUDA"):
            load_model("m:v2", root=root, device="cuda")


def test_build_validates_like_the_cli() -> None:
    with pytest.raises(ConfigError, match=r"trainer\.lr must be > 0"):
        hyperplug.build("trainer", name="mlp", lr=-1.0)
    with pytest.raises(ConfigError, match=r"unknown tracker 'sqlit' \(did you mean 'sqlite'\?\)"):
        hyperplug.build("tracker", name="sqlit")


def test_load_model_of_a_missing_version_names_it(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        hyperplug.load_model("nope:v1", root=str(tmp_path))


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = hyperplug.no_such_thing
