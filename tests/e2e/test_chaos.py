"""Chaos: a study whose process group is SIGKILLed at several points (mid-trial, at a
trial's end, during the winner's promotion), run again after each kill, ends as if
nothing had happened: every trial once, none left running, one model version, a sound
tracker, and hardly more epochs trained than an uninterrupted run.

The kills come from inside, at exact points, so the test is deterministic and bounded:
an observer plugin kills the process group at the Nth epoch report or trial end, and a
local store kills it right after it saved the winner. The trainer is a small numpy
softmax regression that keeps a checkpoint the way a third-party trainer opts in
(``hyperplug.checkpoint``): no torch, so each run starts in about a second.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hyperplug.plugins.sqlite import SQLiteTracker, SQLiteTrackerConfig
from hyperplug.plugins.store import LocalStore, LocalStoreConfig

pytestmark = pytest.mark.e2e

EPOCHS = 5
LRS = [0.5, 0.2, 0.1, 0.05, 0.02, 0.01]
WORKERS = 2

STUDY = """
import os
import signal
import sys

import attrs
import numpy as np

from hyperplug import hookimpl
from hyperplug.api import build
from hyperplug.interfaces import ModelTrainer
from hyperplug.plugin_manager import PluginManager, get_plugin_manager
from hyperplug.plugins.store import LocalStore, LocalStoreConfig
from hyperplug.testing import blobs_splits
from hyperplug.tuner import Tuner


@attrs.define
class SoftmaxConfig:
    name: str = "softmax"
    lr: float = 0.1
    epochs: int = 5
    #: every epoch trained appends a line here
    log: str = ""


class SoftmaxTrainer(ModelTrainer):
    \"\"\"Softmax regression by full-batch gradient descent, checkpointed every epoch.\"\"\"

    name = "softmax"
    config_class = SoftmaxConfig

    def fit(self, data, report):
        x, y = data.train.x.reshape(len(data.train), -1), data.train.y
        self.classes = data.n_classes
        self.w = np.zeros((x.shape[1] + 1, self.classes))
        best, start = None, 1
        checkpoint = getattr(report, "checkpoint", None)
        saved = checkpoint.load() if checkpoint is not None else None
        if saved is not None:
            self.w, best, start = saved.arrays["w"], saved.state["best"], saved.epoch + 1
        for epoch in range(start, self.config.epochs + 1):
            with open(self.config.log, "a") as log:
                log.write(f"{self.config.lr} {epoch}\\n")
            xb = np.hstack([x, np.ones((len(x), 1))])
            p = self._softmax(xb @ self.w)
            p[np.arange(len(y)), y] -= 1
            self.w = self.w - self.config.lr * xb.T @ p / len(y)
            scores = self.evaluate(data.val)
            metrics = {"train_loss": scores["loss"], "val_loss": scores["loss"],
                       "val_accuracy": scores["accuracy"]}
            best = scores["accuracy"] if best is None else max(best, scores["accuracy"])
            if not report(epoch, metrics):
                break
            if checkpoint is not None:
                checkpoint.save(epoch, {"w": self.w}, {"best": best})

    @staticmethod
    def _softmax(z):
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def _probs(self, x):
        x = x.reshape(len(x), -1)
        return self._softmax(np.hstack([x, np.ones((len(x), 1))]) @ self.w)

    def evaluate(self, split):
        p = self._probs(split.x)
        loss = float(-np.log(p[np.arange(len(split.y)), split.y] + 1e-12).mean())
        return {"loss": loss, "accuracy": float((p.argmax(1) == split.y).mean())}

    def predict(self, x):
        return self._probs(x).argmax(1)

    def state_dict(self):
        return {"w": self.w}

    def model_info(self):
        return {"classes": self.classes}

    @classmethod
    def restore(cls, config, state, info):
        trainer = cls(config)
        trainer.w, trainer.classes = state["w"], info["classes"]
        return trainer


def kill_the_group():
    os.killpg(0, signal.SIGKILL)


class Chaos:
    \"\"\"Kills the study's process group at the Nth event of one kind.\"\"\"

    def __init__(self, kind, n):
        self.kind, self.n, self.seen = kind, n, 0

    def tick(self, kind):
        if kind == self.kind:
            self.seen += 1
            if self.seen == self.n:
                kill_the_group()

    @hookimpl
    def on_trial_report(self, study, trial, epoch, metrics):
        self.tick("report")

    @hookimpl
    def on_trial_end(self, study, trial):
        self.tick("trial_end")


class KillingStore(LocalStore):
    \"\"\"The local store, with the process group killed right after a version is saved.\"\"\"

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        kill_the_group()


def main(home, kind, n):
    manager = PluginManager()
    for name, plugin in get_plugin_manager().loaded():
        manager.register(plugin, name)
    manager.register(Chaos(kind, int(n)), "chaos")
    store_class = KillingStore if kind == "promotion" else LocalStore
    tracker = build("tracker", name="sqlite", path=f"{home}/hp.db")
    tuner = Tuner(
        metadata_tracker=tracker,
        metrics_tracker=tracker,
        resource_version_control=store_class(LocalStoreConfig(root=f"{home}/models")),
        training_params={
            SoftmaxTrainer: {"lr": LRS, "epochs": [EPOCHS], "log": [f"{home}/epochs.log"]}
        },
        study_name="chaos",
        model_name="chaos",
        home=home,
        backend=build("backend", name="local", n_workers=WORKERS),
        plugin_manager=manager,
    )
    tuner.run_experiment(blobs_splits())
    tracker.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
"""


def run(tmp_path: Path, kind: str, n: int = 0) -> int:
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    process = subprocess.run(
        [sys.executable, str(tmp_path / "chaos_study.py"), str(tmp_path / "home"), kind, str(n)],
        cwd=tmp_path,
        env=env,
        start_new_session=True,  # its own process group: the kill spares pytest
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode in (0, -signal.SIGKILL), process.stderr[-2000:]
    return process.returncode


def test_kill_9_at_any_point_loses_no_work(tmp_path: Path) -> None:
    constants = f"LRS = {LRS}\nEPOCHS = {EPOCHS}\nWORKERS = {WORKERS}\n"
    (tmp_path / "chaos_study.py").write_text(constants + textwrap.dedent(STUDY))
    home = tmp_path / "home"
    home.mkdir()
    kills = [("report", 4), ("report", 7), ("trial_end", 2), ("report", 3), ("promotion", 0)]
    for kind, n in kills:
        assert run(tmp_path, kind, n) == -signal.SIGKILL, (kind, n)
    assert run(tmp_path, "none") == 0  # finishes the promotion the last kill cut short
    assert run(tmp_path, "none") == 0  # a completed study: nothing to run

    tracker = SQLiteTracker(SQLiteTrackerConfig(path=str(home / "hp.db")))
    try:
        assert tracker.check_integrity()
        [study] = tracker.list_studies()
        trials = tracker.list_trials(study.id)
        # every trial once, under one id, none left running or failed
        assert sorted(t.params["lr"] for t in trials) == sorted(LRS)
        assert {(t.status, t.error) for t in trials} == {("completed", None)}
        for trial in trials:
            epochs = [m.epoch for m in tracker.get_metrics(trial.id) if m.name == "val_loss"]
            assert epochs == list(range(1, EPOCHS + 1)), (trial.params, epochs)
        assert study.status == "completed" and study.winner_version == "chaos:v1"
    finally:
        tracker.close()
    store = LocalStore(LocalStoreConfig(root=str(home / "models")))
    [version] = store.list_versions("chaos")  # one version per study
    assert version.meta.trial_id == study.winner_trial_id
    assert set(version.aliases) == {"best", "latest"}
    # an epoch is lost only where a kill caught it in flight (one per worker per kill)
    trained = (home / "epochs.log").read_text().splitlines()
    assert len(trained) <= len(LRS) * EPOCHS + WORKERS * (len(kills) - 1), trained
    # the trials have ended: no checkpoint is left behind
    assert not list((home / "studies").glob("*/trials/*/checkpoint"))
