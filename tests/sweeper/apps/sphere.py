"""The sphere function x^2 + y^2 as a Hydra app: the hydra-optuna-sweeper example app's
objective and space, configured for the hyperplug sweeper (sphere_conf/config.yaml)."""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path="sphere_conf", config_name="config")
def sphere(cfg: DictConfig) -> float:
    if cfg.get("error", False):
        raise RuntimeError("cfg.error is True")
    return float(cfg.x**2 + cfg.y**2)


if __name__ == "__main__":
    sphere()
