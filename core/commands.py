"""Inspection commands: look at plugins, studies and model versions without training.

They compose the same config as a run (``hyperplug studies tracker.path=x.db``), so
they read the tracker and store a run with those overrides would write.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

from hyperplug.drift import DEFAULT_DETECTOR
from hyperplug.errors import ConfigError, HyperplugError, NotFoundError, did_you_mean
from hyperplug.plugin_manager import get_plugin_manager
from hyperplug.summary import format_params, format_value, print_study


def _console() -> Any:
    from hyperplug.summary import console

    return console()


def compose(overrides: Sequence[str]) -> Any:
    """The composed config for ``overrides``, as a run would see it (no hydra node)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    from hyperplug.hydra_app import CONFIG_MODULE, inspection_config_name, register_configs

    register_configs()
    name = inspection_config_name()
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        return hydra_compose(config_name=name, overrides=list(overrides))


#: what the records of each kind the commands read are called
RECORDS = {"tracker": "tracker database", "vcs": "model store"}


def records_location(config: Any) -> tuple[str, str] | None:
    """``(key, path)``: the config key naming the local file or folder that holds a
    tracker's or store's records, and its value, from the config class's optional method
    ``records_location(self) -> tuple[str, str] | None``; None when the class has no such
    method or says its records are not in a local path (a server, an in-memory database)."""
    method = getattr(config, "records_location", None)
    return None if method is None else method()


def _build(cfg: Any, kind: str) -> Any:
    """The ``kind`` component, to read from. Reading creates nothing: where the config says
    its records are (``records_location``) and nothing is there, that is an error naming
    the key, not an empty table (a typo in a path would look like an empty record, and
    leave a stray database or folder behind)."""
    from pathlib import Path

    from hyperplug.config import configure

    component, config = configure(kind, cfg[kind], get_plugin_manager())
    location = records_location(config)
    if location is not None and not Path(location[1]).expanduser().exists():
        key, where = location
        raise NotFoundError(
            f"{kind}.{key}: no {RECORDS[kind]} at '{where}' (run a study first, or point "
            f"{kind}.{key} at one)"
        )
    return component.build(config)


def show_plugins(_: list[str], __: Any) -> int:
    """Two tables: the plugins (distribution, version, hook API, status) and the component
    options they add; then every problem, and every extra a plugin needs that is not
    installed (with the command that installs it), one full line each."""
    from rich import box
    from rich.table import Table

    manager = get_plugin_manager()
    registry = manager.registry
    plugins = Table(title="plugins", title_justify="left", box=box.SIMPLE)
    for column in ("plugin", "distribution", "version", "hook API", "status"):
        plugins.add_column(column, no_wrap=True)
    for info in sorted(manager.plugins.values(), key=lambda p: p.name):
        status = f"needs \\[{info.extra}]" if info.status == "needs extra" else info.status
        plugins.add_row(info.name, info.distribution, info.version, info.api or "-", status)
    components = Table(
        title="components (choose with KIND=NAME)", title_justify="left", box=box.SIMPLE
    )
    components.add_column("option", no_wrap=True)
    components.add_column("plugin", no_wrap=True)
    components.add_column("description", overflow="fold")
    for entry in registry.entries():
        component = entry.component
        components.add_row(
            f"{component.kind}={component.name}", entry.plugin.name, component.description or "-"
        )
    console = _console()
    console.print(plugins)
    console.print(components)
    if registry.problems:
        console.print("problems:", markup=False, highlight=False)
    for problem in registry.problems:
        console.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)
    without = [p for p in manager.plugins.values() if p.status == "needs extra"]
    if without:
        console.print("extras not installed:", markup=False, highlight=False)
    for info in sorted(without, key=lambda p: p.name):
        console.print(f"  {info.error}", markup=False, highlight=False, soft_wrap=True)
    return 0


def show_studies(_: list[str], cfg: Any) -> int:
    from rich.table import Table

    tracker = _build(cfg, "tracker")
    try:
        table = Table(title="studies", title_justify="left")
        for column in ("study", "status", "trials", "perf_metric", "best", "winner", "created"):
            table.add_column(column)
        for study in tracker.list_studies():
            trials = tracker.list_trials(study.id)
            metric = study.perf_metric
            values = [
                t.metrics[metric]
                for t in trials
                if t.status in ("completed", "stopped")
                and math.isfinite(t.metrics.get(metric, math.nan))
            ]
            best = (max if study.mode == "max" else min)(values) if values else None
            table.add_row(
                study.name,
                study.status,
                str(len(trials)),
                f"{study.perf_metric} ({study.mode})",
                format_value(best) if best is not None else "-",
                study.winner_version or "-",
                _when(study.created_at),
            )
        _console().print(table)
    finally:
        tracker.close()
    return 0


def show_study(positional: list[str], cfg: Any) -> int:
    if len(positional) != 1:
        raise ConfigError("usage: hyperplug study NAME [OVERRIDES]")
    tracker = _build(cfg, "tracker")
    try:
        study = tracker.get_study(positional[0])
        trials = tracker.list_trials(study.id)
    finally:
        tracker.close()
    winner, unseen = None, None
    if study.winner_version:
        try:  # the version's details: test metrics, aliases, where it lives
            winner = _build(cfg, "vcs").get(study.winner_version)
        except HyperplugError as exc:  # the store is elsewhere: the tracker's record will do
            unseen = str(exc)
    metrics = list(dict.fromkeys([*cfg.get("metrics", []), study.perf_metric]))
    print_study(study, trials, metrics, winner)
    if unseen is not None:
        _console().print(
            f"(the version's details are in its model store, not found here: {unseen})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    return 0


def show_models(positional: list[str], cfg: Any) -> int:
    from rich.table import Table

    if len(positional) > 1:
        raise ConfigError("usage: hyperplug models [NAME] [OVERRIDES]")
    vcs = _build(cfg, "vcs")
    versions = vcs.list_versions(positional[0] if positional else None)
    if positional and not versions:
        names = sorted({version.name for version in vcs.list_versions()})
        raise NotFoundError(
            f"model '{positional[0]}' not found{did_you_mean(positional[0], names)}; "
            f"models: {', '.join(names) or 'none'}"
        )
    table = Table(title="model versions", title_justify="left")
    columns = ("version", "aliases", "trainer", "updater", "metrics", "study", "parent", "created")
    for column in columns:
        table.add_column(column)
    for version in versions:
        metrics = {k: v for k, v in version.meta.metrics.items() if "accuracy" in k or "loss" in k}
        table.add_row(
            version.ref,
            ", ".join(version.aliases) or "-",
            version.meta.trainer,
            version.meta.updater or "-",
            format_params(metrics),
            version.meta.study or "-",
            version.meta.parent or "-",
            _when(version.created_at),
        )
    _console().print(table)
    return 0


def show_model(positional: list[str], cfg: Any) -> int:
    if len(positional) != 1:
        raise ConfigError("usage: hyperplug model REF [OVERRIDES] (REF: name[:vN|:alias])")
    vcs = _build(cfg, "vcs")
    version = vcs.get(positional[0])
    problem = _verify(vcs, version.ref)
    console = _console()
    rows = {
        "version": version.ref,
        "aliases": ", ".join(version.aliases) or "-",
        "created": _when(version.created_at),
        "location": version.uri,
        "sha256": f"{version.sha256} ({'verified' if problem is None else 'NOT VERIFIED'})",
        "trainer": version.meta.trainer,
        "params": format_params(version.meta.params),
        "metrics": format_params(version.meta.metrics),
        "trainer config": format_params(version.meta.trainer_config),
        "study": version.meta.study or "-",
        "trial": _trial_row(cfg, version.meta),
        "data fingerprint": version.meta.data_fingerprint or "-",
        "parent": version.meta.parent or "-",
        **update_rows(version),
    }
    for key, value in rows.items():
        console.print(f"{key:>17}: {value}", markup=False, highlight=False)
    lineage = [version.ref]
    parent = version.meta.parent
    while parent:
        lineage.append(parent)
        parent = vcs.get(parent).meta.parent
    console.print(f"{'lineage':>17}: {' <- '.join(lineage)}", markup=False, highlight=False)
    if problem is not None:
        sys.stderr.write(f"hyperplug: error: {problem}\n")
        return 1
    return 0


def _trial_row(cfg: Any, meta: Any) -> str:
    """The trial a version came from, by its number within its study (what the tables and
    the summary show), with the tracker's id; only the id when the tracker at hand does
    not know the trial (no database there, another tracker)."""
    if meta.trial_id is None:
        return "-"
    unknown = f"tracker id {meta.trial_id} (its study is not in this tracker)"
    if meta.study is None:
        return unknown
    try:
        tracker = _build(cfg, "tracker")
    except HyperplugError:
        return unknown
    try:
        study = tracker.get_study(meta.study)
        number = {t.id: t.number for t in tracker.list_trials(study.id)}.get(meta.trial_id)
    except HyperplugError:
        return unknown
    finally:
        tracker.close()
    return unknown if number is None else f"{number} (tracker id {meta.trial_id})"


def _verify(vcs: Any, ref: str) -> str | None:
    """Load the version's weights, which checks them against the recorded sha256: None
    when they match, else why not (a modified or missing weights file)."""
    try:
        vcs.load(ref)
    except HyperplugError as exc:
        return str(exc)
    return None


def update_rows(version: Any) -> dict[str, str]:
    """What ``hyperplug model`` shows of an update: the updater and its config, the
    chunk, the classes it added, the memory the version keeps for the next update."""
    if not version.meta.updater:
        return {}
    update = version.meta.update or {}
    settings = {k: v for k, v in update.get("updater_config", {}).items() if k != "name"}
    chunk = update.get("chunk", {})
    buffer = update.get("state", {}).get("buffer")
    memory = update.get("val_memory", {})
    rows = {
        "updater": f"{version.meta.updater} ({format_params(settings)})",
        "chain": f"version {int(update.get('index', 0)) + 1} of its chain",
        "chunk": format_params(chunk),
        "classes added": ", ".join(map(str, update.get("classes_added", []))) or "-",
        "buffer": (
            f"{buffer.get('size', 0)} rows ({buffer.get('kind')}, max {buffer.get('max_size')})"
            if buffer
            else "-"
        ),
        "val memory": f"{memory.get('size', 0)} rows" if memory else "-",
    }
    if update.get("drift"):
        rows["drift"] = drift_row(update["drift"])
    return rows


def drift_row(record: dict[str, Any]) -> str:
    """The drift test an update ran before it trained (``VersionMeta.update["drift"]``)."""
    from hyperplug.drift import verdict
    from hyperplug.interfaces import DriftResult

    result = DriftResult(**{k: v for k, v in record.items() if k != "reference"})
    return (
        f"{result.detector} statistic {format_value(result.statistic)}, {verdict(result)}; "
        f"{result.n_new} rows against {result.n_reference} kept by {record.get('reference')}"
    )


DRIFT_USAGE = (
    "usage: hyperplug drift model=NAME[:vN|:alias] [dataset=...] [detector=mmd|ks] [OVERRIDES]"
)


def show_drift(positional: list[str], cfg: Any) -> int:
    """The rows of ``dataset`` tested against the sample of training inputs model version
    ``model`` keeps (``hyperplug.drift``): the test, its sizes and the verdict. Exit code
    0 whatever the verdict: a shift is a finding, not a failure."""
    from hyperplug.config import configure, to_plain
    from hyperplug.drift import detect_shift, verdict

    if positional or not cfg.get("model"):
        raise ConfigError(DRIFT_USAGE)
    manager = get_plugin_manager()
    vcs = _build(cfg, "vcs")
    component, config = configure("detector", cfg.detector, manager)
    detector = component.build(config)
    dataset_component, dataset_config = configure("dataset", cfg.dataset, manager)
    dataset = dataset_component.build(dataset_config).load()
    result, version = detect_shift(detector, vcs, str(cfg.model), dataset)
    sample = (version.meta.update or {}).get("sample", {})
    settings = {k: "null" if v is None else v for k, v in to_plain(config).items() if k != "name"}
    rows = {
        "model": f"{version.ref} (keeps {sample.get('size', '?')} of its "
        f"{sample.get('of', '?')} training rows)",
        "data": f"dataset={dataset.name}, {len(dataset)} rows",
        "detector": f"{result.detector} ({format_params(settings)})",
        "statistic": format_value(result.statistic),
        "p-value": format_value(result.p_value),
        "sample sizes": f"reference {result.n_reference}, new {result.n_new}",
        **drift_details(result.details),
        "verdict": verdict(result),
    }
    console = _console()
    for key, value in rows.items():
        console.print(f"{key:>15}: {value}", markup=False, highlight=False, soft_wrap=True)
    return 0


def drift_details(details: dict[str, Any]) -> dict[str, str]:
    """A detector's details as rows: the features that moved (``ks``) one by one, the
    rest as they are; ``alpha`` is in the verdict."""
    rows = {}
    for key, value in details.items():
        if key == "alpha":
            continue
        if key == "moved_features":
            value = ", ".join(
                f"{moved['feature']} (statistic {format_value(moved['statistic'])}, "
                f"p-value {format_value(moved['p_value'])})"
                for moved in value
            )
        rows[key.replace("_", " ")] = format_value(value) if value != "" else "-"
    return rows


def _when(timestamp: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


COMMANDS: dict[str, Callable[[list[str], Any], int]] = {
    "plugins": show_plugins,
    "studies": show_studies,
    "study": show_study,
    "models": show_models,
    "model": show_model,
    "drift": show_drift,
}


#: the group option a command chooses when its overrides name none
DEFAULT_CHOICES = {"drift": ("detector", DEFAULT_DETECTOR)}


def run_command(name: str, args: list[str]) -> int:
    """Run an inspection command; errors are one line on stderr and exit code 2."""
    from hyperplug.hydra_app import error_line, full_errors_wanted

    positional = [a for a in args if "=" not in a]
    overrides = [a for a in args if "=" in a]
    if name in DEFAULT_CHOICES and not any(
        o.lstrip("+~").split("=", 1)[0] == DEFAULT_CHOICES[name][0] for o in overrides
    ):
        overrides = ["=".join(DEFAULT_CHOICES[name]), *overrides]
    try:
        cfg = None if name == "plugins" else compose(overrides)
        return COMMANDS[name](positional, cfg)
    except Exception as exc:
        if full_errors_wanted():
            raise
        if (
            not isinstance(exc, HyperplugError)
            and "hydra" not in type(exc).__module__
            and ("omegaconf" not in type(exc).__module__)
        ):
            raise
        sys.stderr.write(f"hyperplug: error: {error_line(exc)}\n")
        return 2
