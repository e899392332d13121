"""Every example in docs/ (and README.md) is run or checked against the code, so that a
doc example cannot drift from it. How each block is tested: tests/docs/doc_blocks.py.

Python blocks run in a fresh directory; the hook implementations they define are checked
as hyperplug checks a plugin's (a real hook, components of the right kind) and called.
Shell blocks' ``hyperplug`` commands are composed and validated as the command would
before it trains or writes anything (every key, option and value, every job of a
``--multirun``); the commands that only print (``--help``, ``--cfg``) run.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import shlex
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from doc_blocks import ROOT, Block, all_blocks

BLOCKS = all_blocks()
PYTHON = [b for b in BLOCKS if b.lang == "python" and b.kind not in ("skip", "shell")]
SHELL = [b for b in BLOCKS if b.lang == "bash" and b.kind not in ("skip", "shell")]
DATA = [b for b in BLOCKS if b.lang in ("yaml", "toml") and b.kind != "skip"]
#: output blocks that show a command and its one-line error: ``$ hyperplug ...`` then it
TRANSCRIPTS = [
    b for b in BLOCKS if not b.lang and b.code.startswith("$ hyperplug ") and b.kind != "skip"
]
HYPERPLUG = str(Path(sys.executable).parent / "hyperplug")


def test_the_docs_have_examples_of_every_kind() -> None:
    assert len(PYTHON) >= 25 and len(SHELL) >= 15 and len(DATA) >= 5 and TRANSCRIPTS
    assert {b.kind for b in BLOCKS} <= {
        "",
        "context",
        "continue",
        "excerpt",
        "signature",
        "file",
        "shell",
        "skip",
    }


# --------------------------------------------------------------------------- python

#: setups a ``context NAME`` block runs after ("before") and checks with ("after"); the
#: namespace holds ``tmp`` (the block's directory) and what the block defined
CONTEXTS: dict[str, dict[str, str]] = {
    # the plugin guide's one-line hook examples name the factories and configs of a
    # plugin; these are real attrs config classes with the names the examples register
    "plugin-guide": {
        "before": """
            import attrs
            from hyperplug import hookimpl
            from hyperplug.components import Component
            from hyperplug_xgboost.config import XGBoostConfig

            def config(name):
                fields = {"name": attrs.field(default=name)}
                return attrs.make_class(name.title() + "Config", fields)

            ParquetConfig, TimeSplitConfig = config("parquet"), config("by_time")
            MyTrackerConfig, S3StoreConfig = config("mytracker"), config("s3")
            SlurmConfig, CMAESConfig = config("slurm"), config("cmaes")
            ReplayConfig = config("replay")
            ByRegionConfig, EnergyConfig = config("by_region"), config("energy")
            build_trainer = ParquetDataset = TimeSplitter = build_tracker = S3Store = print
            SlurmBackend = CMAES = Replay = ByRegion = Energy = print

            class Recorder:
                def __init__(self):
                    self.calls = []

                def __getattr__(self, name):
                    return lambda *args, **kwargs: self.calls.append((name, args, kwargs))

            dashboard, alerts = Recorder(), Recorder()
            __file__ = str(tmp / "hyperplug_xgboost" / "__init__.py")
        """,
        "after": "assert dashboard.calls or alerts.calls or registered",
    },
    # a chunk of new data, as a user has one: another split of digits
    "chunks": {
        "before": """
            from hyperplug import build

            digits = build("dataset", name="digits").load()
            next_chunk = new_chunk = build("splitter", name="stratified", seed=1).split_data(digits)
        """,
    },
    # a chain of two versions of digits_stream under .hyperplug, and a chunk of digits
    "digits-stream": {
        "before": """
            import hyperplug
            from hyperplug import build

            chunk = build("dataset", name="digits").load()
            first, second = (
                build("splitter", name="stratified", seed=seed).split_data(chunk) for seed in (0, 1)
            )
            hyperplug.update(first, trainer={"name": "mlp", "epochs": 2, "hidden_layers": [16]},
                             model_name="digits_stream")
            hyperplug.update(second, model="digits_stream", updater="fine_tuning")
        """,
        "after": """
            assert isinstance(result, (hyperplug.UpdateSkipped, hyperplug.study.StudyResult))
            assert drift.detector == "ks" and 0 <= drift.p_value <= 1
        """,
    },
    "sweeper-space": {
        "before": "from omegaconf import OmegaConf",
        "after": """
            custom = space(OmegaConf.create({"min_lr_exp": -5}))
            assert set(custom.params) == {"optimizer", "momentum", "lr_exp"}
            sgd = custom.derive({"optimizer": "sgd", "momentum": 0.9, "lr_exp": -2})
            adam = custom.derive({"optimizer": "adam", "momentum": 0.9, "lr_exp": -2})
            assert sgd == {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9}
            assert "momentum" not in adam
        """,
    },
    "sweeper-report": {
        "before": "import hydra",
        "after": "hyperplug.report(epoch=1, val_loss=0.5, val_accuracy=0.9)  # outside a sweep",
    },
    # the checkpoint sketch, run as a trainer's fit: trained, then resumed
    "checkpoint-fit": {
        "before": """
            from types import SimpleNamespace
            import numpy as np
            from hyperplug.checkpoint import TrialCheckpoint
            from hyperplug.testing import RecordingReporter

            metrics, best = {"val_accuracy": 0.5}, 0.5
            trainer = SimpleNamespace(config=SimpleNamespace(epochs=3), weights=np.zeros(2))
        """,
        "after": """
            report = RecordingReporter()
            report.checkpoint = TrialCheckpoint(tmp / "trial")
            fit(trainer, None, report)
            assert report.epochs == [1, 2, 3] and report.checkpoint.load().epoch == 3
            again = RecordingReporter()
            again.checkpoint = TrialCheckpoint(tmp / "trial")
            fit(trainer, None, again)
            assert again.epochs == [] and again.checkpoint.resumed_epoch == 3
        """,
    },
}


@pytest.fixture(scope="module")
def namespaces() -> dict[str, dict[str, Any]]:
    """The namespace of each page's latest python block, for ``continue`` blocks."""
    return {}


@pytest.fixture(scope="module")
def example_plugins() -> Any:
    """The XGBoost example plugin's config module, which the plugin guide shows."""
    path = str(ROOT / "examples" / "hyperplug-xgboost" / "src")
    sys.path.insert(0, path)
    yield
    sys.path.remove(path)


@pytest.mark.parametrize("block", PYTHON, ids=lambda b: b.id)
def test_python_example(
    block: Block,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    namespaces: dict[str, dict[str, Any]],
    example_plugins: Any,
) -> None:
    if block.kind == "excerpt":
        return check_excerpt(block)
    if block.kind == "signature":
        return check_signatures(block)
    if block.kind == "continue":
        namespace = namespaces[block.page]
        monkeypatch.chdir(namespace["tmp"])
    else:
        monkeypatch.chdir(tmp_path)
        namespace = {"__name__": "doc_example", "tmp": tmp_path}
    context = CONTEXTS.get(block.argument, {}) if block.argument else {}
    if block.argument:
        assert block.argument in CONTEXTS, f"{block.id}: unknown context {block.argument!r}"
    exec(textwrap.dedent(context.get("before", "")), namespace)
    exec(compile(block.code, block.id, "exec"), namespace)
    namespace["registered"] = check_plugin_code(namespace)
    check_conformance_subclasses(namespace)
    exec(textwrap.dedent(context.get("after", "")), namespace)
    namespaces[block.page] = namespace


def check_plugin_code(namespace: dict[str, Any]) -> list[Any]:
    """Hook implementations: each a hook of hookspecs, called as hyperplug calls them;
    ``register_*`` hooks return components of their kind."""
    from hyperplug import hookspecs
    from hyperplug.components import KINDS, Component
    from hyperplug.interfaces import ModelVersion, StudyRecord, TrialRecord, VersionMeta
    from hyperplug.plugin_manager import REGISTER_HOOKS

    study = StudyRecord(1, "digits-1", "val_accuracy", "max", "running", 0.0, {})
    trial = TrialRecord(1, 1, 0, "mlp", {"lr": 0.1}, {"lr": 0.1}, "failed", 0.0, error="OOM")
    winner = ModelVersion("digits", 1, 0.0, "0" * 64, "file:///m", VersionMeta("mlp", {}))
    arguments = {
        "study": study,
        "trial": trial,
        "config": {},
        "epoch": 1,
        "metrics": {"val_loss": 0.5},
        "winner": winner,
    }
    kinds = {hook: kind for kind, hook in REGISTER_HOOKS.items()}
    returned = []
    for name, value in list(namespace.items()):
        if not (inspect.isfunction(value) and hasattr(value, "hyperplug_impl")):
            continue
        spec = getattr(hookspecs, name, None)
        assert spec is not None and hasattr(spec, "hyperplug_spec"), f"{name} is not a hook"
        params = inspect.signature(value).parameters
        assert set(params) <= set(inspect.signature(spec).parameters), name
        result = value(**{p: arguments[p] for p in params})
        if name in kinds:
            assert result and all(isinstance(c, Component) for c in result), result
            assert {c.kind for c in result} == {kinds[name]}
        if name == "register_config_nodes":
            for group, node_name, _ in result:
                assert group in (*KINDS, "experiment") and node_name
        returned.append(result)
    return returned


def check_conformance_subclasses(namespace: dict[str, Any]) -> None:
    """A suite subclass sets or overrides only what its suite has."""
    from hyperplug.testing import ComponentConformance

    for value in list(namespace.values()):
        defined_here = getattr(value, "__module__", None) == namespace["__name__"]
        if defined_here and isinstance(value, type) and issubclass(value, ComponentConformance):
            base = value.__mro__[1]
            declared = {n for k in base.__mro__ for n in getattr(k, "__annotations__", {})}
            own = [n for n in vars(value) if not n.startswith("__")]
            assert own and all(hasattr(base, n) or n in declared for n in own), (value, own)


def check_excerpt(block: Block) -> None:
    """The block's lines (but ``...``) appear in the file, in order."""
    lines = (ROOT / block.argument).read_text().splitlines()
    position = 0
    for line in block.code.splitlines():
        if not line.strip() or line.strip() in ("...", "# ..."):
            continue
        found = [i for i in range(position, len(lines)) if lines[i] == line]
        assert found, f"{block.id}: {line!r} is not in {block.argument} (after line {position})"
        position = found[0] + 1


def check_signatures(block: Block) -> None:
    """Each class of the sketch exists in the module, with each method it shows taking the
    parameters it shows."""
    module = importlib.import_module(block.argument)
    tree = ast.parse(block.code)
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    assert classes, block.id
    for node in classes:
        real = getattr(module, node.name)
        for method in [n for n in node.body if isinstance(n, ast.FunctionDef)]:
            shown = [a.arg for a in method.args.args]
            actual = list(inspect.signature(getattr(real, method.name)).parameters)
            if shown[:1] == ["self"]:
                actual = ["self", *actual] if actual[:1] != ["self"] else actual
            assert shown == actual, f"{block.id}: {node.name}.{method.name}{shown} != {actual}"


# --------------------------------------------------------------------------- shell


def commands(block: Block) -> list[list[str]]:
    """The block's commands as argument lists: lines joined at ``\\``, comments dropped,
    a bare ``...`` (elided arguments) left out."""
    text = block.code.replace("\\\n", " ")
    result = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            result.append([w for w in words if w != "..."])
    return result


SHELL_COMMANDS = [
    (block, words)
    for block in SHELL
    for words in commands(block)
    if words[0] == "hyperplug" or words[:2] == ["python", "train.py"]
]


def test_shell_commands_other_than_hyperplug_name_what_exists() -> None:
    """``make`` targets are the Makefile's, ``pip install ./path`` paths exist, and
    ``pip install 'hyperplug[extra]'`` extras are pyproject.toml's."""
    makefile = (ROOT / "Makefile").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    for block in SHELL:
        for words in commands(block):
            if words[0] == "make":
                for target in words[1:]:
                    assert f"\n{target}:" in makefile, f"{block.id}: no make target {target}"
            if words[:2] == ["pip", "install"]:
                for path in [w for w in words[2:] if w.startswith("./")]:
                    assert (ROOT / path).exists(), f"{block.id}: {path} does not exist"
                for word in [w for w in words[2:] if w.startswith("hyperplug[")]:
                    for extra in word.removeprefix("hyperplug[").rstrip("]").split(","):
                        assert extra in extras, f"{block.id}: no extra {extra!r}"


@pytest.mark.parametrize(
    ("block", "words"),
    SHELL_COMMANDS,
    ids=[f"{b.id}:{' '.join(w)[:50]}" for b, w in SHELL_COMMANDS],
)
def test_hyperplug_command(
    block: Block, words: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    if words[0] == "python":  # the Hydra app of the sweeper docs
        return check_sweep(words[2:], ROOT / "examples" / "sweep_app" / "conf")
    with installed_examples(block):
        if "hydra/sweeper=hyperplug" in words:
            return check_sweep(words[1:], None)
        return check_command(words[1:])


@contextmanager
def installed_examples(block: Block) -> Iterator[None]:
    """The example plugins a block installs first (``pip install ./examples/<name>``),
    registered in this process for its commands; uninstalled afterwards, their config
    nodes taken out of Hydra's ConfigStore too (a later test's worker process unpickles
    the ConfigStore, and could not import a plugin that is no longer on the path)."""
    from hydra.core.config_store import ConfigStore

    from hyperplug.plugin_manager import get_plugin_manager, reset_plugin_manager

    folders = [
        ROOT / w
        for words in commands(block)
        if words[:2] == ["pip", "install"]
        for w in words[2:]
        if w.startswith("./")
    ]
    if not folders:
        yield
        return
    manager = get_plugin_manager()
    added = []
    for folder in folders:
        pyproject = tomllib.loads((folder / "pyproject.toml").read_text())
        [(name, module)] = pyproject["project"]["entry-points"]["hyperplug"].items()
        sys.path.insert(0, str(folder / "src"))
        added.append((name, module.split(".")[0]))
        if name not in manager.plugins:  # an egg-info of an earlier in-tree build lists it
            manager.register(importlib.import_module(module), name, pyproject["project"]["name"])
    try:
        yield
    finally:
        for folder in folders:
            sys.path.remove(str(folder / "src"))
        reset_plugin_manager()
        for name, package in added:
            forget_configs(ConfigStore.instance().repo, name, package)


def forget_configs(repo: dict[str, Any], plugin: str, package: str) -> None:
    """Take out of a ConfigStore tree the nodes a plugin provided and those of its
    package's config classes."""
    from omegaconf import OmegaConf

    for key, value in list(repo.items()):
        if isinstance(value, dict):
            forget_configs(value, plugin, package)
            continue
        module = getattr(OmegaConf.get_type(value.node), "__module__", None) or ""
        if value.provider == plugin or module.split(".")[0] == package:
            del repo[key]


def check_sweep(args: list[str], config_dir: Path | None) -> None:
    """A sweep of the hyperplug sweeper: its settings (``hydra.sweeper.*``) against the
    sweeper's config, every value of each swept key (an interval: its ends) against the
    app's config; for hyperplug's own app, each such job as ``check_command`` checks it."""
    from hydra import compose, initialize_config_dir, initialize_config_module
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import IntervalSweep

    from hyperplug.hydra_app import CONFIG_MODULE, CONFIG_NAME, register_configs

    args = [a for a in args if a not in ("--multirun", "-m")]
    parsed = OverridesParser.create().parse_overrides(args)
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    jobs = [fixed]
    for override in [o for o in parsed if o.is_sweep_override()]:
        value = override.value()
        if isinstance(value, IntervalSweep):
            values = [str(value.start), str(value.end)]
        else:
            values = list(override.sweep_string_iterator())
        jobs += [[*fixed, f"{override.get_key_element()}={v}"] for v in values]
    if config_dir is None:
        register_configs()
        start = initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3")
        name = CONFIG_NAME
    else:
        start = initialize_config_dir(config_dir=str(config_dir), version_base="1.3")
        name = "config"
    with start:
        for job in jobs:
            cfg = compose(config_name=name, overrides=job, return_hydra_config=True)
            assert cfg.hydra.sweeper.get("optimizer"), job  # the hyperplug sweeper's config
    if config_dir is None:
        for job in jobs[1:] or jobs:
            check_command([o for o in job if not o.startswith("hydra")])


def check_command(args: list[str]) -> None:
    """Compose and validate what the command would run, without running or writing."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from hyperplug.cli import DEFAULT_UPDATER, INSPECTION_COMMANDS
    from hyperplug.commands import DEFAULT_CHOICES, compose
    from hyperplug.config import configure
    from hyperplug.hydra_app import swept_keys
    from hyperplug.plugin_manager import get_plugin_manager
    from hyperplug.study import Study

    args = [a for a in args if a not in ("-v", "--verbose")]
    if "--help" in args:
        from hyperplug.help import print_help

        return print_help(args)
    if args[:2] == ["--cfg", "job"]:
        args = args[2:]
    if args and args[0] in INSPECTION_COMMANDS:
        overrides = [a for a in args[1:] if "=" in a]
        if args[0] in DEFAULT_CHOICES:
            overrides = ["=".join(DEFAULT_CHOICES[args[0]]), *overrides]
        cfg = compose(overrides)
        for kind in ("tracker", "vcs", "detector", "dataset"):
            if cfg.get(kind) is not None:
                configure(kind, cfg[kind], get_plugin_manager())
        return None
    if args[:1] == ["update"]:
        args = args[1:]
        if not any(a.lstrip("+~").split("=", 1)[0] == "updater" for a in args):
            args = [f"updater={DEFAULT_UPDATER}", *args]
    multirun = "--multirun" in args or "-m" in args
    args = [a for a in args if a not in ("--multirun", "-m")]
    jobs = [args]
    if multirun:
        parsed = OverridesParser.create().parse_overrides(args)
        [jobs] = BasicSweeper.split_arguments(parsed, None)
    for job in jobs:
        Study.from_config(compose(job)).check(swept_keys(job))
    return None


# --------------------------------------------------------------------------- data


@pytest.mark.parametrize("block", DATA, ids=lambda b: b.id)
def test_data_example(block: Block) -> None:
    parse = yaml.safe_load if block.lang == "yaml" else tomllib.loads
    data = parse(block.code)
    assert data, block.id
    if block.kind == "file":
        assert data == parse((ROOT / block.argument).read_text()), f"{block.id} != {block.argument}"


# --------------------------------------------------------------------------- transcripts


@pytest.mark.e2e
@pytest.mark.parametrize("block", TRANSCRIPTS, ids=lambda b: b.id)
def test_transcript(block: Block, tmp_path: Path) -> None:
    """Each ``$ hyperplug ...`` line, run, prints the lines that follow it on stderr."""
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    steps: list[tuple[str, list[str]]] = []
    for line in block.code.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    for command, expected in steps:
        words = shlex.split(command)
        words[0] = HYPERPLUG
        for word in words:  # the regular file an example puts in the way (home=notes.txt/runs)
            value = word.split("=", 1)[-1]
            if ".txt/" in value:
                (tmp_path / value.split("/", 1)[0]).write_text("notes\n")
        result = subprocess.run(
            words, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode != 0 and result.stderr.splitlines() == expected, (
            command,
            result.stderr,
        )


def test_contexts_are_all_used() -> None:
    used = {b.argument for b in BLOCKS if b.kind in ("context", "continue") and b.argument}
    assert used == set(CONTEXTS), set(CONTEXTS) ^ used
