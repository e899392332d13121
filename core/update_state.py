"""What a model version carries for its next update, and the data an update trains on.

A version keeps, in the same safetensors file as the model's weights, arrays whose names
start with ``STATE_PREFIX``: what it keeps of its data (``valmem/...``: the validation
memory the next update validates on; ``sample/x``: training inputs for drift detection)
and, when an update made it, the updater's state (``updater/...``: memory buffer rows,
EWC's Fisher estimates). Their JSON side (buffer counters, the update's index, the
updater's config) is ``VersionMeta.update``. ``split_arrays`` separates them from the weights, so
every model version loads as a model whether or not it came from an update.

An update trains on ``UpdateData``: the chunk's splits with labels re-encoded in the
model's class order (classes new to the model appended), validation joined with the
memory of earlier chunks, and the ``UpdateBase`` it starts from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from hyperplug.buffers import load_buffer
from hyperplug.data import ArraySplit, DataSplits
from hyperplug.errors import ConfigError, DataError
from hyperplug.interfaces import ModelVersion, ResourceVersionControl, UpdateState

STATE_PREFIX = "__update__/"
UPDATER_KEY = "updater/"
VALMEM_KEY = "valmem/"
SAMPLE_KEY = "sample/"
#: validation rows a version keeps for the next update (an update: updater.val_memory_size)
VAL_MEMORY_SIZE = 1000
#: training inputs a version keeps for drift detection
SAMPLE_SIZE = 500
#: how many ancestors' studies an update looks back on (RUSH's warm start)
LINEAGE_DEPTH = 10


def split_arrays(
    arrays: Mapping[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(model weights, update state arrays without ``STATE_PREFIX``) of a version."""
    weights, state = {}, {}
    for key, value in arrays.items():
        if key.startswith(STATE_PREFIX):
            state[key[len(STATE_PREFIX) :]] = value
        else:
            weights[key] = value
    return weights, state


def join_arrays(
    weights: Mapping[str, np.ndarray], state: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The arrays a version stores: the weights and the state under ``STATE_PREFIX``."""
    return {**weights, **{f"{STATE_PREFIX}{key}": value for key, value in state.items()}}


def prefixed(arrays: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}{key}": value for key, value in arrays.items()}


def unprefixed(arrays: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {key[len(prefix) :]: value for key, value in arrays.items() if key.startswith(prefix)}


@attrs.frozen
class UpdatePlan:
    """The ``algo`` of an update trial: the trainer (a registered name or a trainer class)
    and the updater's full config. ``hyperplug.trial_runner`` runs it."""

    trainer: Any
    updater: dict[str, Any]


@attrs.frozen
class UpdateBase:
    """What an update starts from: version N (``parent``) with its weights, model info,
    updater state and validation memory, or, for the first update of a chain, nothing
    but the trainer to build."""

    trainer: str
    trainer_config: dict[str, Any]
    parent: str | None = None
    weights: dict[str, np.ndarray] = attrs.field(factory=dict, repr=False)
    info: dict[str, Any] = attrs.Factory(dict)
    state: UpdateState = attrs.Factory(UpdateState)
    val_memory: dict[str, np.ndarray] = attrs.field(factory=dict, repr=False)
    val_memory_info: dict[str, Any] = attrs.Factory(dict)
    #: this update's place in the chain: 0 for the first
    index: int = 0
    #: the studies that made the parent and its ancestors, nearest first
    lineage: tuple[str, ...] = ()
    #: the data the parent was trained or updated on
    fingerprint: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.info.get("classes", ()))

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        shape = self.info.get("input_shape")
        return None if shape is None else tuple(int(d) for d in shape)


@attrs.frozen
class UpdateData(DataSplits):
    """The data of an update trial: the chunk (labels in the model's class order, ``val``
    = the chunk's validation rows then the validation memory) and its base."""

    base: UpdateBase = attrs.field(repr=False)
    """What the update starts from: version N's weights, model info, state and memory."""
    n_new_val: int = 0
    """The first ``n_new_val`` rows of ``val`` are the chunk's."""
    new_classes: tuple[str, ...] = ()
    """The classes this chunk adds to the model, in order (appended to ``classes``)."""


def load_base(vcs: ResourceVersionControl, ref: str) -> UpdateBase:
    """Version ``ref`` (``name``, ``name:vN`` or ``name:alias``) as the base of an update."""
    arrays, version = vcs.load(ref)
    weights, state_arrays = split_arrays(arrays)
    update = version.meta.update or {}
    return UpdateBase(
        trainer=version.meta.trainer,
        trainer_config=dict(version.meta.trainer_config),
        parent=version.ref,
        weights=weights,
        info=dict(version.meta.info),
        state=UpdateState(unprefixed(state_arrays, UPDATER_KEY), dict(update.get("state", {}))),
        val_memory=unprefixed(state_arrays, VALMEM_KEY),
        val_memory_info=dict(update.get("val_memory", {})),
        index=int(update.get("index", 0)) + 1,
        lineage=_lineage(vcs, version),
        fingerprint=version.meta.data_fingerprint,
        aliases=version.aliases,
    )


def _lineage(vcs: ResourceVersionControl, version: ModelVersion) -> tuple[str, ...]:
    studies: list[str] = []
    current: ModelVersion | None = version
    while current is not None and len(studies) < LINEAGE_DEPTH:
        if current.meta.study and current.meta.study not in studies:
            studies.append(current.meta.study)
        current = vcs.get(current.meta.parent) if current.meta.parent else None
    return tuple(studies)


# --------------------------------------------------------------------------- the chunk


def prepare_chunk(
    chunk: DataSplits, base: UpdateBase, new_classes: str = "grow", where: str = "dataset"
) -> UpdateData:
    """The chunk re-encoded in the base model's class order, validation joined with the
    base's validation memory. Refuses an empty chunk, samples of another shape than the
    model's and, with ``new_classes='refuse'``, classes the model does not know."""
    if len(chunk.train) == 0:
        raise DataError(f"{where}: the chunk's training split is empty: nothing to update on")
    if base.input_shape is not None and chunk.input_shape != base.input_shape:
        raise DataError(
            f"{where}: the chunk's samples are shaped {_shape(chunk.input_shape)} but model "
            f"{base.parent} takes {_shape(base.input_shape)}"
        )
    known = list(base.classes) if base.parent else []
    present = np.unique(np.concatenate([chunk.train.y, chunk.val.y, chunk.test.y]))
    names = [str(chunk.classes[i]) for i in present]
    added = [name for name in names if name not in known]
    if added and base.parent and new_classes == "refuse":
        raise DataError(
            f"updater.new_classes=refuse: the chunk brings classes {added} that model "
            f"{base.parent} does not know (its classes: {known}); set updater.new_classes=grow "
            "to add them"
        )
    classes = [*known, *added]
    code = np.full(len(chunk.classes), -1, dtype=np.int64)
    code[present] = [classes.index(name) for name in names]
    val = _recode(chunk.val, code)
    memory = base.val_memory
    if memory.get("x") is not None and len(memory["x"]):
        val = ArraySplit(
            np.concatenate([val.x, memory["x"].astype(val.x.dtype, copy=False)]),
            np.concatenate([val.y, memory["y"].astype(np.int64)]),
        )
    return UpdateData(
        train=_recode(chunk.train, code),
        val=val,
        test=_recode(chunk.test, code),
        classes=tuple(classes),
        fingerprint=chunk.fingerprint,
        base=base,
        n_new_val=len(chunk.val),
        new_classes=tuple(added),
    )


def _recode(split: ArraySplit, code: np.ndarray) -> ArraySplit:
    return ArraySplit(split.x, code[np.asarray(split.y, dtype=np.int64)])


def _shape(shape: tuple[int, ...]) -> str:
    return f"(n, {', '.join(map(str, shape))})"


def val_memory(data: DataSplits, size: int, seed: int) -> tuple[dict[str, np.ndarray], dict]:
    """The validation memory a version keeps: an update's base's memory, then the data's
    own validation rows, class-balanced within ``size`` rows (none when ``size`` is 0)."""
    if size == 0:
        return {}, {}
    base = data.base if isinstance(data, UpdateData) else None
    rng = np.random.default_rng([seed, base.index if base else 0, 1])
    memory = load_buffer(
        "class_balanced",
        size,
        rng,
        base.val_memory if base else {},
        base.val_memory_info if base else {},
        "",
    )
    own = data.n_new_val if isinstance(data, UpdateData) else len(data.val)
    memory.add(data.val.x[:own], data.val.y[:own])
    return memory.to_state("")


def kept_data(
    data: DataSplits, seed: int, val_memory_size: int = VAL_MEMORY_SIZE
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """What a version keeps of the data it was trained or updated on, as arrays under
    ``STATE_PREFIX`` keys and JSON for ``VersionMeta.update``: the validation memory the
    next update validates on, and a random sample of ``SAMPLE_SIZE`` training inputs that
    drift detectors compare new data with."""
    memory, memory_info = val_memory(data, val_memory_size, seed)
    rows = len(data.train)
    rng = np.random.default_rng([seed, 2])
    picked = np.sort(rng.choice(rows, size=min(rows, SAMPLE_SIZE), replace=False))
    arrays = {**prefixed(memory, VALMEM_KEY), f"{SAMPLE_KEY}x": data.train.x[picked]}
    info = {"val_memory": memory_info, "sample": {"size": len(picked), "of": rows}}
    return arrays, info


def update_seed(trainer_seed: int, index: int) -> int:
    """The seed of an update's own randomness: the trainer's seed and the chain index."""
    return int(np.random.SeedSequence([int(trainer_seed) & 0xFFFFFFFF, index]).generate_state(1)[0])


def check_trainer_matches(base: UpdateBase, trainer: str, explicit: bool) -> None:
    """A chosen trainer must be the parent's: an update continues that model."""
    if base.parent and explicit and trainer != base.trainer:
        raise ConfigError(
            f"trainer={trainer}: model {base.parent} was trained with trainer={base.trainer}; "
            "an update continues that model (leave trainer= out)"
        )
