"""The Ray actor that runs trials: one per concurrent trial, alive for the whole study.

It loads the plugins once and takes the study's data from the object store once (torch
is imported by its first trial, then stays), then runs trial after trial. A trial runs
in a thread of the actor, and the study process pulls its events one call at a time:
``begin(task, files)`` starts it and returns its first event, ``step(answer)`` answers
the last one and returns the next. An event is ``("report", epoch, metrics)`` (the answer:
False stops the trial), ``("files", files)`` after each checkpoint the trainer saves, or
``("end", TrialEnd, files)`` with the staged weights. ``files`` are the trial directory's
files by path, which the study process writes into the trial's own directory: no
filesystem is shared. ``files`` given to ``begin`` are a retried trial's checkpoint.
"""

from __future__ import annotations

import os
import queue
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import attrs

from hyperplug.interfaces import DataRecipe, TrialTask
from hyperplug.plugins.ray.files import Files, pack, unpack
from hyperplug.processes import process_alive

#: where a trial keeps its checkpoint inside its directory (``hyperplug.checkpoint``)
CHECKPOINT = "checkpoint"


class TrialActor:
    def __init__(self, recipe: DataRecipe, threads: int) -> None:
        from hyperplug.trial_runner import first_line, load_recipe

        self.threads = threads
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
        #: why the actor cannot run trials (None: it can)
        self.broken: str | None = None
        try:
            from hyperplug.plugin_manager import get_plugin_manager

            self.manager = get_plugin_manager()
            self.data = load_recipe(recipe)
        except Exception as exc:
            self.broken = first_line(exc)
        self.root = trial_root()
        self.events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.answers: queue.Queue[bool] = queue.Queue()

    def ready(self) -> tuple[str | None, int, str]:
        """(why it cannot run trials or None, its pid, its node's address)."""
        import ray

        return self.broken, os.getpid(), ray.util.get_node_ip_address()

    def begin(self, task: TrialTask, files: Files) -> tuple[Any, ...]:
        directory = self.root / str(task.trial_id)
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        unpack(directory, files)
        local = task if task.stage_dir is None else attrs.evolve(task, stage_dir=str(directory))
        threading.Thread(target=self._run, args=(local, directory), daemon=True).start()
        return self.events.get()

    def step(self, answer: bool) -> tuple[Any, ...]:
        self.answers.put(answer)
        return self.events.get()

    def _run(self, task: TrialTask, directory: Path) -> None:
        from hyperplug.interfaces import TrialEnd
        from hyperplug.trial_runner import execute_trial, first_line

        def report(epoch: int, metrics: Any) -> bool:
            self.events.put(("report", epoch, dict(metrics)))
            return self.answers.get()

        def checkpoint_saved(_: Path) -> None:
            """The trial goes on once the study process has its checkpoint: were this
            process to die in the next epoch, the retry starts from there."""
            self.events.put(("files", pack(directory, CHECKPOINT)))
            self.answers.get()

        torch = sys.modules.get("torch")  # a trial that changed torch's threads: reset
        if torch is not None and torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        try:
            end, _ = execute_trial(task, self.data, report, self.manager, checkpoint_saved)
            staged = pack(directory) if task.stage_dir is not None else {}
            files = {k: v for k, v in staged.items() if not k.startswith(f"{CHECKPOINT}/")}
        except Exception as exc:  # the files could not be read: the trial fails
            end, files = TrialEnd(task.trial_id, first_line(exc)), {}
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        self.events.put(("end", end, files))


def trial_root() -> Path:
    """This actor's folder for its trials' directories, ``<tmp>/hyperplug-ray-<uid>/<pid>``;
    the folders of actors whose process is gone (killed mid-trial) are removed."""
    base = actors_folder()
    base.mkdir(exist_ok=True)
    for folder in base.iterdir():
        if folder.name.isdigit() and not process_alive(int(folder.name)):
            shutil.rmtree(folder, ignore_errors=True)
    root = base / str(os.getpid())
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    return root


def actors_folder() -> Path:
    return Path(tempfile.gettempdir()) / f"hyperplug-ray-{os.getuid()}"
