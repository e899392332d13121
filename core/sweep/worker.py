"""The worker side of the sweeper: a trial is a Hydra job (``HydraJob``, a ``TrialJob``),
run as Hydra's launchers run jobs, with ``hyperplug.report`` routed to the study process.

Any backend runs it: the app (the task function, cloudpickled by value when it lives in
the app script's ``__main__``, with the Hydra context and Hydra's singletons) is the
study's shared data (``HydraApp``, sent once per worker like a study's splits); the study
process composes each job's config and sends it with the trial.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Mapping
from numbers import Real
from typing import Any

import attrs

from hyperplug.interfaces import TrialEnd, TrialJob, TrialTask

log = logging.getLogger(__name__)

#: names this process: a worker loads an app that another process packed
_PROCESS = uuid.uuid4().hex
#: digest -> (task function, Hydra context): the app this process loaded last
_LOADED: dict[str, tuple[Any, Any]] = {}


@attrs.frozen
class HydraApp:
    """What every job of a sweep shares: cloudpickle of (task_function, hydra_context,
    Hydra's singleton state), the process that packed it and its working directory."""

    payload: bytes = attrs.field(repr=False)
    digest: str
    cwd: str
    origin: str = _PROCESS

    @classmethod
    def pack(cls, task_function: Any, hydra_context: Any) -> HydraApp:
        import hashlib

        import cloudpickle
        from hydra.core.singleton import Singleton

        payload = cloudpickle.dumps((task_function, hydra_context, Singleton.get_state()))
        return cls(payload, hashlib.sha256(payload).hexdigest(), os.getcwd())

    def load(self) -> tuple[Any, Any]:
        """(task function, Hydra context), set up once per process: in a worker, Hydra's
        globals and singletons as the study process had them, and its working directory
        where this machine has it (jobs write their directories relative to it)."""
        if self.digest in _LOADED:
            return _LOADED[self.digest]
        import cloudpickle

        task_function, hydra_context, singletons = cloudpickle.loads(self.payload)
        if self.origin != _PROCESS:
            from hydra.core.singleton import Singleton
            from hydra.core.utils import setup_globals

            setup_globals()
            Singleton.set_state(singletons)
            if os.path.isdir(self.cwd):
                os.chdir(self.cwd)
        _LOADED.clear()  # a worker serves one sweep; a process that sweeps again, the latest
        _LOADED[self.digest] = (task_function, hydra_context)
        return task_function, hydra_context


@attrs.frozen
class JobResult:
    """What a job hands back to the study process with its end: Hydra's JobReturn
    (cloudpickled), and for a job that completed, what its return value stands for
    (``returned_metrics``: metrics, or a count of several objectives) at its last
    reported ``epoch``, and how many epochs it reported."""

    job_return: bytes
    completed: bool = False
    metrics: dict[str, float] = attrs.Factory(dict)
    objectives: int = 0
    epoch: int = 1
    reports: int = 0


@attrs.frozen
class HydraJob(TrialJob):
    """One trial of the sweep: its job's composed config."""

    config: Any

    def run(
        self, task: TrialTask, data: Any, report: Callable[[int, Mapping[str, float]], bool]
    ) -> TrialEnd:
        if not isinstance(data, HydraApp):
            raise TypeError(f"a Hydra job needs the sweep's HydraApp, got {type(data).__name__}")
        task_function, hydra_context = data.load()
        return run_one_job(task, self.config, task_function, hydra_context, report)


def run_one_job(
    task: TrialTask,
    job_config: Any,
    task_function: Any,
    hydra_context: Any,
    report: Callable[[int, Mapping[str, float]], bool],
) -> TrialEnd:
    """Run one job; its end carries a ``JobResult`` once Hydra ran it."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import JobStatus, run_job

    from hyperplug.reporting import TrialStopped, reporting_to
    from hyperplug.trial_runner import first_line

    epochs: list[int] = []

    def sink(epoch: int, metrics: Any) -> bool:
        epochs.append(epoch)
        return bool(report(epoch, dict(metrics)))

    try:
        HydraConfig.instance().set_config(job_config)
        with reporting_to(sink):
            result = run_job(
                hydra_context=hydra_context,
                config=job_config,
                task_function=task_function,
                job_dir_key="hydra.sweep.dir",
                job_subdir_key="hydra.sweep.subdir",
            )
    except Exception as exc:  # Hydra itself failed (job dir, callbacks)
        return TrialEnd(task.trial_id, first_line(exc))
    job_return = portable(result)
    if result.status == JobStatus.FAILED:
        error = result._return_value
        if isinstance(error, TrialStopped):
            return TrialEnd(task.trial_id, result=JobResult(job_return))
        log.error(f"job #{job_config.hydra.job.num} failed: {first_line(error)}")
        return TrialEnd(task.trial_id, first_line(error), result=JobResult(job_return))
    metrics, objectives = returned_metrics(result.return_value)
    epoch = epochs[-1] if epochs else 1
    done = JobResult(job_return, True, metrics, objectives, epoch, len(epochs))
    return TrialEnd(task.trial_id, result=done)


def returned_metrics(value: Any) -> tuple[dict[str, float], int]:
    """What a task function's return value stands for, the same under every optimizer:
    a number is the metric ``objective``; a mapping's numbers are metrics of those names
    (``hydra.sweeper.metric`` picks one); a tuple or list of two or more numbers is
    several objectives (the second item: how many; the sweep refuses them); anything else
    (None, a string, ...) stands for no metric: the job completes without a value."""
    from hyperplug.sweep.driver import OBJECTIVE

    if _is_number(value):
        return {OBJECTIVE: float(value)}, 0
    if isinstance(value, Mapping):
        return {str(k): float(v) for k, v in value.items() if _is_number(v)}, 0
    if isinstance(value, tuple | list) and len(value) > 1 and all(map(_is_number, value)):
        return {}, len(value)
    return {}, 0


def _is_number(value: Any) -> bool:
    """A real number: Python's and numpy's, or a 0-d array or tensor; not a bool."""
    if isinstance(value, bool):
        return False
    if isinstance(value, Real):
        return True
    return getattr(value, "ndim", None) == 0 and hasattr(value, "__float__")


def portable(result: Any) -> bytes:
    """The job's JobReturn, cloudpickled for the study process; a return value (or a
    failed job's exception) that cannot be pickled comes back as its ``repr``."""
    import cloudpickle

    try:
        return bytes(cloudpickle.dumps(result))
    except Exception:
        value = result._return_value
        failed = isinstance(value, BaseException)
        result._return_value = RuntimeError(repr(value)) if failed else repr(value)
        return bytes(cloudpickle.dumps(result))
