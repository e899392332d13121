"""Each register hook adds components to the registry and options to Hydra's config groups."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra

from hyperplug import hookimpl
from hyperplug.components import KINDS, Component
from hyperplug.hydra_app import CONFIG_MODULE, register_configs
from hyperplug.plugin_manager import REGISTER_HOOKS, PluginManager, get_plugin_manager


def component(kind: str) -> Component:
    component_name = f"probe_{kind}"

    @attrs.define
    class ProbeConfig:
        name: str = component_name
        size: int = 3

    return Component(
        kind=kind, name=component_name, factory=lambda c: ("built", c), config_class=ProbeConfig
    )


class ProbePlugin:
    """A plugin implementing every register hook, as a third party would."""

    def __init__(self, experiment_yaml: Path) -> None:
        self.experiment_yaml = experiment_yaml

    @hookimpl
    def register_trainers(self) -> list[Component]:
        return [component("trainer")]

    @hookimpl
    def register_datasets(self) -> list[Component]:
        return [component("dataset")]

    @hookimpl
    def register_splitters(self) -> list[Component]:
        return [component("splitter")]

    @hookimpl
    def register_trackers(self) -> list[Component]:
        return [component("tracker")]

    @hookimpl
    def register_vcs(self) -> list[Component]:
        return [component("vcs")]

    @hookimpl
    def register_backends(self) -> list[Component]:
        return [component("backend")]

    @hookimpl
    def register_optimizers(self) -> list[Component]:
        return [component("optimizer")]

    @hookimpl
    def register_updaters(self) -> list[Component]:
        return [component("updater")]

    @hookimpl
    def register_scenarios(self) -> list[Component]:
        return [component("scenario")]

    @hookimpl
    def register_detectors(self) -> list[Component]:
        return [component("detector")]

    @hookimpl
    def register_config_nodes(self) -> list[tuple[str, str, Any]]:
        return [
            ("trainer", "probe_wide", {"name": "mlp", "hidden_layers": [512]}),
            ("experiment", "probe_study", str(self.experiment_yaml)),
        ]


@pytest.fixture
def manager(tmp_path: Path) -> PluginManager:
    experiment = tmp_path / "probe_study.yaml"
    experiment.write_text(
        "# @package _global_\nmodel_name: probed\ntraining_params:\n  mlp:\n    lr: [0.1, 0.2]\n"
    )
    manager = PluginManager()
    for name, plugin in get_plugin_manager().loaded():
        manager.register(plugin, name)
    manager.register(ProbePlugin(experiment), "probe", distribution="probe-dist")
    return manager


@pytest.mark.hooks(
    "register_trainers",
    "register_datasets",
    "register_splitters",
    "register_trackers",
    "register_vcs",
    "register_backends",
    "register_optimizers",
    "register_updaters",
    "register_scenarios",
    "register_detectors",
)
def test_every_register_hook_adds_a_component(manager: PluginManager) -> None:
    assert set(REGISTER_HOOKS) == set(KINDS)
    for kind in KINDS:
        entry = manager.registry.get(kind, f"probe_{kind}")
        assert entry.plugin.distribution == "probe-dist"
        assert entry.component.build(entry.component.config_class())[0] == "built"


@pytest.mark.hooks("register_config_nodes")
def test_components_and_config_nodes_become_hydra_group_options(manager: PluginManager) -> None:
    register_configs(manager)
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        cfg = compose("config", overrides=["trainer=probe_trainer", "trainer.size=5"])
        assert (cfg.trainer.name, cfg.trainer.size) == ("probe_trainer", 5)
        cfg = compose("config", overrides=["trainer=probe_wide"])
        assert list(cfg.trainer.hidden_layers) == [512]
        cfg = compose("config", overrides=["+experiment=probe_study"])
        assert cfg.model_name == "probed" and list(cfg.training_params.mlp.lr) == [0.1, 0.2]
        for kind in KINDS:
            cfg = compose("config", overrides=[f"{kind}=probe_{kind}"])
            assert cfg[kind].name == f"probe_{kind}"
