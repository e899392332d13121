"""``hydra/sweeper/optimizer=<name>``: every installed optimizer's typed config as a Hydra
config group, the way the Optuna sweeper offers its samplers.

The options come from hyperplug's plugin registry (third-party optimizers included), and
the registry imports every plugin's module: too much for Hydra's plugin scan, which runs
for every Hydra app in the environment. So the group is served by a config source that
asks the registry only when Hydra looks up a config in it (an app that never chooses
``hydra/sweeper/optimizer=...`` never loads it); a search-path plugin puts the source on
every app's search path, which costs nothing until then.
"""

from __future__ import annotations

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigResult, ConfigSource
from hydra.plugins.search_path_plugin import SearchPathPlugin

GROUP = "hydra/sweeper/optimizer"
SCHEME = "hyperplug-optimizers"


def optimizer_configs() -> dict[str, type]:
    """Optimizer name -> its config class, from the registry (loaded on first use, and
    cached there). Not a ``functools.cache`` of its own: Hydra's plugin scan executes this
    module again, and the sweeper's jobs cloudpickle Hydra's state, which then holds a
    class of the earlier execution whose cached function pickle refuses ("not the same
    object")."""
    from hyperplug.plugin_manager import get_registry

    return {e.component.name: e.component.config_class for e in get_registry().entries("optimizer")}


class OptimizerConfigSource(ConfigSource):
    @staticmethod
    def scheme() -> str:
        return SCHEME

    def available(self) -> bool:
        return True

    def _option(self, config_path: str) -> str | None:
        path = self._normalize_file_name(config_path.rstrip("/")).removesuffix(".yaml")
        return path.removeprefix(f"{GROUP}/") if path.startswith(f"{GROUP}/") else None

    def is_group(self, config_path: str) -> bool:
        return config_path.rstrip("/") == GROUP

    def is_config(self, config_path: str) -> bool:
        option = self._option(config_path)
        # "None": Hydra asks for the group's null default, which names no optimizer
        return option not in (None, "None") and option in optimizer_configs()

    def load_config(self, config_path: str) -> ConfigResult:
        from omegaconf import OmegaConf

        option = self._option(config_path)
        assert option is not None
        # an instance: attrs.Factory defaults need one (DESIGN.md)
        node = OmegaConf.structured(optimizer_configs()[option]())
        return ConfigResult(
            config=node,
            path=f"{SCHEME}://",
            provider="hyperplug",
            header={"package": None},
        )

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        path = config_path.rstrip("/")
        if path == "hydra/sweeper" and results_filter in (None, ObjectType.GROUP):
            return ["optimizer"]
        if path == GROUP and results_filter in (None, ObjectType.CONFIG):
            return sorted(optimizer_configs())
        return []


class OptimizerSearchPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(provider="hyperplug", path=f"{SCHEME}://")
