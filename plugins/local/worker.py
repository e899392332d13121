"""The worker process of the ``local`` backend: loads plugins and the data once, then runs
trials one after another, sending each epoch's report to the study process and waiting
for its answer (False: stop).

A worker started before the study process has its data (``LocalBackend.warm_up``) builds
each of the study's trainers once with its defaults and warms it up, which imports the
trainer's modules (torch for the torch trainers), while the study process loads the
data; then it waits for the data message. A worker of another library's
trainer never imports torch."""

from __future__ import annotations

import os
import sys
from multiprocessing.connection import Connection
from typing import Any

import attrs

from hyperplug.interfaces import TrialTask


@attrs.frozen
class WorkerSetup:
    """``warm``: trainers (names or classes) to build and warm up before the data, which
    comes as a ``("data", recipe, path)`` message: the path of the file the data is
    shared in (``shared_data``), or None and the recipe to build it from."""

    threads: int
    gpu: int | None = None
    warm: tuple[Any, ...] = ()


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


def warm_trainers(trainers: tuple[Any, ...], manager: Any) -> None:
    """Build each trainer once with its default config (its factory imports what the
    trainer needs) and let it warm up. A trainer that cannot be built or warmed up is
    left to its first trial to report."""
    from hyperplug.trainers import trainer_spec, trial_config

    for algo in trainers:
        try:
            spec = trainer_spec(manager, algo)
            spec.factory(trial_config(spec, {}, {})).warm_up()
        except Exception:  # the trial that uses it reports the error
            continue


def worker_main(conn: Connection, setup: WorkerSetup) -> None:
    from hyperplug.plugin_manager import get_plugin_manager, silence_warnings
    from hyperplug.plugins.local.shared_data import read_shared
    from hyperplug.trial_runner import execute_trial, first_line, load_recipe

    silence_warnings()  # the study process reported every plugin problem once
    try:
        _configure_devices(setup)
        manager = get_plugin_manager()
        warm_trainers(setup.warm, manager)
        message = conn.recv()
        if message[0] != "data":  # told to exit before the study had data
            os._exit(0)
        _, recipe, path = message
        data = load_recipe(recipe) if path is None else read_shared(path)
    except (EOFError, OSError):
        return
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
