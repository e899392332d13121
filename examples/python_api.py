"""A grid study from Python, without Hydra, then the saved model used for predictions.

    python examples/python_api.py [WORKDIR]

Writes the tracker and the model store under WORKDIR (default: ./example-runs).
"""

from __future__ import annotations

import sys
from pathlib import Path

from hyperplug import GridTuner, build, load_model


def main(workdir: Path) -> None:
    tracker = build("tracker", name="sqlite", path=str(workdir / "hyperplug.db"))
    store = build("vcs", name="store", root=str(workdir / "models"))
    dataset = build("dataset", name="digits").load()
    data = build("splitter", name="stratified", seed=1).split_data(dataset)

    tuner = GridTuner(
        metadata_tracker=tracker,
        metrics_tracker=tracker,
        resource_version_control=store,
        training_params={"mlp": {"lr": [0.01, 0.003], "hidden_layers": [[32], [64, 32]]}},
        trainer_configs={"mlp": {"epochs": 5}},
        metrics=["train_loss", "val_loss", "val_accuracy"],
        perf_metric="val_accuracy",
        model_name="digits_example",
    )
    tuner.run_experiment(data)
    tracker.close()
    print(f"winner {tuner.winner.ref}: {tuner.winner.meta.params}")

    model = load_model("digits_example:best", vcs=store)
    accuracy = (model.predict(data.test.x) == data.test.y).mean()
    print(f"test accuracy of the reloaded model: {accuracy:.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "example-runs"))
