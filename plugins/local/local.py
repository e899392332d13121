"""The ``local`` backend: long-lived worker processes on this machine.

Each worker is a spawned process that imports the plugins and torch and builds the data
once, then runs trial after trial. The study process talks to each worker over a pipe:
it sends a trial, receives one report per epoch and answers continue/stop, receives the
trial's end. A worker that dies (killed, out of memory) is noticed through its process
sentinel: its trial is handed to the driver as failed with the reason, and a new worker
takes its place.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

import attrs

from hyperplug.errors import ConfigError, HyperplugError
from hyperplug.interfaces import Backend, DataRecipe, TrialDriver, TrialEnd, TrialTask
from hyperplug.plugins.local.worker import WorkerSetup, worker_main
from hyperplug.validators import positive_int


@attrs.define
class LocalBackendConfig:
    """``n_workers`` trials at once, each worker with ``threads_per_worker`` torch
    threads and, when CUDA GPUs exist, GPU ``worker index % GPU count``."""

    name: str = "local"
    n_workers: int = attrs.field(default=1, validator=positive_int)
    threads_per_worker: int = attrs.field(default=1, validator=positive_int)
    #: seconds to wait for a worker to exit at shutdown before it is killed
    shutdown_timeout_s: float = 5.0


@attrs.define
class Worker:
    index: int
    process: Any
    conn: Connection
    trial: TrialTask | None = None
    ready: bool = False


#: data up to this size is sent to each worker as it starts (pickled once); larger data
#: each worker builds itself from the recipe. Sending is cheaper than building for small
#: data: a worker that builds sklearn's digits imports sklearn and splits (about 1 s of
#: its 3-6 s start-up here)
SEND_DATA_BYTES = 64 << 20


def data_bytes(data: Any) -> int:
    return sum(int(a.nbytes) for s in (data.train, data.val, data.test) for a in (s.x, s.y))


def _gpu_count() -> int:
    import sys

    torch = sys.modules.get("torch")  # only ask when the study process has torch already
    if torch is None:
        return 0
    try:
        return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    except Exception:
        return 0


def death_reason(process: Any) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"worker process {process.pid} died ({name})"
    return f"worker process {process.pid} exited with code {code}"


class LocalBackend(Backend):
    def __init__(self, config: LocalBackendConfig) -> None:
        if config.n_workers < 1:
            raise ConfigError("backend.n_workers must be >= 1")
        self.config = config
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[Worker] = []
        self.stopping: set[int] = set()
        self.driver: TrialDriver | None = None
        self.setup: WorkerSetup | None = None
        self.gpus = 0
        #: how many workers were started to replace dead ones
        self.replaced = 0
        #: trial id -> index of the worker that ran it last
        self.ran_on: dict[int, int] = {}

    # ------------------------------------------------------------------ workers

    def _spawn(self, index: int) -> Worker:
        assert self.setup is not None
        setup = attrs.evolve(self.setup, gpu=index % self.gpus if self.gpus else None)
        parent, child = self.context.Pipe()
        process = self.context.Process(
            target=worker_main,
            args=(child, setup),
            name=f"hyperplug-worker-{index}",
            daemon=True,
        )
        with _sigint_ignored():
            process.start()
        child.close()
        return Worker(index, process, parent)

    def start(self, recipe: DataRecipe, driver: TrialDriver) -> None:
        self.driver = driver
        if (
            recipe.dataset is not None
            and recipe.splitter is not None
            and (recipe.data is None or data_bytes(recipe.data) > SEND_DATA_BYTES)
        ):
            recipe = attrs.evolve(recipe, data=None)  # workers build it themselves
        self.setup = WorkerSetup(recipe, self.config.threads_per_worker)
        self.gpus = _gpu_count()
        self.workers = [self._spawn(i) for i in range(self.config.n_workers)]

    def free_slots(self) -> int:
        return sum(1 for w in self.workers if w.trial is None)

    def submit(self, task: TrialTask) -> None:
        """Give ``task`` to a free worker: one that did not run it last, where there is
        one (a trial retried after a failure gets another worker)."""
        free = [w for w in self.workers if w.trial is None]
        last = self.ran_on.get(task.trial_id)
        worker = next((w for w in free if w.index != last), free[0])
        self.ran_on[task.trial_id] = worker.index
        try:
            worker.conn.send(("trial", task))
        except OSError:  # it died while idle
            self._replace(worker)
            self.submit(task)
            return
        worker.trial = task

    def stop(self, trial_id: int) -> None:
        self.stopping.add(trial_id)

    # ------------------------------------------------------------------ events

    def poll(self, timeout: float) -> None:
        assert self.driver is not None
        busy = [w for w in self.workers if w.trial is not None or not w.ready]
        if not busy:
            return
        handles: list[Any] = [w.conn for w in busy] + [w.process.sentinel for w in busy]
        ready = wait(handles, timeout)
        for worker in busy:
            if worker.conn in ready:
                try:
                    while worker.conn.poll():
                        self._handle(worker, worker.conn.recv())
                except (EOFError, OSError):
                    self._replace(worker)
                    continue
            if worker.process.sentinel in ready and worker in self.workers:
                worker.process.join(1)
                if not worker.process.is_alive():
                    self._replace(worker)

    def _handle(self, worker: Worker, message: tuple[Any, ...]) -> None:
        assert self.driver is not None
        kind = message[0]
        if kind == "ready":
            worker.ready = True
        elif kind == "report":
            _, trial_id, epoch, metrics = message
            keep = self.driver.on_report(trial_id, epoch, metrics)
            worker.conn.send(keep and trial_id not in self.stopping)
        elif kind == "end":
            end: TrialEnd = message[1]
            worker.trial = None
            self.stopping.discard(end.trial_id)
            self.driver.on_end(end)
        elif kind == "broken":
            raise HyperplugError(f"backend.local: a worker could not start: {message[1]}")

    def _replace(self, worker: Worker) -> None:
        """A dead worker: fail its trial, start another in its place."""
        assert self.driver is not None
        if worker not in self.workers:
            return
        worker.process.join(1)
        reason = death_reason(worker.process)
        worker.conn.close()
        index = self.workers.index(worker)
        self.workers[index] = self._spawn(worker.index)
        self.replaced += 1
        if worker.trial is not None:
            self.stopping.discard(worker.trial.trial_id)
            self.driver.on_end(TrialEnd(worker.trial.trial_id, reason))

    def shutdown(self) -> None:
        """Idle workers are told to exit, all at once, and given ``shutdown_timeout_s``
        together; busy or still-starting ones are killed (their trials are over for the
        engine), as is any that has not exited by then."""
        for worker in self.workers:
            if worker.trial is None and worker.ready:
                with contextlib.suppress(OSError):
                    worker.conn.send(("exit",))
            else:
                worker.process.kill()
        deadline = time.monotonic() + self.config.shutdown_timeout_s
        for worker in self.workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self.workers = []


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Start workers with Ctrl-C ignored (a spawned Python keeps an ignored SIGINT from
    its very start): Ctrl-C reaches the whole process group, and it is the study
    process's to handle, which records the running trials as interrupted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
