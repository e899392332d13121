"""Binh and Korn's two-objective problem as a Hydra app: the task function returns two
numbers, several objectives, which the hyperplug sweeper refuses with one line."""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path="multi_objective_conf", config_name="config")
def binh_and_korn(cfg: DictConfig) -> tuple[float, float]:
    first = 4 * cfg.x**2 + 4 * cfg.y**2
    second = (cfg.x - 5) ** 2 + (cfg.y - 5) ** 2
    return first, second


if __name__ == "__main__":
    binh_and_korn()
