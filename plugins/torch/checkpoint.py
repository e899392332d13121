"""The torch trainers' epoch-end checkpoint: everything ``loop.fit`` needs to go on exactly
where it stopped, as a ``hyperplug.checkpoint.TrialCheckpoint`` (safetensors + JSON).

Arrays: the model's weights (``model.*``), the optimizer's tensors (``optimizer.<param
index>.<name>``), the best epoch's weights so far (``best.*``) and the random generators
(``rng.batches`` shuffles the batches and draws augmentations, ``rng.torch`` is torch's
global generator: weight init, dropout; ``rng.cuda.<i>`` where CUDA is used). State: the
epoch, the optimizer's param groups and non-tensor values, the lr scheduler's and the
gradient scaler's state, the best value so far. Restored, a trial's later epochs report
the same values as if it had never stopped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from hyperplug.checkpoint import TrialCheckpoint
from hyperplug.plugins.torch.runtime import Runtime


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16; loading casts back
        tensor = tensor.float()
    return tensor.numpy().copy()


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array))


def save_training(
    checkpoint: TrialCheckpoint,
    epoch: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    generator: torch.Generator,
    runtime: Runtime,
    best_value: float | None,
    best_state: dict[str, torch.Tensor] | None,
) -> None:
    arrays = {f"model.{k}": _numpy(v) for k, v in model.state_dict().items()}
    if best_state is not None:
        arrays.update({f"best.{k}": _numpy(v) for k, v in best_state.items()})
    optimizer_state = optimizer.state_dict()
    values: dict[str, dict[str, Any]] = {}
    for index, entries in optimizer_state["state"].items():
        for name, value in entries.items():
            if torch.is_tensor(value):
                arrays[f"optimizer.{index}.{name}"] = _numpy(value)
            else:
                values.setdefault(str(index), {})[name] = value
    arrays["rng.batches"] = generator.get_state().numpy().copy()
    arrays["rng.torch"] = torch.get_rng_state().numpy().copy()
    if runtime.device.type == "cuda":
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            arrays[f"rng.cuda.{i}"] = state.numpy().copy()
    state = {
        "param_groups": optimizer_state["param_groups"],
        "optimizer_values": values,
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "scaler": None if runtime.scaler is None else runtime.scaler.state_dict(),
        "best_value": best_value,
        "has_best": best_state is not None,
    }
    checkpoint.save(epoch, arrays, state)


def resume_training(
    checkpoint: TrialCheckpoint,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    generator: torch.Generator,
    runtime: Runtime,
) -> tuple[int, float | None, dict[str, torch.Tensor] | None] | None:
    """Put the last checkpoint's state back; (first epoch to run, best value, best
    weights), or None when there is no checkpoint."""
    saved = checkpoint.load()
    if saved is None:
        return None
    arrays, state = saved.arrays, saved.state
    model.load_state_dict(
        {k.removeprefix("model."): _tensor(v) for k, v in arrays.items() if k.startswith("model.")}
    )
    entries: dict[int, dict[str, Any]] = {
        int(index): dict(values) for index, values in state["optimizer_values"].items()
    }
    for key, value in arrays.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            entries.setdefault(int(index), {})[name] = _tensor(value)
    optimizer.load_state_dict({"state": entries, "param_groups": state["param_groups"]})
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    if runtime.scaler is not None and state["scaler"] is not None:
        runtime.scaler.load_state_dict(state["scaler"])
    generator.set_state(_tensor(arrays["rng.batches"]))
    torch.set_rng_state(_tensor(arrays["rng.torch"]))
    cuda = sorted(k for k in arrays if k.startswith("rng.cuda."))
    if cuda and runtime.device.type == "cuda":
        torch.cuda.set_rng_state_all([_tensor(arrays[k]) for k in cuda])
    best = None
    if state["has_best"]:
        best = {
            k.removeprefix("best."): _tensor(v).to(runtime.device)
            for k, v in arrays.items()
            if k.startswith("best.")
        }
    return saved.epoch + 1, state["best_value"], best
