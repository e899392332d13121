"""Finding, loading and guarding plugins.

Plugins are modules named by entry points in group ``hyperplug``. Loading is guarded:
a plugin that fails to import, is built for another hook API version, implements a hook
that does not exist (or as a wrapper), or whose hook raises, is recorded as a problem naming
the entry point and its distribution, and every other plugin still loads. Each problem is
logged once as a warning (the CLI prints them as ``hyperplug: warning: ...`` lines on
stderr). Users block plugins by entry-point name with ``HYPERPLUG_DISABLE_PLUGINS=name1,name2``.

A plugin whose module names an extra of its distribution (``HYPERPLUG_EXTRA = "torch"``)
that is not installed registers nothing: ``hyperplug plugins`` says which extra to install,
and choosing one of its components says the same in one line.

Hooks are called through pluggy (``add_hookcall_monitoring`` sees every call). Each hook
implementation is registered wrapped in a guard, so that one that raises is reported by
plugin name and the call goes on with the others.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import attrs
import pluggy

from hyperplug import hookimpl, hookspecs
from hyperplug.api_version import api_problem, declared_api, parse_api_version
from hyperplug.components import KINDS, Component
from hyperplug.errors import ConfigError, PluginError, did_you_mean
from hyperplug.extras import EXTRA_ATTRIBUTE, MissingExtraError, missing_extra_message

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "hyperplug"
DISABLE_ENV = "HYPERPLUG_DISABLE_PLUGINS"

#: register hook that returns the components of each kind
REGISTER_HOOKS: dict[str, str] = {
    "trainer": "register_trainers",
    "dataset": "register_datasets",
    "splitter": "register_splitters",
    "tracker": "register_trackers",
    "vcs": "register_vcs",
    "backend": "register_backends",
    "optimizer": "register_optimizers",
    "updater": "register_updaters",
    "scenario": "register_scenarios",
    "detector": "register_detectors",
}
assert set(REGISTER_HOOKS) == set(KINDS)


@attrs.frozen
class PluginInfo:
    """One plugin as the user sees it in ``hyperplug plugins``."""

    name: str
    module: str
    distribution: str
    version: str
    status: str  # "loaded", "failed", "disabled" or "needs extra"
    error: str | None = None  # why it failed, or which extra it needs and how to install it
    api: str | None = None  # the HYPERPLUG_API the module declares
    extra: str | None = None  # the extra of its distribution it needs (HYPERPLUG_EXTRA)

    @property
    def label(self) -> str:
        return f"plugin '{self.name}' (distribution {self.distribution} {self.version})"


@attrs.frozen
class RegisteredComponent:
    component: Component
    plugin: PluginInfo


def disabled_plugin_names() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def warn_on_stderr() -> None:
    """Print plugin warnings as ``hyperplug: warning: ...`` lines on stderr (the CLI).

    The handler is on this module's logger and does not propagate, so the lines look the
    same whatever logging a Hydra job configures (Hydra's console handler is stdout)."""
    if log.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("hyperplug: warning: %(message)s"))
    log.addHandler(handler)
    log.propagate = False


def silence_warnings() -> None:
    """Log no plugin problems in this process: a worker process calls it before it loads
    the plugins, since the study process has reported every problem once already (and
    Python would print them to stderr without the ``hyperplug: warning:`` prefix). A
    backend that runs trials in processes of its own calls it there too."""
    log.handlers[:] = [logging.NullHandler()]
    log.propagate = False


def _error_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class Registry:
    """The components of every loaded plugin, by kind and name."""

    def __init__(self) -> None:
        self._components: dict[str, dict[str, RegisteredComponent]] = {k: {} for k in KINDS}
        self._conflicts: dict[tuple[str, str], list[PluginInfo]] = {}
        #: (kind, name) of a component whose plugin needs an extra -> what to install
        self.needs_extra: dict[tuple[str, str], str] = {}
        self.problems: list[str] = []

    def add(self, component: Component, plugin: PluginInfo) -> None:
        kind_map = self._components[component.kind]
        key = (component.kind, component.name)
        if key in self._conflicts:
            self._conflicts[key].append(plugin)
            return
        if component.name in kind_map:
            first = kind_map.pop(component.name).plugin
            self._conflicts[key] = [first, plugin]
            self.problems.append(
                f"{component.kind} '{component.name}' is registered by both {first.label} "
                f"and {plugin.label}; disable one with {DISABLE_ENV}"
            )
            return
        kind_map[component.name] = RegisteredComponent(component, plugin)

    def names(self, kind: str) -> list[str]:
        return sorted(self._components[kind])

    def entries(self, kind: str | None = None) -> list[RegisteredComponent]:
        kinds = [kind] if kind else list(KINDS)
        return [self._components[k][n] for k in kinds for n in sorted(self._components[k])]

    def get(self, kind: str, name: str) -> RegisteredComponent:
        """The component, or a one-line error naming the kind and the unknown name."""
        if kind not in self._components:
            raise ConfigError(f"unknown component kind '{kind}'{did_you_mean(kind, KINDS)}")
        if (kind, name) in self._conflicts:
            labels = " and ".join(p.label for p in self._conflicts[(kind, name)])
            raise PluginError(f"{kind} '{name}' is registered by both {labels}")
        found = self._components[kind].get(name)
        if found is None and (kind, name) in self.needs_extra:
            raise MissingExtraError(self.needs_extra[(kind, name)])
        if found is None:
            choices = self.names(kind)
            raise ConfigError(
                f"unknown {kind} '{name}'{did_you_mean(name, choices)}; "
                f"installed: {', '.join(choices) or 'none'}"
            )
        return found


class PluginManager:
    """pluggy's manager plus entry-point discovery, guarding and the component registry."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        #: the plugin objects as loaded or given (pluggy holds guarded stand-ins), by name
        self._objects: dict[str, object] = {}
        #: plugins that registered nothing because their extra is missing, by name
        self._without_extra: dict[str, object] = {}
        self._registry: Registry | None = None
        self._warned: set[str] = set()

    # ------------------------------------------------------------------ loading

    def load_entry_points(self, eps: Iterable[EntryPoint] | None = None) -> None:
        blocked = disabled_plugin_names()
        for ep in eps if eps is not None else entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.metadata["Name"] if ep.dist else "unknown"
            version = ep.dist.version if ep.dist else "?"
            info = PluginInfo(ep.name, ep.value, dist, version, "loaded")
            if ep.name in self.plugins:
                continue  # the same entry point seen twice (e.g. duplicated sys.path entry)
            if ep.name in blocked:
                self.plugins[ep.name] = attrs.evolve(info, status="disabled")
                continue
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must not break the others
                self._fail(info, f"failed to load: {_error_line(exc)}")
                continue
            info = attrs.evolve(info, api=_api_label(module))
            extra = getattr(module, EXTRA_ATTRIBUTE, None)
            missing = (
                ep.dist and extra and missing_extra_message(f"plugin '{ep.name}'", extra, dist)
            )
            if missing:
                self.plugins[ep.name] = attrs.evolve(
                    info, status="needs extra", error=missing, extra=extra
                )
                self._without_extra[ep.name] = module
                continue
            problem = self._admit(module, ep.name)
            if problem:
                self._fail(info, problem)
                continue
            self.plugins[ep.name] = info
        self._registry = None

    def register(self, plugin: ModuleType | object, name: str, distribution: str = "local") -> None:
        """Register a plugin object directly (Python API, tests): same rules as entry points
        (but for extras: the caller has imported what it gives), except that a plugin that
        cannot be admitted raises ``PluginError``."""
        info = PluginInfo(
            name,
            getattr(plugin, "__name__", repr(plugin)),
            distribution,
            "-",
            "loaded",
            api=_api_label(plugin),
        )
        if name in disabled_plugin_names():
            self.plugins[name] = attrs.evolve(info, status="disabled")
            return
        problem = self._admit(plugin, name)
        if problem:
            raise PluginError(f"{info.label} {problem}")
        self.plugins[name] = info
        self._registry = None

    def loaded(self) -> list[tuple[str, object]]:
        """(name, plugin object) of every plugin that loaded, to register elsewhere."""
        return [
            (name, self._objects[name])
            for name, info in self.plugins.items()
            if info.status == "loaded" and name in self._objects
        ]

    def _admit(self, plugin: ModuleType | object, name: str) -> str | None:
        """Register ``plugin`` with pluggy if its hook API and hooks fit; else why not."""
        problem = api_problem(declared_api(plugin))
        if problem:
            return problem
        wrapper = _wrapper_hook(self.pm, plugin)
        if wrapper:
            return (
                f"implements hook '{wrapper}' as a wrapper (hookwrapper/wrapper=True), which "
                "hyperplug does not call: make it a plain hook implementation"
            )
        guarded = self._guarded(plugin, name)
        try:
            self.pm.register(guarded, name=name)
        except Exception as exc:  # pluggy rejects hook implementations with unknown arguments
            return f"failed to load: {_error_line(exc)}"
        unknown = sorted(
            caller.name
            for caller in self.pm.get_hookcallers(guarded) or []
            if not caller.has_spec()
            and any(
                impl.plugin is guarded and not impl.optionalhook for impl in caller.get_hookimpls()
            )
        )
        if unknown:
            self.pm.unregister(guarded)
            hook = unknown[0]
            return f"implements unknown hook '{hook}'{did_you_mean(hook, _hook_names())}"
        self._objects[name] = plugin
        return None

    def _guarded(self, plugin: object, name: str) -> object:
        """What pluggy registers for ``plugin``: its hook implementations, each wrapped so
        that one that raises marks the plugin failed (reported once, by name) and returns
        nothing, and a failed plugin is not called again; the other implementations of
        the same call still run."""
        stand_in = GuardedPlugin(plugin)
        for attribute in dir(plugin):
            opts = self.pm.parse_hookimpl_opts(plugin, attribute)
            if opts is None:
                continue
            function = getattr(plugin, attribute)
            hook_name = opts.get("specname") or attribute
            guard = hookimpl(**opts)(self._guard(function, name, hook_name))
            setattr(stand_in, attribute, guard)
        return stand_in

    def _guard(self, function: Callable[..., Any], plugin: str, hook_name: str) -> Any:
        @functools.wraps(function)  # pluggy reads the hook's argument names through it
        def guard(*args: Any, **kwargs: Any) -> Any:
            info = self.plugins.get(plugin)
            if info is not None and info.status != "loaded":
                return None
            try:
                return function(*args, **kwargs)
            except Exception as exc:
                if info is not None:
                    self._fail(info, f"hook {hook_name} raised {_error_line(exc)}")
                return None

        return guard

    def _fail(self, info: PluginInfo, message: str) -> None:
        self.plugins[info.name] = attrs.evolve(info, status="failed", error=message)
        self._warn(f"{info.label} {message}")

    def _warn(self, message: str) -> None:
        """Log a problem once per manager, however often the registry is rebuilt."""
        if message not in self._warned:
            self._warned.add(message)
            log.warning("%s", message)

    # ------------------------------------------------------------------ registry

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = self._collect()
            for problem in self._registry.problems:
                self._warn(problem)
        return self._registry

    def _collect(self) -> Registry:
        registry = Registry()
        for kind, hook_name in REGISTER_HOOKS.items():
            for plugin_name, result in self.call_each(hook_name):
                info = self.plugins[plugin_name]
                for component in result or []:
                    if not isinstance(component, Component) or component.kind != kind:
                        registry.problems.append(
                            f"{info.label}: {hook_name}() returned {component!r}, "
                            f"expected a Component of kind '{kind}'"
                        )
                        continue
                    registry.add(component, info)
        registry.problems[:0] = [
            f"{p.label} {p.error}" for p in self.plugins.values() if p.status == "failed"
        ]
        for (kind, name), info in self._components_without_extra().items():
            if name not in registry.names(kind):
                what = f"{kind} '{name}' (plugin '{info.name}')"
                registry.needs_extra[(kind, name)] = str(
                    missing_extra_message(what, str(info.extra), info.distribution)
                )
        return registry

    def _components_without_extra(self) -> dict[tuple[str, str], PluginInfo]:
        """The components the plugins that need a missing extra would add. Their register
        hooks import nothing heavy (the rule for every plugin module), so they are asked
        for names, in a manager of their own: nothing they return is registered."""
        found: dict[tuple[str, str], PluginInfo] = {}
        for name, module in self._without_extra.items():
            side = pluggy.PluginManager(ENTRY_POINT_GROUP)
            side.add_hookspecs(hookspecs)
            try:
                side.register(module, name=name)
                for hook_name in REGISTER_HOOKS.values():
                    for result in getattr(side.hook, hook_name)():
                        for component in result or []:
                            found[(component.kind, component.name)] = self.plugins[name]
            except Exception:  # it registers nothing either way; its names only help
                continue
        return found

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call a hook through pluggy once per plugin, in pluggy's order: (plugin name,
        result) for each plugin whose implementation returned something. One that raises
        is reported (by plugin name and distribution) and does not stop the others."""
        hook = getattr(self.pm.hook, hook_name)
        plugins = [impl.plugin for impl in reversed(hook.get_hookimpls())]
        results = []
        for plugin in plugins:
            others = [p for p in plugins if p is not plugin]
            for result in self.pm.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs):
                results.append((self.pm.get_name(plugin), result))
        return results

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call a lifecycle hook on every observer, through pluggy, in one call; an
        observer that raises is reported and the others still hear of it."""
        getattr(self.pm.hook, hook_name)(**kwargs)


class GuardedPlugin:
    """pluggy's view of a plugin: its hook implementations, guarded (``_guarded``)."""

    def __init__(self, plugin: object) -> None:
        self.__name__ = getattr(plugin, "__name__", type(plugin).__name__)

    def __repr__(self) -> str:
        return f"<guarded plugin {self.__name__}>"


def _wrapper_hook(pm: pluggy.PluginManager, plugin: object) -> str | None:
    """The name of a hook ``plugin`` implements as a wrapper, or None."""
    for attribute in dir(plugin):
        opts = pm.parse_hookimpl_opts(plugin, attribute)
        if opts and (opts.get("hookwrapper") or opts.get("wrapper")):
            return str(opts.get("specname") or attribute)
    return None


def _api_label(plugin: object) -> str | None:
    """The hook API version a plugin declares, as ``MAJOR.MINOR`` (``"1"`` shows as
    ``1.0``, what it means); a value that does not parse is shown as it is."""
    declared = declared_api(plugin)
    if declared is None:
        return None
    try:
        major, minor = parse_api_version(declared)
    except ValueError:
        return str(declared)
    return f"{major}.{minor}"


def _hook_names() -> list[str]:
    return [name for name in vars(hookspecs) if hasattr(getattr(hookspecs, name), "hyperplug_spec")]


@functools.cache
def get_plugin_manager() -> PluginManager:
    """The process-wide manager, with every installed plugin loaded once."""
    manager = PluginManager()
    manager.load_entry_points()
    return manager


def get_registry() -> Registry:
    return get_plugin_manager().registry


def component(kind: str, name: str) -> Component:
    return get_registry().get(kind, name).component


def reset_plugin_manager() -> None:
    """Forget the loaded plugins (tests that install or disable plugins call this)."""
    get_plugin_manager.cache_clear()
