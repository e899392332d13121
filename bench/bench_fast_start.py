"""A small study end to end: 40 random-search trials of a 64-32-10 MLP on digits (3
epochs, one torch thread per trial, 2 workers), through the ``hyperplug`` command and the
Python API (``backend=local``), against Optuna in memory (and Ray Tune with reused
actors when ``ray`` is importable), each a fresh process started by this script.

Printed per runner, medians over ``--repeats`` rounds (the runners alternate within a
round, so machine load hits all of them): the wall time of the process, the time from
the command's start to the first trial's start and to its first reported epoch, and the
ratio of each runner's wall time to Optuna's. Goals: hyperplug CLI / Optuna <= 1.0; the
first trial within 1 s of the command.

The Optuna objective is what an Optuna user writes: a plain torch loop with the same
model, optimizer (Adam), batch size and per-epoch validation, reporting each epoch.

    .venv/bin/python bench/bench_fast_start.py [--repeats 3] [--trials 40] [--skip ray]

``--reference DIR`` also runs the CLI and the API with ``PYTHONPATH=DIR`` (an importable
``hyperplug`` of another commit, e.g. from ``git archive``), labelled ``(reference)``,
to measure a change against its base under the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HYPERPLUG = str(Path(sys.executable).parent / "hyperplug")
REFERENCE = " (reference)"
SPACE = {"lr": "loguniform(1e-4, 1e-1)", "dropout": [0.0, 0.2]}
TRAINER = {"hidden_layers": [64, 32], "epochs": 3, "batch_size": 64, "threads": 1}

#: the plain torch loop the Optuna and Ray objectives share: (params, data) -> val accuracy
#: per epoch, reported through ``report(epoch, accuracy)``
TORCH_LOOP = textwrap.dedent(
    """
    import time
    import numpy as np
    import torch
    from torch import nn

    def load():
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        x, y = load_digits(return_X_y=True)
        x = (x / 16.0).astype(np.float32)
        xt, xv, yt, yv = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
        arrays = (xt, yt.astype(np.int64), xv, yv.astype(np.int64))
        return tuple(torch.from_numpy(a) for a in arrays)

    def train(params, data, report, epochs):
        torch.set_num_threads(1)
        xt, yt, xv, yv = data
        model = nn.Sequential(
            nn.Linear(64, 64), nn.ReLU(), nn.Dropout(params["dropout"]),
            nn.Linear(64, 32), nn.ReLU(), nn.Dropout(params["dropout"]), nn.Linear(32, 10),
        )
        optimizer = torch.optim.Adam(model.parameters(), lr=params["lr"])
        accuracy = 0.0
        for epoch in range(1, epochs + 1):
            model.train()
            order = torch.randperm(len(yt))
            for start in range(0, len(yt), 64):
                batch = order[start : start + 64]
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(xt[batch]), yt[batch]).backward()
                optimizer.step()
            model.eval()
            with torch.no_grad():
                accuracy = float((model(xv).argmax(1) == yv).float().mean())
            if not report(epoch, accuracy):
                break
        return accuracy
    """
)

OPTUNA = TORCH_LOOP + textwrap.dedent(
    """
    import json, sys, optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials, out = int(sys.argv[1]), sys.argv[2]
    data = load()
    marks = {}

    def objective(trial):
        marks.setdefault("first_start", time.time())
        params = {
            "lr": trial.suggest_float("lr", 1e-4, 1e-1, log=True),
            "dropout": trial.suggest_categorical("dropout", [0.0, 0.2]),
        }
        def report(epoch, accuracy):
            marks.setdefault("first_report", time.time())
            trial.report(accuracy, epoch)
            return True
        return train(params, data, report, 3)

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    study.optimize(objective, n_trials=trials)
    json.dump({**marks, "best": study.best_value}, open(out, "w"))
    """
)

RAY = TORCH_LOOP + textwrap.dedent(
    """
    import json, sys, ray
    from ray import tune
    trials, out = int(sys.argv[1]), sys.argv[2]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    data_ref = ray.put(load())

    def objective(config):
        from ray import tune as t
        started = time.time()
        def report(epoch, accuracy):
            t.report({"val_accuracy": accuracy, "started": started, "at": time.time()})
            return True
        train(config, ray.get(data_ref), report, 3)

    tuner = tune.Tuner(
        objective,
        param_space={"lr": tune.loguniform(1e-4, 1e-1), "dropout": tune.choice([0.0, 0.2])},
        tune_config=tune.TuneConfig(
            num_samples=trials, max_concurrent_trials=2, reuse_actors=True,
            metric="val_accuracy", mode="max",
        ),
    )
    results = tuner.fit()
    frame = results.get_dataframe()
    json.dump({"first_start": float(frame["started"].min()),
               "first_report": float(frame["at"].min()),
               "best": float(frame["val_accuracy"].max())}, open(out, "w"))
    """
)

API = textwrap.dedent(
    """
    import json, sqlite3, sys
    from hyperplug import Tuner, build

    trials, home = int(sys.argv[1]), sys.argv[2]
    space, trainer = json.loads(sys.argv[3]), json.loads(sys.argv[4])
    tracker = build("tracker", name="sqlite", path=f"{home}/hyperplug.db")
    data = build("splitter", name="stratified").split_data(build("dataset", name="digits").load())
    tuner = Tuner(
        metadata_tracker=tracker,
        metrics_tracker=tracker,
        resource_version_control=build("vcs", name="store", root=f"{home}/models"),
        training_params={"mlp": space},
        trainer_configs={"mlp": {"name": "mlp", **trainer}},
        metrics=["train_loss", "val_loss", "val_accuracy"],
        perf_metric="val_accuracy",
        model_name="digits_mlp",
        optimizer=build("optimizer", name="random", max_trials=trials, seed=0),
        backend=build("backend", name="local", n_workers=2),
        home=home,
    )
    tuner.run_experiment(data)
    """
)


def cli_args(trials: int, home: str) -> list[str]:
    return [
        HYPERPLUG,
        f"home={home}",
        f"tracker.path={home}/hyperplug.db",
        f"vcs.root={home}/models",
        *(f"trainer.{k}={json.dumps(v).replace(' ', '')}" for k, v in TRAINER.items()),
        "optimizer=random",
        f"optimizer.max_trials={trials}",
        "optimizer.seed=0",
        "backend.n_workers=2",
        *(f"+training_params.mlp.{k}={json.dumps(v).replace(' ', '')}" for k, v in SPACE.items()),
    ]


def hyperplug_marks(home: str) -> dict[str, float]:
    """First trial start, first report and best val accuracy from the study's tracker."""
    with sqlite3.connect(f"{home}/hyperplug.db") as db:
        first_start = db.execute("SELECT min(started_at) FROM trials").fetchone()[0]
        first_report = db.execute("SELECT min(recorded_at) FROM metrics").fetchone()[0]
        best = db.execute("SELECT max(value) FROM metrics WHERE name = 'val_accuracy'").fetchone()[
            0
        ]
        done = db.execute("SELECT count(*) FROM trials WHERE status != 'failed'").fetchone()[0]
    return {"first_start": first_start, "first_report": first_report, "best": best, "ok": done}


def run_one(name: str, trials: int, tmp: Path, reference: str | None) -> dict[str, float]:
    home = tempfile.mkdtemp(dir=tmp)
    out = f"{home}/marks.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "1"}
    if name.endswith(REFERENCE):
        env["PYTHONPATH"] = str(reference)
        name = name.removesuffix(REFERENCE)
    if name == "hyperplug CLI":
        command = cli_args(trials, home)
    elif name == "hyperplug API":
        command = [
            sys.executable,
            "-c",
            API,
            str(trials),
            home,
            json.dumps(SPACE),
            json.dumps(TRAINER),
        ]
    else:
        script = OPTUNA if name == "optuna (memory)" else RAY
        command = [sys.executable, "-c", script, str(trials), out]
    start = time.time()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=home)
    wall = time.time() - start
    if done.returncode != 0:
        raise SystemExit(f"{name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    marks = (
        hyperplug_marks(home) if name.startswith("hyperplug") else json.loads(Path(out).read_text())
    )
    return {
        "wall": wall,
        "to_first_start": marks["first_start"] - start,
        "to_first_report": marks["first_report"] - start,
        "best": marks["best"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--skip", nargs="*", default=[], help="cli, api, optuna, ray")
    parser.add_argument("--reference", help="PYTHONPATH of a hyperplug to compare with")
    args = parser.parse_args()
    runners = ["optuna (memory)", "hyperplug CLI", "hyperplug API", "ray tune (reused actors)"]
    keys = dict(zip(runners, ["optuna", "cli", "api", "ray"], strict=True))
    runners = [r for r in runners if keys[r] not in args.skip]
    if args.reference:
        runners += [f"{r}{REFERENCE}" for r in runners if r.startswith("hyperplug")]
    if "ray tune (reused actors)" in runners:
        try:
            import ray  # noqa: F401
        except ImportError:
            print("ray is not importable here: Ray Tune skipped")
            runners.remove("ray tune (reused actors)")
    print(f"load before: {os.getloadavg()}")
    results: dict[str, list[dict[str, float]]] = {name: [] for name in runners}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for name in runners:
                results[name].append(run_one(name, args.trials, Path(tmp), args.reference))
    print(f"load after: {os.getloadavg()}")
    medians = {
        name: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        for name, runs in results.items()
    }
    print(f"{args.trials} trials, median of {args.repeats} (seconds from the command's start):")
    print(f"{'':>38} {'wall':>7} {'1st start':>10} {'1st report':>11} {'best acc':>9}")
    for name, m in medians.items():
        print(
            f"{name:>38} {m['wall']:7.2f} {m['to_first_start']:10.2f} "
            f"{m['to_first_report']:11.2f} {m['best']:9.3f}"
        )
    reference = medians.get("optuna (memory)")
    if reference is not None:
        for name, m in medians.items():
            if name != "optuna (memory)":
                print(f"ratio {name} / optuna (memory): {m['wall'] / reference['wall']:.2f}")


if __name__ == "__main__":
    main()
