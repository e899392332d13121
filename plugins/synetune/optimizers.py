"""The optimizer components: each builds a Syne Tune scheduler for a search space.

RUSH is ours (Syne Tune 0.16 has none; grid, ours too, is the ``grid`` plugin's); random,
bo (BOTorch GP), tpe, asha, hyperband (ASHA with several brackets) and bohb are Syne
Tune's baselines.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import math
from collections.abc import Iterator
from typing import Any

from hyperplug.errors import ConfigError, NotFoundError
from hyperplug.extras import require_extra
from hyperplug.interfaces import Budget, Optimizer, Search, SearchContext
from hyperplug.optimizer_config import OptimizerConfig
from hyperplug.search_space import not_run

MULTI_FIDELITY = ("asha", "hyperband", "bohb", "rush")


class SyneTuneOptimizer(Optimizer):
    """One optimizer component; ``config.name`` says which scheduler it builds."""

    def __init__(self, config: OptimizerConfig) -> None:
        self.config = config
        name = config.name
        if name in MULTI_FIDELITY:
            if config.max_epochs is None:
                raise ConfigError(
                    f"optimizer.max_epochs: optimizer={name} needs an epoch budget, e.g. "
                    f"optimizer.max_epochs=20"
                )
            if config.grace_period > config.max_epochs:
                raise ConfigError(
                    f"optimizer.grace_period={config.grace_period} must be <= "
                    f"optimizer.max_epochs={config.max_epochs}"
                )
        if name == "bo":
            require_extra("optimizer=bo", "bo")

    def budget(self) -> Budget:
        c = self.config
        return Budget(c.max_trials, c.max_wall_time_s, c.max_failures, c.max_epochs, c.max_retries)

    def needs_epoch_reports(self) -> bool:
        return self.config.name in MULTI_FIDELITY

    def check(self, context: SearchContext) -> None:
        if self.config.name == "rush":
            self._reference(context)

    def search(self, context: SearchContext) -> Search:
        from hyperplug.plugins.synetune.schedulers import Randomness, SchedulerSearch

        randomness = Randomness(self.config.seed)
        with _quiet_searcher_warning(), randomness.active():
            scheduler = self._scheduler(context)
        return SchedulerSearch(
            scheduler, context.space, context.perf_metric, context.history, randomness
        )

    # ------------------------------------------------------------------ schedulers

    def _scheduler(self, context: SearchContext) -> Any:
        from syne_tune.config_space import Domain
        from syne_tune.optimizer import baselines

        from hyperplug.plugins.synetune.schedulers import EPOCH, RUSH
        from hyperplug.plugins.synetune.space import config_space, encode

        c = self.config
        space = context.space
        common: dict[str, Any] = {
            "config_space": config_space(space),
            "do_minimize": context.mode == "min",
            "random_seed": c.seed,
        }
        if c.name == "random":
            return baselines.RandomSearch(metrics=[context.perf_metric], **common)
        common["metric"] = context.perf_metric
        if c.name == "bo":
            from hyperplug.plugins.synetune.gp import gp_scheduler

            return gp_scheduler(
                common["config_space"], context.perf_metric, common["do_minimize"], c.seed
            )
        if c.name == "tpe":
            # Syne Tune's defaults model only once 15% of the trials outnumber the
            # dimensions (a 20-trial study in 2-D was random search), then shrink the
            # good set's bandwidth to 1e-3 around the first basin found. Ours model as
            # soon as the good and the bad set each have one point more than there are
            # dimensions, with bandwidths of at least 0.2 (of each range): on Branin, 20
            # trials, 40 seeds, the median best falls from 2.5 (random search) to 1.4.
            dims = sum(isinstance(v, Domain) for v in common["config_space"].values())
            return baselines.TPE(**common, num_min_data_points=dims + 1, min_bandwidth=0.2)
        fidelity = {
            "time_attr": EPOCH,
            "max_t": c.max_epochs,
            "grace_period": c.grace_period,
            "reduction_factor": c.reduction_factor,
            "brackets": c.brackets or _max_brackets(c),
        }
        if c.name in ("asha", "hyperband"):
            return baselines.ASHA(**common, **fidelity)
        if c.name == "bohb":
            return baselines.BOHB(**common, **fidelity)
        points = self._reference(context)
        todo = not_run(points, context.history)
        return RUSH(
            candidates=[encode(space, t, p) for t, p in points],
            points_to_evaluate=[encode(space, t, p) for t, p in todo] or None,
            **common,
            **fidelity,
        )

    def _reference(self, context: SearchContext) -> list[tuple[str, dict[str, Any]]]:
        """RUSH's warm start: the best configs of the reference study (or, for an update,
        of the studies that made its model) that lie in this space, best first."""
        if self.config.reference_study:
            return self._best_of(str(self.config.reference_study), context, required=True)
        if not context.lineage:
            raise ConfigError(
                "optimizer.reference_study: optimizer=rush needs the name of an earlier study "
                "(see `hyperplug studies`), or an update, which warm-starts from its model's "
                "lineage"
            )
        points: list[tuple[str, dict[str, Any]]] = []
        for name in context.lineage:
            points += [p for p in self._best_of(name, context, required=False) if p not in points]
        return points[: self.config.n_reference]

    def _best_of(
        self, name: str, context: SearchContext, required: bool
    ) -> list[tuple[str, dict[str, Any]]]:
        """Study ``name``'s ``n_reference`` best configs that lie in this space. With
        ``required`` an unknown or unfinished study is an error, else it gives nothing."""
        tracker = context.tracker
        try:
            study = tracker.get_study(name)
        except NotFoundError:
            if not required:
                return []
            names = [s.name for s in tracker.list_studies()]
            close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
            hint = f"; close names: {', '.join(close)}" if close else ""
            raise ConfigError(
                f"optimizer.reference_study: study '{name}' not found{hint} "
                "(see `hyperplug studies`)"
            ) from None
        if (study.perf_metric, study.mode) != (context.perf_metric, context.mode):
            if not required:
                return []
            raise ConfigError(
                f"optimizer.reference_study: study '{name}' optimises {study.perf_metric} "
                f"({study.mode}), this study {context.perf_metric} ({context.mode})"
            )
        sign = 1 if context.mode == "max" else -1
        finished = sorted(
            (
                t
                for t in tracker.list_trials(study.id)
                if t.status in ("completed", "stopped")
                and math.isfinite(t.metrics.get(context.perf_metric, math.nan))
            ),
            key=lambda t: -sign * t.metrics[context.perf_metric],
        )
        if not finished and required:
            raise ConfigError(
                f"optimizer.reference_study: study '{name}' has no trial that reached "
                f"{context.perf_metric}"
            )
        return [
            (t.trainer, t.params) for t in finished if context.space.contains(t.trainer, t.params)
        ][: self.config.n_reference]


def _max_brackets(config: Any) -> int:
    """As many brackets as there are rungs between grace_period and max_epochs."""
    ratio = config.max_epochs / config.grace_period
    return max(1, int(math.log(ratio) / math.log(config.reduction_factor) + 1e-9) + 1)


@contextlib.contextmanager
def _quiet_searcher_warning() -> Iterator[None]:
    """Syne Tune's ASHA-family baselines always hand ``points_to_evaluate`` to their
    searcher in ``searcher_kwargs`` as well, and the searcher warns about that on every
    study (even when it is None). Nothing is wrong; keep it off the user's screen."""
    searcher_log = logging.getLogger(
        "syne_tune.optimizer.schedulers.searchers.last_value_multi_fidelity_searcher"
    )
    level = searcher_log.level
    searcher_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        searcher_log.setLevel(level)
