"""``VcsConformance``: what every ``vcs`` (version-control system) component must do.

Point ``config()`` at a fresh location under ``tmp_path``; set ``persistent = False`` for
a store that cannot read back what an earlier instance wrote.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from hyperplug.components import Component
from hyperplug.errors import HyperplugError, NotFoundError
from hyperplug.interfaces import ModelVersion, ResourceVersionControl, VersionMeta
from hyperplug.testing.base import ComponentConformance


def weights(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "layer.weight": rng.normal(size=(3, 4)).astype(np.float32),
        "layer.bias": rng.normal(size=4).astype(np.float64),
        "booster": rng.integers(0, 255, size=17).astype(np.uint8),
        "steps": np.array([seed], dtype=np.int64),
    }


META = VersionMeta(
    trainer="mlp",
    trainer_config={"name": "mlp", "hidden_layers": [8]},
    params={"lr": 0.1},
    metrics={"val_accuracy": 0.75},
    info={"classes": ["a", "b"]},
    study="conformance",
    trial_id=3,
    data_fingerprint="f" * 64,
)


def assert_same_weights(found: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert sorted(found) == sorted(expected)
    for key, value in expected.items():
        assert found[key].dtype == value.dtype and found[key].shape == value.shape, key
        np.testing.assert_array_equal(found[key], value)


class VcsConformance(ComponentConformance):
    """Subclass as ``class TestMyStore(VcsConformance)`` and set ``component``."""

    kind = "vcs"
    persistent: ClassVar[bool] = True
    """Whether a second instance built from the same config sees the first one's versions."""

    def test_is_a_resource_version_control(self, build: Any) -> None:
        """The factory builds a ``ResourceVersionControl``."""
        assert isinstance(build(), ResourceVersionControl)

    def test_a_version_round_trips_weights_and_metadata(self, build: Any) -> None:
        """A saved version is ``name:v1`` with alias ``latest``, and ``load`` gives back its weights
        (dtypes and shapes) and metadata."""
        vcs = build()
        saved = vcs.save("conformance", weights(1), META)
        assert isinstance(saved, ModelVersion)
        assert (saved.ref, saved.aliases, saved.meta) == ("conformance:v1", ("latest",), META)
        loaded, version = vcs.load("conformance:v1")
        assert_same_weights(loaded, weights(1))
        assert version == saved

    def test_versions_are_immutable_and_aliases_move(self, build: Any) -> None:
        """A new save keeps the older version's weights; ``latest``, ``best`` and ``set_alias`` move
        aliases; a bare name is its latest; ``list_versions`` lists by name and number."""
        vcs = build()
        vcs.save("model", weights(1), META)
        second = vcs.save("model", weights(2), META, aliases=("latest", "best"))
        assert second.version == 2 and set(second.aliases) == {"latest", "best"}
        assert_same_weights(vcs.load("model:v1")[0], weights(1))
        assert vcs.get("model") == vcs.get("model:latest") == vcs.get("model:v2")
        assert vcs.get("model:v1").aliases == ()
        moved = vcs.set_alias("model:v1", "best")
        assert moved.version == 1 and moved.aliases == ("best",)
        assert vcs.get("model:best").version == 1
        assert [v.ref for v in vcs.list_versions("model")] == ["model:v1", "model:v2"]
        vcs.save("other", weights(3), META)
        assert {v.ref for v in vcs.list_versions()} == {"model:v1", "model:v2", "other:v1"}

    @pytest.mark.parametrize("ref", ["missing", "missing:v1", "model:v9", "model:nope"])
    def test_unknown_refs_are_not_found(self, build: Any, ref: str) -> None:
        """An unknown name, version or alias raises a ``NotFoundError`` naming it."""
        vcs = build()
        vcs.save("model", weights(1), META)
        with pytest.raises(NotFoundError, match=ref.split(":")[0]):
            vcs.get(ref)

    @pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden"])
    def test_unsafe_model_names_are_refused(self, build: Any, name: str) -> None:
        """A name that could leave the store (``../escape``, ``a/b``, empty, hidden) raises a
        ``HyperplugError`` and saves nothing."""
        vcs = build()
        with pytest.raises(HyperplugError):
            vcs.save(name, weights(1), META)
        assert vcs.list_versions() == []

    def test_versions_survive_a_new_instance(self, registered: Component, tmp_path: Path) -> None:
        """A second instance on the same config loads the first one's versions (skipped unless
        ``persistent``)."""
        if not self.persistent:
            pytest.skip("this store does not read back earlier instances' versions")
        saved = self.build_component(registered, tmp_path).save("kept", weights(1), META)
        loaded, version = self.build_component(registered, tmp_path).load("kept:latest")
        assert version == saved
        assert_same_weights(loaded, weights(1))
