"""The ``resnet`` and ``vit`` trainers: tiny timm models trained for real on digits images."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
import torch
from safetensors.numpy import load_file, save_file
from safetensors.torch import save_file as save_torch

from hyperplug.data import ArraySplit, DataSplits
from hyperplug.errors import DataError, HyperplugError
from hyperplug.plugins.torch import build_resnet_trainer, build_vit_trainer, loop
from hyperplug.plugins.torch.augment import flip_crop
from hyperplug.plugins.torch.configs import MLPConfig, ResNetConfig, ViTConfig
from hyperplug.plugins.torch.image import ImageTrainer, ResNetTrainer, ViTTrainer
from hyperplug.plugins.torch.timm_models import create_model

TINY_RESNET = {"layers": [1, 1, 1, 1], "channels": [8, 8, 16, 16]}
TINY_VIT = {"patch_size": 4, "depth": 1, "embed_dim": 16, "num_heads": 2}


class Recorder:
    perf_metric = "val_accuracy"
    mode = "max"

    def __init__(self) -> None:
        self.metrics: list[dict[str, float]] = []

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        self.metrics.append(dict(metrics))
        return True


@pytest.fixture(scope="module")
def images() -> DataSplits:
    """90 digits as (1, 8, 8) images, through the registered dataset and splitter."""
    from conftest import build

    dataset = build("dataset", name="digits_images", max_samples=90).load()
    return build("splitter", name="stratified").split_data(dataset)


def resnet(**overrides: Any) -> ResNetConfig:
    defaults = {"model_kwargs": TINY_RESNET, "epochs": 2, "batch_size": 32, "lr": 0.01}
    return ResNetConfig(**{**defaults, **overrides})


def vit(**overrides: Any) -> ViTConfig:
    defaults = {"model_kwargs": TINY_VIT, "img_size": 8, "epochs": 2, "batch_size": 32}
    return ViTConfig(**{**defaults, **overrides})


BUILDERS = {"resnet": (build_resnet_trainer, resnet), "vit": (build_vit_trainer, vit)}


def train(kind: str, data: DataSplits, **overrides: Any) -> tuple[ImageTrainer, Recorder]:
    build, config = BUILDERS[kind]
    trainer, reporter = build(config(**overrides)), Recorder()
    trainer.fit(data, reporter)
    return trainer, reporter


# --------------------------------------------------------------------------- training


@pytest.mark.parametrize("kind", ["resnet", "vit"])
def test_trains_reports_every_epoch_and_roundtrips_through_safetensors(
    kind: str, images: DataSplits, tmp_path: Path
) -> None:
    trainer, reporter = train(kind, images)
    assert len(reporter.metrics) == 2
    assert all(set(m) == {"train_loss", "val_loss", "val_accuracy"} for m in reporter.metrics)
    assert all(np.isfinite(v) for m in reporter.metrics for v in m.values())
    path = tmp_path / "model.safetensors"
    save_file(trainer.state_dict(), str(path))
    info = json.loads(json.dumps(trainer.model_info()))
    assert info["input_shape"] == [1, 8, 8] and info["n_classes"] == 10
    restored = type(trainer).restore(trainer.config, load_file(str(path)), info)
    np.testing.assert_array_equal(restored.predict(images.test.x), trainer.predict(images.test.x))
    assert restored.evaluate(images.test) == trainer.evaluate(images.test)


def test_resnet_learns_digits(images: DataSplits) -> None:
    _, reporter = train("resnet", images, epochs=4, lr=0.02)
    assert reporter.metrics[-1]["train_loss"] < reporter.metrics[0]["train_loss"]
    assert max(m["val_accuracy"] for m in reporter.metrics) > 0.2  # chance is 0.1


@pytest.mark.parametrize("kind", ["resnet", "vit"])
def test_same_seed_same_metrics_other_seed_other_metrics(kind: str, images: DataSplits) -> None:
    kwargs = {**(TINY_RESNET if kind == "resnet" else TINY_VIT), "drop_rate": 0.2}
    options = {"augment": "flip_crop", "model_kwargs": kwargs}
    runs = [train(kind, images, seed=seed, **options)[1].metrics for seed in (3, 3, 4)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_training_options_all_at_once(images: DataSplits) -> None:
    _, reporter = train(
        "vit",
        images,
        img_size=12,
        precision="bf16",
        lr_schedule="cosine",
        warmup_epochs=1,
        grad_clip=0.5,
        label_smoothing=0.1,
        channels_last=True,
        optimizer="adamw",
        weight_decay=0.01,
    )
    assert all(np.isfinite(m["train_loss"]) for m in reporter.metrics)


def test_dataloader_workers_and_step_schedule(images: DataSplits) -> None:
    trainer, reporter = train("resnet", images, workers=1, lr_schedule="step", lr_step_size=1)
    assert len(reporter.metrics) == 2 and trainer.predict(images.test.x).shape == (
        len(images.test),
    )


def test_mlp_takes_the_shared_training_options(images: DataSplits) -> None:
    from hyperplug.plugins.torch import build_mlp_trainer

    config = MLPConfig(
        hidden_layers=[16],
        epochs=2,
        lr_schedule="cosine",
        grad_clip=1.0,
        label_smoothing=0.1,
        precision="bf16",
        device="cpu",
    )
    reporter = Recorder()
    build_mlp_trainer(config).fit(images, reporter)
    assert len(reporter.metrics) == 2


@pytest.mark.parametrize(
    ("schedule", "warmup", "factors"),
    [
        ("none", 0, [1, 1, 1, 1]),
        ("none", 1, [0.5, 1, 1, 1]),
        ("cosine", 0, [1, 0.853553, 0.5, 0.146447]),
        ("cosine", 2, [1 / 3, 2 / 3, 1, 0.5]),
        ("step", 0, [1, 1, 0.1, 0.1]),
    ],
)
def test_lr_factor(schedule: str, warmup: int, factors: list[float]) -> None:
    config = MLPConfig(epochs=4, lr_schedule=schedule, warmup_epochs=warmup, lr_step_size=2)
    assert [loop.lr_factor(config, e) for e in range(4)] == pytest.approx(factors, abs=1e-6)


def test_flip_crop_keeps_shape_and_content_and_is_seeded() -> None:
    x = torch.arange(2 * 3 * 16 * 16, dtype=torch.float32).view(2, 3, 16, 16)
    first = flip_crop(x, torch.Generator().manual_seed(0))
    again = flip_crop(x, torch.Generator().manual_seed(0))
    assert first.shape == x.shape and torch.equal(first, again)
    assert not torch.equal(first, x)
    assert set(first.unique().tolist()) <= {0.0, *x.unique().tolist()}  # shifted, zero-padded


def test_cifar_stem_and_named_variants() -> None:
    model = create_model("resnet18_cifar", 10, 1, model_kwargs=TINY_RESNET)
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, torch.nn.Identity)
    model = create_model("vit_tiny", 10, 3, model_kwargs=TINY_VIT, img_size=8)
    assert model.patch_embed.proj.in_channels == 3 and model.head.out_features == 10


# --------------------------------------------------------------------------- pretrained


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_pretrained_weights_load_from_a_local_file(
    suffix: str, images: DataSplits, tmp_path: Path
) -> None:
    source = create_model("resnet18", 1000, 1, model_kwargs=TINY_RESNET)
    path = tmp_path / f"weights{suffix}"
    if suffix == ".pth":
        torch.save(source.state_dict(), path)
    else:
        save_torch(source.state_dict(), str(path))
    config = resnet(variant="resnet18", pretrained=str(path), normalize=False)
    model = build_resnet_trainer(config).build_model((1, 8, 8), 10)
    torch.testing.assert_close(model.layer1[0].conv1.weight, source.layer1[0].conv1.weight)
    assert model.fc.out_features == 10  # the 1000-class head was left out


def test_a_version_trained_from_a_pretrained_file_loads_after_the_file_moved(
    images: DataSplits, tmp_path: Path
) -> None:
    from conftest import build

    from hyperplug import GridTuner, load_model

    path = tmp_path / "weights.safetensors"
    save_torch(create_model("resnet18", 1000, 1, model_kwargs=TINY_RESNET).state_dict(), str(path))
    config = resnet(variant="resnet18", pretrained=str(path), epochs=1)
    tracker = build("tracker", name="sqlite", path=str(tmp_path / "hp.db"))
    tuner = GridTuner(
        metadata_tracker=tracker,
        metrics_tracker=tracker,
        resource_version_control=build("vcs", name="store", root=str(tmp_path / "models")),
        training_params={"resnet": {"lr": [0.01]}},
        trainer_configs={"resnet": attrs.asdict(config)},
        model_name="pre",
    )
    trained = tuner.run_experiment(images)
    tracker.close()
    assert tuner.winner is not None and tuner.winner.meta.trainer_config["pretrained"] == str(path)
    path.rename(tmp_path / "moved.safetensors")
    model = load_model("pre:best", root=str(tmp_path / "models"))
    assert np.array_equal(model.predict(images.test.x), trained.predict(images.test.x))


# --------------------------------------------------------------------------- bad input


def config_error(make: Any, **overrides: Any) -> str:
    from hyperplug.config import make_config

    with pytest.raises(HyperplugError) as caught:
        make_config(make, overrides, "trainer")
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_unknown_variant_suggests_close_names() -> None:
    message = config_error(ResNetConfig, variant="resnet19")
    assert message.startswith("trainer.variant: 'resnet19' is neither a named resnet variant")
    assert "close names: resnet18" in message
    assert "vit_tiny_patch16_224" in config_error(ViTConfig, variant="vit_tiny_patch16_22")


def test_config_errors_before_training(tmp_path: Path) -> None:
    assert config_error(ViTConfig, img_size=30) == (
        "trainer.img_size 30 is not divisible by the patch size 16 of vit_tiny_patch16_224"
    )
    assert "patch size 4" in config_error(ViTConfig, img_size=10, model_kwargs={"patch_size": 4})
    assert "weight file not found" in config_error(ResNetConfig, pretrained=str(tmp_path / "w.pth"))
    (tmp_path / "w.pkl").write_bytes(b"")
    assert "must be a .safetensors" in config_error(
        ResNetConfig, pretrained=str(tmp_path / "w.pkl")
    )
    assert "trainer.model_kwargs.in_chans is not allowed" in config_error(
        ResNetConfig, model_kwargs={"in_chans": 3}
    )
    assert "trainer.augment must be one of none, flip_crop" in config_error(
        ResNetConfig, augment="flip"
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_and_fp16_on_cpu_fail_at_config_time() -> None:
    assert config_error(MLPConfig, device="cuda").startswith(
        "trainer.device=cuda but this machine has no CUDA device"
    )
    assert "trainer.precision=fp16 needs a GPU" in config_error(ResNetConfig, precision="fp16")


def test_pretrained_true_without_cached_weights_or_download_fails(tmp_path: Path) -> None:
    hub = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        message = config_error(ResNetConfig, pretrained=True, variant="resnet18")
    finally:
        torch.hub.set_dir(hub)
    assert message.startswith("trainer.pretrained: no cached weights of resnet18")
    assert "trainer.allow_download=true" in message


def test_data_errors_before_the_first_epoch(images: DataSplits) -> None:
    reporter = Recorder()
    with pytest.raises(DataError, match=r"trainer\.in_chans is 3 but the images have 1 channel"):
        build_resnet_trainer(resnet(in_chans=3)).fit(images, reporter)
    with pytest.raises(
        DataError, match=r"images of 8x8 are not divisible by the patch size 16 of vit_tiny"
    ):
        build_vit_trainer(ViTConfig(img_size=0)).fit(images, reporter)
    flat = ArraySplit(images.train.x.reshape(len(images.train), -1), images.train.y)
    flat_data = DataSplits(flat, flat, flat, images.classes, "flat")
    with pytest.raises(DataError, match=r"needs images shaped \(n, C, H, W\).*digits_images"):
        build_resnet_trainer(resnet()).fit(flat_data, reporter)
    assert reporter.metrics == []


@pytest.mark.parametrize(
    ("config", "flat", "message"),
    [
        ({"in_chans": 3}, False, r"trainer\.in_chans is 3 but the images have 1 channel"),
        ({}, True, r"needs images shaped \(n, C, H, W\).*dataset=digits_images"),
    ],
)
def test_a_study_on_data_its_trainer_cannot_take_fails_once_before_any_trial(
    images: DataSplits, tmp_path: Path, config: dict[str, Any], flat: bool, message: str
) -> None:
    from conftest import build

    from hyperplug import GridTuner

    if flat:
        split = ArraySplit(images.train.x.reshape(len(images.train), -1), images.train.y)
        images = DataSplits(split, split, split, images.classes, "flat")
    tracker = build("tracker", name="sqlite", path=str(tmp_path / "hp.db"))
    tuner = GridTuner(
        metadata_tracker=tracker,
        metrics_tracker=tracker,
        resource_version_control=build("vcs", name="store", root=str(tmp_path / "models")),
        training_params={"resnet": {"lr": [0.01, 0.001]}},
        trainer_configs={"resnet": attrs.asdict(resnet(**config))},
    )
    with pytest.raises(DataError, match=message):
        tuner.run_experiment(images)
    assert tracker.list_studies() == []  # no trial ran, nothing was recorded
    tracker.close()


def test_registered_and_lazy() -> None:
    from hyperplug.plugin_manager import get_plugin_manager

    registry = get_plugin_manager().registry
    assert registry.get("trainer", "resnet").component.config_class is ResNetConfig
    assert registry.get("trainer", "vit").component.config_class is ViTConfig
    assert isinstance(build_resnet_trainer(ResNetConfig()), ResNetTrainer)
    assert isinstance(build_vit_trainer(ViTConfig()), ViTTrainer)
    code = (
        "import sys, hyperplug.plugins.torch, hyperplug.plugins.torchvision\n"
        "from hyperplug.plugins.torch.configs import ResNetConfig, ViTConfig\n"
        "ResNetConfig(); ViTConfig(variant='vit_small')\n"
        "assert not {'torch', 'timm', 'torchvision'} & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
