"""``vcs=wandb``: model versions as W&B Artifacts, with a local index that works offline.

Every version is first written to a local store under ``root`` (atomic, safetensors,
sha256-checked: the ``vcs=store`` code), then logged to W&B as an Artifact of type
``model`` named after the model, holding ``weights.safetensors``, with the version's
metadata (trainer, trainer config, params, metrics, model info, study, trial, data
fingerprint, parent, sha256) and aliases: the ones asked for (``latest``, ``best``) plus
``hp-v<N>``, hyperplug's version number. W&B reserves ``v<N>`` for its own 0-based version
index, so hyperplug's ``v<N>`` cannot be an alias there.

Each version is logged by a short run of ``job_type`` ``register-model`` in the study's
group: the run that produced the artifact in W&B's lineage graph. Online, that run also
uses the parent version's artifact, so retrained models link to what they came from;
offline W&B cannot use artifacts, and the parent is in the metadata only.

There is no server to read from offline, so ``get``, ``load`` and ``list_versions`` answer
from the local index; online, a ref the index lacks (a version saved on another machine)
is fetched through W&B's public API and its sha256 checked like a local one.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from hyperplug.errors import NotFoundError, StorageError
from hyperplug.interfaces import ModelVersion, ResourceVersionControl, VersionMeta
from hyperplug.plugins.store import LocalStore, LocalStoreConfig
from hyperplug.plugins.store.local import LATEST, VERSION_PATTERN, WEIGHTS
from hyperplug.plugins.wandb.configs import WandbVcsConfig
from hyperplug.plugins.wandb.session import decide_mode, print_sync_hint, start_run
from hyperplug.secrets import redact, redact_text

log = logging.getLogger(__name__)

ARTIFACT_TYPE = "model"


def version_alias(number: int) -> str:
    """The W&B alias that carries hyperplug's version number."""
    return f"hp-v{number}"


class WandbArtifactStore(ResourceVersionControl):
    """A ``ResourceVersionControl`` that mirrors every version to W&B Artifacts."""

    label = "W&B artifact store"

    def __init__(self, config: WandbVcsConfig) -> None:
        self.config = config
        self.mode = decide_mode(config.mode)
        self.cache = LocalStore(LocalStoreConfig(root=config.root))
        self._failed = False

    # ------------------------------------------------------------------ writing

    def save(
        self,
        name: str,
        weights: Mapping[str, np.ndarray],
        meta: VersionMeta,
        aliases: Sequence[str] = (LATEST,),
    ) -> ModelVersion:
        version = self.cache.save(name, weights, meta, aliases)
        self._publish(version, version.aliases)
        return version

    def set_alias(self, ref: str, alias: str) -> ModelVersion:
        """Move ``alias`` in the local index; online also on the W&B artifact (public API).

        Offline there is no way to move an alias of a logged artifact (logging it again
        would also move W&B's ``latest``), so the move stays local."""
        version = self.cache.set_alias(ref, alias)
        if self.mode == "online":
            import wandb

            artifact = wandb.Api().artifact(self._remote_name(version.ref), type=ARTIFACT_TYPE)
            artifact.aliases.append(alias)
            artifact.save()
        return version

    def _publish(self, version: ModelVersion, aliases: Sequence[str]) -> None:
        """Log ``version`` as an artifact; a failure is reported once, the local copy stays."""
        if self.mode == "disabled" or self._failed:
            return
        import wandb

        try:
            run = start_run(
                mode=self.mode,
                directory=self.config.dir,
                project=self.config.project,
                entity=self.config.entity,
                job_type="register-model",
                group=version.meta.study,
                name=f"register-{version.name}-v{version.version}",
                config={"model": version.ref, **redact(attrs.asdict(version.meta))},
            )
            try:
                parent = version.meta.parent
                if parent and self.mode == "online":
                    run.use_artifact(self._remote_name(parent), type=ARTIFACT_TYPE)
                artifact = wandb.Artifact(
                    version.name, type=ARTIFACT_TYPE, metadata=artifact_metadata(version)
                )
                artifact.add_file(
                    str(self._weights_path(version)), name=WEIGHTS, policy="immutable"
                )
                run.log_artifact(artifact, aliases=[*aliases, version_alias(version.version)])
            finally:
                run.finish()
        except Exception as exc:
            self._failed = True
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            log.warning(
                "%s failed to log model version %s (%s: %s); it is saved locally in %s",
                self.label,
                version.ref,
                type(exc).__name__,
                redact_text(reason),
                self.cache.root,
            )
            return
        print_sync_hint(self.mode, self.config.dir)

    def _weights_path(self, version: ModelVersion) -> Path:
        return self.cache.root / version.name / f"v{version.version}" / WEIGHTS

    # ------------------------------------------------------------------ reading

    def get(self, ref: str) -> ModelVersion:
        try:
            return self.cache.get(ref)
        except NotFoundError:
            if self.mode != "online":
                raise
            return self._fetch(ref)[1]

    def load(self, ref: str) -> tuple[dict[str, np.ndarray], ModelVersion]:
        try:
            return self.cache.load(ref)
        except NotFoundError:
            if self.mode != "online":
                raise
            return self._fetch(ref)

    def list_versions(self, name: str | None = None) -> list[ModelVersion]:
        return self.cache.list_versions(name)

    def _remote_name(self, ref: str) -> str:
        """``entity/project/name:alias`` of a hyperplug ref (``name:vN`` -> ``hp-vN``)."""
        name, _, tag = ref.partition(":")
        tag = tag or LATEST
        match = VERSION_PATTERN.match(tag)
        if match:
            tag = version_alias(int(match.group(1)))
        parts = [self.config.entity, self.config.project, f"{name}:{tag}"]
        return "/".join(part for part in parts if part)

    def _fetch(self, ref: str) -> tuple[dict[str, np.ndarray], ModelVersion]:
        """A version the local index lacks, through W&B's public API (online only)."""
        import wandb
        from safetensors.numpy import load

        remote = self._remote_name(ref)
        try:
            artifact = wandb.Api().artifact(remote, type=ARTIFACT_TYPE)
        except (wandb.errors.CommError, ValueError) as exc:
            raise NotFoundError(f"model version '{ref}' not found locally nor in W&B") from exc
        version = version_from_metadata(artifact.metadata, aliases=artifact.aliases)
        with tempfile.TemporaryDirectory() as tmp:
            payload = (Path(artifact.download(root=tmp)) / WEIGHTS).read_bytes()
        if hashlib.sha256(payload).hexdigest() != version.sha256:
            raise StorageError(f"weights of W&B artifact '{remote}' do not match their sha256")
        return load(payload), version


def artifact_metadata(version: ModelVersion) -> dict[str, Any]:
    """What a version's artifact carries besides its weights (secrets masked)."""
    data = redact(attrs.asdict(version))
    del data["aliases"]  # they move; W&B keeps them on the artifact itself
    data["ref"] = version.ref
    return data


def version_from_metadata(metadata: Mapping[str, Any], aliases: Sequence[str]) -> ModelVersion:
    """The ``ModelVersion`` an artifact's metadata describes."""
    return ModelVersion(
        name=metadata["name"],
        version=metadata["version"],
        created_at=metadata["created_at"],
        sha256=metadata["sha256"],
        uri=metadata["uri"],
        meta=VersionMeta(**metadata["meta"]),
        aliases=tuple(
            a for a in aliases if not a.startswith("hp-v") and not VERSION_PATTERN.match(a)
        ),
    )
