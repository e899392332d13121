"""Hydra's basic-sweep tutorial (a mandatory ``db`` group, ``db: glob(*)`` and
``db.timeout: 5,10`` in ``hydra.sweeper.params``) swept by the hyperplug sweeper: the
same jobs, in the same order, with the same overrides as Hydra's basic sweeper runs.

Adapted from Hydra's tutorial test only in the plugin (``hydra/sweeper=hyperplug``) and
in the launch line each job logs (``Launching job #0 : ...``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hydra.test_utils.test_utils import run_python_script

pytestmark = pytest.mark.e2e

APP = Path(__file__).parent / "apps" / "basic_sweep" / "my_app.py"


@pytest.mark.parametrize(
    ("args", "jobs"),
    [
        (
            [],
            [
                ("db=mysql db.timeout=5", "driver=mysql, timeout=5"),
                ("db=mysql db.timeout=10", "driver=mysql, timeout=10"),
                ("db=postgresql db.timeout=5", "driver=postgresql, timeout=5"),
                ("db=postgresql db.timeout=10", "driver=postgresql, timeout=10"),
            ],
        ),
        (
            ["db=glob([m*],exclude=postgresql)"],
            [
                ("db=mysql db.timeout=5", "driver=mysql, timeout=5"),
                ("db=mysql db.timeout=10", "driver=mysql, timeout=10"),
            ],
        ),
        (
            ["db=mysql", "db.user=choice(one,two)"],
            [
                ("db=mysql db.timeout=5 db.user=one", "driver=mysql, timeout=5"),
                ("db=mysql db.timeout=5 db.user=two", "driver=mysql, timeout=5"),
                ("db=mysql db.timeout=10 db.user=one", "driver=mysql, timeout=10"),
                ("db=mysql db.timeout=10 db.user=two", "driver=mysql, timeout=10"),
            ],
        ),
    ],
    ids=["glob-all", "glob-filtered", "command-line-replaces-params"],
)
def test_basic_sweep_example(tmp_path: Path, args: list[str], jobs: list[tuple[str, str]]) -> None:
    out, _ = run_python_script(
        [
            str(APP),
            "--multirun",
            "hydra/sweeper=hyperplug",
            f"hydra.sweep.dir={tmp_path / 'multirun'}",
            f"hydra.sweeper.tracker_path={tmp_path / 'hp.db'}",
            "hydra.job.chdir=True",
            "hydra.hydra_logging.formatters.simple.format='[HYDRA] %(message)s'",
            "hydra.job_logging.formatters.simple.format='[JOB] %(message)s'",
            *args,
        ]
    )
    expected = [
        line
        for number, (overrides, printed) in enumerate(jobs)
        for line in (f"[HYDRA] Launching job #{number} : {overrides}", printed)
    ]
    job_lines = [
        line for line in out.splitlines() if re.match(r"\[HYDRA\] Launching|driver=", line)
    ]
    assert job_lines == expected
