"""The worker process of the sweeper's Hydra-job backend: runs Hydra jobs one after
another, as Hydra's launchers do, with ``hyperplug.report`` routed to the study process.

The task function reaches the worker cloudpickled (by value when it lives in the app
script's ``__main__``), with the Hydra context and Hydra's singletons; the study process
composes each job's config and sends it with the trial.
"""

from __future__ import annotations

import os
from multiprocessing.connection import Connection
from numbers import Real
from typing import Any

import attrs

from hyperplug.interfaces import TrialEnd, TrialTask


@attrs.frozen
class JobWorkerSetup:
    #: cloudpickle of (task_function, hydra_context, Hydra's singleton state)
    payload: bytes


def job_worker_main(conn: Connection, setup: JobWorkerSetup) -> None:
    import cloudpickle
    from hydra.core.singleton import Singleton
    from hydra.core.utils import setup_globals

    from hyperplug.trial_runner import first_line

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
    """Run one job; return the messages that end it: ``objective`` (when the task function
    returned a number) and ``end``."""
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
    if result.status == JobStatus.FAILED:
        error = result._return_value
        if isinstance(error, TrialStopped):
            return [("end", TrialEnd(task.trial_id))]
        return [("end", TrialEnd(task.trial_id, first_line(error)))]
    value = result.return_value
    replies: list[tuple[Any, ...]] = []
    if isinstance(value, Real) and not isinstance(value, bool):
        epoch = epochs[-1] if epochs else 1
        replies.append(("objective", task.trial_id, epoch, float(value), len(epochs)))
    return [*replies, ("end", TrialEnd(task.trial_id))]
