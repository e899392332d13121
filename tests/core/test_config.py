"""The study keys of a composed config: defaults, inferred mode, and bad input."""

from __future__ import annotations

from typing import Any

import pytest

from hyperplug.config import default_mode, study_settings
from hyperplug.errors import ConfigError


@pytest.mark.parametrize(
    ("metric", "mode"),
    [
        ("val_loss", "min"),
        ("train_loss", "min"),
        ("val_error", "min"),
        ("test_rmse", "min"),
        ("val_accuracy", "max"),
        ("f1", "max"),
        ("auc", "max"),
    ],
)
def test_mode_left_out_follows_the_metric_name(metric: str, mode: str) -> None:
    assert default_mode(metric) == mode
    settings = study_settings({"perf_metric": metric, "metrics": [metric], "mode": None})
    assert settings.mode == mode


def test_a_given_mode_wins_over_the_metric_name() -> None:
    settings = study_settings({"perf_metric": "val_loss", "mode": "max"})
    assert settings.mode == "max"


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        (
            {"perf_metrik": "val_loss"},
            "perf_metrik: unknown top-level key (did you mean 'perf_metric'?)",
        ),
        ({"metrics": []}, "metrics must be a non-empty list of metric names, got []"),
        ({"metrics": "val_loss"}, "metrics must be a non-empty list"),
        ({"mode": "down"}, "mode must be 'max', 'min' or null, got 'down'"),
    ],
)
def test_bad_study_keys_are_one_line_errors_naming_the_key(
    cfg: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        study_settings(cfg)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_component_groups_study_keys_and_the_users_own_keys_are_accepted() -> None:
    cfg = {"trainer": {"name": "mlp"}, "optimizer": {"name": "grid"}, "home": "runs"}
    assert study_settings(cfg).home == "runs"
    # a key of one's own, e.g. for interpolations, is not a typo of a known key
    assert study_settings({**cfg, "data_root": "/data"}).home == "runs"
