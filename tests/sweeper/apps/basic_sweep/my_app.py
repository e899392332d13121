"""Hydra's basic-sweep tutorial app, as a user writes it: a mandatory ``db`` group and a
sweep in the config (``db: glob(*)``, ``db.timeout: 5,10``)."""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path="conf", config_name="config")
def my_app(cfg: DictConfig) -> None:
    print(f"driver={cfg.db.driver}, timeout={cfg.db.timeout}")


if __name__ == "__main__":
    my_app()
