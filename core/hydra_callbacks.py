"""Hydra callbacks: when a ``--multirun`` sweep ends, its study's winner is versioned once
(or, when every job ran a stream of updates, the streams are compared)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

HYPERPLUG_SWEEPER = "hydra_plugins.hyperplug_sweeper."


class StudySweepCallback(Callback):
    """Picks the winner of the sweep's study, saves it, prints and writes the summary."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if str(config.hydra.sweeper.get("_target_", "")).startswith(HYPERPLUG_SWEEPER):
            return  # its jobs are trials of the sweeper's study, which saves no model
        from hyperplug.hydra_app import user_errors_exit
        from hyperplug.study import finish_sweep
        from hyperplug.summary import print_study, write_summary

        sweep_dir = Path(str(config.hydra.sweep.dir))
        summaries = sorted(sweep_dir.glob("*/stream.json"))
        if summaries:  # every job ran a stream of its own: compare them
            import json

            from hyperplug.stream import compare_streams
            from hyperplug.summary import console

            console().print(compare_streams([json.loads(p.read_text()) for p in summaries]))
            return
        app_config = OmegaConf.masked_copy(config, [k for k in config if k != "hydra"])
        # raised further, Hydra would only warn and exit 0 (no trial reached the metric)
        with user_errors_exit():
            result = finish_sweep(app_config, sweep_dir)
        print_study(result.study, result.trials, result.settings.metrics, result.winner)
        write_summary(
            sweep_dir, result.study, result.trials, result.settings.metrics, result.winner
        )
