"""Plugins that break, installed as real distributions: each gives one clear line naming the
plugin and its distribution, and every other plugin keeps working.

A distribution here is a ``<name>-<version>.dist-info`` folder (METADATA and
entry_points.txt) next to its module on a path entry: what pip leaves in site-packages,
found by ``importlib.metadata`` exactly as an installed package is.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from importlib.metadata import EntryPoint, distributions, entry_points, version
from pathlib import Path
from typing import Any

import pytest

from hyperplug import HOOK_API_VERSION, __version__, hookimpl
from hyperplug.api_version import api_problem, parse_api_version
from hyperplug.errors import PluginError
from hyperplug.extras import MissingExtraError
from hyperplug.plugin_manager import PluginManager

HYPERPLUG = str(Path(sys.executable).parent / "hyperplug")

GOOD = """
    import attrs
    from hyperplug import hookimpl
    from hyperplug.components import Component

    HYPERPLUG_API = "1.0"

    @attrs.define
    class Cfg:
        name: str = "{component}"

    @hookimpl
    def register_backends():
        return [Component(kind="backend", name="{component}", factory=lambda c: c,
                          config_class=Cfg, description="a backend that works")]
"""


def write_distribution(
    site: Path, dist: str, version: str, modules: Mapping[str, str], metadata: str = ""
) -> list[EntryPoint]:
    """Install ``modules`` (name -> source) as distribution ``dist``, one entry point each;
    ``metadata``: more METADATA lines (``Provides-Extra``, ``Requires-Dist``)."""
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n{metadata}"
    )
    lines = ["[hyperplug]"]
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        lines.append(f"{module.removeprefix('hpx_')} = {module}")
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    [found] = [d for d in distributions(path=[str(site)]) if d.metadata["Name"] == dist]
    return list(found.entry_points)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    yield site
    for name in [m for m in sys.modules if m.startswith("hpx_")]:
        del sys.modules[name]


def load(*groups: list[EntryPoint], built_ins: bool = False) -> PluginManager:
    manager = PluginManager()
    eps = [ep for group in groups for ep in group]
    manager.load_entry_points([*entry_points(group="hyperplug"), *eps] if built_ins else eps)
    return manager


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hyperplug.plugin_manager"]


def test_a_plugin_that_fails_to_import(site: Path, caplog: pytest.LogCaptureFixture) -> None:
    broken = write_distribution(site, "hp-broken", "0.3", {"hpx_broken": "import missinglib\n"})
    good = write_distribution(site, "hp-good", "1.2", {"hpx_good": GOOD.format(component="ok")})
    manager = load(broken, good)
    line = (
        "plugin 'broken' (distribution hp-broken 0.3) failed to load: "
        "ModuleNotFoundError: No module named 'missinglib'"
    )
    assert manager.plugins["broken"].status == "failed"
    assert manager.registry.names("backend") == ["ok"]
    assert manager.registry.problems == [line]
    assert warnings_of(caplog) == [line]


def test_a_plugin_whose_hook_raises(site: Path, caplog: pytest.LogCaptureFixture) -> None:
    raising = write_distribution(
        site,
        "hp-raising",
        "2.0.1",
        {
            "hpx_raising": """
                from hyperplug import hookimpl

                @hookimpl
                def register_backends():
                    raise KeyError("CLUSTER_URL")
            """
        },
    )
    good = write_distribution(site, "hp-good", "1.2", {"hpx_good": GOOD.format(component="ok")})
    manager = load(raising, good)
    line = (
        "plugin 'raising' (distribution hp-raising 2.0.1) hook register_backends raised "
        "KeyError: 'CLUSTER_URL'"
    )
    assert manager.registry.names("backend") == ["ok"]
    assert manager.plugins["raising"].status == "failed"
    assert manager.registry.problems == [line]
    manager._registry = None  # rebuilt registries do not repeat the warning
    assert manager.registry.problems == [line]
    assert warnings_of(caplog) == [line]


def test_a_plugin_that_registers_a_name_already_taken(
    site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    twin = write_distribution(
        site,
        "hp-twin",
        "0.2",
        {
            "hpx_twin": """
                import attrs
                from hyperplug import hookimpl
                from hyperplug.components import Component

                @attrs.define
                class Inline:
                    name: str = "inline"

                @attrs.define
                class Own:
                    name: str = "twin_own"

                @hookimpl
                def register_backends():
                    return [
                        Component(kind="backend", name="inline", factory=lambda c: c,
                                  config_class=Inline),
                        Component(kind="backend", name="twin_own", factory=lambda c: c,
                                  config_class=Own),
                    ]
            """
        },
    )
    manager = load(twin, built_ins=True)
    both = (
        f"plugin 'local' (distribution hyperplug {__version__}) and "
        "plugin 'twin' (distribution hp-twin 0.2)"
    )
    assert manager.registry.problems == [
        f"backend 'inline' is registered by both {both}; disable one with HYPERPLUG_DISABLE_PLUGINS"
    ]
    assert warnings_of(caplog) == manager.registry.problems
    with pytest.raises(PluginError) as error:
        manager.registry.get("backend", "inline")
    assert str(error.value) == f"backend 'inline' is registered by both {both}"
    assert manager.registry.get("backend", "twin_own").plugin.distribution == "hp-twin"
    assert manager.registry.get("trainer", "mlp").plugin.name == "torch"


@pytest.mark.e2e
def test_choosing_a_name_two_plugins_registered_names_both(tmp_path: Path, site: Path) -> None:
    write_distribution(
        site,
        "hp-twin",
        "0.2",
        {
            "hpx_twin": """
                import attrs
                from hyperplug import hookimpl
                from hyperplug.components import Component
                from hyperplug.plugins.local.inline import InlineBackend

                @attrs.define
                class Local:
                    name: str = "local"

                @hookimpl
                def register_backends():
                    return [Component(kind="backend", name="local", factory=InlineBackend,
                                      config_class=Local)]
            """
        },
    )
    result = cli(tmp_path, site, "trainer.epochs=1")  # backend=local is the default
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (
        f"hyperplug: error: backend 'local' is registered by both plugin 'local' "
        f"(distribution hyperplug {__version__}) and plugin 'twin' (distribution hp-twin "
        "0.2); disable one with HYPERPLUG_DISABLE_PLUGINS"
    ), result.stderr
    # the other plugins keep working
    result = cli(tmp_path, site, "trainer.epochs=1", "backend=inline")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("declared", "problem"),
    [
        (
            "2.0",
            f"is built for hook API 2.0, but hyperplug {__version__} provides hook API 1.0: "
            "install a release of the plugin made for hook API 1.x",
        ),
        (
            "1.9",
            f"needs hook API 1.9, but hyperplug {__version__} provides hook API 1.0: "
            "upgrade hyperplug",
        ),
        ("one", "is not loaded: HYPERPLUG_API must be a string 'MAJOR.MINOR', got 'one'"),
    ],
)
def test_a_plugin_built_against_an_incompatible_hook_api(
    site: Path, caplog: pytest.LogCaptureFixture, declared: str, problem: str
) -> None:
    source = GOOD.format(component="future").replace('"1.0"', f'"{declared}"')
    future = write_distribution(site, "hp-future", "5.0", {"hpx_future": source})
    good = write_distribution(site, "hp-good", "1.2", {"hpx_good": GOOD.format(component="ok")})
    manager = load(future, good)
    line = f"plugin 'future' (distribution hp-future 5.0) {problem}"
    assert manager.plugins["future"].status == "failed"
    assert manager.plugins["future"].api == declared
    assert manager.registry.names("backend") == ["ok"]
    assert manager.registry.problems == [line]
    assert warnings_of(caplog) == [line]
    assert "future" not in [p for p, _ in manager.call_each("register_backends")]


def test_a_plugin_implementing_a_hook_that_does_not_exist(site: Path) -> None:
    typo = write_distribution(
        site,
        "hp-typo",
        "0.1",
        {
            "hpx_typo": """
                from hyperplug import hookimpl

                @hookimpl
                def register_trainer():
                    return []
            """
        },
    )
    manager = load(typo)
    assert manager.registry.problems == [
        "plugin 'typo' (distribution hp-typo 0.1) implements unknown hook 'register_trainer' "
        "(did you mean 'register_trainers'?)"
    ]


GPU = """
    import attrs
    from hyperplug import hookimpl
    from hyperplug.components import Component

    HYPERPLUG_EXTRA = "gpu"

    @attrs.define
    class Cfg:
        name: str = "cuda"

    @hookimpl
    def register_backends():
        return [Component(kind="backend", name="cuda", factory=lambda c: c, config_class=Cfg)]
"""


@pytest.mark.parametrize(
    ("requirement", "missing"),
    [
        ("hp-cuda-runtime>=12", "hp-cuda-runtime>=12"),
        ("attrs>=999", f"attrs>=999 (installed: {version('attrs')})"),
    ],
)
def test_a_plugin_whose_extra_is_missing_registers_nothing_and_names_the_extra(
    site: Path, caplog: pytest.LogCaptureFixture, requirement: str, missing: str
) -> None:
    metadata = f'Provides-Extra: gpu\nRequires-Dist: {requirement}; extra == "gpu"\n'
    gpu = write_distribution(site, "hp-gpu", "1.0", {"hpx_gpu": GPU}, metadata)
    good = write_distribution(site, "hp-good", "1.2", {"hpx_good": GOOD.format(component="ok")})
    manager = load(gpu, good)
    info = manager.plugins["gpu"]
    assert (info.status, info.extra) == ("needs extra", "gpu")
    hint = f"needs hp-gpu[gpu] (not installed: {missing}): pip install 'hp-gpu[gpu]'"
    assert info.error == f"plugin 'gpu' {hint}"
    assert manager.registry.names("backend") == ["ok"]
    with pytest.raises(MissingExtraError) as error:
        manager.registry.get("backend", "cuda")
    assert str(error.value) == f"backend 'cuda' (plugin 'gpu') {hint}"
    # not a problem: nothing is broken, and a bare install would warn on every command
    assert manager.registry.problems == [] and warnings_of(caplog) == []


def test_a_plugin_whose_extra_is_installed_loads(site: Path) -> None:
    metadata = 'Provides-Extra: gpu\nRequires-Dist: attrs>=20; extra == "gpu"\n'
    gpu = write_distribution(site, "hp-gpu", "1.0", {"hpx_gpu": GPU}, metadata)
    manager = load(gpu)
    assert manager.plugins["gpu"].status == "loaded"
    assert manager.registry.names("backend") == ["cuda"]


def test_a_wrapper_hook_implementation_is_refused_in_one_line(site: Path) -> None:
    wrapping = write_distribution(
        site,
        "hp-wrapping",
        "0.1",
        {
            "hpx_wrapping": """
                from hyperplug import hookimpl

                @hookimpl(wrapper=True)
                def on_trial_end(study, trial):
                    return (yield)
            """
        },
    )
    manager = load(wrapping)
    assert manager.registry.problems == [
        "plugin 'wrapping' (distribution hp-wrapping 0.1) implements hook 'on_trial_end' as a "
        "wrapper (hookwrapper/wrapper=True), which hyperplug does not call: make it a plain "
        "hook implementation"
    ]
    assert manager.pm.get_plugin("wrapping") is None


def test_lifecycle_hooks_are_called_through_pluggy_and_a_raising_one_is_reported(
    site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    heard: list[str] = []

    class Listener:
        @hookimpl
        def on_trial_end(self, study: Any, trial: Any) -> None:
            heard.append(trial)

    observer = write_distribution(site, "hp-observer", "0.1", {"hpx_observer": OBSERVER})
    manager = load(observer)
    manager.register(Listener(), "listener")
    calls: list[tuple[str, list[str], dict[str, Any]]] = []
    undo = manager.pm.add_hookcall_monitoring(
        lambda name, impls, kwargs: calls.append((name, [i.plugin_name for i in impls], kwargs)),
        lambda outcome, name, impls, kwargs: None,
    )
    try:
        manager.notify("on_trial_end", study="s", trial="t1")
        manager.notify("on_trial_end", study="s", trial="t2")
    finally:
        undo()
    assert heard == ["t1", "t2"]  # the raising observer did not stop the other
    assert calls == [
        ("on_trial_end", ["observer", "listener"], {"study": "s", "trial": "t1"}),
        ("on_trial_end", ["observer", "listener"], {"study": "s", "trial": "t2"}),
    ]
    assert manager.plugins["observer"].status == "failed"
    assert warnings_of(caplog) == [
        "plugin 'observer' (distribution hp-observer 0.1) hook on_trial_end raised "
        "RuntimeError: dashboard unreachable"
    ]


def test_api_versions_compare_by_major_then_minor() -> None:
    assert HOOK_API_VERSION == "1.0"
    assert parse_api_version("1") == (1, 0) and parse_api_version("3.12") == (3, 12)
    assert api_problem(None) is None  # undeclared: taken as built against 1.0
    assert api_problem("1") is None and api_problem("1.0") is None
    assert api_problem("1.2", provided="1.3") is None
    assert "needs hook API 1.4" in api_problem("1.4", provided="1.3")
    assert "built for hook API 1.0" in api_problem("1.0", provided="2.0")
    assert "got 1.0" in api_problem(1.0)


def test_direct_registration_of_an_incompatible_plugin_raises() -> None:
    class Future:
        HYPERPLUG_API = "2.1"

    with pytest.raises(PluginError, match=r"plugin 'future' \(distribution local -\) is built"):
        PluginManager().register(Future(), "future")


# --------------------------------------------------------------------------- the CLI

OBSERVER = """
    from hyperplug import hookimpl

    HYPERPLUG_API = "1"

    @hookimpl
    def on_trial_end(study, trial):
        raise RuntimeError("dashboard unreachable")
"""


def cli(cwd: Path, site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env.update(PYTHONPATH=str(site), COLUMNS="200")
    return subprocess.run(
        [HYPERPLUG, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )


@pytest.fixture
def broken_site(site: Path) -> Path:
    write_distribution(site, "hp-broken", "0.3", {"hpx_broken": "import missinglib\n"})
    write_distribution(
        site, "hp-future", "5.0", {"hpx_future": GOOD.format(component="x").replace("1.0", "2.0")}
    )
    write_distribution(site, "hp-good", "1.2", {"hpx_good": GOOD.format(component="ok")})
    write_distribution(site, "hp-observer", "0.1", {"hpx_observer": OBSERVER})
    return site


BROKEN = "plugin 'broken' (distribution hp-broken 0.3) failed to load: ModuleNotFoundError"
FUTURE = "plugin 'future' (distribution hp-future 5.0) is built for hook API 2.0"


@pytest.mark.e2e
def test_help_prints_each_broken_plugin_once_on_stderr(tmp_path: Path, broken_site: Path) -> None:
    result = cli(tmp_path, broken_site, "--help")
    assert result.returncode == 0, result.stderr
    lines = sorted(result.stderr.strip().splitlines())
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith(f"hyperplug: warning: {BROKEN}")
    assert lines[1].startswith(f"hyperplug: warning: {FUTURE}")
    assert "backend: inline, local, ok" in result.stdout


@pytest.mark.e2e
def test_plugins_lists_problems_next_to_the_working_plugins(
    tmp_path: Path, broken_site: Path
) -> None:
    result = cli(tmp_path, broken_site, "plugins")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.strip()}
    assert rows["broken"][1:4] == ["hp-broken", "0.3", "-"] and "failed" in rows["broken"]
    assert rows["future"][1:4] == ["hp-future", "5.0", "2.0"] and "failed" in rows["future"]
    assert rows["good"][1:5] == ["hp-good", "1.2", "1.0", "loaded"]
    assert "backend=ok" in result.stdout
    assert f"  {BROKEN}" in result.stdout and f"  {FUTURE}" in result.stdout
    assert result.stderr.count("hyperplug: warning:") == 2


@pytest.mark.e2e
def test_a_run_reports_an_observer_that_fails_once_and_the_study_completes(
    tmp_path: Path, broken_site: Path
) -> None:
    result = cli(
        tmp_path,
        broken_site,
        "trainer.epochs=1",
        "trainer.hidden_layers=[8]",
        "+training_params.mlp.lr=[0.01,0.1]",
        "backend=local",
        "backend.n_workers=2",
    )
    assert result.returncode == 0, result.stderr
    assert "2 trials (2 completed)" in result.stdout
    # each problem once, from the study process: the workers load the plugins silently
    problems = [line for line in result.stderr.splitlines() if "plugin '" in line]
    assert len(problems) == 3 and all(p.startswith("hyperplug: warning: ") for p in problems)
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings[2:] == [
        "hyperplug: warning: plugin 'observer' (distribution hp-observer 0.1) hook on_trial_end "
        "raised RuntimeError: dashboard unreachable"
    ]
    assert "dashboard" not in result.stdout
