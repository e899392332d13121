"""``vcs=mlflow``: model versions in the MLflow model registry.

hyperplug's ``NAME:vN`` is version N of the registered model NAME: MLflow numbers the
versions, from 1, as the local store does. Each version is made by a short run of the
experiment ``vcs.experiment`` (named ``register-<NAME>``, tagged like the version) that
holds the weights as the artifact ``model/weights.safetensors`` and logs the version's
params and finite metrics; the registry version points at that folder (its ``source``).
There is no MLflow model flavour and no ``MLmodel`` file: nothing MLflow or hyperplug
loads is ever unpickled.

Everything hyperplug records about a version is a model-version tag, readable in MLflow's
UI and searchable: ``hyperplug.sha256``, ``hyperplug.trainer``, ``hyperplug.study``,
``hyperplug.trial_id``, ``hyperplug.data_fingerprint``, ``hyperplug.parent`` (the ref a
retrained version was made from), ``hyperplug.updater``, and as JSON
``hyperplug.trainer_config``, ``hyperplug.params``, ``hyperplug.metrics``,
``hyperplug.info``, ``hyperplug.update``. ``get`` rebuilds the ``VersionMeta`` from them
alone; ``load`` downloads the weights and checks their sha256.

Aliases are the registered model's: ``best``, any alias set with ``set_alias``, and
``hp-vN`` on version N (as with ``vcs=wandb``). MLflow reserves ``latest`` (for it,
always the newest version) and refuses it as an alias, so hyperplug's ``latest``, which
``set_alias`` can move, is the MLflow alias ``hp-latest``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from hyperplug.errors import ConfigError, HyperplugError, NotFoundError, StorageError, did_you_mean
from hyperplug.interfaces import ModelVersion, ResourceVersionControl, VersionMeta
from hyperplug.plugins.mlflow.configs import MlflowVcsConfig
from hyperplug.plugins.mlflow.session import (
    Batch,
    connect,
    experiment_id,
    flatten,
    require_mlflow,
    resolve_uri,
    safe_name,
    sqlite_path,
    text,
)
from hyperplug.plugins.store.local import (
    LATEST,
    VERSION_PATTERN,
    WEIGHTS,
    check_alias,
    check_name,
    parse_weights,
    serialize_weights,
)
from hyperplug.secrets import redact, redact_text
from hyperplug.serialize import to_json

#: the artifact folder of a version's run that the registry version points at
ARTIFACT_PATH = "model"
#: hyperplug's ``latest`` in MLflow, which reserves ``latest``
LATEST_ALIAS = "hp-latest"
TAG = "hyperplug."
#: VersionMeta fields kept as plain strings (the rest are JSON; trial_id an integer)
STRING_FIELDS = ("trainer", "study", "data_fingerprint", "parent", "updater")
JSON_FIELDS = ("trainer_config", "params", "metrics", "info", "update")
#: what MLflow accepts as an alias (mlflow.utils.validation)
_MLFLOW_ALIAS = re.compile(r"^[\w\-]{1,255}$")
_OWN_ALIAS = re.compile(r"^hp-(latest|v[0-9]+)$")


def version_alias(number: int) -> str:
    """The MLflow alias that carries hyperplug's version number, as with ``vcs=wandb``."""
    return f"hp-v{number}"


def mlflow_alias(alias: str) -> str:
    """The MLflow alias that stands for hyperplug's ``alias``."""
    return LATEST_ALIAS if alias == LATEST else alias


def checked_alias(alias: str) -> str:
    """``alias`` if both hyperplug and MLflow take it and it is not one hyperplug sets
    itself (``hp-latest``, ``hp-vN``)."""
    check_alias(alias)
    if not _MLFLOW_ALIAS.match(alias) or _OWN_ALIAS.match(alias):
        raise ConfigError(
            f"alias {alias!r} is invalid in the MLflow registry: use letters, digits, '_' and "
            "'-' (no '.'), and not hp-latest or hp-v<N>, which hyperplug sets itself"
        )
    return alias


class MlflowRegistry(ResourceVersionControl):
    """A ``ResourceVersionControl`` in the MLflow model registry; see the module doc."""

    label = "MLflow model registry"

    def __init__(self, config: MlflowVcsConfig) -> None:
        self.config = config
        self.uri = resolve_uri(config.uri, "vcs.uri")
        registry = config.registry_uri
        self.registry_uri = (
            resolve_uri(registry, "vcs.registry_uri", "MLFLOW_REGISTRY_URI")
            if registry or os.environ.get("MLFLOW_REGISTRY_URI")
            else self.uri
        )
        self._client: Any = None
        self._experiment: str | None = None

    @property
    def client(self) -> Any:
        """The MLflow client, made at first use (asking a server first: ``connect``)."""
        if self._client is None:
            self._client = connect(self.uri, "vcs.uri", self.registry_uri)
        return self._client

    def _where(self) -> str:
        return f"the MLflow registry at {redact_text(self.registry_uri)}"

    def _absent(self) -> bool:
        """A local registry database that does not exist yet: reading creates nothing."""
        database = sqlite_path(self.registry_uri)
        return database is not None and not database.exists()

    @contextlib.contextmanager
    def _mlflow_errors(self, doing: str) -> Iterator[None]:
        """MLflow's errors as one-line ``StorageError``s saying what failed."""
        require_mlflow("vcs=mlflow")
        from mlflow.exceptions import MlflowException

        try:
            yield
        except HyperplugError:
            raise
        except (MlflowException, OSError) as error:
            reason = str(getattr(error, "message", error)).strip().splitlines()
            raise StorageError(
                f"cannot {doing} in {self._where()}: {redact_text(reason[0] if reason else '')}"
            ) from error

    def check_writable(self) -> None:
        """The server answers, the experiment exists or can be created, the registry can be
        searched: before a study trains anything."""
        with self._mlflow_errors("prepare model versions"):
            self._experiment_id()
            self.client.search_registered_models(max_results=1)

    def _experiment_id(self) -> str:
        if self._experiment is None:
            self._experiment = experiment_id(self.client, self.config.experiment, self.uri)
        return self._experiment

    # ------------------------------------------------------------------ writing

    def save(
        self,
        name: str,
        weights: Mapping[str, np.ndarray],
        meta: VersionMeta,
        aliases: Sequence[str] = (LATEST,),
    ) -> ModelVersion:
        check_name(name, "model name")
        if isinstance(aliases, str):  # one alias, not its letters
            aliases = (aliases,)
        aliases = tuple(dict.fromkeys(checked_alias(alias) for alias in aliases))
        payload = serialize_weights(name, weights)
        meta = VersionMeta(
            **json.loads(to_json(redact(attrs.asdict(meta)), f"metadata of model '{name}'"))
        )
        sha256 = hashlib.sha256(payload).hexdigest()
        tags = version_tags(meta, sha256)
        with self._mlflow_errors(f"save model '{name}'"):
            run_id, source = self._log_weights(name, payload, meta, tags)
            self._register(name)
            created = self.client.create_model_version(
                name,
                source,
                run_id=run_id,
                tags=tags,
                description=describe(meta),
                await_creation_for=0,
            )
            number = int(created.version)
            for alias in (*aliases, version_alias(number)):
                self.client.set_registered_model_alias(name, mlflow_alias(alias), str(number))
            return self.get(f"{name}:v{number}")

    def _log_weights(
        self, name: str, payload: bytes, meta: VersionMeta, tags: Mapping[str, str]
    ) -> tuple[str, str]:
        """A finished run holding the weights: (its id, the artifact folder's URI)."""
        from mlflow.entities import Metric, Param

        run = self.client.create_run(
            self._experiment_id(),
            run_name=f"register-{name}",
            tags={**tags, f"{TAG}role": "model-version", f"{TAG}model": name},
        )
        run_id = run.info.run_id
        with tempfile.TemporaryDirectory(prefix="hyperplug-mlflow-") as tmp:
            path = Path(tmp) / WEIGHTS
            path.write_bytes(payload)
            self.client.log_artifact(run_id, str(path), ARTIFACT_PATH)
        batch = Batch(
            params=[Param(safe_name(k), text(v, 6000)) for k, v in flatten(meta.params)],
            metrics=[
                Metric(safe_name(k), float(v), 0, 0)
                for k, v in meta.metrics.items()
                if np.isfinite(v)
            ],
        )
        while not batch.empty():
            self.client.log_batch(run_id, **batch.take())
        self.client.set_terminated(run_id, "FINISHED")
        return run_id, f"{run.info.artifact_uri}/{ARTIFACT_PATH}"

    def _register(self, name: str) -> None:
        """Create the registered model unless it exists (another process may create it)."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.create_registered_model(name, tags={f"{TAG}model": "true"})
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise

    def set_alias(self, ref: str, alias: str) -> ModelVersion:
        checked_alias(alias)
        with self._mlflow_errors(f"set alias '{alias}' of '{ref}'"):
            found = self._resolve(ref)
            self.client.set_registered_model_alias(found.name, mlflow_alias(alias), found.version)
            return self.get(f"{found.name}:v{found.version}")

    # ------------------------------------------------------------------ reading

    def get(self, ref: str) -> ModelVersion:
        with self._mlflow_errors(f"read model version '{ref}'"):
            return to_version(self._resolve(ref))

    def load(self, ref: str) -> tuple[dict[str, np.ndarray], ModelVersion]:
        with self._mlflow_errors(f"load model version '{ref}'"):
            from mlflow.artifacts import download_artifacts

            found = self._resolve(ref)
            version = to_version(found)
            with tempfile.TemporaryDirectory(prefix="hyperplug-mlflow-") as tmp:
                path = download_artifacts(
                    artifact_uri=f"{found.source}/{WEIGHTS}",
                    dst_path=tmp,
                    tracking_uri=self.uri,
                    registry_uri=self.registry_uri,
                )
                payload = Path(path).read_bytes()
        return parse_weights(payload, version, f"artifact '{found.source}/{WEIGHTS}'"), version

    def list_versions(self, name: str | None = None) -> list[ModelVersion]:
        """All hyperplug versions of ``name``, or of every registered model (versions
        registered by other tools, without ``hyperplug.sha256``, are left out)."""
        if name is not None:
            check_name(name, "model name")
        if self._absent():
            return []
        with self._mlflow_errors("list model versions"):
            where = f"name = '{name}'" if name is not None else None
            found = [mv for mv in self._search(where) if _is_ours(mv)]
            aliases = {n: self._aliases(n) for n in {mv.name for mv in found}}
            return [
                to_version(mv, aliases[mv.name])
                for mv in sorted(found, key=lambda mv: (mv.name, int(mv.version)))
            ]

    def find_version(self, name: str, study: str, trial_id: int) -> ModelVersion | None:
        """Searched by the ``hyperplug.trial_id`` tag, not by listing every version."""
        check_name(name, "model name")
        if self._absent():
            return None
        with self._mlflow_errors(f"search model '{name}'"):
            where = f"name = '{name}' and tags.`{TAG}trial_id` = '{int(trial_id)}'"
            for mv in self._search(where):
                if _is_ours(mv) and mv.tags.get(f"{TAG}study") == study:
                    return to_version(mv, self._aliases(name))
        return None

    def _search(self, where: str | None) -> Iterator[Any]:
        token = None
        while True:
            page = self.client.search_model_versions(where, page_token=token)
            yield from page
            token = page.token
            if not token:
                return

    def _aliases(self, name: str) -> dict[str, str]:
        """The registered model's aliases: MLflow alias -> version number."""
        return {k: str(v) for k, v in self.client.get_registered_model(name).aliases.items()}

    def _resolve(self, ref: str) -> Any:
        """The MLflow model version ``ref`` names (aliases included), hyperplug's only."""
        from mlflow.exceptions import MlflowException

        if not isinstance(ref, str):
            raise ConfigError(f"model ref must be a string like 'name:v1', got {ref!r}")
        name, colon, tag = ref.partition(":")
        check_name(name, "model name")
        match = VERSION_PATTERN.match(tag)
        if not match and colon and tag != LATEST:
            checked_alias(tag)
        if self._absent():
            raise NotFoundError(f"model '{name}' not found in {self._where()}")
        try:
            if match:
                found = self.client.get_model_version(name, match.group(1))
            elif not colon or tag == LATEST:
                found = self._latest(name)
            else:
                found = self.client.get_model_version_by_alias(name, tag)
        except MlflowException as error:
            if error.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise
            found = None
        if found is None or not _is_ours(found):
            raise NotFoundError(self._not_found(name, tag if colon else LATEST))
        return found

    def _latest(self, name: str) -> Any:
        """The version aliased ``hp-latest``, else the newest hyperplug version."""
        from mlflow.exceptions import MlflowException

        with contextlib.suppress(MlflowException):
            return self.client.get_model_version_by_alias(name, LATEST_ALIAS)
        ours = [mv for mv in self._search(f"name = '{name}'") if _is_ours(mv)]
        return max(ours, key=lambda mv: int(mv.version), default=None)

    def _not_found(self, name: str, tag: str) -> str:
        versions = [mv for mv in self._search(f"name = '{name}'") if _is_ours(mv)]
        if not versions:
            names = {mv.name for mv in self._search(None) if _is_ours(mv)}
            return f"model '{name}' not found in {self._where()}{did_you_mean(name, names)}"
        newest = max(int(mv.version) for mv in versions)
        if VERSION_PATTERN.match(tag):
            return (
                f"model version '{name}:{tag}' not found in {self._where()}; model '{name}' "
                f"has {len(versions)} hyperplug version(s), the newest v{newest}"
            )
        known = [_hyperplug_alias(a) for a in self._aliases(name)]
        return (
            f"alias '{tag}' of model '{name}' not found in {self._where()}"
            f"{did_you_mean(tag, [a for a in known if a])}"
        )


# ---------------------------------------------------------------------- tags <-> metadata


def version_tags(meta: VersionMeta, sha256: str) -> dict[str, str]:
    """The model-version tags that hold ``meta`` (None fields are left out)."""
    tags = {f"{TAG}sha256": sha256}
    for field in STRING_FIELDS:
        value = getattr(meta, field)
        if value is not None:
            tags[f"{TAG}{field}"] = str(value)
    if meta.trial_id is not None:
        tags[f"{TAG}trial_id"] = str(meta.trial_id)
    for field in JSON_FIELDS:
        tags[f"{TAG}{field}"] = to_json(getattr(meta, field), f"{field} of the model version")
    return tags


def meta_from_tags(tags: Mapping[str, str]) -> VersionMeta:
    """The ``VersionMeta`` that ``version_tags`` wrote."""
    values: dict[str, Any] = {f: tags.get(f"{TAG}{f}") for f in STRING_FIELDS}
    trial = tags.get(f"{TAG}trial_id")
    values["trial_id"] = int(trial) if trial is not None else None
    for field in JSON_FIELDS:
        values[field] = json.loads(tags.get(f"{TAG}{field}", "{}"))
    return VersionMeta(**values)


def to_version(found: Any, aliases: Mapping[str, str] | None = None) -> ModelVersion:
    """The ``ModelVersion`` of an MLflow model version; ``aliases`` (MLflow alias ->
    version) where the MLflow version does not list its own (search results)."""
    number = str(found.version)
    names = (
        found.aliases
        if aliases is None
        else [alias for alias, target in aliases.items() if target == number]
    )
    try:
        meta = meta_from_tags(found.tags)
    except (ValueError, TypeError) as error:
        raise StorageError(
            f"model version '{found.name}:v{number}' has damaged hyperplug tags: {error}"
        ) from error
    return ModelVersion(
        name=found.name,
        version=int(number),
        created_at=found.creation_timestamp / 1000,
        sha256=found.tags[f"{TAG}sha256"],
        uri=f"models:/{found.name}/{number}",
        meta=meta,
        aliases=tuple(sorted(a for a in map(_hyperplug_alias, names) if a)),
    )


def describe(meta: VersionMeta) -> str:
    """The version's one-line description in MLflow's UI."""
    made = f"{meta.trainer} model"
    if meta.study is not None:
        made += f" from study {meta.study}, trial {meta.trial_id}"
    if meta.parent is not None:
        made += f"; updated from {meta.parent}" + (f" by {meta.updater}" if meta.updater else "")
    return f"hyperplug: {made}"


def _hyperplug_alias(alias: str) -> str | None:
    """The hyperplug alias an MLflow alias stands for (None: ``hp-vN``, not an alias)."""
    if alias == LATEST_ALIAS:
        return LATEST
    return None if _OWN_ALIAS.match(alias) else alias


def _is_ours(found: Any) -> bool:
    return f"{TAG}sha256" in found.tags
