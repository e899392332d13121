"""The interfaces a component of each kind implements.

They are abstract base classes so that a plugin author gets a clear error when a
method is missing. Names follow the component spec: a *metadata tracker* records
studies and trials (experiments), a *metrics tracker* records per-epoch metrics, a
*resource version control* stores model versions.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Protocol

import attrs
import numpy as np

from hyperplug.data import ArraySplit, Dataset, DataSplits

# --------------------------------------------------------------------------- data


class DatasetSource(abc.ABC):
    """A ``dataset`` component: loads a labelled dataset into memory."""

    @abc.abstractmethod
    def load(self) -> Dataset:
        """Read the data; raise ``DataError`` naming the file or key on failure."""


class DataSplitter(abc.ABC):
    """A ``splitter`` component: turns one dataset into train/val/test parts."""

    @abc.abstractmethod
    def split_data(self, dataset: Dataset) -> DataSplits: ...


# --------------------------------------------------------------------------- training


class Reporter(Protocol):
    """What a trainer calls after every epoch.

    ``perf_metric`` and ``mode`` ("max" or "min") tell the trainer which epoch is best,
    so it can keep that epoch's weights. The call returns False when the study
    wants the trial stopped (early stopping); the trainer then returns from ``fit``.
    """

    perf_metric: str
    mode: str

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> bool: ...


class ModelTrainer(abc.ABC):
    """A ``trainer`` component: one model family, configured by an attrs config.

    ``fit`` trains on ``data.train``, evaluates on ``data.val`` every epoch and reports
    at least ``train_loss``, ``val_loss`` and ``val_accuracy``. After ``fit`` the
    trainer holds the weights of its best epoch. ``state_dict``/``model_info`` are
    what the version-control system stores; ``restore`` builds a working trainer
    back from them.
    """

    #: the registered component name, set by subclasses
    name: ClassVar[str]

    def __init__(self, config: Any) -> None:
        self.config = config

    @abc.abstractmethod
    def fit(self, data: DataSplits, report: Reporter) -> None: ...

    @abc.abstractmethod
    def evaluate(self, split: ArraySplit) -> dict[str, float]:
        """Return ``loss`` and ``accuracy`` on a split."""

    @abc.abstractmethod
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class indices for a batch of inputs shaped like the training data."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, np.ndarray]:
        """The trained weights as numpy arrays (saved as safetensors)."""

    @abc.abstractmethod
    def model_info(self) -> dict[str, Any]:
        """JSON-able facts needed to rebuild the model (input shape, classes, ...)."""

    @classmethod
    @abc.abstractmethod
    def restore(
        cls, config: Any, state: Mapping[str, np.ndarray], info: Mapping[str, Any]
    ) -> ModelTrainer:
        """Rebuild a trained trainer from ``state_dict`` and ``model_info``."""


# --------------------------------------------------------------------------- tracking

TRIAL_STATUSES = ("running", "completed", "stopped", "failed")


@attrs.frozen
class StudyRecord:
    id: int
    name: str
    perf_metric: str
    mode: str
    status: str
    created_at: float
    config: dict[str, Any]
    winner_trial_id: int | None = None
    winner_version: str | None = None


@attrs.frozen
class TrialRecord:
    """One experiment of a study.

    ``metrics`` are the values of the trial's best epoch by the study's perf_metric: the
    epoch whose weights the trainer keeps (a metric missing there: its last value).
    """

    id: int
    study_id: int
    number: int
    trainer: str
    params: dict[str, Any]
    trainer_config: dict[str, Any]
    status: str
    started_at: float
    ended_at: float | None = None
    error: str | None = None
    metrics: dict[str, float] = attrs.Factory(dict)


class MetadataTracker(abc.ABC):
    """Records studies and their trials, and answers queries about them."""

    @abc.abstractmethod
    def start_study(
        self, name: str, perf_metric: str, mode: str, config: Mapping[str, Any]
    ) -> StudyRecord:
        """Create the study, or return it if it exists with the same perf_metric and mode
        (a ``ConfigError`` if they differ)."""

    @abc.abstractmethod
    def end_study(
        self,
        study_id: int,
        status: str,
        winner_trial_id: int | None = None,
        winner_version: str | None = None,
    ) -> StudyRecord: ...

    @abc.abstractmethod
    def start_trial(
        self,
        study_id: int,
        trainer: str,
        params: Mapping[str, Any],
        trainer_config: Mapping[str, Any],
    ) -> TrialRecord:
        """Record a new running trial; its ``number`` counts up from 0 within the study."""

    @abc.abstractmethod
    def end_trial(self, trial_id: int, status: str, error: str | None = None) -> TrialRecord: ...

    @abc.abstractmethod
    def get_study(self, name: str) -> StudyRecord:
        """Raise ``NotFoundError`` naming the study if there is none."""

    @abc.abstractmethod
    def list_studies(self) -> list[StudyRecord]: ...

    @abc.abstractmethod
    def list_trials(self, study_id: int) -> list[TrialRecord]: ...

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections; the tracker is not used afterwards."""


@attrs.frozen
class MetricRecord:
    trial_id: int
    epoch: int
    name: str
    value: float
    recorded_at: float


class MetricsTracker(abc.ABC):
    """Records every metric a trial reports, epoch by epoch."""

    @abc.abstractmethod
    def log_metrics(self, trial_id: int, epoch: int, metrics: Mapping[str, float]) -> None: ...

    @abc.abstractmethod
    def get_metrics(self, trial_id: int) -> list[MetricRecord]:
        """All records of a trial, ordered by epoch then name."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections; the tracker is not used afterwards."""


# --------------------------------------------------------------------------- versions


@attrs.frozen
class VersionMeta:
    """What a model version records besides its weights: where it came from."""

    trainer: str
    trainer_config: dict[str, Any]
    params: dict[str, Any] = attrs.Factory(dict)
    metrics: dict[str, float] = attrs.Factory(dict)
    info: dict[str, Any] = attrs.Factory(dict)
    study: str | None = None
    trial_id: int | None = None
    data_fingerprint: str | None = None
    parent: str | None = None


@attrs.frozen
class ModelVersion:
    """An immutable saved model. ``ref`` (``name:vN``) names it everywhere."""

    name: str
    version: int
    created_at: float
    sha256: str
    uri: str
    meta: VersionMeta
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.name}:v{self.version}"


class ResourceVersionControl(abc.ABC):
    """Stores model versions. A ref is ``name`` (= latest), ``name:vN`` or ``name:<alias>``."""

    @abc.abstractmethod
    def save(
        self,
        name: str,
        weights: Mapping[str, np.ndarray],
        meta: VersionMeta,
        aliases: Sequence[str] = ("latest",),
    ) -> ModelVersion:
        """Write a new version atomically; an alias moves to it from older versions."""

    @abc.abstractmethod
    def load(self, ref: str) -> tuple[dict[str, np.ndarray], ModelVersion]:
        """Weights and metadata; the weights' sha256 is verified."""

    @abc.abstractmethod
    def get(self, ref: str) -> ModelVersion:
        """Metadata only; ``NotFoundError`` naming the ref if absent."""

    @abc.abstractmethod
    def list_versions(self, name: str | None = None) -> list[ModelVersion]: ...

    @abc.abstractmethod
    def set_alias(self, ref: str, alias: str) -> ModelVersion: ...


# --------------------------------------------------------------------------- execution


@attrs.frozen
class TrialJob:
    """One trial to run: the trainer's name and its full config (defaults + params)."""

    trainer: str
    params: dict[str, Any]
    trainer_config: dict[str, Any]


class Backend(abc.ABC):
    """A ``backend`` component: runs trial jobs and yields their outcomes as they finish."""

    @abc.abstractmethod
    def run(self, jobs: Iterable[TrialJob], execute: Callable[[TrialJob], Any]) -> Iterator[Any]:
        """Call ``execute`` on every job, where and how the backend decides."""
