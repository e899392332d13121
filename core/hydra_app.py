"""hyperplug as a Hydra app: config registration, the task function, one-line errors."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hyperplug.atomic import atomic_file
from hyperplug.errors import HyperplugError
from hyperplug.plugin_manager import DISABLE_ENV, PluginManager, get_plugin_manager

CONFIG_MODULE = "hyperplug.conf"
CONFIG_NAME = "config"


def register_configs(manager: PluginManager | None = None) -> None:
    """Put every component's config class, and every plugin config node, in Hydra's
    ConfigStore so that ``trainer=mlp`` and ``+experiment=...`` find them."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    manager = manager or get_plugin_manager()
    store = ConfigStore.instance()
    for entry in manager.registry.entries():
        component = entry.component
        # an instance, not the class: attrs.Factory defaults need one (see DESIGN.md)
        store.store(group=component.kind, name=component.name, node=component.config_class())
    for plugin_name, nodes in manager.call_each("register_config_nodes"):
        for group, name, node in nodes or []:
            package = None
            if isinstance(node, str | Path):
                text = Path(node).read_text()
                package = _package_header(text)
                node = OmegaConf.create(text)
            store.store(group=group, name=name, node=node, package=package, provider=plugin_name)


#: the primary config without the defaults a missing extra leaves unfilled (see below)
INSPECTION_CONFIG_NAME = "config_without_missing_extras"


def inspection_config_name(manager: PluginManager | None = None) -> str:
    """The primary config's name, or, when the plugin of one of its defaults needs an extra
    that is not installed (``trainer: mlp`` without ``hyperplug[torch]``), the name of a
    copy without those defaults, put in the ConfigStore: for what needs no trial
    (``--help``, inspection commands), so that a bare install composes the rest.
    (``~trainer`` cannot do it: Hydra takes an override of a group that no installed
    plugin fills for an override of a config key.)"""
    from importlib.resources import files

    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    manager = manager or get_plugin_manager()
    needs_extra = manager.registry.needs_extra
    primary = OmegaConf.to_container(
        OmegaConf.load(files(CONFIG_MODULE).joinpath(f"{CONFIG_NAME}.yaml"))
    )
    assert isinstance(primary, dict)
    defaults = [
        entry
        for entry in primary.get("defaults", [])
        if not (isinstance(entry, dict) and any(item in needs_extra for item in entry.items()))
    ]
    if len(defaults) == len(primary.get("defaults", [])):
        return CONFIG_NAME
    ConfigStore.instance().store(
        name=INSPECTION_CONFIG_NAME, node={**primary, "defaults": defaults}
    )
    return INSPECTION_CONFIG_NAME


def _package_header(yaml_text: str) -> str | None:
    """The ``# @package X`` header of a YAML config: ConfigStore nodes need it passed."""
    for line in yaml_text.splitlines():
        if line.startswith("# @package"):
            return line.split("@package", 1)[1].strip()
        if line.strip() and not line.startswith("#"):
            break
    return None


def task(cfg: Any) -> float | None:
    """Run one Hydra job: a whole study, or one job's trials of a sweep's study.

    A ``HyperplugError`` ends the process here with one line and exit code 2: raised
    further, Hydra would log it once more as a failed job. Under the hyperplug sweeper
    (in its worker) errors are the job's, recorded by the sweep: they propagate."""
    from hyperplug.reporting import active_sink

    sink = active_sink()
    if sink is not None:
        from hydra.core.hydra_config import HydraConfig

        from hyperplug.study import run_swept_trial

        hydra_cfg = HydraConfig.get()
        protect_run_files(hydra_cfg)
        return run_swept_trial(cfg, sink, hydra_cfg.sweeper.get("max_epochs"))
    with user_errors_exit():
        return _run_job(cfg)


def _run_job(cfg: Any) -> float | None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from hyperplug.drift import UpdateSkipped
    from hyperplug.live import LiveView
    from hyperplug.study import run_study, run_sweep_job
    from hyperplug.summary import show_result

    hydra_cfg = HydraConfig.get()
    protect_run_files(hydra_cfg)
    if cfg.get("scenario") is not None:
        return _run_stream_job(cfg, hydra_cfg)
    swept = swept_keys(hydra_cfg.overrides.task)
    if hydra_cfg.mode == RunMode.MULTIRUN:
        return run_sweep_job(cfg, Path(hydra_cfg.sweep.dir), swept)
    view = LiveView(str(cfg.perf_metric))
    try:
        result = run_study(
            cfg, view=view, overrides=list(hydra_cfg.overrides.task), swept=swept, restore=False
        )
    finally:
        view.close()
    if isinstance(result, UpdateSkipped):  # detector=: the data has not shifted
        print(result.message)
        return None
    show_result(result, Path(hydra_cfg.runtime.output_dir))
    return result.best_value


def _run_stream_job(cfg: Any, hydra_cfg: Any) -> float | None:
    """A scenario's stream of updates (one job of a ``--multirun`` runs a whole stream);
    ``stream.json`` in the job's directory lets the sweep compare the jobs."""
    from hyperplug.live import LiveView
    from hyperplug.stream import run_stream, show_stream

    view = LiveView(str(cfg.perf_metric))
    try:
        result = run_stream(cfg, view=view, overrides=list(hydra_cfg.overrides.task))
    finally:
        view.close()
    show_stream(result, Path(hydra_cfg.runtime.output_dir))
    return result.final.get("average_accuracy")


def protect_run_files(hydra_cfg: Any) -> None:
    """Keep secrets out of what Hydra wrote before the task ran and of the job's log.

    Hydra saves the composed config, the overrides and its own config (``.hydra/*.yaml``,
    a sweep's ``multirun.yaml``) before calling the task; they are rewritten redacted here.
    Every log line of the process is masked from now on (``redact_log_records``)."""
    from hydra.types import RunMode

    from hyperplug.secrets import redact_log_records

    redact_log_records()
    paths: list[Path] = []
    if hydra_cfg.output_subdir is not None:
        paths.extend(Path(hydra_cfg.runtime.output_dir, hydra_cfg.output_subdir).glob("*.yaml"))
    if hydra_cfg.mode == RunMode.MULTIRUN:
        paths.append(Path(hydra_cfg.sweep.dir) / "multirun.yaml")
    for path in paths:
        redact_yaml_file(path)


def redact_yaml_file(path: Path) -> None:
    """Rewrite a saved YAML config with its secrets masked (untouched if it has none).

    Atomically: the jobs of a sweep may rewrite the sweep's ``multirun.yaml`` at once."""
    from omegaconf import OmegaConf

    from hyperplug.secrets import redact

    if not path.is_file():
        return
    plain = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    cleaned = redact(plain)
    if cleaned != plain:
        with atomic_file(path) as tmp:
            OmegaConf.save(OmegaConf.create(cleaned), tmp)


def swept_keys(task_overrides: Any) -> list[str]:
    """The ``trainer.*`` (and an update's ``updater.*``) keys a job overrides on the
    command line: they are the trial's params (in a single run's results table too)."""
    keys = []
    for override in task_overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key.startswith(("trainer.", "updater.")) and key.count(".") == 1:
            keys.append(key)
    return keys


def error_line(exc: BaseException) -> str:
    """One line for any error: a HyperplugError's message, or Hydra's and OmegaConf's
    message folded onto one line (their ``full_key`` line kept, object types dropped)."""
    if isinstance(exc, HyperplugError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    parts: list[str] = []
    seen = set()
    current: BaseException | None = exc
    while current is not None:
        for line in str(current).splitlines():
            line = line.strip()
            if line.startswith("Config search path"):
                break  # the search path listing follows; it names no key
            if not line or line in seen or line.startswith(("object_type", "reference_type")):
                continue
            seen.add(line)
            parts.append(line)
        current = current.__cause__
    return " ".join(parts) or type(exc).__name__


INTERRUPTED_HINT = "run the same command again to resume the study"


@contextlib.contextmanager
def user_errors_exit(
    prog: str = "hyperplug", resume_hint: str = INTERRUPTED_HINT
) -> Iterator[None]:
    """A ``HyperplugError`` raised in the block ends the process with one line on stderr
    and exit code 2 (a traceback with ``HYDRA_FULL_ERROR=1``); Ctrl-C ends it with one
    line saying how to resume and exit code 130 (the study engine has recorded the
    running trials as interrupted on its way out)."""
    try:
        yield
    except HyperplugError as exc:
        if full_errors_wanted():
            raise
        sys.stderr.write(f"{prog}: error: {error_line(exc)}\n")
        sys.exit(2)
    except KeyboardInterrupt:
        if full_errors_wanted():
            raise
        sys.stderr.write(f"{prog}: interrupted; {resume_hint}\n")
        sys.exit(130)


def full_errors_wanted() -> bool:
    return os.environ.get("HYDRA_FULL_ERROR") == "1"


def explain_missing_option(message: str) -> str:
    """Hydra cannot find ``trainer/mlp`` when two plugins registered ``mlp`` (neither is
    put in the ConfigStore), or when the plugin that adds it needs an extra that is not
    installed: say that instead of listing the other options."""
    import re

    from hyperplug.errors import PluginError
    from hyperplug.extras import MissingExtraError

    match = re.search(r"Could not find '(\w+)/(\w+)'", message)
    if match:
        try:
            get_plugin_manager().registry.get(match[1], match[2])
        except MissingExtraError as exc:
            return str(exc)
        except PluginError as exc:
            return f"{exc}; disable one with {DISABLE_ENV}"
        except HyperplugError:
            pass
    return message


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Make Hydra report errors as one line on stderr and exit 2, unless the user
    asked for tracebacks (``-v`` or ``HYDRA_FULL_ERROR=1``)."""
    import hydra._internal.utils as hydra_utils

    original: Callable[[Any], Any] = hydra_utils.run_and_report

    def report(func: Callable[[], Any]) -> Any:
        try:
            return func()
        except Exception as exc:
            if full_errors_wanted():
                raise
            sys.stderr.write(f"hyperplug: error: {explain_missing_option(error_line(exc))}\n")
            sys.exit(2)

    hydra_utils.run_and_report = report
    try:
        yield
    finally:
        hydra_utils.run_and_report = original


def run_app(args: list[str]) -> None:
    """Run the Hydra app with ``args`` as its command line."""
    import hydra

    from hyperplug.secrets import redact_log_records

    redact_log_records()  # Hydra's own lines too: a sweep logs each job's overrides
    with one_line_errors():
        with user_errors_exit():
            register_configs()
        sys.argv = ["hyperplug", *args]
        app = hydra.main(
            version_base="1.3", config_path=f"pkg://{CONFIG_MODULE}", config_name=CONFIG_NAME
        )(task)
        app()
