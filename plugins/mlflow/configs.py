"""Config of the MLflow tracker and vcs components, validated before any trial runs."""

from __future__ import annotations

import re
from typing import Any

import attrs

#: the URI schemes MLflow's tracking and registry clients take
SCHEMES = ("http", "https", "sqlite", "postgresql", "mysql", "mssql", "file", "databricks")
#: what MLflow accepts in a tag key (mlflow.utils.validation.validate_param_and_metric_name)
TAG_KEY = re.compile(r"^[/\w.\- :]{1,250}$")
#: MLflow refuses longer experiment names
EXPERIMENT_MAX_LEN = 500


def uri_problem(uri: str) -> str | None:
    """Why ``uri`` is not an MLflow tracking URI, or None when it is one."""
    scheme, sep, rest = uri.partition(":")
    scheme = scheme.split("+", 1)[0].lower()  # postgresql+psycopg2://, mysql+pymysql://
    if not sep or scheme not in SCHEMES:
        return f"use one of {', '.join(s + ':' for s in SCHEMES)} (e.g. http://127.0.0.1:5000)"
    if scheme in ("http", "https") and (not rest.startswith("//") or rest[2:3] in ("", "/")):
        return "it names no host"
    if scheme == "sqlite" and (not rest.startswith("///") or not rest[3:]):
        return "it names no database file (sqlite:///relative/path.db, sqlite:////abs/path.db)"
    return None


def _uri_validator(kind: str, key: str = "uri") -> Any:
    def check(instance: Any, attribute: attrs.Attribute, value: str | None) -> None:
        problem = None if value is None else uri_problem(value)
        if problem:
            raise ValueError(f"{kind}.{key} {value!r} is not an MLflow tracking URI: {problem}")

    return check


def _experiment_validator(kind: str) -> Any:
    def check(instance: Any, attribute: attrs.Attribute, value: str) -> None:
        if not value.strip() or len(value) > EXPERIMENT_MAX_LEN:
            raise ValueError(
                f"{kind}.experiment {value!r} is not an MLflow experiment name "
                f"(1 to {EXPERIMENT_MAX_LEN} characters)"
            )

    return check


def _tags_check(instance: Any, attribute: attrs.Attribute, value: dict[str, str]) -> None:
    for key in value:
        if not TAG_KEY.match(str(key)) or str(key).startswith(("mlflow.", "hyperplug.")):
            raise ValueError(
                f"tracker.tags: {key!r} is not a tag key hyperplug may set: 1 to 250 letters, "
                "digits, '_', '-', '.', ' ', ':' or '/', not starting with mlflow. or hyperplug."
            )


@attrs.define
class MlflowTrackerConfig:
    """``tracker=mlflow``: SQLite at ``path`` (answers every query) mirrored to MLflow."""

    name: str = "mlflow"
    #: the local SQLite record of truth, as ``tracker=sqlite``'s path
    path: str = ".hyperplug/hyperplug.db"
    #: MLflow tracking URI; null: ``MLFLOW_TRACKING_URI``, else ``sqlite:///.hyperplug/mlflow.db``
    uri: str | None = attrs.field(default=None, validator=_uri_validator("tracker"))
    #: the MLflow experiment of every study's runs (created if absent)
    experiment: str = attrs.field(default="hyperplug", validator=_experiment_validator("tracker"))
    #: tags set on every run (key -> value)
    tags: dict[str, str] = attrs.field(factory=dict, validator=_tags_check)


@attrs.define
class MlflowVcsConfig:
    """``vcs=mlflow``: model versions in the MLflow model registry, weights as safetensors."""

    name: str = "mlflow"
    #: MLflow tracking URI (where the weights' runs and artifacts go); null as tracker.uri
    uri: str | None = attrs.field(default=None, validator=_uri_validator("vcs"))
    #: model registry URI; null: ``MLFLOW_REGISTRY_URI``, else the tracking URI
    registry_uri: str | None = attrs.field(
        default=None, validator=_uri_validator("vcs", "registry_uri")
    )
    #: the MLflow experiment of the runs that hold each version's weights
    experiment: str = attrs.field(default="hyperplug", validator=_experiment_validator("vcs"))
