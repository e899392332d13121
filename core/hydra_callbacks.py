"""Hydra callbacks of hyperplug's app: checks before the first job, and when a
``--multirun`` sweep ends, its study's winner versioned once (or, when every job ran a
stream of updates, the streams compared)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

HYPERPLUG_SWEEPER = "hydra_plugins.hyperplug_sweeper."
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


class StudySweepCallback(Callback):
    """Before Hydra makes its output directory: the directories the config names can be
    made (``home`` under a regular file is an error naming ``home``), and every job of a
    ``--multirun`` has valid values. At the end of a sweep: picks the winner of the
    sweep's study, saves it, prints and writes the summary and the plots."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hyperplug.hydra_app import user_errors_exit

        with user_errors_exit():  # raised further, Hydra would only warn
            check_directories(config, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hyperplug.hydra_app import user_errors_exit

        with user_errors_exit():
            check_directories(config, "hydra.sweep.dir")
            if str(config.hydra.sweeper.get("_target_", "")) == BASIC_SWEEPER:
                check_sweep_jobs(config, kwargs.get("config_name"))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if str(config.hydra.sweeper.get("_target_", "")).startswith(HYPERPLUG_SWEEPER):
            return  # its jobs are trials of the sweeper's study, which saves no model
        from hyperplug.hydra_app import user_errors_exit
        from hyperplug.study import finish_sweep
        from hyperplug.summary import print_study, show_plots, write_summary

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
        show_plots(result.plots)


def check_directories(config: DictConfig, output_key: str) -> None:
    """``home`` and Hydra's output directory can be directories (not under a file)."""
    from hyperplug.paths import check_directory

    check_directory("home", str(config.get("home") or ".hyperplug"))
    check_directory(output_key, str(OmegaConf.select(config, output_key)))


def check_sweep_jobs(config: DictConfig, config_name: str | None) -> None:
    """Compose every job of a basic sweep and check its values, so that a bad value in a
    later job (``trainer.lr=0.1,-0.1``) fails before the first job trains."""
    from hydra import compose
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from hyperplug.hydra_app import swept_keys
    from hyperplug.study import Study

    overrides = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
    [jobs] = BasicSweeper.split_arguments(overrides, None)
    if len(jobs) < 2:
        return  # the one job checks itself before it trains
    for job in jobs:
        Study.from_config(compose(config_name, job)).check(swept_keys(job))
