"""What the hyperplug sweeper makes of what Hydra users do: return values, reruns,
Optuna sweeper keys, a search space defined in Python. In-process through Hydra's own
sweep runner, on the configs that ship with hydra-core (``compose.yaml``: foo, bar)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hydra.test_utils.test_utils import TSweepRunner
from omegaconf import DictConfig, OmegaConf
from sweep_fixtures import _in_tmp_path, _unset_hydra_version_base  # noqa: F401 (autouse)

from hyperplug.errors import HyperplugError
from hyperplug.sweep import CustomSpace


def run_sweep(
    runner: TSweepRunner,
    sweep_dir: Path,
    overrides: list[str],
    task: Callable[[DictConfig], Any] | None = None,
) -> tuple[list[Any], dict[str, Any]]:
    """The jobs' JobReturns and the results file of one sweep of ``compose.yaml``."""
    sweep = runner(
        calling_file=None,
        calling_module="hydra.test_utils.a_module",
        task_function=task,
        config_path="configs",
        config_name="compose.yaml",
        overrides=["hydra/sweeper=hyperplug", *overrides],
        temp_dir=sweep_dir,
    )
    with sweep:
        assert sweep.returns is not None
        [jobs] = sweep.returns
        found = OmegaConf.to_container(OmegaConf.load(sweep_dir / "optimization_results.yaml"))
    assert isinstance(found, dict)
    return jobs, found


def a_dict_unless_a_is_1(cfg: DictConfig) -> Any:
    return "not a number" if cfg.a == 1 else {"loss": float(cfg.a), "note": "kept"}


@pytest.mark.parametrize("optimizer", ["grid", "random", "tpe"])
def test_a_return_value_means_the_same_under_every_optimizer(
    hydra_sweep_runner: TSweepRunner,
    tmp_path: Path,
    optimizer: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A dict's numbers are metrics (``metric=loss`` picks one); a string is no value:
    its job completes, cannot be the best and is named in one warning."""
    with caplog.at_level(logging.WARNING):
        jobs, found = run_sweep(
            hydra_sweep_runner,
            tmp_path / "sweep",
            [
                f"hydra/sweeper/optimizer={optimizer}",
                "hydra.sweeper.n_trials=3",
                "hydra.sweeper.optimizer.seed=1",
                "hydra.sweeper.metric=loss",
                "+a=1,2,3",
            ],
            a_dict_unless_a_is_1,
        )
    assert (found["metric"], found["mode"]) == ("loss", "min")
    assert [t["status"] for t in found["trials"]] == ["completed"] * 3
    for trial, job in zip(found["trials"], jobs, strict=True):
        a = trial["params"]["+a"]
        assert job.return_value == a_dict_unless_a_is_1(job.cfg)
        assert trial["value"] == (None if a == 1 else float(a))
    values = [t["value"] for t in found["trials"] if t["value"] is not None]
    assert found["best_value"] == min(values) and found["best_params"]["+a"] != 1
    valueless = [t["job"] for t in found["trials"] if t["value"] is None]
    warned = [r.message for r in caplog.records if "without a value" in r.message]
    if valueless:
        assert warned == [
            f"{len(valueless)} of 3 jobs completed without a value of hydra.sweeper.metric="
            f"loss (job #{valueless[0]} returned 'not a number'): they cannot be the best and "
            "teach the optimizer nothing; return a number, a dict holding loss, or report it "
            "with hyperplug.report"
        ]
    else:
        assert warned == []


def test_several_objectives_end_the_sweep_with_what_is_supported(
    hydra_sweep_runner: TSweepRunner, tmp_path: Path
) -> None:
    with pytest.raises(HyperplugError, match=r"returned 2 numbers \(several objectives\)"):
        run_sweep(hydra_sweep_runner, tmp_path / "sweep", ["+a=1,2"], lambda cfg: (cfg.a, -cfg.a))


def the_process_id(cfg: DictConfig) -> dict[str, float]:
    return {"pid": float(os.getpid()), "loss": float(cfg.a)}


@pytest.mark.parametrize("backend", ["inline", "local"])
def test_the_backend_comes_from_the_registry(
    hydra_sweep_runner: TSweepRunner, tmp_path: Path, backend: str
) -> None:
    """``hydra.sweeper.backend`` is any registered backend: inline runs the jobs in the
    sweep's own process, local in worker processes."""
    jobs, found = run_sweep(
        hydra_sweep_runner,
        tmp_path / "sweep",
        [f"hydra.sweeper.backend={backend}", "hydra.sweeper.metric=loss", "+a=1,2"],
        the_process_id,
    )
    assert [t["status"] for t in found["trials"]] == ["completed"] * 2
    pids = {job.return_value["pid"] for job in jobs}
    assert (pids == {os.getpid()}) == (backend == "inline"), pids


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["hydra.sweeper.backend=locl"],
            "hydra.sweeper.backend=locl: unknown backend 'locl' (did you mean 'local'?)",
        ),
        (
            ["hydra.sweeper.backend=inline", "hydra.sweeper.n_workers=2"],
            "hydra.sweeper.n_workers=2: backend inline runs one job at a time",
        ),
        (
            ["+hydra.sweeper.backend_config.threads_per_workers=2"],
            "hydra.sweeper.backend_config.threads_per_workers: unknown key (did you mean "
            "'threads_per_worker'?)",
        ),
    ],
    ids=["unknown-backend", "inline-with-workers", "unknown-backend-key"],
)
def test_a_bad_backend_is_one_line_before_any_job(
    hydra_sweep_runner: TSweepRunner, tmp_path: Path, overrides: list[str], message: str
) -> None:
    with pytest.raises(HyperplugError) as error:
        run_sweep(hydra_sweep_runner, tmp_path / "sweep", [*overrides, "+a=1,2"])
    assert str(error.value).startswith(message), str(error.value)
    assert not (tmp_path / "sweep" / "optimization_results.yaml").exists()


def test_a_rerun_of_a_finished_sweep_says_so_in_one_line(
    hydra_sweep_runner: TSweepRunner, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sweep_dir = tmp_path / "sweep"
    jobs, _ = run_sweep(hydra_sweep_runner, sweep_dir, ["+a=0,1"])
    assert len(jobs) == 2
    with caplog.at_level(logging.WARNING):
        jobs, found = run_sweep(hydra_sweep_runner, sweep_dir, ["+a=0,1"])
    assert jobs == [] and len(found["trials"]) == 2
    [line] = [r.message for r in caplog.records if "nothing to run" in r.message]
    assert line == (
        f"hydra.sweep.dir={sweep_dir} holds study '{found['study']}', which already ran its "
        "2 jobs: nothing to run. To start afresh, give a new hydra.sweep.dir (or "
        "hydra.sweeper.study=NEW_NAME)"
    )
    # the way it names to start afresh runs the jobs again
    jobs, _ = run_sweep(hydra_sweep_runner, sweep_dir, ["+a=0,1", "hydra.sweeper.study=again"])
    assert len(jobs) == 2


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "hydra.sweeper.direction=maximize",
            "hydra.sweeper.direction is the Optuna sweeper's key; hyperplug's is "
            "hydra.sweeper.mode (min or max)",
        ),
        (
            "hydra.sweeper.n_jobs=2",
            "hydra.sweeper.n_jobs is the Optuna sweeper's key; hyperplug's is "
            "hydra.sweeper.n_workers",
        ),
        (
            "hydra/sweeper/sampler=tpe",
            "hydra/sweeper/sampler=tpe is the Optuna sweeper's setting; hyperplug's is "
            "hydra/sweeper/optimizer=grid|random|bo|tpe|asha|hyperband|bohb|rush (a seed: "
            "hydra.sweeper.optimizer.seed=N)",
        ),
        (
            "hydra.sweeper.sampler.seed=123",
            "hydra.sweeper.sampler.seed is the Optuna sweeper's setting; hyperplug's is "
            "hydra/sweeper/optimizer=",
        ),
        (
            "hydra.sweeper.study_name=s",
            "hydra.sweeper.study_name is the Optuna sweeper's key; hyperplug's is "
            "hydra.sweeper.study",
        ),
        (
            "hydra.sweeper.storage=sqlite:///x.db",
            "hydra.sweeper.storage is the Optuna sweeper's key; hyperplug's is "
            "hydra.sweeper.tracker_path (a SQLite file)",
        ),
        (
            "hydra.sweeper.max_failure_rate=0.5",
            "hydra.sweeper.max_failure_rate is the Optuna sweeper's key; hyperplug's is "
            "hydra.sweeper.max_failures (a number of failed jobs)",
        ),
        (
            "hydra.sweeper.custom_search_space=app.configure",
            "hydra.sweeper.custom_search_space is the Optuna sweeper's key; hyperplug's is "
            "hydra.sweeper.search_space (module.function returning a "
            "hyperplug.sweep.CustomSpace)",
        ),
    ],
)
def test_optuna_sweeper_keys_name_hyperplugs(
    hydra_sweep_runner: TSweepRunner, tmp_path: Path, override: str, message: str
) -> None:
    with pytest.raises(HyperplugError) as raised:
        run_sweep(hydra_sweep_runner, tmp_path / "sweep", ["+a=0,1", override])
    assert str(raised.value).startswith(message)
    assert not (tmp_path / "sweep" / "multirun.yaml").exists()  # nothing ran


def conditional_space(cfg: DictConfig) -> CustomSpace:
    """``+momentum`` only for sgd; ``+lr`` derived from the sampled ``lr_exp``."""

    def derive(values: dict[str, Any]) -> dict[str, Any]:
        job = {"+opt": values["+opt"], "+lr": 10.0 ** values["lr_exp"]}
        if values["+opt"] == "sgd":
            job["+momentum"] = values["+momentum"]
        return job

    return CustomSpace(
        params={
            "+opt": "choice(sgd, adam)",
            "+momentum": "interval(0.5, 0.9)",
            "lr_exp": f"interval({cfg.bar // -25}, -1)",  # bar=100: from -4 to -1
        },
        derive=derive,
    )


def test_a_space_defined_in_python_has_conditional_and_derived_parameters(
    hydra_sweep_runner: TSweepRunner, tmp_path: Path
) -> None:
    jobs, found = run_sweep(
        hydra_sweep_runner,
        tmp_path / "sweep",
        [
            f"hydra.sweeper.search_space={__name__}.conditional_space",
            "hydra.sweeper.optimizer=random",
            "hydra.sweeper.n_trials=12",
        ],
        lambda cfg: cfg.lr,
    )
    # 12 random draws of opt: both values (Syne Tune's random search is not seedable)
    assert {job.cfg.opt for job in jobs} == {"sgd", "adam"}
    for job, trial in zip(jobs, found["trials"], strict=True):
        assert 1e-4 <= job.cfg.lr <= 1e-1
        assert ("momentum" in job.cfg) == (job.cfg.opt == "sgd")
        assert not any(o.startswith("lr_exp") for o in job.overrides)
        # the results file has what each job got (new keys with their +), not lr_exp
        assert trial["params"] == {
            f"+{k}": v for k, v in job.cfg.items() if k not in ("foo", "bar")
        }


def test_keys_of_a_swept_group_option_are_checked_against_that_option(
    hydra_sweep_runner: TSweepRunner, tmp_path: Path
) -> None:
    """hyperplug's own app: ``trainer.variant`` is a key of resnet and vit, not of the
    default trainer (mlp); each job gets its own pair (the task only echoes it)."""
    from hyperplug.hydra_app import CONFIG_MODULE, CONFIG_NAME, register_configs

    register_configs()
    sweep = hydra_sweep_runner(
        calling_file=None,
        calling_module="hyperplug.hydra_app",
        task_function=lambda cfg: f"{cfg.trainer.name}:{cfg.trainer.variant}",
        config_path=f"pkg://{CONFIG_MODULE}",
        config_name=CONFIG_NAME,
        overrides=[
            "hydra/sweeper=hyperplug",
            f"hydra.sweeper.tracker_path={tmp_path / 'hp.db'}",
            "trainer=resnet,vit",
            "trainer.variant=resnet18_cifar,vit_tiny",
        ],
        temp_dir=tmp_path / "sweep",
    )
    with sweep:
        assert sweep.returns is not None
        [jobs] = sweep.returns
    assert [job.return_value for job in jobs] == [
        f"{t}:{v}" for t in ("resnet", "vit") for v in ("resnet18_cifar", "vit_tiny")
    ]


def test_a_key_missing_from_one_swept_option_is_named_with_that_option(
    hydra_sweep_runner: TSweepRunner, tmp_path: Path
) -> None:
    from hyperplug.hydra_app import CONFIG_MODULE, CONFIG_NAME, register_configs

    register_configs()
    sweep = hydra_sweep_runner(
        calling_file=None,
        calling_module="hyperplug.hydra_app",
        task_function=None,
        config_path=f"pkg://{CONFIG_MODULE}",
        config_name=CONFIG_NAME,
        overrides=["hydra/sweeper=hyperplug", "trainer=resnet,mlp", "trainer.variant=a,b"],
        temp_dir=tmp_path / "sweep",
    )
    with pytest.raises(HyperplugError) as raised, sweep:
        pass
    assert str(raised.value).startswith(
        "hydra.sweeper.params.trainer.variant: 'trainer.variant' is not in the app's config "
        "with trainer=mlp"
    )


def broken_space(cfg: DictConfig) -> CustomSpace:
    raise KeyError("max_lr")


def dict_space(cfg: DictConfig) -> Any:
    return {"+b": "choice(1, 2)"}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "no_such_module.space",
            "hydra.sweeper.search_space: cannot import 'no_such_module.space'",
        ),
        (
            f"{__name__}.broken_space",
            f"hydra.sweeper.search_space: {__name__}.broken_space raised KeyError: 'max_lr'",
        ),
        (
            f"{__name__}.dict_space",
            f"hydra.sweeper.search_space: {__name__}.dict_space returned dict, not a "
            "hyperplug.sweep.CustomSpace",
        ),
    ],
    ids=["missing", "raises", "not-a-space"],
)
def test_a_bad_search_space_is_one_line_before_any_job(
    hydra_sweep_runner: TSweepRunner, tmp_path: Path, path: str, message: str
) -> None:
    with pytest.raises(HyperplugError) as raised:
        run_sweep(
            hydra_sweep_runner, tmp_path / "sweep", ["+a=0,1", f"hydra.sweeper.search_space={path}"]
        )
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
    assert not (tmp_path / "sweep" / "multirun.yaml").exists()


def test_the_optimizer_is_a_typed_config_group() -> None:
    """``hydra/sweeper/optimizer=asha`` composes ASHA's typed settings, which reach the
    optimizer; a value of the wrong type is refused when Hydra composes, before any job."""
    from hydra import compose, initialize_config_module

    from hyperplug.sweep.runner import _build_optimizer, settings_of

    chosen = ["hydra/sweeper=hyperplug", "hydra/sweeper/optimizer=asha"]
    with initialize_config_module("hydra.test_utils.configs", version_base="1.3"):
        cfg = compose(
            "compose.yaml",
            overrides=[*chosen, "hydra.sweeper.optimizer.grace_period=2"],
            return_hydra_config=True,
        )
        with pytest.raises(Exception, match=r"hydra\.sweeper\.optimizer\.grace_period") as bad:
            compose(
                "compose.yaml",
                overrides=[*chosen, "hydra.sweeper.optimizer.grace_period=abc"],
                return_hydra_config=True,
            )
    assert "abc" in str(bad.value)
    node = OmegaConf.to_container(cfg.hydra.sweeper)
    assert isinstance(node, dict)
    assert (node["optimizer"]["name"], node["optimizer"]["grace_period"]) == ("asha", 2)
    optimizer = _build_optimizer(settings_of({**node, "max_epochs": 4}))
    assert (optimizer.config.name, optimizer.config.grace_period) == ("asha", 2)
    assert optimizer.config.max_epochs == 4  # the sweep's budget key


def test_hydras_plugin_scan_and_an_app_without_the_group_load_no_plugin(tmp_path: Path) -> None:
    """The optimizer group's options come from the plugin registry, loaded only when a
    config of the group is looked up: never at Hydra's plugin scan (every Hydra app)."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from hydra import compose, initialize_config_module\n"
        "with initialize_config_module('hydra.test_utils.configs', version_base='1.3'):\n"
        "    compose('compose.yaml', overrides=['hydra/sweeper=hyperplug'],"
        " return_hydra_config=True)\n"
        "print('hyperplug.plugin_manager' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert done.stdout.strip() == "False", done.stderr
