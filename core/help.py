"""``hyperplug --help``: the app's help text, rendered without Hydra's full group scan.

Hydra's own ``--help`` lists the groups of the app *and* of Hydra itself and deep-copies
the whole ConfigStore for every group it looks at (about a hundred with the usual
launcher and sweeper plugins installed), which made ``--help`` take over a second. This
renders the same template (``hydra.help`` in conf/config.yaml) and asks Hydra only
about the app's groups.
"""

from __future__ import annotations

import string
import sys
from typing import Any

from hyperplug.hydra_app import CONFIG_MODULE, inspection_config_name, register_configs
from hyperplug.plugin_manager import get_plugin_manager

HELP_FLAGS = ("--help", "-h")


def wants_app_help(args: list[str]) -> bool:
    return any(a in HELP_FLAGS for a in args) and "--hydra-help" not in args


def _group_lines(loader: Any, parent: str = "") -> list[str]:
    from hydra.core.object_type import ObjectType

    lines = []
    for group in sorted(loader.list_groups(parent)):
        name = f"{parent}/{group}" if parent else group
        if name == "hydra":
            continue
        options = sorted(loader.get_group_options(name, ObjectType.CONFIG))
        if options:
            lines.append(f"{name}: {', '.join(options)}")
        if loader.get_group_options(name, ObjectType.GROUP):
            lines.extend(_group_lines(loader, name))
    return lines


def _without_extra_lines() -> list[str]:
    """A line for each plugin that registers nothing for want of its extra."""
    plugins = sorted(get_plugin_manager().plugins.values(), key=lambda p: p.name)
    return [f"({p.error})" for p in plugins if p.status == "needs extra"]


def app_help(overrides: list[str]) -> str:
    """The help text for the config composed with ``overrides``."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    register_configs()
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        cfg = compose(inspection_config_name(), overrides=overrides, return_hydra_config=True)
        groups = _group_lines(GlobalHydra.instance().config_loader()) + _without_extra_lines()
    template = str(cfg.hydra.help.template)
    app_cfg = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
    return string.Template(template).safe_substitute(
        APP_CONFIG_GROUPS="\n".join(groups) + "\n",
        CONFIG=OmegaConf.to_yaml(app_cfg),
        FLAGS_HELP="",
        HYDRA_CONFIG_GROUPS="",
    )


def print_help(args: list[str]) -> None:
    """Print the help for ``args`` (its overrides apply); a bad override is one line."""
    from hyperplug.hydra_app import error_line, full_errors_wanted

    overrides = [a for a in args if not a.startswith("-")]
    try:
        print(app_help(overrides))
    except Exception as exc:
        if full_errors_wanted():
            raise
        sys.stderr.write(f"hyperplug: error: {error_line(exc)}\n")
        sys.exit(2)
