"""The interfaces a component of each kind implements.

They are abstract base classes so that a plugin author gets a clear error when a
method is missing. Names follow the component spec: a *metadata tracker* records
studies and trials (experiments), a *metrics tracker* records per-epoch metrics, a
*resource version control* stores model versions.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Protocol

import attrs
import numpy as np

from hyperplug.data import ArraySplit, Dataset, DataSplits
from hyperplug.validators import non_negative_int, one_of

# --------------------------------------------------------------------------- data


class DatasetSource(abc.ABC):
    """A ``dataset`` component: loads a labelled dataset into memory."""

    @abc.abstractmethod
    def load(self) -> Dataset:
        """Read the data; raise ``DataError`` naming the file or key on failure."""


class DataSplitter(abc.ABC):
    """A ``splitter`` component: turns one dataset into train/val/test parts."""

    @abc.abstractmethod
    def split_data(self, dataset: Dataset) -> DataSplits:
        """Cut ``dataset`` into non-empty, disjoint ``train``, ``val`` and ``test`` parts
        that keep its ``classes``, the same way every time for the same config.

        Build the result as ``DataSplits(train=ArraySplit(x, y), val=..., test=...,
        classes=dataset.classes, fingerprint=...)``. The ``fingerprint`` identifies the
        split, not only the data: hash ``dataset.fingerprint`` together with what decides
        the cut (sizes, seed), so that two splits of one dataset differ. A model version
        records it as its ``data_fingerprint``.
        """


# --------------------------------------------------------------------------- training


class Reporter(Protocol):
    """What a trainer calls after every epoch.

    ``perf_metric`` and ``mode`` ("max" or "min") tell the trainer which epoch is best,
    so it can keep that epoch's weights. The call returns False when the study
    wants the trial stopped (early stopping); the trainer then returns from ``fit``.
    ``checkpoint`` (a ``hyperplug.checkpoint.TrialCheckpoint``, or None) is where a
    trainer that opts in keeps its state after each epoch, so that an interrupted or
    retried trial continues from its last epoch (see ``hyperplug.checkpoint``).
    """

    perf_metric: str
    """The metric that picks the best epoch (and the study's winner), e.g. ``val_accuracy``."""
    mode: str
    """``"max"`` or ``"min"``: whether a larger or a smaller ``perf_metric`` is better."""
    checkpoint: Any
    """A ``hyperplug.checkpoint.TrialCheckpoint`` for a trainer that keeps its state after
    each epoch, or None when the study keeps no checkpoints (the Python API's inline runs)."""

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        """Report ``metrics`` (finite floats) of ``epoch`` (counting from 1); False: stop."""


class ModelTrainer(abc.ABC):
    """A ``trainer`` component: one model family, configured by an attrs config.

    ``fit`` trains on ``data.train``, evaluates on ``data.val`` every epoch and reports
    at least ``train_loss``, ``val_loss`` and ``val_accuracy``. After ``fit`` the
    trainer holds the weights of its best epoch. ``state_dict``/``model_info`` are
    what the version-control system stores; ``restore`` builds a working trainer
    back from them.

    Give the config class an ``epochs: int`` field for the number of epochs ``fit``
    trains: the optimizers that decide per epoch (``asha``, ``hyperband``, ``bohb``,
    ``rush``) set it to their ``max_epochs`` for every trial, and a trial that trains
    that many epochs ends ``completed``. A trainer without one trains as many epochs as
    it decides; the study stops it at ``max_epochs`` (recorded ``completed`` as well).
    """

    name: ClassVar[str]
    """The registered component name, set by subclasses."""

    def __init__(self, config: Any) -> None:
        self.config = config
        """The validated instance of the component's config class."""

    @abc.abstractmethod
    def fit(self, data: DataSplits, report: Reporter) -> None:
        """Train on ``data.train``; after every epoch evaluate on ``data.val`` and call
        ``report(epoch, metrics)`` (epochs count from 1) with at least ``train_loss``,
        ``val_loss`` and ``val_accuracy``; return when ``report`` returns False (early
        stopping). Keep the weights of the best epoch by ``report.perf_metric`` and
        ``report.mode``: after ``fit`` the trainer holds them. Raise ``DataError`` for data
        it cannot train on; any other exception fails the trial (not the study)."""

    def warm_up(self) -> None:  # noqa: B027 - optional hook
        """Called once in a fresh worker process, on a trainer built with its default
        config, before the worker has data or a trial: do here what the first ``fit``
        would otherwise pay for (importing a library's lazily loaded parts)."""

    @abc.abstractmethod
    def evaluate(self, split: ArraySplit) -> dict[str, float]:
        """Return ``{"loss": ..., "accuracy": ...}`` on ``split`` (floats): the study
        records them for the winner's test split as ``test_loss`` and ``test_accuracy``."""

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
        """Rebuild a trained trainer from what a version stored, without training.

        ``config`` is an instance of the config class, validated: the version's saved
        trainer config (through the config class's optional ``for_restore``, see
        [hooks](../hooks.md#register_trainers)); ``state`` the arrays ``state_dict``
        returned, read back from safetensors (same names, dtypes and shapes); ``info``
        what ``model_info`` returned, read back from JSON (tuples come back as lists).
        The result must ``predict`` exactly as the trainer that was saved.
        """


# --------------------------------------------------------------------------- tracking

TRIAL_STATUSES = ("running", "completed", "stopped", "failed")
"""A trial's status: ``running`` until it ends; ``completed`` (trained to its end),
``stopped`` (early stopping by the optimizer) or ``failed`` (it raised, reported a
non-finite value, never reported the perf_metric, or its worker died)."""


@attrs.frozen
class StudyRecord:
    """A study as the tracker records it (``start_study``, ``get_study``, ...)."""

    id: int
    """The tracker's id of the study (``list_trials(study.id)``)."""
    name: str
    """The study's unique name."""
    perf_metric: str
    """The metric that picks the winner."""
    mode: str
    """``"max"`` or ``"min"``: the direction of ``perf_metric``."""
    status: str
    """``running`` until ``end_study``; then ``completed`` or ``failed`` (one of
    ``TRIAL_STATUSES`` but ``running``)."""
    created_at: float
    """When the study started (``time.time()``)."""
    config: dict[str, Any]
    """The config the study was started with, as plain JSON-able dicts."""
    winner_trial_id: int | None = None
    """The tracker's id of the winning trial, once the study ended with one."""
    winner_version: str | None = None
    """The ref (``name:vN``) of the model version the winner was saved as."""


@attrs.frozen
class TrialRecord:
    """One experiment of a study.

    ``metrics`` are the values of the trial's best epoch by the study's perf_metric: the
    epoch whose weights the trainer keeps (a metric missing there: its last value).
    """

    id: int
    """The tracker's id of the trial, unique across studies (``end_trial(trial.id, ...)``,
    ``VersionMeta.trial_id``)."""
    study_id: int
    """The ``StudyRecord.id`` of its study."""
    number: int
    """Its number within the study, counting from 0: what tables and the CLI show."""
    trainer: str
    """The trainer's registered name (an update's trial: the updater's)."""
    params: dict[str, Any]
    """The point of the search this trial runs (``{"lr": 0.01}``), secrets masked."""
    trainer_config: dict[str, Any]
    """The trainer's full config (its defaults, then the params), secrets masked."""
    status: str
    """One of ``TRIAL_STATUSES``."""
    started_at: float
    """When it started (``time.time()``)."""
    ended_at: float | None = None
    """When it ended; None while it runs."""
    error: str | None = None
    """Why it failed, in one line; None unless ``status`` is ``failed``."""
    metrics: dict[str, float] = attrs.Factory(dict)
    """The values of its best epoch by the study's perf_metric (the epoch whose weights the
    trainer keeps; a metric missing there: its last value). Empty until it reports."""


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
    ) -> StudyRecord:
        """Set the study's ``status`` and its winner (trial id and version ref), and
        return the updated record; ``NotFoundError`` for an unknown id."""

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
    def end_trial(self, trial_id: int, status: str, error: str | None = None) -> TrialRecord:
        """Record the end of a trial (``status`` ``completed``, ``stopped`` or ``failed``,
        with ``error`` the reason of a failure) and return its final record.

        The tracker computes the record's ``metrics`` itself, from what ``log_metrics``
        recorded: the values of the trial's best epoch by its study's ``perf_metric`` and
        ``mode`` (a metric not reported at that epoch: its last value). No one passes them
        in; the conformance suite checks it.
        """

    def reopen_trial(self, trial_id: int) -> TrialRecord:
        """Set an ended trial ``running`` again, its error and end time cleared and its
        metrics kept: a rerun of the study resumes an interrupted trial or retries a
        failed one under the same id. A tracker without it (this default) gets neither:
        the rerun runs new trials instead."""
        raise NotImplementedError(f"{type(self).__name__} cannot reopen trials")

    @abc.abstractmethod
    def get_study(self, name: str) -> StudyRecord:
        """Raise ``NotFoundError`` naming the study if there is none."""

    @abc.abstractmethod
    def list_studies(self) -> list[StudyRecord]:
        """Every study, oldest first."""

    @abc.abstractmethod
    def list_trials(self, study_id: int) -> list[TrialRecord]:
        """The study's trials by ``number``, each with its best epoch's ``metrics``."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections; the tracker is not used afterwards."""


@attrs.frozen
class MetricRecord:
    """One value a trial reported: ``get_metrics`` returns them."""

    trial_id: int
    """The ``TrialRecord.id`` of the trial."""
    epoch: int
    """The epoch it belongs to, counting from 1."""
    name: str
    """The metric's name (``val_loss``)."""
    value: float
    """Its value."""
    recorded_at: float
    """When it was recorded (``time.time()``)."""


class MetricsTracker(abc.ABC):
    """Records every metric a trial reports, epoch by epoch."""

    @abc.abstractmethod
    def log_metrics(self, trial_id: int, epoch: int, metrics: Mapping[str, float]) -> None:
        """Record one epoch's ``metrics`` of a trial; a value logged again for the same
        epoch and name replaces the earlier one (a resumed trial reports again)."""

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
    """The trainer's registered name: ``load_model`` restores the model with it."""
    trainer_config: dict[str, Any]
    """The trainer's full config, as JSON."""
    params: dict[str, Any] = attrs.Factory(dict)
    """The winning trial's params."""
    metrics: dict[str, float] = attrs.Factory(dict)
    """The winning trial's best-epoch metrics, plus ``test_loss`` and ``test_accuracy``."""
    info: dict[str, Any] = attrs.Factory(dict)
    """What the trainer's ``model_info`` returned: ``restore`` receives it."""
    study: str | None = None
    """The name of the study the version came from."""
    trial_id: int | None = None
    """The tracker's id (``TrialRecord.id``) of the trial it came from, not its number."""
    data_fingerprint: str | None = None
    """The ``DataSplits.fingerprint`` of the data it was trained on."""
    parent: str | None = None
    """The ref (``name:vN``) of the version it was updated from; None: trained from scratch."""
    updater: str | None = None
    """The updater that made this version from ``parent`` (None: trained from scratch)."""
    update: dict[str, Any] = attrs.Factory(dict)
    """What an update recorded: its index in the chain, the updater's config, the chunk's
    sizes, the classes it added, the memory it keeps, the drift test it ran (see
    [updates](../updates.md#what-a-version-keeps))."""


@attrs.frozen
class ModelVersion:
    """An immutable saved model. ``ref`` (``name:vN``) names it everywhere."""

    name: str
    """The model's name: letters, digits, ``.``, ``_`` and ``-``."""
    version: int
    """Its number, counting from 1 within the name."""
    created_at: float
    """When it was saved (``time.time()``)."""
    sha256: str
    """The sha256 of its weights file: ``load`` checks the weights against it."""
    uri: str
    """Where it lives (``file:///.../models/name/v3``)."""
    meta: VersionMeta
    """Where it came from."""
    aliases: tuple[str, ...] = ()
    """The aliases that point at it now (``best``, ``latest``)."""

    @property
    def ref(self) -> str:
        """``name:vN``: the ref that names this version everywhere."""
        return f"{self.name}:v{self.version}"


class ResourceVersionControl(abc.ABC):
    """Stores model versions. A ref is ``name`` (= latest), ``name:vN`` or ``name:<alias>``.

    A bare ``name`` means the version its ``latest`` alias points at: the newest one
    saved with the default aliases. Versions are immutable: a save never changes an
    existing version, only where aliases point.
    """

    @abc.abstractmethod
    def save(
        self,
        name: str,
        weights: Mapping[str, np.ndarray],
        meta: VersionMeta,
        aliases: Sequence[str] = ("latest",),
    ) -> ModelVersion:
        """Write a new version atomically (all of it or nothing); an alias moves to it
        from older versions.

        The version number is one more than the highest of ``name``. A ``name`` or alias
        that is unsafe (empty, ``..``, a path separator, anything but letters, digits,
        ``.``, ``_`` and ``-``; an alias that reads as a version number, ``v3``) is refused
        with a ``ConfigError`` (a ``HyperplugError``) before anything is written, so no
        path leaves the store. Weights are safetensors-able numpy arrays; never pickle.
        """

    @abc.abstractmethod
    def load(self, ref: str) -> tuple[dict[str, np.ndarray], ModelVersion]:
        """Weights and metadata of ``ref``; the weights are checked against the version's
        sha256 (a ``StorageError`` when they do not match or are missing), and an unknown
        ref is a ``NotFoundError`` naming it."""

    @abc.abstractmethod
    def get(self, ref: str) -> ModelVersion:
        """Metadata only; ``NotFoundError`` naming the ref if absent."""

    @abc.abstractmethod
    def list_versions(self, name: str | None = None) -> list[ModelVersion]:
        """Every version of ``name`` (of every model when None), by name then number; an
        unknown name gives an empty list."""

    @abc.abstractmethod
    def set_alias(self, ref: str, alias: str) -> ModelVersion:
        """Point ``alias`` at the version ``ref`` names (moving it from another version
        of the same model) and return that version with its new aliases."""

    def find_version(self, name: str, study: str, trial_id: int) -> ModelVersion | None:
        """The version of ``name`` saved from trial ``trial_id`` of ``study``, if any. A
        version is keyed by its study and trial: promoting a winner that a crashed run
        already saved finds it here instead of saving it twice. A store with an index
        may answer faster than this scan of ``list_versions``."""
        for version in self.list_versions(name):
            if version.meta.study == study and version.meta.trial_id == trial_id:
                return version
        return None

    def check_writable(self) -> None:  # noqa: B027 - optional, nothing to check by default
        """Raise a ``StorageError`` when ``save`` cannot work (a read-only directory, a
        missing bucket); a study calls it before it trains or records anything."""


# --------------------------------------------------------------------------- execution


@attrs.frozen
class DataRecipe:
    """How a worker gets the study's data: the dataset and splitter configs (each worker
    builds the data once and checks its fingerprint), or the splits themselves when the
    caller handed data in (Python API), which a backend hands each worker once (the local
    backend: one file every worker maps). ``data`` of a study whose trials are
    ``TrialJob``s is what they share instead of splits (the Hydra sweeper's app); a
    backend sends it like splits, once per worker."""

    fingerprint: str
    """The ``DataSplits.fingerprint`` every worker's data must have."""
    dataset: dict[str, Any] | None = None
    """The dataset's config node, to build the data from."""
    splitter: dict[str, Any] | None = None
    """The splitter's config node, to build the data from."""
    data: DataSplits | Any | None = None
    """The splits themselves, when the caller handed them in; what a study's
    ``TrialJob``s share."""


@attrs.frozen
class TrialTask:
    """One trial to run: ``algo`` is a registered trainer name, a trainer class
    (importable, so that a worker process can unpickle it) or a ``TrialJob``;
    ``trainer_config`` is the trainer's full config (defaults + params). The trainer
    stages its best weights in ``stage_dir`` (see ``hyperplug.staging``)."""

    trial_id: int
    """The tracker's id of the trial."""
    algo: Any
    """A registered trainer name or a ``ModelTrainer`` class."""
    params: dict[str, Any]
    """The trial's point of the search."""
    trainer_config: dict[str, Any]
    """The trainer's full config (defaults, then params)."""
    perf_metric: str
    """The metric that picks the best epoch."""
    mode: str
    """``"max"`` or ``"min"``."""
    stage_dir: str | None = None
    """Where the best weights are staged; None: kept in memory (inline runs)."""


@attrs.frozen
class TrialEnd:
    """What a backend says when a trial's ``fit`` returned or raised, or its worker died:
    ``error`` is a one-line reason (None: the trainer returned), ``staged`` whether its
    best weights are in the task's ``stage_dir``."""

    trial_id: int
    """The tracker's id of the trial."""
    error: str | None = None
    """Why it failed, in one line; None: ``fit`` returned."""
    staged: bool = False
    """Whether its best weights are in the task's ``stage_dir``."""
    result: Any = None
    """What a ``TrialJob`` hands back to the driver besides its reports (picklable)."""


class TrialJob(abc.ABC):
    """What a trial runs instead of a trainer, as its task's ``algo`` (the Hydra sweeper's
    jobs are ones). A backend runs it like any trial, through
    ``hyperplug.trial_runner.execute_trial``: ``run`` gets the study's shared data
    (``DataRecipe.data``) and a ``report(epoch, metrics) -> bool`` to call every epoch,
    and returns the trial's end. It is pickled to the worker with its task."""

    @abc.abstractmethod
    def run(
        self, task: TrialTask, data: Any, report: Callable[[int, Mapping[str, float]], bool]
    ) -> TrialEnd: ...


class TrialDriver(Protocol):
    """The study engine, as a backend sees it. The engine is the only writer of the
    tracker: backends hand every report and every end to it, in the study process."""

    def on_report(self, trial_id: int, epoch: int, metrics: Mapping[str, float]) -> bool:
        """Record one epoch; return False when the trial must stop."""

    def on_end(self, end: TrialEnd) -> Any:
        """Record the end of a trial."""


class Backend(abc.ABC):
    """A ``backend`` component: runs trials where it decides and hands their reports and
    ends to the driver (the engine).

    The engine calls ``start`` once, then ``submit`` while ``free_slots()`` is positive,
    and ``poll`` to let the backend deliver events: ``driver.on_report`` for each epoch
    (its answer goes back to the trial: False stops it) and ``driver.on_end`` when a trial
    ends. ``stop`` asks a running trial to stop at its next report. ``shutdown`` ends
    every worker; the engine always calls it, and it may be called again.

    ``warm_up`` may come first, before the study process has its data: a backend with
    workers starts them there, so that their start-up overlaps the study's own.
    """

    inline_single_trial: ClassVar[bool] = True
    """A study of one trial runs it in the study process instead (a worker would only
    add its start-up); False for a backend whose trials must run where it puts them (a
    cloud instance with the GPU the user asked for)."""

    def check(self) -> None:  # noqa: B027 - optional, nothing to check by default
        """Raise a ``ConfigError`` for what only the machines it runs on can tell (a
        cluster that does not answer, a trial asking for more than any node has); a study
        calls it before it records anything."""

    def warm_up(self, trainers: Sequence[Any] = ()) -> None:  # noqa: B027 - optional hook
        """Start what can start before the data exists; ``trainers`` (names or classes)
        are the study's, for a worker to import ahead of its first trial. The caller
        calls ``shutdown`` afterwards even when ``start`` never comes. Optional: nothing
        to start by default."""

    @abc.abstractmethod
    def start(self, recipe: DataRecipe, driver: TrialDriver) -> None:
        """Start the workers (once per study), each with the data ``recipe`` says, and
        keep ``driver`` to hand it every report and end."""

    @abc.abstractmethod
    def free_slots(self) -> int:
        """How many more trials ``submit`` accepts now."""

    @abc.abstractmethod
    def submit(self, task: TrialTask) -> None:
        """Run ``task`` on a free worker; return at once (its events come through ``poll``)."""

    @abc.abstractmethod
    def poll(self, timeout: float) -> None:
        """Deliver the events that arrive within ``timeout`` seconds (at least one
        event when a trial is running and nothing stops it)."""

    @abc.abstractmethod
    def stop(self, trial_id: int) -> None:
        """Ask a running trial to stop: its next report is answered False."""

    @abc.abstractmethod
    def shutdown(self) -> None:
        """End every worker and release what ``start`` took; called once, always."""


# --------------------------------------------------------------------------- search


@attrs.frozen
class Budget:
    """Limits of a study. ``max_trials`` counts every trial the study recorded (a resumed
    study counts its earlier ones, except trials interrupted by a dead study process);
    ``max_failures``: the study ends with an error when more trials than this fail;
    ``max_epochs``: the epoch budget of one trial (set as the trainer's ``epochs``);
    ``max_retries``: how many times a failed trial is run again (from its checkpoint,
    where its trainer keeps one) before it counts as failed, in each run of the study."""

    max_trials: int | None = None
    """How many trials the study runs at most; None: until the search is done."""
    max_wall_time_s: float | None = None
    """Seconds after which no trial starts and the running ones stop."""
    max_failures: int | None = None
    """The study ends with an error when more trials than this fail."""
    max_epochs: int | None = None
    """The epoch budget of one trial, set as the trainer's ``epochs``."""
    max_retries: int = 0
    """How often a failed trial runs again before it counts as failed."""


@attrs.frozen
class PastTrial:
    """A trial the study already ran (resume), or a trial of a reference study (RUSH)."""

    trainer: str
    """The trainer's name."""
    params: dict[str, Any]
    """Its point of the search."""
    status: str
    """One of ``TRIAL_STATUSES``."""
    curve: dict[int, dict[str, float]]
    """epoch -> the metrics it reported then."""
    metrics: dict[str, float] = attrs.Factory(dict)
    """Its best epoch's metrics (``TrialRecord.metrics``)."""


@attrs.frozen
class SearchContext:
    """What an optimizer needs to build its search. ``space`` is a
    ``hyperplug.search_space.SearchSpace``; ``history`` the study's finished trials
    (resume); ``tracker`` answers queries about other studies (RUSH)."""

    space: Any
    """The ``SearchSpace``: trainer -> param -> dimension."""
    perf_metric: str
    """The metric to optimize."""
    mode: str
    """``"max"`` or ``"min"``."""
    budget: Budget
    """The study's limits (the optimizer's own ``budget()``)."""
    history: tuple[PastTrial, ...] = ()
    """The trials the study already ran, when it resumes."""
    tracker: Any = None
    """The study's ``MetadataTracker`` (and ``MetricsTracker``), to query other studies."""
    lineage: tuple[str, ...] = ()
    """The studies that made the model an update starts from, nearest first (RUSH
    warm-starts from them when no reference study is given)."""


class Search(abc.ABC):
    """The optimizer's side of a running study (Syne Tune's ask/tell, trial by trial).

    What every search must do (``OptimizerConformance`` checks it): the same seed gives
    the same proposals in a fresh study, whatever else drew random numbers in the
    process; a point the study already started is not proposed again (``suggest``
    returns None once a finite space is exhausted); trials may run concurrently and end
    in any order.
    """

    @abc.abstractmethod
    def suggest(self) -> tuple[str, dict[str, Any]] | None:
        """(trainer name, params) of the next trial, or None when the search is done."""

    @abc.abstractmethod
    def on_start(self, trial_id: int, trainer: str, params: Mapping[str, Any]) -> None:
        """Trial ``trial_id`` started with this point (the last ``suggest``, or a resumed
        trial's own point)."""

    @abc.abstractmethod
    def on_report(self, trial_id: int, epoch: int, metrics: Mapping[str, float]) -> bool:
        """False: stop the trial (early stopping)."""

    @abc.abstractmethod
    def on_end(self, trial_id: int, status: str, last: Mapping[str, float] | None) -> None:
        """``status`` completed/stopped/failed; ``last`` the last reported metrics and
        ``epoch``."""

    def pending(self) -> set[int] | None:
        """The ids of the trials the search's own bookkeeping holds as running (started,
        not ended), for checks such as ``OptimizerConformance``; None: it does not say."""
        return None


class Optimizer(abc.ABC):
    """An ``optimizer`` component: turns a search space into a ``Search``."""

    @abc.abstractmethod
    def budget(self) -> Budget:
        """The limits its config sets (``max_trials``, ``max_epochs``, ...)."""

    @abc.abstractmethod
    def search(self, context: SearchContext) -> Search:
        """A new ``Search`` over ``context.space`` for one run of the study."""

    def check(self, context: SearchContext) -> None:  # noqa: B027 - optional
        """Raise a ``ConfigError`` for what only the tracker can tell (RUSH's reference
        study), before the study writes anything."""

    def needs_finite_space(self) -> bool:
        """True when the optimizer enumerates the space (grid)."""
        return False

    def needs_epoch_reports(self) -> bool:
        """True when the optimizer decides on per-epoch results (ASHA and its kin): a
        trial that only reports its final value gives it nothing to work with."""
        return False


# --------------------------------------------------------------------------- retraining


@attrs.define
class UpdaterConfig:
    """Settings every ``updater`` config has (subclass it for an updater's own config).

    ``val_memory_size``: how many validation rows of earlier chunks (class-balanced) a
    version keeps, so that the next update is validated on old data as well as new;
    ``new_classes``: ``grow`` lets a chunk bring classes the model has not seen (the
    output layer grows), ``refuse`` makes such a chunk an error (a fixed head).
    """

    name: str = "fine_tuning"
    """The updater's registered name: a subclass sets its own."""
    val_memory_size: int = attrs.field(default=1000, validator=non_negative_int)
    """Validation rows of earlier chunks a version keeps (0: none)."""
    new_classes: str = attrs.field(default="grow", validator=one_of(("grow", "refuse")))
    """``grow``: a chunk may bring new classes; ``refuse``: they are an error."""


@attrs.frozen
class UpdateState:
    """What an update hands to the next one besides the model's weights: ``arrays``
    (memory buffer rows, EWC's Fisher estimates, ...) saved as safetensors with the
    version, and JSON-able ``info`` (buffer bookkeeping, counters). Never pickled."""

    arrays: dict[str, np.ndarray] = attrs.Factory(dict)
    """Named numpy arrays, saved as safetensors with the version."""
    info: dict[str, Any] = attrs.Factory(dict)
    """JSON-able facts, saved in the version's metadata."""


@attrs.frozen
class UpdateContext:
    """What an update knows besides its data and state.

    ``index`` counts the updates before this one in the chain (0: the first, from
    scratch or from a model trained by a study); ``seed`` seeds the updater's own
    randomness (the trainer's ``seed`` seeds training); the first ``n_new_val`` rows of
    ``data.val`` are the chunk's own, the rest the validation memory of earlier chunks.
    """

    index: int
    """How many updates came before this one in the chain (0: the first)."""
    seed: int
    """The seed of the updater's own randomness."""
    n_new_val: int
    """How many of ``data.val``'s first rows are the chunk's own."""
    parent: str | None = None
    """The ref of version N; None for a chain's first update."""


class MemoryBuffer(abc.ABC):
    """A bounded sample of earlier training rows for the replay updaters.

    ``add`` offers rows; the policy decides which stay (reservoir sampling, class
    balance, a sliding window). Rows keep their original dtype and shape; ``extras``
    are per-row arrays kept beside them (DER's logits). The buffers of
    ``hyperplug.buffers`` also turn into arrays and JSON and back, exactly (``to_state``,
    ``load_buffer``: same rows, same counters).
    """

    max_size: int | None
    """How many rows it keeps at most; None: unbounded."""

    @abc.abstractmethod
    def add(
        self, x: np.ndarray, y: np.ndarray, extras: Mapping[str, np.ndarray] | None = None
    ) -> list[tuple[int, int]]:
        """Offer rows; return ``(slot, row)`` for each row that was stored."""

    @abc.abstractmethod
    def __len__(self) -> int:
        """How many rows it holds."""

    @property
    @abc.abstractmethod
    def x(self) -> np.ndarray:
        """The rows it holds, shaped (len, *features)."""

    @property
    @abc.abstractmethod
    def y(self) -> np.ndarray:
        """Their labels, shaped (len,)."""


class Updater(abc.ABC):
    """An ``updater`` component: turns model version N and a chunk of new data into the
    model of version N+1.

    ``update`` trains ``trainer`` (restored from version N, or built but not yet
    fitted for the first update of a chain) on ``data``: the chunk's train/val/test
    splits with labels in the model's class order (a chunk may add classes at the end),
    validation joined with the memory of earlier chunks. It reports every epoch like
    ``ModelTrainer.fit`` (and stops when the reporter says so), keeps the best epoch's
    weights, and returns the state version N+1 carries to the next update.
    """

    name: ClassVar[str]
    """The registered component name, set by subclasses."""

    def __init__(self, config: Any) -> None:
        self.config = config
        """The validated instance of its config class (an ``UpdaterConfig``)."""

    def check(self, trainer: ModelTrainer) -> None:  # noqa: B027 - optional
        """Raise a ``ConfigError`` when this updater cannot update ``trainer`` (the
        study checks it once, before any trial)."""

    @abc.abstractmethod
    def update(
        self,
        trainer: ModelTrainer,
        data: DataSplits,
        state: UpdateState,
        report: Reporter,
        context: UpdateContext,
    ) -> UpdateState:
        """Train ``trainer`` on the chunk ``data`` (an ``UpdateData``), reporting every
        epoch like ``ModelTrainer.fit``, and return the state of version N+1.

        ``state`` is what version N's update returned; leave it unchanged and hand on
        what you do not use. Use ``context.seed`` for your own randomness: the same seed
        must give the same model.
        """


class Scenario(abc.ABC):
    """A ``scenario`` component: cuts a dataset into a stream of chunks, to simulate the
    data a model receives over time (classes arriving, inputs drifting, ...).

    ``chunks`` returns the chunks in the order they arrive, each a ``Dataset`` with the
    whole dataset's ``classes`` (the configured splitter cuts each into train/val/test).
    The same config and dataset always give the same chunks. A dataset the scenario
    cannot cut (too few classes or rows, a missing column, tabular data for an image
    scenario) is a ``DataError`` naming the ``scenario.<key>``.
    """

    def __init__(self, config: Any) -> None:
        self.config = config
        """The validated instance of its config class."""

    @abc.abstractmethod
    def chunks(self, dataset: Dataset) -> list[Dataset]:
        """The chunks of ``dataset`` in arrival order, each with all of its ``classes``."""


@attrs.frozen
class DriftResult:
    """A two-sample test of new data against a model's data: the ``statistic``, its
    ``p_value`` under "no shift", and ``shift`` (``p_value`` below the detector's level);
    ``details`` say more (per-feature p-values, the features that moved)."""

    detector: str
    """The detector's registered name."""
    statistic: float
    """The test's statistic (larger: more different)."""
    p_value: float
    """The probability of a statistic at least this large if nothing shifted."""
    shift: bool
    """``p_value`` is below the detector's level (``details["alpha"]``)."""
    n_reference: int
    """How many reference rows were tested."""
    n_new: int
    """How many new rows were tested."""
    details: dict[str, Any] = attrs.Factory(dict)
    """JSON-able facts about the test (``alpha``, per-feature results, ...)."""


class DriftDetector(abc.ABC):
    """A ``detector`` component: tests whether ``new`` rows come from another distribution
    than ``reference`` rows (both shaped (n, *features), the reference a sample of what a
    model version was trained on)."""

    def __init__(self, config: Any) -> None:
        self.config = config
        """The validated instance of its config class (give it an ``alpha``)."""

    @abc.abstractmethod
    def test(self, reference: np.ndarray, new: np.ndarray) -> DriftResult:
        """Test ``new`` rows against ``reference`` rows, deterministically for the same
        config and rows; neither array may be changed. Rows of two shapes, or too few to
        test, are a ``DataError``."""
