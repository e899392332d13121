"""A four-dimensional sphere whose space is partly defined in Python
(``hydra.sweeper.search_space: custom_space.space``): ``z`` stays within
``max_z_difference_from_x`` of the sampled ``x``, and ``w`` is a key the config lacks."""

import hydra
from omegaconf import DictConfig

from hyperplug.sweep import CustomSpace


@hydra.main(version_base=None, config_path="custom_space_conf", config_name="config")
def sphere4(cfg: DictConfig) -> float:
    return float(cfg.w**2 + cfg.x**2 + cfg.y**2 + cfg.z**2)


def space(cfg: DictConfig) -> CustomSpace:
    """The optimizer samples an offset; each job gets z = x + offset (a derived value)."""
    limit = cfg.max_z_difference_from_x

    def derive(values: dict) -> dict:
        offset = values.pop("z_offset")
        return {**values, "z": values["x"] + offset}

    return CustomSpace(
        params={"z_offset": f"interval({-limit}, {limit})", "+w": "interval(0.0, 1.0)"},
        derive=derive,
    )


if __name__ == "__main__":
    sphere4()
