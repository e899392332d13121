"""The worker process of the ``local`` backend: loads plugins, torch and the data once,
then runs trials one after another, sending each epoch's report to the study process
and waiting for its answer (False: stop)."""

from __future__ import annotations

import os
from multiprocessing.connection import Connection
from typing import Any

import attrs

from hyperplug.interfaces import DataRecipe, TrialTask


@attrs.frozen
class WorkerSetup:
    recipe: DataRecipe
    threads: int
    gpu: int | None = None


def _configure_devices(setup: WorkerSetup) -> None:
    """Threads and GPU before torch is imported, then torch once for all trials."""
    if setup.gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(setup.gpu)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(setup.threads)
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(setup.threads)


def worker_main(conn: Connection, setup: WorkerSetup) -> None:
    from hyperplug.plugin_manager import get_plugin_manager
    from hyperplug.plugins.local.data import load_recipe
    from hyperplug.trial_runner import execute_trial, first_line

    try:
        _configure_devices(setup)
        manager = get_plugin_manager()
        data = load_recipe(setup.recipe)
    except Exception as exc:
        conn.send(("broken", first_line(exc)))
        return
    try:
        conn.send(("ready", os.getpid()))
        while True:
            message: Any = conn.recv()
            if message[0] == "exit":
                return
            task: TrialTask = message[1]

            def report(epoch: int, metrics: dict[str, float], task: TrialTask = task) -> bool:
                conn.send(("report", task.trial_id, epoch, metrics))
                return bool(conn.recv())

            end, _ = execute_trial(task, data, report, manager)
            conn.send(("end", end))
    except (EOFError, OSError):
        # the study process is gone (killed): no one to report to; end quietly (only
        # the pipe raises these here, a trial's own errors are its end's reason)
        return
