"""Hydra's own launcher and sweeper suites (``hydra.test_utils.launcher_common_tests``),
imported and run against ``hydra/sweeper=hyperplug``, as Hydra's sweeper plugins run them.

Their configs (``compose.yaml``, ``db_conf.yaml``, ``unspecified_mandatory_default.yaml``,
...) ship in the hydra-core wheel under ``hydra/test_utils/configs``. The sweeper replaces
Hydra's launcher, so ``hydra/launcher=basic`` only has to compose. Where a test cannot
apply to an asynchronous sweeper it is skipped with the reason (docs/sweeper.md,
"Compared with Hydra's basic sweeper").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.test_utils.launcher_common_tests import (
    BatchedSweeperTestSuite,
    IntegrationTestSuite,
    LauncherTestSuite,
)
from hydra.test_utils.test_utils import TSweepRunner, verify_dir_outputs
from omegaconf import OmegaConf
from sweep_fixtures import _in_tmp_path, _unset_hydra_version_base  # noqa: F401 (autouse)

from hydra_plugins.hyperplug_sweeper.sweeper import HyperplugSweeper

#: the cheapest settings: one worker process; every other key keeps its default
SWEEPER = ["hydra/sweeper=hyperplug", "hydra.sweeper.n_workers=1"]


def test_hydra_discovers_the_sweeper() -> None:
    # Hydra's plugin scan imports the module itself: compare names, not class objects
    found = [(c.__module__, c.__name__) for c in Plugins.instance().discover(Sweeper)]
    assert (HyperplugSweeper.__module__, HyperplugSweeper.__name__) in found


@pytest.mark.parametrize(("launcher_name", "overrides"), [("basic", SWEEPER)])
class TestHyperplugSweeper(LauncherTestSuite):
    """All of it applies: one job when nothing is swept, ``+a=0,1`` runs exactly 0 and 1,
    group sweeps of global-package configs, a mandatory (``???``) group default given
    by the sweep, keys merged in by a swept group, custom resolvers in the jobs."""


@pytest.mark.parametrize(
    ("launcher_name", "overrides"),
    [("basic", ["hydra/sweeper=hyperplug", "hydra.sweeper.n_workers=2"])],
)
class TestHyperplugSweeperWithBatching(BatchedSweeperTestSuite):
    def test_sweep_2_jobs_2_batches(  # type: ignore[override]
        self, launcher_name: str, overrides: list[str]
    ) -> None:
        pytest.skip(
            "asynchronous: the sweep has no batches (Hydra's max_batch_size) to count, a "
            "free worker starts the next job at once and the jobs come back as one list; "
            "test_concurrent_jobs_keep_their_own_directories checks the rest"
        )


def test_concurrent_jobs_keep_their_own_directories(
    hydra_sweep_runner: TSweepRunner, tmp_path: Path
) -> None:
    """What the batched suite checks besides batches: jobs run two at a time still get
    their own numbered directories, overrides and configs, in Hydra's order."""
    task = ["group1=file1,file2", "bar=100,200,300"]
    sweep = hydra_sweep_runner(
        calling_file=None,
        calling_module="hydra.test_utils.a_module",
        task_function=None,
        config_path="configs",
        config_name="compose.yaml",
        overrides=["hydra/sweeper=hyperplug", "hydra.sweeper.n_workers=2", *task],
        temp_dir=tmp_path / "sweep",
    )
    with sweep:
        assert sweep.temp_dir is not None and sweep.returns is not None
        [jobs] = sweep.returns
        expected = [(g, b) for g in ("file1", "file2") for b in (100, 200, 300)]
        assert [j.overrides for j in jobs] == [[f"group1={g}", f"bar={b}"] for g, b in expected]
        assert [dict(j.cfg) for j in jobs] == [
            {"foo": 10 if g == "file1" else 20, "bar": b} for g, b in expected
        ]
        assert [Path(j.working_dir).name for j in jobs] == [str(i) for i in range(6)]
        for job in jobs:
            verify_dir_outputs(job, job.overrides)
        multirun = OmegaConf.load(Path(sweep.temp_dir) / "multirun.yaml")
        assert multirun.hydra.overrides.task == task


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("task_launcher_cfg", "extra_flags"),
    [
        (
            {},
            [
                "-m",
                *SWEEPER,
                # test_to_absolute_path_multirun runs twice in one sweep dir: a sweep dir
                # resumes its study, so the second run would find it finished and run
                # nothing; a study name of its own per run (the documented way to rerun
                # afresh) lets it run again, as Hydra's sweepers do
                "hydra.sweeper.study=run-${now:%H%M%S%f}",
            ],
        )
    ],
)
class TestHyperplugSweeperIntegration(IntegrationTestSuite):
    """Real apps in a subprocess: job names, sweep dirs and subdirs (also from
    ``override_dirname``), the original cwd and ``to_absolute_path`` inside jobs."""
