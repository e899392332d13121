"""The ``ray`` backend: trials in long-lived Ray actors on a Ray cluster.

The study process (the driver) keeps the tracker, the optimizer and the store; it puts
the study's data in Ray's object store once and starts one actor per concurrent trial
(``plugins/ray/actor.py``), each with ``resources_per_trial``. Every epoch a trial
reports travels back to the driver as it happens and the answer (continue or stop) goes
back to the trial; its checkpoint and staged weights travel with its events, so the
driver needs no filesystem shared with the nodes. An actor that dies (its process
killed, its node lost) ends its trial as failed with the reason, and a new actor takes
its place where the cluster has room; trials wait for a free actor meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from pathlib import Path
from typing import Any

import attrs

from hyperplug.errors import ConfigError, HyperplugError
from hyperplug.interfaces import Backend, DataRecipe, TrialDriver, TrialEnd, TrialTask
from hyperplug.plugins.ray.cluster import capacity, connect, describe, import_ray, ray_request
from hyperplug.plugins.ray.files import pack, unpack
from hyperplug.validators import non_negative, positive

log = logging.getLogger(__name__)

#: actors that die before they ever start, one after another, before the study gives up
START_FAILURES = 3


def _optional_positive_int(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{attribute.name} must be an integer > 0 or null, got {value!r}")


def _resources(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    for key, amount in dict(value).items():
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
            raise ValueError(
                f"{attribute.name} must map resource names to numbers >= 0, got {key}={amount!r}"
            )


@attrs.define
class RayBackendConfig:
    """``address``: ``local`` (a private one-node Ray started for the study), ``auto``
    (the cluster started on this machine, or ``RAY_ADDRESS``), ``HOST:PORT`` (a
    cluster's head) or ``ray://HOST:PORT`` (Ray Client). ``n_workers``: trials at once,
    one actor each (null: as many as the cluster's nodes hold). ``resources_per_trial``:
    what each actor reserves: cpu, gpu, memory (bytes) or a custom resource of the
    cluster; a trial's torch threads are its cpus. ``init``: more arguments of
    ``ray.init`` for ``local`` (num_cpus, object_store_memory, ...)."""

    name: str = "ray"
    address: str = "local"
    n_workers: int | None = attrs.field(default=None, validator=_optional_positive_int)
    resources_per_trial: dict[str, float] = attrs.field(
        factory=lambda: {"cpu": 1.0, "gpu": 0.0}, validator=_resources
    )
    init: dict[str, Any] = attrs.Factory(dict)
    #: seconds to wait for an answer at the address before it is an error
    connect_timeout_s: float = attrs.field(default=10.0, validator=positive)
    #: seconds trials may wait with no actor able to start before the study ends
    actor_timeout_s: float = attrs.field(default=600.0, validator=non_negative)


@attrs.define
class Slot:
    """One actor and what the driver awaits from it: ``pending`` is its ``ready()``
    call while it starts, then the ``begin``/``step`` call of its running trial."""

    index: int
    actor: Any
    pending: Any = None
    ready: bool = False
    trial: TrialTask | None = None
    pid: int | None = None
    node: str | None = None

    def where(self) -> str:
        return f"pid {self.pid} on {self.node}" if self.pid else "not yet started"


class RayBackend(Backend):
    def __init__(self, config: RayBackendConfig) -> None:
        self.config = config
        self.ray: Any = None
        #: whether this backend called ray.init (and so ends the connection)
        self.connected = False
        self.n_workers = 0
        self.driver: TrialDriver | None = None
        self.actor_class: Any = None
        self.data_ref: Any = None
        self.slots: list[Slot] = []
        self.queue: deque[TrialTask] = deque()
        self.stopping: set[int] = set()
        #: trial id -> index of the slot that ran it last
        self.ran_on: dict[int, int] = {}
        #: how many actors were started to replace dead ones
        self.replaced = 0
        self.start_failures = 0
        #: since when trials wait with no actor started (None: they do not)
        self.waiting_since: float | None = None

    # ------------------------------------------------------------------ setup

    def check(self) -> None:
        """Connect, and check the resources a trial asks for against the nodes."""
        if self.ray is not None:
            return
        ray = import_ray()
        if not ray.is_initialized():
            c = self.config
            connect(ray, c.address, c.init, c.connect_timeout_s)
            self.connected = True
        self.ray = ray
        try:
            fits = capacity(ray, self.config.resources_per_trial)
        except ConfigError:
            self._disconnect()
            raise
        self.n_workers = self.config.n_workers or fits
        if self.n_workers > fits:
            log.warning(
                "backend.n_workers=%d, but the Ray cluster holds %d actors of %s now: the "
                "other trials wait for one",
                self.n_workers,
                fits,
                describe(ray_request(self.config.resources_per_trial)),
            )

    def start(self, recipe: DataRecipe, driver: TrialDriver) -> None:
        from hyperplug.plugins.ray.actor import TrialActor

        self.check()
        self.driver = driver
        request = ray_request(self.config.resources_per_trial)
        custom = {k: v for k, v in request.items() if k not in ("CPU", "GPU", "memory")}
        options: dict[str, Any] = {
            "num_cpus": request.get("CPU", 0),
            "num_gpus": request.get("GPU", 0),
            "resources": custom,
            "max_restarts": 0,
            "max_task_retries": 0,
        }
        if "memory" in request:
            options["memory"] = request["memory"]
        self.actor_class = self.ray.remote(TrialActor).options(**options)
        self.threads = max(1, int(request.get("CPU", 1)))
        self.data_ref = self.ray.put(recipe)  # once per study; every actor reads it there
        self.slots = [self._spawn(i) for i in range(self.n_workers)]

    def _spawn(self, index: int) -> Slot:
        actor = self.actor_class.remote(self.data_ref, self.threads)
        return Slot(index, actor, pending=actor.ready.remote())

    # ------------------------------------------------------------------ trials

    def free_slots(self) -> int:
        busy = sum(1 for slot in self.slots if slot.trial is not None)
        return max(0, len(self.slots) - busy - len(self.queue))

    def submit(self, task: TrialTask) -> None:
        self.queue.append(task)
        self._dispatch()

    def stop(self, trial_id: int) -> None:
        self.stopping.add(trial_id)

    def _dispatch(self) -> None:
        """Hand waiting trials to started, idle actors: a retried trial to another actor
        than the one it ran on, where there is one."""
        while self.queue:
            idle = [s for s in self.slots if s.ready and s.trial is None and s.pending is None]
            if not idle:
                return
            task = self.queue.popleft()
            last = self.ran_on.get(task.trial_id)
            slot = next((s for s in idle if s.index != last), idle[0])
            self.ran_on[task.trial_id] = slot.index
            files = {} if task.stage_dir is None else pack(Path(task.stage_dir), "checkpoint")
            slot.trial = task
            slot.pending = slot.actor.begin.remote(task, files)

    def poll(self, timeout: float) -> None:
        assert self.driver is not None
        self._dispatch()
        pending = {slot.pending: slot for slot in self.slots if slot.pending is not None}
        if not pending:
            return
        done, _ = self.ray.wait(list(pending), num_returns=1, timeout=timeout)
        if done:  # whatever else is ready too
            done, _ = self.ray.wait(list(pending), num_returns=len(pending), timeout=0)
        for ref in done:
            self._deliver(pending[ref], ref)
        self._dispatch()
        self._check_waiting()

    def _deliver(self, slot: Slot, ref: Any) -> None:
        assert self.driver is not None
        slot.pending = None
        try:
            event = self.ray.get(ref)
        except self.ray.exceptions.RayActorError as exc:
            self._lost(slot, exc)
            return
        if not slot.ready:
            broken, slot.pid, slot.node = event
            if broken:
                raise HyperplugError(f"backend.ray: an actor could not start: {broken}")
            slot.ready, self.start_failures = True, 0
            return
        task = slot.trial
        assert task is not None
        if event[0] == "report":
            _, epoch, metrics = event
            keep = self.driver.on_report(task.trial_id, epoch, metrics)
            answer = bool(keep) and task.trial_id not in self.stopping
            slot.pending = slot.actor.step.remote(answer)
        elif event[0] == "files":
            if task.stage_dir is not None:
                unpack(Path(task.stage_dir), event[1])
            slot.pending = slot.actor.step.remote(True)
        else:
            _, end, files = event
            if files and task.stage_dir is not None:
                unpack(Path(task.stage_dir), files)
            slot.trial = None
            self.stopping.discard(task.trial_id)
            self.driver.on_end(end)

    def _lost(self, slot: Slot, error: Exception) -> None:
        """A dead actor: its trial fails with the reason, a new actor takes its place."""
        assert self.driver is not None
        reason = f"Ray actor ({slot.where()}) died: {death_cause(error)}"
        with contextlib.suppress(Exception):
            self.ray.kill(slot.actor, no_restart=True)
        if not slot.ready:
            self.start_failures += 1
            if self.start_failures >= START_FAILURES:
                raise HyperplugError(
                    f"backend.ray: {self.start_failures} actors died before they started; "
                    f"the last: {reason}"
                )
        log.warning("%s; starting another", reason)
        self.slots[self.slots.index(slot)] = self._spawn(slot.index)
        self.replaced += 1
        if slot.trial is not None:
            self.stopping.discard(slot.trial.trial_id)
            self.driver.on_end(TrialEnd(slot.trial.trial_id, reason))

    def _check_waiting(self) -> None:
        """Trials that wait while no actor can start (the cluster lost the nodes that held
        them) end the study after ``actor_timeout_s``, instead of a silent hang."""
        if not self.queue or any(slot.ready for slot in self.slots):
            self.waiting_since = None
            return
        now = time.monotonic()
        if self.waiting_since is None:
            self.waiting_since = now
        elif now - self.waiting_since > self.config.actor_timeout_s:
            request = describe(ray_request(self.config.resources_per_trial))
            free = describe(self.ray.available_resources())
            raise HyperplugError(
                f"backend.ray: trials waited {self.config.actor_timeout_s:g} s and no actor "
                f"of {request} could start (the cluster has {free} free); see "
                "backend.actor_timeout_s"
            )

    # ------------------------------------------------------------------ the end

    def shutdown(self) -> None:
        """Kill every actor (running trials are over for the engine); end the connection
        this backend made (a private ``local`` Ray stops with it)."""
        for slot in self.slots:
            with contextlib.suppress(Exception):
                self.ray.kill(slot.actor, no_restart=True)
        self.slots = []
        self.queue.clear()
        self._disconnect()

    def _disconnect(self) -> None:
        if self.connected:
            with contextlib.suppress(Exception):
                self.ray.shutdown()
            self.connected = False
            self.ray = None


def death_cause(error: Exception) -> str:
    """One line from Ray's account of an actor's death: the worker's exit detail, the
    node that was lost, or a broken connection (the process or its node died)."""
    text = " ".join(str(error).split())
    if "is unavailable" in text:  # the connection broke; Ray cannot tell yet why
        tail = text.split("RpcError:", 1)[-1].strip()
        return f"its connection broke, the process or its node died ({tail})"
    for marker in ("Worker exit detail:", "The actor is dead because", "The actor died because"):
        if marker in text:
            tail = text.split(marker, 1)[1].strip()
            return tail.split(". ")[0].rstrip(".")
    return text.split(". ")[0].rstrip(".") or type(error).__name__
