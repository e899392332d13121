"""Configs of the torch updaters (torch-free: the plugin registers them at import time).

Every updater config has the chain's settings of ``hyperplug.interfaces.UpdaterConfig``
(``val_memory_size``, ``new_classes``). The replay updaters keep ``memory_size`` rows in
a ``buffer`` (``reservoir``, ``class_balanced`` or ``sliding_window``) and mix
``memory_batch_size`` of them into every training batch. The training options (lr,
epochs, batch size, ...) are the trainer's (``trainer.lr``); an update's search space may
name both, e.g. ``+training_params.er.lr=...`` and ``+training_params.er.alpha=...``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional

import attrs

from hyperplug.buffers import BUFFERS
from hyperplug.interfaces import UpdaterConfig
from hyperplug.validators import non_negative, one_of, positive, positive_int, require

# Optional[...] rather than `X | None`: OmegaConf reads these annotations as strings.
# ``search_space``: what ``training_params=default`` searches (the trainer's lr included).

LR = "loguniform(1e-4, 1e-1)"


@attrs.define
class FineTuningConfig(UpdaterConfig):
    """Train the model on the new chunk only, from its current weights."""

    name: str = "fine_tuning"
    search_space: ClassVar[dict[str, Any]] = {"lr": LR}


@attrs.define
class JointConfig(UpdaterConfig):
    """Retrain from scratch on every training row seen so far (kept in the version)."""

    name: str = "joint"
    search_space: ClassVar[dict[str, Any]] = {"lr": LR}


@attrs.define
class GDumbConfig(UpdaterConfig):
    """Keep a class-balanced memory of ``memory_size`` rows and retrain from scratch on
    it alone (GDumb)."""

    name: str = "gdumb"
    memory_size: int = attrs.field(default=500, validator=positive_int)
    search_space: ClassVar[dict[str, Any]] = {"lr": LR}


@attrs.define
class ReplayConfig(UpdaterConfig):
    """A memory buffer of ``memory_size`` rows; ``memory_batch_size`` of them are added
    to every batch of new rows."""

    memory_size: int = attrs.field(default=500, validator=positive_int)
    memory_batch_size: int = attrs.field(default=32, validator=positive_int)
    buffer: str = attrs.field(default="reservoir", validator=one_of(BUFFERS))


@attrs.define
class ERConfig(ReplayConfig):
    """Experience replay: the buffer takes the chunk's rows as they are trained on;
    ``alpha`` weighs the memory rows' loss against the new rows'."""

    name: str = "er"
    alpha: float = attrs.field(default=1.0, validator=non_negative)
    search_space: ClassVar[dict[str, Any]] = {
        "lr": LR,
        "alpha": "uniform(0.1, 2.0)",
        "memory_batch_size": [16, 32, 64],
    }


@attrs.define
class DERConfig(ReplayConfig):
    """Dark experience replay (DER++): the buffer keeps the logits the model gave each
    row; ``alpha`` weighs matching them (MSE), ``beta`` the memory rows' labels (0: DER)."""

    name: str = "der"
    alpha: float = attrs.field(default=0.2, validator=non_negative)
    beta: float = attrs.field(default=1.0, validator=non_negative)
    search_space: ClassVar[dict[str, Any]] = {
        "lr": LR,
        "alpha": "uniform(0.05, 1.0)",
        "beta": "uniform(0.0, 2.0)",
    }


def _weight(instance: object, attribute: attrs.Attribute, value: object) -> None:
    if value is not None:
        require(lambda v: isinstance(v, int | float) and 0 <= v <= 1, "in [0, 1] or null")(
            instance, attribute, value
        )


@attrs.define
class OfflineERConfig(ReplayConfig):
    """Offline experience replay: batches mix new rows with memory rows of earlier chunks
    only; the chunk enters the buffer after training. ``new_weight`` weighs the new rows'
    loss against the memory's (null: every row counts the same)."""

    name: str = "offline_er"
    new_weight: Optional[float] = attrs.field(default=None, validator=_weight)  # noqa: UP045
    search_space: ClassVar[dict[str, Any]] = {"lr": LR, "new_weight": "uniform(0.2, 0.8)"}


@attrs.define
class EWCConfig(UpdaterConfig):
    """Elastic weight consolidation: a penalty ``ewc_lambda / 2 * sum F (w - w_old)^2``
    keeps weights that mattered for earlier chunks (F: the diagonal Fisher information,
    estimated after each update on its chunk and kept as ``decay * F_old + F_new``)."""

    name: str = "ewc"
    ewc_lambda: float = attrs.field(default=1000.0, validator=non_negative)
    decay: float = attrs.field(default=1.0, validator=non_negative)
    search_space: ClassVar[dict[str, Any]] = {"lr": LR, "ewc_lambda": "loguniform(10, 100000)"}


@attrs.define
class LwFConfig(UpdaterConfig):
    """Learning without forgetting: the updated model's outputs for the old classes are
    distilled towards the previous model's on the new rows (``alpha`` the weight,
    ``temperature`` the softening)."""

    name: str = "lwf"
    alpha: float = attrs.field(default=1.0, validator=non_negative)
    temperature: float = attrs.field(default=2.0, validator=positive)
    search_space: ClassVar[dict[str, Any]] = {
        "lr": LR,
        "alpha": "loguniform(0.1, 10)",
        "temperature": [1.0, 2.0, 4.0],
    }
