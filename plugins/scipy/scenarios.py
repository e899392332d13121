"""The built-in scenarios: ways to cut a dataset into a stream of chunks.

Random scenarios deal each class's rows evenly over the chunks (so every chunk has every
class, enough rows of each for a stratified train/val/test split) from a generator seeded
by ``scenario.seed``; ordered ones cut the rows in order. The transformed scenarios
(rotation, permutation, hue shift) change chunk k's inputs by its own amount: the classes
stay, the inputs drift.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hyperplug.data import Dataset, fingerprint_arrays
from hyperplug.errors import DataError
from hyperplug.interfaces import Scenario

#: rows of each class a chunk needs at least (a stratified train/val/test split)
MIN_ROWS_PER_CLASS = 3


def subset(dataset: Dataset, index: int, rows: np.ndarray, x: np.ndarray | None = None) -> Dataset:
    """Chunk ``index``: the dataset's ``rows`` (inputs replaced by ``x`` when given)."""
    x = dataset.x[rows] if x is None else x
    y = dataset.y[rows]
    return Dataset(
        f"{dataset.name}-chunk{index}",
        x,
        y,
        dataset.classes,
        fingerprint_arrays(x, y),
        dataset.features,
    )


def deal(dataset: Dataset, n_chunks: int, seed: int, where: str) -> list[np.ndarray]:
    """Each class's rows shuffled and dealt evenly over ``n_chunks`` chunks."""
    counts = np.bincount(dataset.y, minlength=len(dataset.classes))
    present = np.flatnonzero(counts)
    smallest = present[np.argmin(counts[present])]
    if counts[smallest] < n_chunks * MIN_ROWS_PER_CLASS:
        raise DataError(
            f"{where}.n_chunks={n_chunks}: class {dataset.classes[smallest]!r} of dataset "
            f"{dataset.name!r} has {counts[smallest]} rows; {n_chunks} chunks need "
            f"{n_chunks * MIN_ROWS_PER_CLASS} ({MIN_ROWS_PER_CLASS} a chunk for train, val "
            "and test): use fewer chunks"
        )
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in range(n_chunks)]
    for label in present:
        rows = rng.permutation(np.flatnonzero(dataset.y == label))
        for chunk, share in enumerate(np.array_split(rows, n_chunks)):
            parts[chunk].append(share)
    return [np.sort(np.concatenate(part)) for part in parts]


def cut(order: np.ndarray, n_chunks: int, dataset: Dataset, where: str) -> list[np.ndarray]:
    """``order`` (all row indices) cut into ``n_chunks`` consecutive chunks."""
    if len(order) < n_chunks * MIN_ROWS_PER_CLASS:
        raise DataError(
            f"{where}.n_chunks={n_chunks}: dataset {dataset.name!r} has {len(order)} rows, "
            f"too few for {n_chunks} chunks: use fewer chunks"
        )
    return list(np.array_split(order, n_chunks))


def image_axes(dataset: Dataset, where: str, colour: bool = False) -> str:
    """``"chw"`` for (n, C, H, W) rows (and (n, H, W), one channel), ``"hwc"`` for
    (n, H, W, 3); a DataError for tabular rows (or, with ``colour``, one channel)."""
    shape = dataset.x.shape[1:]
    if colour:
        if len(shape) == 3 and shape[0] == 3:
            return "chw"
        if len(shape) == 3 and shape[-1] == 3:
            return "hwc"
        raise DataError(
            f"{where} needs colour images shaped (n, 3, H, W) or (n, H, W, 3); dataset "
            f"{dataset.name!r} has rows shaped {shape}"
        )
    if len(shape) not in (2, 3):
        raise DataError(
            f"{where} needs images shaped (n, H, W) or (n, C, H, W); dataset "
            f"{dataset.name!r} has rows shaped {shape}: use an image dataset such as "
            "dataset=digits_images"
        )
    return "chw"


class ClassIncremental(Scenario):
    def chunks(self, dataset: Dataset) -> list[Dataset]:
        groups = self.groups(dataset)
        return [
            subset(dataset, index, np.flatnonzero(np.isin(dataset.y, group)))
            for index, group in enumerate(groups)
        ]

    def groups(self, dataset: Dataset) -> list[list[int]]:
        """The class indices of each chunk."""
        names = list(dataset.classes)
        if self.config.groups is None:
            n = self.config.n_chunks
            present = [int(c) for c in np.unique(dataset.y)]
            if n > len(present):
                raise DataError(
                    f"scenario.n_chunks={n}: a class-incremental stream needs at least one "
                    f"class a chunk; dataset {dataset.name!r} has {len(present)} classes"
                )
            return [list(map(int, g)) for g in np.array_split(np.array(present), n)]
        groups, seen = [], set()
        for group in self.config.groups:
            indices = []
            for name in group:
                if str(name) not in names:
                    raise DataError(
                        f"scenario.groups: {name!r} is not a class of dataset "
                        f"{dataset.name!r} (classes: {', '.join(names)})"
                    )
                if str(name) in seen:
                    raise DataError(f"scenario.groups: class {name!r} is in two chunks")
                seen.add(str(name))
                indices.append(names.index(str(name)))
            groups.append(indices)
        return groups


class IID(Scenario):
    def chunks(self, dataset: Dataset) -> list[Dataset]:
        rows = deal(dataset, self.config.n_chunks, self.config.seed, "scenario")
        return [subset(dataset, k, r) for k, r in enumerate(rows)]


class DataIncremental(Scenario):
    def chunks(self, dataset: Dataset) -> list[Dataset]:
        order = np.arange(len(dataset))
        column = self.config.column
        if column is not None:
            if column not in dataset.features:
                named = ", ".join(dataset.features) or "none (a csv dataset names its columns)"
                raise DataError(
                    f"scenario.column: {column!r} is not a column of dataset "
                    f"{dataset.name!r}; its columns: {named}"
                )
            values = dataset.x[:, dataset.features.index(column)]
            order = np.argsort(values, kind="stable")
        rows = cut(order, self.config.n_chunks, dataset, "scenario")
        return [subset(dataset, k, r) for k, r in enumerate(rows)]


class FeatureSorting(Scenario):
    def chunks(self, dataset: Dataset) -> list[Dataset]:
        flat = dataset.x.reshape(len(dataset), -1)
        feature = self.config.feature
        if feature is not None and feature >= flat.shape[1]:
            raise DataError(
                f"scenario.feature={feature}: rows of dataset {dataset.name!r} have "
                f"{flat.shape[1]} features (0-{flat.shape[1] - 1})"
            )
        values = flat.mean(axis=1) if feature is None else flat[:, feature]
        rows = cut(np.argsort(values, kind="stable"), self.config.n_chunks, dataset, "scenario")
        return [subset(dataset, k, r) for k, r in enumerate(rows)]


class Transformed(Scenario):
    """Rows dealt at random; chunk k's inputs changed by ``transform(x, k)``."""

    where = "scenario"

    def check(self, dataset: Dataset) -> None:
        """Refuse a dataset the transform does not apply to."""

    def transform(self, x: np.ndarray, chunk: int) -> np.ndarray:
        raise NotImplementedError

    def chunks(self, dataset: Dataset) -> list[Dataset]:
        self.check(dataset)
        rows = deal(dataset, self.n_chunks(), self.config.seed, "scenario")
        return [subset(dataset, k, r, self.transform(dataset.x[r], k)) for k, r in enumerate(rows)]

    def n_chunks(self) -> int:
        return int(self.config.n_chunks)


class Rotation(Transformed):
    def check(self, dataset: Dataset) -> None:
        image_axes(dataset, "scenario=rotation")

    def n_chunks(self) -> int:
        degrees = self.config.degrees
        return len(degrees) if degrees is not None else int(self.config.n_chunks)

    def angles(self) -> Sequence[float]:
        if self.config.degrees is not None:
            return [float(d) for d in self.config.degrees]
        return list(np.linspace(0.0, self.config.max_degrees, self.config.n_chunks))

    def transform(self, x: np.ndarray, chunk: int) -> np.ndarray:
        from scipy.ndimage import rotate

        angle = self.angles()[chunk]
        if angle == 0:
            return x
        turned = rotate(x.astype(np.float64), angle, axes=(-1, -2), reshape=False, order=1)
        return turned.astype(x.dtype) if x.dtype.kind == "f" else np.rint(turned).astype(x.dtype)


class Permutation(Transformed):
    def transform(self, x: np.ndarray, chunk: int) -> np.ndarray:
        if chunk == 0:
            return x
        flat = x.reshape(len(x), -1)
        order = np.random.default_rng([self.config.seed, chunk]).permutation(flat.shape[1])
        return flat[:, order].reshape(x.shape)


class HueShift(Transformed):
    """Turns the hue of colour images (matplotlib's HSV conversion: ``hyperplug[plots]``)."""

    def check(self, dataset: Dataset) -> None:
        from hyperplug.extras import require_extra

        require_extra("scenario=hue_shift", "plots")
        self.layout = image_axes(dataset, "scenario=hue_shift", colour=True)

    def transform(self, x: np.ndarray, chunk: int) -> np.ndarray:
        from matplotlib.colors import hsv_to_rgb, rgb_to_hsv

        if chunk == 0:
            return x
        scale = 255.0 if x.dtype.kind in "iu" else max(1.0, float(np.max(x)))
        rgb = x.astype(np.float64) / scale
        if self.layout == "chw":
            rgb = np.moveaxis(rgb, 1, -1)
        hsv = rgb_to_hsv(np.clip(rgb, 0.0, 1.0))
        hsv[..., 0] = (hsv[..., 0] + chunk / self.n_chunks()) % 1.0
        shifted = hsv_to_rgb(hsv)
        if self.layout == "chw":
            shifted = np.moveaxis(shifted, -1, 1)
        shifted = shifted * scale
        return shifted.astype(x.dtype) if x.dtype.kind == "f" else np.rint(shifted).astype(x.dtype)
