"""Reaching MLflow the way hyperplug needs it: the URI, a client that fails fast, the
experiment, and MLflow's limits on names and values.

``mlflow`` is imported here, lazily (about a second). Only ``MlflowClient`` is used, never
MLflow's fluent API (``mlflow.start_run``), which would record the command line, the user,
the source file and git state as run tags: what hyperplug hands MLflow is exactly what
these modules write, masked by ``hyperplug.secrets``.

MLflow's HTTP client retries a failed request 7 times with growing pauses and waits up to
120 s for each answer: minutes before a server that is down is an error. So a server is
asked first, for at most ``PROBE_TIMEOUT_S``, and ``ENV_DEFAULTS`` bound what a request
that fails later may cost. MLflow reads these settings from the environment on every
request; hyperplug sets the ones you have not set.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from hyperplug.errors import ConfigError, PluginError, StorageError
from hyperplug.netprobe import server_problem
from hyperplug.plugins.mlflow.configs import uri_problem
from hyperplug.secrets import redact_text

#: how long a tracking server may take to answer before it counts as unreachable
PROBE_TIMEOUT_S = 5.0
#: MLflow's settings as hyperplug sets them unless already set: bounded HTTP retries and
#: waits, and no progress bar or "View run at" line per run on the terminal
ENV_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}
#: where MLflow records when neither the config nor ``MLFLOW_TRACKING_URI`` says
DEFAULT_URI = "sqlite:///.hyperplug/mlflow.db"
#: the artifact folder of an experiment hyperplug creates in a local (sqlite) store
LOCAL_ARTIFACTS = "mlartifacts"
#: MLflow's limits (mlflow.utils.validation): a tag's value, a ``log_batch``'s params or
#: tags, and its entries in all
MAX_TAG_VALUE = 8000
MAX_BATCH = 100
MAX_ENTRIES = 1000
_BAD_NAME_CHARS = re.compile(r"[^/\w.\- :]")


def require_mlflow(what: str) -> None:
    """A ``PluginError`` naming the extra to install when MLflow is missing."""
    try:
        import mlflow  # noqa: F401
    except ImportError as error:
        raise PluginError(
            f"{what} needs MLflow, which is not installed: pip install 'hyperplug[mlflow]'"
        ) from error


def resolve_uri(configured: str | None, key: str, variable: str = "MLFLOW_TRACKING_URI") -> str:
    """The URI to use: the config's, else the environment's, else ``DEFAULT_URI``. A
    relative sqlite path becomes absolute (the working directory is the base)."""
    uri = configured or os.environ.get(variable) or DEFAULT_URI
    if not configured and os.environ.get(variable):
        problem = uri_problem(uri)
        if problem:
            raise ConfigError(
                f"{key} is null and {variable}={redact_text(uri)!r} in the environment is not "
                f"an MLflow tracking URI: {problem}"
            )
    database = sqlite_path(uri)
    if database is not None and not database.is_absolute():
        uri = f"sqlite:///{database.absolute()}"
    return uri


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI; None for any other URI."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///") :]).expanduser()


def is_server(uri: str) -> bool:
    return uri.split(":", 1)[0].lower() in ("http", "https")


def connect(uri: str, key: str, registry_uri: str | None = None) -> Any:
    """An ``MlflowClient`` for ``uri``; a ``StorageError`` naming ``key`` within
    ``PROBE_TIMEOUT_S`` when ``uri`` is a server that does not answer."""
    require_mlflow(key.split(".")[0] + "=mlflow")
    for variable, value in ENV_DEFAULTS.items():
        os.environ.setdefault(variable, value)
    for where, target in ((key, uri), (f"{key.split('.')[0]}.registry_uri", registry_uri)):
        if target is not None and is_server(target):
            problem = server_problem(target, PROBE_TIMEOUT_S)
            if problem is not None:
                raise StorageError(
                    f"{where}: the MLflow tracking server {redact_text(target)} did not answer "
                    f"within {PROBE_TIMEOUT_S:g} s ({redact_text(problem)})"
                )
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=registry_uri or uri)


def experiment_id(client: Any, name: str, uri: str) -> str:
    """The id of experiment ``name``, created if absent. In a local sqlite store a new
    experiment keeps its artifacts in ``mlartifacts/`` beside the database (MLflow's own
    default is ``./mlruns`` under whatever the working directory is); a server's
    experiments take the server's artifact root."""
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        database = sqlite_path(uri)
        location = str(database.parent / LOCAL_ARTIFACTS) if database is not None else None
        try:
            return str(client.create_experiment(name, artifact_location=location))
        except MlflowException as error:  # created meanwhile by another process
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            experiment = client.get_experiment_by_name(name)
    if experiment.lifecycle_stage == "deleted":
        raise StorageError(
            f"the MLflow experiment {name!r} is deleted: restore it (mlflow experiments "
            "restore) or choose another experiment name"
        )
    return str(experiment.experiment_id)


# ---------------------------------------------------------------------- names and values


def safe_name(name: str) -> str:
    """A metric, param or tag key MLflow accepts: other characters become ``_``."""
    cleaned = _BAD_NAME_CHARS.sub("_", name).strip("/") or "_"
    return re.sub(r"/+", "/", cleaned)[:250]


def text(value: Any, limit: int = MAX_TAG_VALUE) -> str:
    """A param or tag value: strings as they are, other values as JSON, cut to ``limit``."""
    written = value if isinstance(value, str) else json.dumps(value, default=str)
    return written if len(written) <= limit else written[: limit - 3] + "..."


def flatten(values: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested mappings as dotted keys (``optimizer.lr``): MLflow's params are flat."""
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten(value, f"{name}.")
        else:
            yield name, value


@attrs.define
class Batch:
    """A run's writes that wait to go out together."""

    params: list[Any] = attrs.Factory(list)
    metrics: list[Any] = attrs.Factory(list)
    tags: list[Any] = attrs.Factory(list)

    def empty(self) -> bool:
        return not (self.params or self.metrics or self.tags)

    def take(self) -> dict[str, list[Any]]:
        """The next ``log_batch`` arguments within MLflow's limits (100 params, 100 tags,
        1000 entries in all), removed from the batch."""
        params, self.params = self.params[:MAX_BATCH], self.params[MAX_BATCH:]
        tags, self.tags = self.tags[:MAX_BATCH], self.tags[MAX_BATCH:]
        room = MAX_ENTRIES - len(params) - len(tags)
        metrics, self.metrics = self.metrics[:room], self.metrics[room:]
        return {"params": params, "metrics": metrics, "tags": tags}
