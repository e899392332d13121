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
    def split_data(self, dataset: Dataset) -> DataSplits: ...


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
    mode: str
    checkpoint: Any

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

    def warm_up(self) -> None:  # noqa: B027 - optional hook
        """Called once in a fresh worker process, on a trainer built with its default
        config, before the worker has data or a trial: do here what the first ``fit``
        would otherwise pay for (importing a library's lazily loaded parts)."""

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
    #: the updater that made this version from ``parent`` (None: trained from scratch)
    updater: str | None = None
    #: what an update recorded: its index in the chain, the updater's config, the chunk's
    #: sizes, the classes it added, the memory it keeps (see ``hyperplug.update_state``)
    update: dict[str, Any] = attrs.Factory(dict)


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
    dataset: dict[str, Any] | None = None
    splitter: dict[str, Any] | None = None
    data: DataSplits | Any | None = None


@attrs.frozen
class TrialTask:
    """One trial to run: ``algo`` is a registered trainer name, a trainer class
    (importable, so that a worker process can unpickle it) or a ``TrialJob``;
    ``trainer_config`` is the trainer's full config (defaults + params). The trainer
    stages its best weights in ``stage_dir`` (see ``hyperplug.staging``)."""

    trial_id: int
    algo: Any
    params: dict[str, Any]
    trainer_config: dict[str, Any]
    perf_metric: str
    mode: str
    stage_dir: str | None = None


@attrs.frozen
class TrialEnd:
    """What a backend says when a trial's ``fit`` returned or raised, or its worker died:
    ``error`` is a one-line reason (None: the trainer returned), ``staged`` whether its
    best weights are in the task's ``stage_dir``."""

    trial_id: int
    error: str | None = None
    staged: bool = False
    #: what a ``TrialJob`` hands back to the driver besides its reports (picklable)
    result: Any = None


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

    #: a study of one trial runs it in the study process instead (a worker would only
    #: add its start-up); False for a backend whose trials must run where it puts them
    #: (a cloud instance with the GPU the user asked for)
    inline_single_trial: ClassVar[bool] = True

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
    def start(self, recipe: DataRecipe, driver: TrialDriver) -> None: ...

    @abc.abstractmethod
    def free_slots(self) -> int:
        """How many more trials ``submit`` accepts now."""

    @abc.abstractmethod
    def submit(self, task: TrialTask) -> None: ...

    @abc.abstractmethod
    def poll(self, timeout: float) -> None:
        """Deliver the events that arrive within ``timeout`` seconds (at least one
        event when a trial is running and nothing stops it)."""

    @abc.abstractmethod
    def stop(self, trial_id: int) -> None: ...

    @abc.abstractmethod
    def shutdown(self) -> None: ...


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
    max_wall_time_s: float | None = None
    max_failures: int | None = None
    max_epochs: int | None = None
    max_retries: int = 0


@attrs.frozen
class PastTrial:
    """A trial the study already ran (resume), or a trial of a reference study (RUSH)."""

    trainer: str
    params: dict[str, Any]
    status: str
    curve: dict[int, dict[str, float]]
    metrics: dict[str, float] = attrs.Factory(dict)


@attrs.frozen
class SearchContext:
    """What an optimizer needs to build its search. ``space`` is a
    ``hyperplug.search_space.SearchSpace``; ``history`` the study's finished trials
    (resume); ``tracker`` answers queries about other studies (RUSH)."""

    space: Any
    perf_metric: str
    mode: str
    budget: Budget
    history: tuple[PastTrial, ...] = ()
    tracker: Any = None
    #: the studies that made the model an update starts from, nearest first (RUSH
    #: warm-starts from them when no reference study is given)
    lineage: tuple[str, ...] = ()


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
    def on_start(self, trial_id: int, trainer: str, params: Mapping[str, Any]) -> None: ...

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
    def budget(self) -> Budget: ...

    @abc.abstractmethod
    def search(self, context: SearchContext) -> Search: ...

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
    val_memory_size: int = attrs.field(default=1000, validator=non_negative_int)
    new_classes: str = attrs.field(default="grow", validator=one_of(("grow", "refuse")))


@attrs.frozen
class UpdateState:
    """What an update hands to the next one besides the model's weights: ``arrays``
    (memory buffer rows, EWC's Fisher estimates, ...) saved as safetensors with the
    version, and JSON-able ``info`` (buffer bookkeeping, counters). Never pickled."""

    arrays: dict[str, np.ndarray] = attrs.Factory(dict)
    info: dict[str, Any] = attrs.Factory(dict)


@attrs.frozen
class UpdateContext:
    """What an update knows besides its data and state.

    ``index`` counts the updates before this one in the chain (0: the first, from
    scratch or from a model trained by a study); ``seed`` seeds the updater's own
    randomness (the trainer's ``seed`` seeds training); the first ``n_new_val`` rows of
    ``data.val`` are the chunk's own, the rest the validation memory of earlier chunks.
    """

    index: int
    seed: int
    n_new_val: int
    parent: str | None = None


class MemoryBuffer(abc.ABC):
    """A bounded sample of earlier training rows for the replay updaters.

    ``add`` offers rows; the policy decides which stay (reservoir sampling, class
    balance, a sliding window). Rows keep their original dtype and shape; ``extras``
    are per-row arrays kept beside them (DER's logits). ``to_state``/``from_state``
    turn a buffer into arrays and JSON and back, exactly (same rows, same counters).
    """

    max_size: int | None

    @abc.abstractmethod
    def add(
        self, x: np.ndarray, y: np.ndarray, extras: Mapping[str, np.ndarray] | None = None
    ) -> list[tuple[int, int]]:
        """Offer rows; return ``(slot, row)`` for each row that was stored."""

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @property
    @abc.abstractmethod
    def x(self) -> np.ndarray: ...

    @property
    @abc.abstractmethod
    def y(self) -> np.ndarray: ...


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

    #: the registered component name, set by subclasses
    name: ClassVar[str]

    def __init__(self, config: Any) -> None:
        self.config = config

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
    ) -> UpdateState: ...


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

    @abc.abstractmethod
    def chunks(self, dataset: Dataset) -> list[Dataset]: ...


@attrs.frozen
class DriftResult:
    """A two-sample test of new data against a model's data: the ``statistic``, its
    ``p_value`` under "no shift", and ``shift`` (``p_value`` below the detector's level);
    ``details`` say more (per-feature p-values, the features that moved)."""

    detector: str
    statistic: float
    p_value: float
    shift: bool
    n_reference: int
    n_new: int
    details: dict[str, Any] = attrs.Factory(dict)


class DriftDetector(abc.ABC):
    """A ``detector`` component: tests whether ``new`` rows come from another distribution
    than ``reference`` rows (both shaped (n, *features), the reference a sample of what a
    model version was trained on)."""

    def __init__(self, config: Any) -> None:
        self.config = config

    @abc.abstractmethod
    def test(self, reference: np.ndarray, new: np.ndarray) -> DriftResult: ...
