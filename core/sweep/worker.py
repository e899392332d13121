"""The worker process of the sweeper's Hydra-job backend: runs Hydra jobs one after
another, as Hydra's launchers do, with ``hyperplug.report`` routed to the study process.

The task function reaches the worker cloudpickled (by value when it lives in the app
script's ``__main__``), with the Hydra context and Hydra's singletons; the study process
composes each job's config and sends it with the trial.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from multiprocessing.connection import Connection
from numbers import Real
from typing import Any

import attrs

from hyperplug.interfaces import TrialEnd, TrialTask

log = logging.getLogger(__name__)


@attrs.frozen
class JobWorkerSetup:
    #: cloudpickle of (task_function, hydra_context, Hydra's singleton state)
    payload: bytes


def job_worker_main(conn: Connection, setup: JobWorkerSetup) -> None:
    import cloudpickle
    from hydra.core.singleton import Singleton
    from hydra.core.utils import setup_globals

    from hyperplug.plugin_manager import silence_warnings
    from hyperplug.trial_runner import first_line

    silence_warnings()  # the sweep's process reports plugin problems, once
    try:
        task_function, hydra_context, singletons = cloudpickle.loads(setup.payload)
        setup_globals()
        Singleton.set_state(singletons)
    except Exception as exc:
        conn.send(("broken", first_line(exc)))
        return
    conn.send(("ready", os.getpid()))
    while True:
        message: Any = conn.recv()
        if message[0] == "exit":
            return
        _, task, job_config = message
        for reply in run_one_job(task, job_config, task_function, hydra_context, conn):
            conn.send(reply)


def run_one_job(
    task: TrialTask, job_config: Any, task_function: Any, hydra_context: Any, conn: Connection
) -> list[tuple[Any, ...]]:
    """Run one job; return the messages that end it: ``return`` (Hydra's JobReturn),
    ``result`` (what the return value stands for, see ``returned_metrics``) and ``end``."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import JobStatus, run_job

    from hyperplug.reporting import TrialStopped, reporting_to
    from hyperplug.trial_runner import first_line

    epochs: list[int] = []

    def sink(epoch: int, metrics: Any) -> bool:
        epochs.append(epoch)
        conn.send(("report", task.trial_id, epoch, dict(metrics)))
        return bool(conn.recv())

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
        return [("end", TrialEnd(task.trial_id, first_line(exc)))]
    replies: list[tuple[Any, ...]] = [("return", task.trial_id, portable(result))]
    if result.status == JobStatus.FAILED:
        error = result._return_value
        if isinstance(error, TrialStopped):
            return [*replies, ("end", TrialEnd(task.trial_id))]
        log.error(f"job #{job_config.hydra.job.num} failed: {first_line(error)}")
        return [*replies, ("end", TrialEnd(task.trial_id, first_line(error)))]
    value = result.return_value
    epoch = epochs[-1] if epochs else 1
    metrics, objectives = returned_metrics(value)
    replies.append(("result", task.trial_id, epoch, metrics, objectives, len(epochs)))
    return [*replies, ("end", TrialEnd(task.trial_id))]


def returned_metrics(value: Any) -> tuple[dict[str, float], int]:
    """What a task function's return value stands for, the same under every optimizer:
    a number is the metric ``objective``; a mapping's numbers are metrics of those names
    (``hydra.sweeper.metric`` picks one); a tuple or list of two or more numbers is
    several objectives (the second item: how many; the sweep refuses them); anything else
    (None, a string, ...) stands for no metric: the job completes without a value."""
    from hyperplug.sweep.backend import OBJECTIVE

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
