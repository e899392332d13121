"""Is the data shifting? A chunk of new data tested against the data of a model version.

Every model version keeps a random sample of up to ``SAMPLE_SIZE`` of the training inputs
it was trained or updated on (``hyperplug.update_state.kept_data``). A ``detector``
component (a two-sample test) compares the chunk's rows with that sample: all of the
chunk's rows, train, validation and test together, since the question is whether the
data that arrived differs, not how a splitter would cut it (and more rows test better).

``hyperplug drift`` reports the test; ``hyperplug update ... detector=NAME`` (and
``hyperplug.update(..., detector=NAME)``) tests first and skips the update when the test
finds no shift, or records the test in the new version (``VersionMeta.update["drift"]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from hyperplug.data import Dataset, DataSplits
from hyperplug.errors import DataError
from hyperplug.interfaces import (
    DriftDetector,
    DriftResult,
    ModelVersion,
    ResourceVersionControl,
)
from hyperplug.update_state import SAMPLE_KEY, _shape, split_arrays

#: the detector ``hyperplug drift`` uses when none is chosen
DEFAULT_DETECTOR = "mmd"


def kept_sample(vcs: ResourceVersionControl, ref: str) -> tuple[np.ndarray, ModelVersion]:
    """The sample of training inputs version ``ref`` keeps, and the version; a
    ``DataError`` for a version saved before versions kept one."""
    arrays, version = vcs.load(ref)
    _, state = split_arrays(arrays)
    sample = state.get(f"{SAMPLE_KEY}x")
    if sample is None or len(sample) == 0:
        raise DataError(
            f"model={ref}: version {version.ref} keeps no sample of its training inputs "
            "(it was saved before versions kept one), so there is nothing to test the data "
            "against; its next version will keep one"
        )
    return sample, version


def chunk_rows(data: DataSplits | Dataset | np.ndarray) -> np.ndarray:
    """Every row of a chunk: a split chunk's train, validation and test rows together."""
    if isinstance(data, DataSplits):
        return np.concatenate([data.train.x, data.val.x, data.test.x])
    if isinstance(data, Dataset):
        return data.x
    return np.asarray(data)


def detect_shift(
    detector: DriftDetector,
    vcs: ResourceVersionControl,
    ref: str,
    data: DataSplits | Dataset | np.ndarray,
    where: str = "dataset",
) -> tuple[DriftResult, ModelVersion]:
    """The chunk ``data`` tested against the sample version ``ref`` keeps. A chunk whose
    rows are shaped otherwise than the version's is a ``DataError`` naming ``where``."""
    sample, version = kept_sample(vcs, ref)
    rows = chunk_rows(data)
    if rows.shape[1:] != sample.shape[1:]:
        raise DataError(
            f"{where}: the chunk's samples are shaped {_shape(rows.shape[1:])} but model "
            f"{version.ref} takes {_shape(sample.shape[1:])}"
        )
    return detector.test(sample, rows), version


def level(result: DriftResult) -> float | None:
    """The level a result was tested at (``alpha``), when the detector says."""
    alpha = result.details.get("alpha")
    return float(alpha) if isinstance(alpha, int | float) else None


def comparison(result: DriftResult) -> str:
    """``p-value 0.002 < alpha 0.05`` (the p-value alone when the level is unknown)."""
    alpha = level(result)
    if alpha is None:
        return f"p-value {result.p_value:.4g}"
    return f"p-value {result.p_value:.4g} {'<' if result.shift else '>='} alpha {alpha:g}"


def verdict(result: DriftResult) -> str:
    """``shift (p-value 0.002 < alpha 0.05)`` or ``no shift (p-value 0.41 >= alpha 0.05)``."""
    return f"{'shift' if result.shift else 'no shift'} ({comparison(result)})"


def drift_record(result: DriftResult, version: ModelVersion) -> dict[str, Any]:
    """What an update records of the test that let it run (``VersionMeta.update["drift"]``)."""
    return {"reference": version.ref, **attrs.asdict(result)}


@attrs.frozen
class UpdateSkipped:
    """What an update with a detector returns when the chunk shows no shift: ``model``
    stays the current version, nothing was trained or written."""

    model: ModelVersion
    """The version that was not updated (it stays the current one)."""
    drift: DriftResult
    """The test that found no shift."""

    @property
    def message(self) -> str:
        """The one line the command line prints for it."""
        result = self.drift
        return (
            f"no shift: {result.detector} statistic {result.statistic:.4g}, {comparison(result)} "
            f"({result.n_new} new rows against {result.n_reference} kept by "
            f"{self.model.ref}); update skipped (nothing trained, no version saved)"
        )


def make_detector(detector: str | Mapping[str, Any] | DriftDetector) -> DriftDetector:
    """A detector given by name, config mapping (``{"name": "ks", "alpha": 0.01}``) or
    instance."""
    if isinstance(detector, DriftDetector):
        return detector
    from hyperplug.config import configure
    from hyperplug.plugin_manager import get_plugin_manager

    node = {"name": detector} if isinstance(detector, str) else dict(detector)
    component, config = configure("detector", node, get_plugin_manager())
    return component.build(config)


def check_drift(
    data: DataSplits | Dataset | np.ndarray,
    *,
    model: str,
    detector: str | Mapping[str, Any] | DriftDetector = DEFAULT_DETECTOR,
    vcs: ResourceVersionControl | None = None,
    home: str | Path = ".hyperplug",
) -> DriftResult:
    """Test a chunk of new data (its rows, shaped like the model's inputs) against the
    sample of training inputs model version ``model`` keeps, as ``hyperplug drift``
    does. ``vcs`` defaults to the model store under ``home``."""
    from hyperplug.api import build

    vcs = vcs or build("vcs", name="store", root=str(Path(home) / "models"))
    return detect_shift(make_detector(detector), vcs, model, data)[0]
