"""A study's directory and the best weights each trial stages there.

Layout: ``<home>/studies/<study>/`` holds ``trials/<trial_id>/`` (``weights.safetensors``
and ``staged.json``: model info, params, test metrics, data fingerprint) and the plots.
A trial stages its best epoch's weights when it ends; the driver never holds a model.
When the study ends its winner is promoted from there into the vcs and the other
trials' staged weights are removed (the winner's stay until the next study run).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from hyperplug.atomic import atomic_file, replace_atomically
from hyperplug.data import DataSplits
from hyperplug.interfaces import ModelTrainer, UpdateState
from hyperplug.secrets import redact
from hyperplug.update_state import UPDATER_KEY, join_arrays, prefixed

WEIGHTS = "weights.safetensors"
RECORD = "staged.json"


def study_dir(home: str | Path, study: str) -> Path:
    return Path(home) / "studies" / study


def trial_dir(home_or_study_dir: Path, trial_id: int) -> Path:
    return home_or_study_dir / "trials" / str(trial_id)


def stage(
    directory: Path,
    model: ModelTrainer,
    params: dict[str, Any],
    data: DataSplits,
    state: UpdateState | None = None,
) -> None:
    """Write the model's weights and what it takes to version it, atomically (the record
    is renamed into place last: a directory without it is not staged). An update trial
    also stages the updater's ``state``: its arrays beside the weights, its info in the
    record."""
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    extra = {f"test_{k}": float(v) for k, v in model.evaluate(data.test).items()}
    weights = dict(model.state_dict())
    if state is not None:
        weights = join_arrays(weights, prefixed(state.arrays, UPDATER_KEY))
    with atomic_file(directory / WEIGHTS) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in weights.items()}, str(tmp))
    record = {
        "info": model.model_info(),
        "params": redact(params),
        "extra_metrics": extra,
        "data_fingerprint": data.fingerprint,
    }
    if state is not None:
        record["update_state"] = state.info
    replace_atomically(directory / RECORD, json.dumps(record, default=float).encode())


def is_staged(directory: Path) -> bool:
    return (directory / RECORD).exists()


def load_staged(directory: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(weights, record) of a staged trial."""
    from safetensors.numpy import load_file

    record = json.loads((directory / RECORD).read_text())
    return load_file(str(directory / WEIGHTS)), record


def remove_staged(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
