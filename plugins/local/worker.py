"""The worker process of the ``local`` backend: loads plugins and the data once, then runs
trials one after another, sending each epoch's report to the study process and waiting
for its answer (False: stop). torch is imported by the first trial that needs it (a
worker of another library's trainer never pays its 1-3 s import)."""

from __future__ import annotations

import os
import sys
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
    """Threads and GPU, before any library that reads them is imported."""
    if setup.gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(setup.gpu)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(setup.threads)


def _keep_threads(setup: WorkerSetup) -> None:
    """torch takes its thread count from OMP_NUM_THREADS when imported (up to the cores);
    once it is imported, a trial that changed it gets it back."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != setup.threads:
        torch.set_num_threads(setup.threads)


def worker_main(conn: Connection, setup: WorkerSetup) -> None:
    from hyperplug.plugin_manager import get_plugin_manager, silence_warnings
    from hyperplug.trial_runner import execute_trial, first_line, load_recipe

    silence_warnings()  # the study process reported every plugin problem once
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
                # at once: tearing down an interpreter with torch loaded takes ~0.5 s, and
                # nothing is left to do (every trial's end is sent, files are closed)
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(0)
            task: TrialTask = message[1]

            def report(epoch: int, metrics: dict[str, float], task: TrialTask = task) -> bool:
                conn.send(("report", task.trial_id, epoch, metrics))
                return bool(conn.recv())

            _keep_threads(setup)
            end, _ = execute_trial(task, data, report, manager)
            conn.send(("end", end))
    except (EOFError, OSError):
        # the study process is gone (killed): no one to report to; end quietly (only
        # the pipe raises these here, a trial's own errors are its end's reason)
        return
