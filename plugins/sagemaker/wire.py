"""What travels between the study process and a training job, without pickle.

* The data: one safetensors file holding every array (the splits and, for an update
  trial's ``UpdateData``, the parent version's weights, updater state and validation
  memory) with the rest as JSON in the file's metadata. Its S3 key is content-addressed:
  the data's fingerprint (with a digest of the update base, for an update), so a second
  study on the same data finds it uploaded.
* The task: ``TrialTask`` as JSON. A trainer class travels as ``module:qualname`` and
  must be importable in the job; a task holding a secret (a config key named like one,
  a value of a secret environment variable) is refused: nothing secret goes to S3.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hyperplug.data import ArraySplit, DataSplits, fingerprint_arrays
from hyperplug.errors import ConfigError, DataError
from hyperplug.interfaces import TrialTask, UpdateState
from hyperplug.secrets import MASK, redact
from hyperplug.serialize import to_json
from hyperplug.update_state import UpdateBase, UpdateData, UpdatePlan

FORMAT = 1
META_KEY = "hyperplug"
SPLITS = ("train", "val", "test")
#: array name prefixes of an update base's parts
BASE_ARRAYS = {"weights": "base/weights/", "state": "base/state/", "val_memory": "base/valmem/"}

# --------------------------------------------------------------------------- data


def data_key(data: DataSplits) -> str:
    """The content address of ``data``: its fingerprint, and for an update's data a digest
    of the base it starts from (the same chunk may update different parents)."""
    if not isinstance(data, UpdateData):
        return data.fingerprint
    arrays, meta = _base_parts(data.base)
    digest = hashlib.sha256(data.fingerprint.encode())
    digest.update(fingerprint_arrays(*(arrays[k] for k in sorted(arrays))).encode())
    digest.update(json.dumps(meta, sort_keys=True, default=str).encode())
    digest.update(json.dumps([data.n_new_val, list(data.new_classes)]).encode())
    return digest.hexdigest()


def write_data(data: DataSplits, path: Path) -> None:
    """``data`` as one safetensors file at ``path`` (the same data gives the same bytes)."""
    from safetensors.numpy import save_file

    arrays: dict[str, np.ndarray] = {}
    for split in SPLITS:
        part: ArraySplit = getattr(data, split)
        arrays[f"{split}/x"], arrays[f"{split}/y"] = part.x, part.y
    meta: dict[str, Any] = {
        "format": FORMAT,
        "classes": list(data.classes),
        "fingerprint": data.fingerprint,
    }
    if isinstance(data, UpdateData):
        base_arrays, base_meta = _base_parts(data.base)
        arrays.update(base_arrays)
        meta["update"] = {
            "base": base_meta,
            "n_new_val": data.n_new_val,
            "new_classes": list(data.new_classes),
        }
    for name, array in arrays.items():
        if np.asarray(array).dtype.kind not in "biuf":
            raise DataError(
                f"backend=sagemaker sends numeric arrays only; {name} has dtype "
                f"{np.asarray(array).dtype}"
            )
    contiguous = {name: np.ascontiguousarray(array) for name, array in arrays.items()}
    save_file(contiguous, str(path), metadata={META_KEY: to_json(meta, "the data's metadata")})


def read_data(path: Path) -> DataSplits:
    """The data ``write_data`` wrote."""
    from safetensors import safe_open
    from safetensors.numpy import load_file

    with safe_open(str(path), framework="numpy") as handle:
        meta = json.loads((handle.metadata() or {})[META_KEY])
    if meta.get("format") != FORMAT:
        raise DataError(f"{path}: data format {meta.get('format')}, this hyperplug reads {FORMAT}")
    arrays = load_file(str(path))
    splits = {s: ArraySplit(arrays[f"{s}/x"], arrays[f"{s}/y"]) for s in SPLITS}
    classes, fingerprint = tuple(meta["classes"]), meta["fingerprint"]
    update = meta.get("update")
    if update is None:
        return DataSplits(**splits, classes=classes, fingerprint=fingerprint)
    base = update["base"]
    parts = {
        part: {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        for part, prefix in BASE_ARRAYS.items()
    }
    return UpdateData(
        **splits,
        classes=classes,
        fingerprint=fingerprint,
        base=UpdateBase(
            trainer=base["trainer"],
            trainer_config=base["trainer_config"],
            parent=base["parent"],
            weights=parts["weights"],
            info=base["info"],
            state=UpdateState(parts["state"], base["state_info"]),
            val_memory=parts["val_memory"],
            val_memory_info=base["val_memory_info"],
            index=base["index"],
            lineage=tuple(base["lineage"]),
            fingerprint=base["fingerprint"],
            aliases=tuple(base["aliases"]),
        ),
        n_new_val=update["n_new_val"],
        new_classes=tuple(update["new_classes"]),
    )


def _base_parts(base: UpdateBase) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays = {
        f"{prefix}{key}": value
        for part, prefix in BASE_ARRAYS.items()
        for key, value in (base.state.arrays if part == "state" else getattr(base, part)).items()
    }
    meta = {
        "trainer": base.trainer,
        "trainer_config": base.trainer_config,
        "parent": base.parent,
        "info": base.info,
        "state_info": base.state.info,
        "val_memory_info": base.val_memory_info,
        "index": base.index,
        "lineage": list(base.lineage),
        "fingerprint": base.fingerprint,
        "aliases": list(base.aliases),
    }
    return arrays, json.loads(to_json(meta, "the update base"))


# --------------------------------------------------------------------------- the task


def encode_task(task: TrialTask, **extra: Any) -> str:
    """``task`` (and ``extra`` keys for the job) as JSON; a ``ConfigError`` when it holds
    a secret or a trainer class the job cannot import."""
    if isinstance(task.algo, UpdatePlan):
        algo: dict[str, Any] = {
            "update": {"trainer": _algo_name(task.algo.trainer), "updater": task.algo.updater}
        }
    else:
        algo = {"trainer": _algo_name(task.algo)}
    body = {
        "format": FORMAT,
        "trial_id": task.trial_id,
        "algo": algo,
        "params": task.params,
        "trainer_config": task.trainer_config,
        "perf_metric": task.perf_metric,
        "mode": task.mode,
        **extra,
    }
    plain = json.loads(to_json(body, f"trial {task.trial_id}'s task"))
    secret = _secret_path(plain, redact(plain))
    if secret is not None:
        raise ConfigError(
            f"{secret} holds a secret: backend=sagemaker never sends secrets to a job (they "
            "would be stored in S3); give the job's role access to it instead"
        )
    return json.dumps(plain, sort_keys=True)


def decode_task(text: str, stage_dir: str | None) -> tuple[TrialTask, dict[str, Any]]:
    """The ``TrialTask`` of a task's JSON (staging in ``stage_dir``), and the JSON."""
    body = json.loads(text)
    if body.get("format") != FORMAT:
        raise ConfigError(f"task format {body.get('format')}, this hyperplug reads {FORMAT}")
    algo = body["algo"]
    if "update" in algo:
        plan = algo["update"]
        resolved: Any = UpdatePlan(_algo_value(plan["trainer"]), plan["updater"])
    else:
        resolved = _algo_value(algo["trainer"])
    task = TrialTask(
        body["trial_id"],
        resolved,
        body["params"],
        body["trainer_config"],
        body["perf_metric"],
        body["mode"],
        stage_dir,
    )
    return task, body


def _algo_name(algo: Any) -> str:
    """A registered trainer's name, or ``module:qualname`` of an importable trainer class."""
    if isinstance(algo, str):
        return algo
    where = f"{algo.__module__}:{algo.__qualname__}"
    try:
        found = _algo_value(where)
    except (ImportError, AttributeError):
        found = None
    if found is not algo or algo.__module__ == "__main__":
        raise ConfigError(
            f"trainer class {algo.__qualname__} cannot be imported by a training job "
            f"(it is {where}): define it in a module the job can import, or register it "
            "in a plugin"
        )
    return where


def _algo_value(name: str) -> Any:
    if ":" not in name:
        return name
    module, _, qualname = name.partition(":")
    value: Any = importlib.import_module(module)
    for part in qualname.split("."):
        value = getattr(value, part)
    return value


def _secret_path(plain: Any, masked: Any, path: str = "task") -> str | None:
    """The first key path where ``masked`` hid something."""
    if isinstance(plain, Mapping):
        for key in plain:
            found = _secret_path(plain[key], masked[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(plain, list):
        for index, (a, b) in enumerate(zip(plain, masked, strict=True)):
            found = _secret_path(a, b, f"{path}[{index}]")
            if found:
                return found
        return None
    return path if plain != masked and MASK in str(masked) else None
