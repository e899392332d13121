"""Training speed of the ``resnet`` and ``vit`` trainers against a hand-written PyTorch loop.

For each model both sides train the same timm model (same variant and kwargs, Adam, lr
1e-3) on the same data (sklearn digits as 1x8x8 images, resized to --img-size and
tiled), with the same batch size, threads, device and precision, in this process. Both
validate once per epoch; the hyperplug run also reports metrics and keeps the best
epoch's weights. Normalisation and augmentation are off on both sides. Runs alternate
(after one warm-up each) so that machine noise hits both alike. Prints training
samples/s and the ratio hyperplug/raw; the goal is >= 0.97.

    .venv/bin/python bench/bench_image.py [--repeats 3] [--epochs 1] [--tile 1]
    .venv/bin/python bench/bench_image.py --device cuda --precision bf16 --channels-last \\
        --img-size 32 --tile 20 --batch-size 256 --threads 0
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import timm
import torch
from torch.nn import functional as F

from hyperplug.data import ArraySplit, DataSplits
from hyperplug.plugins.sklearn import build_stratified
from hyperplug.plugins.sklearn.configs import StratifiedSplitConfig
from hyperplug.plugins.torch import build_resnet_trainer, build_vit_trainer
from hyperplug.plugins.torch.configs import ResNetConfig, ViTConfig
from hyperplug.plugins.torch.timm_models import cifar_stem
from hyperplug.plugins.torchvision import build_digits_images
from hyperplug.plugins.torchvision.configs import DigitsImagesConfig

LR = 1e-3
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    # name -> (variant, timm kwargs): small enough for a 2-core CPU
    "resnet": ("resnet18_cifar", {"channels": [16, 32, 64, 128]}),
    "vit": ("vit_tiny_patch16_224", {"patch_size": 4, "depth": 2, "embed_dim": 96, "num_heads": 3}),
}


class KeepGoing:
    perf_metric = "val_accuracy"
    mode = "max"

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        return True


def make_data(img_size: int, tile: int) -> DataSplits:
    dataset = build_digits_images(DigitsImagesConfig(img_size=img_size, channels=3)).load()
    splits = build_stratified(StratifiedSplitConfig()).split_data(dataset)
    train = ArraySplit(np.tile(splits.train.x, (tile, 1, 1, 1)), np.tile(splits.train.y, tile))
    return DataSplits(train, splits.val, splits.test, splits.classes, splits.fingerprint)


def run_hyperplug(kind: str, data: DataSplits, epochs: int, args: argparse.Namespace) -> float:
    variant, kwargs = MODELS[kind]
    config_class, build = (
        (ResNetConfig, build_resnet_trainer) if kind == "resnet" else (ViTConfig, build_vit_trainer)
    )
    config = config_class(
        variant=variant,
        model_kwargs=kwargs,
        img_size=0,
        lr=LR,
        batch_size=args.batch_size,
        epochs=epochs,
        threads=args.threads,
        device=args.device,
        precision=args.precision,
        channels_last=args.channels_last,
        normalize=False,
    )
    trainer = build(config)
    start = time.perf_counter()
    trainer.fit(data, KeepGoing())
    if args.device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def run_raw(kind: str, data: DataSplits, epochs: int, args: argparse.Namespace) -> float:
    """The loop one would write by hand: data on the device once, shuffled slices."""
    start = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device("cpu" if args.device == "auto" else args.device)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    variant, kwargs = MODELS[kind]
    name = variant.removesuffix("_cifar")
    extra = {"img_size": data.input_shape[-1]} if kind == "vit" else {}
    model = timm.create_model(name, num_classes=10, in_chans=3, **kwargs, **extra)
    if variant.endswith("_cifar"):
        model = cifar_stem(model, variant)
    model = model.to(device, memory_format=memory_format)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    autocast = (
        contextlib.nullcontext
        if args.precision == "fp32"
        else lambda: torch.autocast(device.type, dtype=torch.bfloat16)
    )
    x = torch.from_numpy(data.train.x).to(device).contiguous(memory_format=memory_format)
    y = torch.from_numpy(data.train.y).to(device)
    val_x = torch.from_numpy(data.val.x).to(device).contiguous(memory_format=memory_format)
    val_y = torch.from_numpy(data.val.y).to(device)
    generator = torch.Generator().manual_seed(0)
    batch = args.batch_size
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y), generator=generator).to(device)
        xs, ys = x[order], y[order]
        total = torch.zeros((), device=device)
        for i in range(0, len(ys), batch):
            xb, yb = xs[i : i + batch], ys[i : i + batch]
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(yb)
        model.eval()
        with torch.inference_mode(), autocast():
            logits = torch.cat(
                [model(val_x[i : i + 4 * batch]).float() for i in range(0, len(val_y), 4 * batch)]
            )
            val_loss = F.cross_entropy(logits, val_y).item()
            val_accuracy = (logits.argmax(1) == val_y).float().mean().item()
        _ = (total.item() / len(ys), val_loss, val_accuracy)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--tile", type=int, default=1, help="copies of the training split")
    parser.add_argument("--img-size", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="0: leave torch's default")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "mps"])
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--models", default="resnet,vit")
    args = parser.parse_args()

    data = make_data(args.img_size, args.tile)
    samples = len(data.train) * args.epochs
    print(
        f"{len(data.train)} train samples 3x{args.img_size}x{args.img_size} x {args.epochs} "
        f"epochs, batch {args.batch_size}, threads {args.threads}, device {args.device}, "
        f"{args.precision}, channels_last {args.channels_last}, {args.repeats} repeats, "
        f"torch {torch.__version__}, timm {timm.__version__}"
    )
    for kind in args.models.split(","):
        runs: dict[str, Callable[[str, DataSplits, int, argparse.Namespace], float]] = {
            "hyperplug": run_hyperplug,
            "raw": run_raw,
        }
        rates: dict[str, list[float]] = {name: [] for name in runs}
        for run in runs.values():  # warm-up: allocator, kernels, lazy imports
            run(kind, data, 1, args)
        for repeat in range(args.repeats):
            order = list(runs) if repeat % 2 == 0 else list(reversed(runs))
            for name in order:
                rates[name].append(samples / runs[name](kind, data, args.epochs, args))
        variant, kwargs = MODELS[kind]
        print(f"{kind} ({variant} {kwargs}):")
        for name, values in rates.items():
            print(
                f"{name:>12}: median {statistics.median(values):9,.1f} samples/s, "
                f"best {max(values):9,.1f} samples/s"
            )
        median = statistics.median(rates["hyperplug"]) / statistics.median(rates["raw"])
        best = max(rates["hyperplug"]) / max(rates["raw"])
        verdict = "ok" if median >= 0.97 else "BELOW GOAL"
        print(
            f"  ratio hyperplug/raw: median {median:.3f}, best {best:.3f} (goal >= 0.97: {verdict})"
        )


if __name__ == "__main__":
    main()
