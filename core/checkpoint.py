"""A trial's checkpoint: what a trainer saves at the end of an epoch so that the trial,
interrupted (its study process killed, its worker dead) or retried after a failure,
continues from there instead of from epoch 0.

A trainer opts in by using the ``checkpoint`` its reporter carries (``None`` when the
trial has nowhere to keep one)::

    checkpoint = getattr(report, "checkpoint", None)
    saved = checkpoint.load() if checkpoint is not None else None
    start = 1 if saved is None else saved.epoch + 1   # saved.arrays, saved.state: yours
    for epoch in range(start, epochs + 1):
        ...train one epoch...
        if not report(epoch, metrics):
            break
        if checkpoint is not None:
            checkpoint.save(epoch, arrays, state)

``arrays`` (numpy, saved as safetensors) and ``state`` (JSON) are whatever the trainer
needs to go on exactly where it stopped: weights, optimizer and scheduler state, random
generator states, the best epoch so far. Save after ``report`` answered: the epochs
reported before the checkpoint are in the tracker once, and a resumed trial reports from
``saved.epoch + 1`` on (an epoch reported again replaces its record).

Layout: ``<trial dir>/checkpoint/checkpoint.json`` names the arrays file of the same
epoch (``arrays-<epoch>.safetensors``); the JSON is renamed into place last, so a
checkpoint is whole or absent, and the previous epoch's arrays are removed after. The
study engine removes the directory when the trial has ended for good.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from hyperplug.atomic import atomic_file, replace_atomically

log = logging.getLogger(__name__)

DIRECTORY = "checkpoint"
RECORD = "checkpoint.json"


@attrs.frozen
class SavedCheckpoint:
    """What ``TrialCheckpoint.save`` wrote at the end of ``epoch``."""

    epoch: int
    """The epoch it was saved after."""
    arrays: dict[str, np.ndarray]
    """The arrays the trainer saved, read back from safetensors."""
    state: dict[str, Any]
    """The JSON state the trainer saved."""


class TrialCheckpoint:
    """The checkpoint of one trial, in ``<trial dir>/checkpoint``."""

    def __init__(
        self, trial_dir: str | Path, on_save: Callable[[Path], None] | None = None
    ) -> None:
        self.directory = Path(trial_dir) / DIRECTORY
        """Where the checkpoint's files are."""
        self.resumed_epoch: int | None = None
        """The epoch ``load`` found (None: the trial starts from scratch)."""
        self.on_save = on_save
        """Called with the directory once a save is complete (a backend whose workers do
        not share the study's filesystem sends the checkpoint to the study process)."""

    def save(self, epoch: int, arrays: Mapping[str, np.ndarray], state: Mapping[str, Any]) -> None:
        """Keep ``arrays`` and ``state`` as the trial's state after ``epoch``."""
        from safetensors.numpy import save_file

        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"arrays-{int(epoch)}.safetensors"
        contiguous = {key: np.ascontiguousarray(value) for key, value in arrays.items()}
        with atomic_file(self.directory / name) as tmp:
            save_file(contiguous, str(tmp))
        record = {"epoch": int(epoch), "arrays": name, "state": dict(state)}
        replace_atomically(self.directory / RECORD, json.dumps(record).encode())
        for old in self.directory.glob("arrays-*.safetensors"):
            if old.name != name:
                old.unlink(missing_ok=True)
        if self.on_save is not None:
            self.on_save(self.directory)

    def load(self) -> SavedCheckpoint | None:
        """The last checkpoint, or None when there is none (or it cannot be read: the
        trial then starts from scratch, which loses time but nothing else)."""
        from safetensors.numpy import load_file

        path = self.directory / RECORD
        if not path.exists():
            return None
        try:
            record = json.loads(path.read_text())
            arrays = load_file(str(self.directory / record["arrays"]))
            saved = SavedCheckpoint(int(record["epoch"]), arrays, dict(record["state"]))
        except Exception as exc:  # a damaged checkpoint is not worth failing the trial
            log.warning("checkpoint '%s' is unreadable, starting over: %s", path, exc)
            return None
        self.resumed_epoch = saved.epoch
        return saved

    def remove(self) -> None:
        """Delete the checkpoint (the study engine does, once the trial has ended)."""
        shutil.rmtree(self.directory, ignore_errors=True)


def remove_checkpoint(trial_dir: Path) -> None:
    """Remove a trial's checkpoint (it has ended for good)."""
    TrialCheckpoint(trial_dir).remove()
