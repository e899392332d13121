"""A plain Hydra app (no hyperplug trainers) that the hyperplug sweeper can tune.

Softmax regression with mini-batch SGD in numpy on sklearn's digits. It reports every
epoch with ``hyperplug.report`` (a no-op outside a hyperplug sweep) and returns the
final validation loss, the objective any Hydra sweeper reads.

    python train.py lr=0.05 epochs=20
    python train.py --multirun hydra/sweeper=hyperplug hydra.sweeper.optimizer=asha \\
        hydra.sweeper.n_trials=20 hydra.sweeper.n_workers=2 hydra.sweeper.max_epochs=20 \\
        hydra.sweeper.metric=val_loss epochs=20 \\
        'lr=tag(log, interval(1e-3, 1))' 'batch_size=choice(16, 64, 256)'

Sweep expressions go on the app's keys (``lr=...``): Hydra refuses them on
``hydra.sweeper.params.lr=...`` in a multirun. ``hydra.sweeper.params`` works in a
config file, or on the command line as ``'+hydra.sweeper.params.lr="tag(log, ...)"'``
(the expression in double quotes).
"""

from __future__ import annotations

import json
import os
import time

import hydra
import numpy as np
from omegaconf import DictConfig

import hyperplug


def load_digits_split(seed: int) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float64)
    return tuple(train_test_split(x, y, test_size=0.25, stratify=y, random_state=seed))


def softmax_loss(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    logits = x @ w
    logits -= logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(len(y)), y].mean()
    return float(loss), float((logits.argmax(axis=1) == y).mean())


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def train(cfg: DictConfig) -> float:
    if cfg.fail_when_lr_above is not None and cfg.lr > cfg.fail_when_lr_above:
        raise RuntimeError(f"diverged: lr {cfg.lr} is above {cfg.fail_when_lr_above}")
    x_train, x_val, y_train, y_val = load_digits_split(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    w = np.zeros((x_train.shape[1], 10))
    val_loss = float("inf")
    for epoch in range(1, cfg.epochs + 1):
        order = rng.permutation(len(y_train))
        for start in range(0, len(order), cfg.batch_size):
            batch = order[start : start + cfg.batch_size]
            logits = x_train[batch] @ w
            probs = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            probs[np.arange(len(batch)), y_train[batch]] -= 1
            w -= cfg.lr * (x_train[batch].T @ probs / len(batch) + cfg.l2 * w)
        val_loss, val_accuracy = softmax_loss(w, x_val, y_val)
        if cfg.report:
            hyperplug.report(epoch=epoch, val_loss=val_loss, val_accuracy=val_accuracy)
    if "SWEEP_APP_LOG" in os.environ:  # benchmarks: when each job ended, with what value
        with open(os.environ["SWEEP_APP_LOG"], "a") as log:
            log.write(json.dumps({"end": time.time(), "value": val_loss}) + "\n")
    return val_loss


if __name__ == "__main__":
    train()
