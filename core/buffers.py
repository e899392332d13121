"""Memory buffers: bounded samples of earlier data for the replay updaters (numpy only).

The policies decide which offered rows stay:

- ``reservoir``: a uniform sample of every row ever offered, across updates (Vitter's
  algorithm R: the i-th row replaces a random slot with probability size/i);
- ``class_balanced``: classes as equal as the budget allows (greedy, as GDumb: a full
  buffer takes a row of a class smaller than the largest one, in place of a random row
  of the largest);
- ``sliding_window``: the most recent rows;
- ``unbounded``: every row (joint training).

A buffer saves itself as arrays and JSON (``to_state``) and comes back exactly
(``from_state``): same rows in the same slots, same counters, so an update after a
reload continues as if the process had never stopped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from hyperplug.errors import ConfigError
from hyperplug.interfaces import MemoryBuffer

BUFFERS = ("reservoir", "class_balanced", "sliding_window")
"""The buffers a replay updater's ``buffer`` option may name."""
#: rows an unbounded buffer allocates at first
_INITIAL_CAPACITY = 1024


class ArrayBuffer(MemoryBuffer):
    """Rows in preallocated arrays; subclasses choose the slot of an offered row.

    ``max_size`` rows at most (None: unbounded); ``rng`` draws the policy's random choices
    (seed it from the update's ``context.seed``)."""

    kind: ClassVar[str]
    """The policy's name (``reservoir``): what ``make_buffer`` takes."""

    def __init__(self, max_size: int | None, rng: np.random.Generator) -> None:
        if max_size is not None and max_size < 1:
            raise ConfigError(f"a {self.kind} buffer needs a size >= 1, got {max_size}")
        self.max_size = max_size
        """How many rows it keeps at most; None: unbounded."""
        self.rng = rng
        """The generator of the policy's random choices."""
        self.size = 0
        """How many slots are filled."""
        self.seen = 0
        """Rows offered so far, across updates."""
        self._x: np.ndarray | None = None
        self._y = np.zeros(0, dtype=np.int64)
        self._extras: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ policy

    def slot_for(self, label: int) -> int | None:
        """Where an offered row of class ``label`` goes (``size``: appended), or None."""
        raise NotImplementedError

    # ------------------------------------------------------------------ MemoryBuffer

    def add(
        self, x: np.ndarray, y: np.ndarray, extras: Mapping[str, np.ndarray] | None = None
    ) -> list[tuple[int, int]]:
        """The policy places rows one by one (its choices depend on what is stored); the
        rows' data is copied once, for the slots they end in (a slot taken twice within
        one call keeps the later row)."""
        x, y = np.asarray(x), np.asarray(y)
        if len(y) == 0:
            return []
        self._allocate(x)
        placed: dict[int, int] = {}
        for row in range(len(y)):
            label = int(y[row])
            slot = self.slot_for(label)
            self.seen += 1
            if slot is None:
                continue
            self._reserve(slot)
            self._y[slot] = label
            self.size = max(self.size, slot + 1)
            placed.pop(slot, None)
            placed[slot] = row
        if placed:
            slots = np.fromiter(placed, dtype=np.int64, count=len(placed))
            rows = np.fromiter(placed.values(), dtype=np.int64, count=len(placed))
            self._x[slots] = x[rows]
            given = {k: np.asarray(v, dtype=np.float32)[rows] for k, v in (extras or {}).items()}
            for key in self._extras.keys() - given.keys():
                self._extras[key][slots] = np.nan  # rows offered without it (e.g. no logits)
            for key, values in given.items():
                self._put_extras(key, slots, values)
        return list(placed.items())

    def __len__(self) -> int:
        return self.size

    @property
    def x(self) -> np.ndarray:
        """The rows held, in slot order (a view: copy before changing it)."""
        if self._x is None:
            return np.zeros((0,))
        return self._x[: self.size]

    @property
    def y(self) -> np.ndarray:
        """Their labels."""
        return self._y[: self.size]

    @property
    def extras(self) -> dict[str, np.ndarray]:
        """Per-row float32 arrays kept beside the rows (DER's logits), NaN where a row was
        offered without one."""
        return {key: value[: self.size] for key, value in self._extras.items()}

    def counts(self) -> dict[int, int]:
        """label -> how many rows of it are held."""
        labels, counts = np.unique(self.y, return_counts=True)
        return dict(zip(labels.tolist(), counts.tolist(), strict=True))

    # ------------------------------------------------------------------ state

    def to_state(self, prefix: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Arrays (``<prefix>x``, ``<prefix>y``, ``<prefix><extra>``) and JSON."""
        arrays = {f"{prefix}x": self.x.copy(), f"{prefix}y": self.y.copy()}
        arrays.update({f"{prefix}{key}": value.copy() for key, value in self.extras.items()})
        info = {"kind": self.kind, "max_size": self.max_size, "size": self.size}
        info.update({"seen": self.seen, **self.counters()})
        return arrays, info

    def counters(self) -> dict[str, Any]:
        """Policy state beyond the rows (the sliding window's next slot)."""
        return {}

    def restore(self, arrays: Mapping[str, np.ndarray], info: Mapping[str, Any], prefix: str):
        """Take back what ``to_state`` saved: exactly when the kind and size are the same,
        else by offering the saved rows to this buffer (a changed budget or policy)."""
        x = arrays.get(f"{prefix}x")
        if x is None or len(x) == 0:
            self.seen = int(info.get("seen", 0))
            return self
        y = np.asarray(arrays[f"{prefix}y"])
        extras = {
            key[len(prefix) :]: value
            for key, value in arrays.items()
            if key.startswith(prefix) and key not in (f"{prefix}x", f"{prefix}y")
        }
        same = info.get("kind") == self.kind and info.get("max_size") == self.max_size
        if same and len(y) <= (self.max_size or math.inf):
            n = len(y)
            capacity = self.max_size or max(_INITIAL_CAPACITY, n)
            self._x = _grown(np.asarray(x), capacity)
            self._y = _grown(y.astype(np.int64), capacity)
            self._extras = {
                key: _grown(np.asarray(value, dtype=np.float32), capacity, np.nan)
                for key, value in extras.items()
            }
            self.size = n
            self.seen = int(info.get("seen", n))
            self.restore_counters(info)
        else:
            self.add(x, y, extras)
        return self

    def restore_counters(self, info: Mapping[str, Any]) -> None:
        """Take back ``counters()``."""

    # ------------------------------------------------------------------ storage

    def _allocate(self, x: np.ndarray) -> None:
        """Storage for rows shaped like ``x``'s, the first time; a row of another shape
        is refused."""
        if self._x is None:
            capacity = self.max_size or _INITIAL_CAPACITY
            self._x = np.zeros((capacity, *x.shape[1:]), dtype=x.dtype)
            self._y = np.zeros(capacity, dtype=np.int64)
        if x.shape[1:] != self._x.shape[1:]:
            raise ConfigError(
                f"memory buffer holds rows shaped {self._x.shape[1:]}, got a row shaped "
                f"{x.shape[1:]}"
            )

    def _reserve(self, slot: int) -> None:
        """Room for ``slot`` (an unbounded buffer doubles)."""
        assert self._x is not None
        if slot >= len(self._y):
            capacity = max(2 * len(self._y), slot + 1)
            self._x = _grown(self._x, capacity)
            self._y = _grown(self._y, capacity)
            self._extras = {k: _grown(v, capacity, np.nan) for k, v in self._extras.items()}

    def set_extra(self, key: str, slot: int, value: np.ndarray) -> None:
        """Set the ``key`` extra of the row in ``slot`` (e.g. logits taken later)."""
        if not 0 <= slot < self.size:
            raise IndexError(f"slot {slot} is not filled (buffer size {self.size})")
        self._put_extras(key, np.array([slot]), np.asarray(value, dtype=np.float32)[None])

    def _put_extras(self, key: str, slots: np.ndarray, values: np.ndarray) -> None:
        """Store per-row vectors; vectors of another width (logits of a model whose
        output layer grew) are padded with NaN to the widest."""
        stored = self._extras.get(key)
        if stored is None:
            stored = np.full((len(self._y), *values.shape[1:]), np.nan, dtype=np.float32)
        if values.ndim == 2 and stored.ndim == 2 and values.shape[1] != stored.shape[1]:
            width = max(values.shape[1], stored.shape[1])
            stored = _widened(stored, width)
            values = _widened(values, width)
        stored[slots] = values
        self._extras[key] = stored


def _grown(array: np.ndarray, capacity: int, fill: Any = 0) -> np.ndarray:
    grown = np.full((capacity, *array.shape[1:]), fill, dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def _widened(array: np.ndarray, width: int) -> np.ndarray:
    wide = np.full((len(array), width), np.nan, dtype=array.dtype)
    wide[:, : array.shape[1]] = array
    return wide


class ReservoirBuffer(ArrayBuffer):
    """A uniform sample of every row ever offered (Vitter's algorithm R)."""

    kind = "reservoir"
    """The name ``make_buffer`` and a replay updater's ``buffer`` option know it by."""

    def slot_for(self, label: int) -> int | None:
        """The next free slot; once full, a random slot with probability size/seen."""
        assert self.max_size is not None
        if self.size < self.max_size:
            return self.size
        slot = int(self.rng.integers(0, self.seen + 1))
        return slot if slot < self.max_size else None


class ClassBalancedBuffer(ArrayBuffer):
    """Classes as equal as the budget allows (GDumb's greedy policy)."""

    kind = "class_balanced"
    """The name ``make_buffer`` and a replay updater's ``buffer`` option know it by."""

    def slot_for(self, label: int) -> int | None:
        """The next free slot; once full, a random row of a largest class, unless the
        row's class is already among the largest."""
        assert self.max_size is not None
        if self.size < self.max_size:
            return self.size
        counts = self.counts()
        largest = max(counts.values())
        if counts.get(label, 0) >= largest:
            return None  # its class is already among the largest
        biggest = sorted(c for c, n in counts.items() if n == largest)
        victim = biggest[int(self.rng.integers(0, len(biggest)))]
        slots = np.flatnonzero(self.y == victim)
        return int(slots[int(self.rng.integers(0, len(slots)))])


class SlidingWindowBuffer(ArrayBuffer):
    """The most recent ``max_size`` rows."""

    kind = "sliding_window"
    """The name ``make_buffer`` and a replay updater's ``buffer`` option know it by."""

    def __init__(self, max_size: int | None, rng: np.random.Generator) -> None:
        super().__init__(max_size, rng)
        self.next_slot = 0
        """The slot the next row overwrites."""

    def slot_for(self, label: int) -> int | None:
        """The slots in turn, round and round."""
        assert self.max_size is not None
        slot = self.next_slot
        self.next_slot = (self.next_slot + 1) % self.max_size
        return slot

    def counters(self) -> dict[str, Any]:
        """``{"next_slot": ...}``."""
        return {"next_slot": self.next_slot}

    def restore_counters(self, info: Mapping[str, Any]) -> None:
        """Take back ``next_slot``."""
        self.next_slot = int(info.get("next_slot", self.size % (self.max_size or 1)))


class UnboundedBuffer(ArrayBuffer):
    """Every row offered (joint training keeps all the data)."""

    kind = "unbounded"
    """The name ``make_buffer`` knows it by (the ``joint`` updater uses it)."""

    def slot_for(self, label: int) -> int | None:
        """Always a new slot."""
        return self.size


_KINDS: dict[str, type[ArrayBuffer]] = {
    cls.kind: cls
    for cls in (ReservoirBuffer, ClassBalancedBuffer, SlidingWindowBuffer, UnboundedBuffer)
}


def make_buffer(kind: str, max_size: int | None, rng: np.random.Generator) -> ArrayBuffer:
    """An empty buffer of a policy named in ``BUFFERS`` (or ``unbounded``)."""
    if kind not in _KINDS:
        raise ConfigError(f"unknown memory buffer {kind!r}; buffers: {', '.join(BUFFERS)}")
    return _KINDS[kind](None if kind == "unbounded" else max_size, rng)


def load_buffer(
    kind: str,
    max_size: int | None,
    rng: np.random.Generator,
    arrays: Mapping[str, np.ndarray],
    info: Mapping[str, Any] | None,
    prefix: str,
) -> ArrayBuffer:
    """A buffer of ``kind`` and ``max_size`` holding what a version saved under ``prefix``
    (empty if it saved nothing there)."""
    return make_buffer(kind, max_size, rng).restore(arrays, info or {}, prefix)
