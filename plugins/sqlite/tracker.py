"""A tracker that keeps studies, trials and per-epoch metrics in one SQLite file.

Several processes may write the same file at once (Hydra multirun jobs under the joblib
launcher, backend workers). SQLite serialises writers with a file lock, WAL lets readers go
on while one process writes, and the busy timeout makes a writer wait for the lock instead
of failing. Every write runs in ``BEGIN IMMEDIATE``, which takes the write lock before the
transaction's first read: that is what makes "create the study unless it exists" and "the
next trial number" race-free across processes.

A connection belongs to the process that opened it (SQLite forbids carrying one across
``fork``), so the tracker remembers the pid and opens a new connection in a child.

A file that is not there yet is created by the first write: reading (a refused command,
an inspection) creates nothing. A file that is there is checked (``PRAGMA quick_check``)
when a connection opens, before anything is written: a damaged file is refused whole and
left as it is. Each time a study ends, SQLite's online backup API copies the database to
``<path>.backup``: the last good copy that the refusal points to.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import numbers
import operator
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from hyperplug.atomic import atomic_file
from hyperplug.config import MODES
from hyperplug.errors import ConfigError, NotFoundError, StorageError, did_you_mean
from hyperplug.interfaces import (
    TRIAL_STATUSES,
    MetadataTracker,
    MetricRecord,
    MetricsTracker,
    StudyRecord,
    TrialRecord,
)
from hyperplug.paths import check_directory
from hyperplug.serialize import to_json

log = logging.getLogger(__name__)

#: the suffix of the last good copy of the database (``hp.db.backup``)
BACKUP_SUFFIX = ".backup"

#: PRAGMA user_version of the schema below; a file with a higher version is refused.
SCHEMA_VERSION = 1

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS studies (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        perf_metric TEXT NOT NULL,
        mode TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        config TEXT NOT NULL,
        winner_trial_id INTEGER REFERENCES trials (id),
        winner_version TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS trials (
        id INTEGER PRIMARY KEY,
        study_id INTEGER NOT NULL REFERENCES studies (id),
        number INTEGER NOT NULL,
        trainer TEXT NOT NULL,
        params TEXT NOT NULL,
        trainer_config TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        error TEXT,
        UNIQUE (study_id, number)
    )""",
    """CREATE TABLE IF NOT EXISTS metrics (
        trial_id INTEGER NOT NULL REFERENCES trials (id),
        epoch INTEGER NOT NULL,
        name TEXT NOT NULL,
        value REAL,
        recorded_at REAL NOT NULL,
        PRIMARY KEY (trial_id, epoch, name)
    ) WITHOUT ROWID""",
)

#: statuses a study or trial can end with
END_STATUSES = tuple(status for status in TRIAL_STATUSES if status != "running")


@attrs.define
class SQLiteTrackerConfig:
    name: str = "sqlite"
    #: the database file; its directory is created if absent
    path: str = ".hyperplug/hyperplug.db"
    #: how long a writer waits for another process's write lock
    timeout_s: float = 30.0

    def records_location(self) -> tuple[str, str] | None:
        """The database file the inspection commands read (none for ``:memory:``)."""
        return None if self.path == ":memory:" else ("path", self.path)


class SQLiteTracker(MetadataTracker, MetricsTracker):
    """Both a metadata and a metrics tracker, backed by one SQLite database file."""

    def __init__(self, config: SQLiteTrackerConfig) -> None:
        self.config = config
        self.path = config.path if config.path == ":memory:" else Path(config.path).expanduser()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._conn: sqlite3.Connection | None = None
        #: answers reads while the file does not exist (reading creates nothing)
        self._empty: sqlite3.Connection | None = None
        # A bad path or a damaged file fails now, before any trial runs.
        with self._lock:
            if self._absent():
                self._check_creatable()
            else:
                self._connection()

    # ------------------------------------------------------------------ connection

    def _absent(self) -> bool:
        return isinstance(self.path, Path) and not self.path.exists()

    def _check_creatable(self) -> None:
        """The file can be made: no regular file is in the way, and its nearest existing
        ancestor is a writable directory."""
        assert isinstance(self.path, Path)
        check_directory("tracker.path", self.config.path, self.path.parent)
        parent = self.path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise StorageError(
                f"cannot create tracker database '{self.path}': '{parent}' is not a "
                "writable directory"
            )

    def _connection(self, write: bool = True) -> sqlite3.Connection:
        if self._pid != os.getpid():
            # Inherited through fork: the parent's connection must not be used here.
            self._pid, self._conn, self._empty = os.getpid(), None, None
        if self._conn is None:
            if not write and self._absent():
                if self._empty is None:
                    self._empty = sqlite3.connect(":memory:", check_same_thread=False)
                    self._empty.row_factory = sqlite3.Row
                    self._ensure_schema(self._empty)
                return self._empty
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        if isinstance(self.path, Path):
            check_directory("tracker.path", self.config.path, self.path.parent)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StorageError(
                    f"tracker.path: cannot create the directory of tracker database "
                    f"'{self.path}': {error.strerror or error}"
                ) from error
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self.config.timeout_s,
                isolation_level=None,  # transactions are explicit, see _transaction
                check_same_thread=False,  # guarded by self._lock
            )
            conn.row_factory = sqlite3.Row
            self._check_sound(conn)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._ensure_schema(conn)
        except sqlite3.Error as error:
            raise StorageError(f"cannot open tracker database '{self.path}': {error}") from error
        return conn

    def _check_sound(self, conn: sqlite3.Connection) -> None:
        """Refuse a damaged file before the first write (even the journal-mode pragma)."""
        try:
            found = [row[0] for row in conn.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as error:
            found = [str(error)]
        if found != ["ok"]:
            conn.close()
            backup = Path(f"{self.path}{BACKUP_SUFFIX}")
            restore = (
                f"copy its last good copy '{backup}' (SQLite's online backup, made when a "
                "study last ended) over it, or point tracker.path at a fresh file"
                if backup.exists()
                else f"salvage it (sqlite3 '{self.path}' .recover) or point tracker.path "
                "at a fresh file"
            )
            raise StorageError(
                f"tracker database '{self.path}' is damaged ({found[0]}); nothing was "
                f"written to it. To go on, {restore}"
            )

    def _backup(self) -> None:
        """Copy the database to ``<path>.backup`` with SQLite's online backup API (a
        consistent snapshot while other processes write), checked, then renamed into
        place: the backup is always a whole, sound database."""
        if not isinstance(self.path, Path) or self._conn is None:
            return
        final = Path(f"{self.path}{BACKUP_SUFFIX}")
        try:
            with atomic_file(final) as tmp:
                target = sqlite3.connect(tmp)
                try:
                    self._conn.backup(target)
                    check = target.execute("PRAGMA quick_check").fetchone()[0]
                finally:
                    target.close()
                if check != "ok":
                    raise sqlite3.DatabaseError(f"the copy fails its check: {check}")
        except (OSError, sqlite3.Error) as error:  # a missed backup never fails a study
            log.warning("tracker database '%s': no backup written (%s)", self.path, error)

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"tracker database '{self.path}' has schema version {version}; this "
                    f"hyperplug reads version {SCHEMA_VERSION}, upgrade hyperplug"
                )
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    @contextlib.contextmanager
    def _transaction(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction; ``write`` takes the database's write lock up front."""
        with self._lock:
            conn = self._connection(write)
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield conn
                    conn.execute("COMMIT")
                finally:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
            except sqlite3.Error as error:
                raise StorageError(f"tracker database '{self.path}': {error}") from error

    def close(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                for conn in (self._conn, self._empty):
                    if conn is not None:
                        conn.close()
            self._conn = self._empty = None

    def check_integrity(self) -> bool:
        """True when SQLite finds the file sound and every foreign key resolves."""
        try:
            with self._transaction() as conn:
                checks = [row[0] for row in conn.execute("PRAGMA integrity_check")]
                dangling = conn.execute("PRAGMA foreign_key_check").fetchall()
        except StorageError:
            return False
        return checks == ["ok"] and not dangling

    # ------------------------------------------------------------------ studies

    def start_study(
        self, name: str, perf_metric: str, mode: str, config: Mapping[str, Any]
    ) -> StudyRecord:
        if not name:
            raise ConfigError("study name must not be empty")
        if mode not in MODES:
            raise ConfigError(f"mode of study '{name}' must be 'max' or 'min', got {mode!r}")
        config_json = to_json(config, f"config of study '{name}'")
        with self._transaction(write=True) as conn:
            conn.execute(
                "INSERT OR IGNORE INTO studies"
                " (name, perf_metric, mode, status, created_at, config)"
                " VALUES (?, ?, ?, 'running', ?, ?)",
                (name, perf_metric, mode, time.time(), config_json),
            )
            study = _study(conn.execute("SELECT * FROM studies WHERE name = ?", (name,)).fetchone())
        for key, wanted in (("perf_metric", perf_metric), ("mode", mode)):
            found = getattr(study, key)
            if found != wanted:
                raise ConfigError(
                    f"study '{name}' exists with {key}={found!r}, not {wanted!r}; "
                    "choose another study name"
                )
        return study

    def end_study(
        self,
        study_id: int,
        status: str,
        winner_trial_id: int | None = None,
        winner_version: str | None = None,
    ) -> StudyRecord:
        _check_end_status(status, f"study id {study_id}")
        with self._transaction(write=True) as conn:
            self._require_study(conn, study_id)
            if winner_trial_id is not None:
                owner = conn.execute(
                    "SELECT study_id FROM trials WHERE id = ?", (winner_trial_id,)
                ).fetchone()
                if owner is None or owner[0] != study_id:
                    raise NotFoundError(
                        f"winner trial id {winner_trial_id} is not a trial of study id {study_id}"
                    )
            # A winner left out keeps the one recorded before (a resumed study that fails
            # still has the winner of its earlier run).
            conn.execute(
                "UPDATE studies SET status = ?, winner_trial_id = COALESCE(?, winner_trial_id),"
                " winner_version = COALESCE(?, winner_version) WHERE id = ?",
                (status, winner_trial_id, winner_version, study_id),
            )
            study = _study(
                conn.execute("SELECT * FROM studies WHERE id = ?", (study_id,)).fetchone()
            )
        with self._lock:
            self._backup()
        return study

    def get_study(self, name: str) -> StudyRecord:
        with self._transaction() as conn:
            row = conn.execute("SELECT * FROM studies WHERE name = ?", (name,)).fetchone()
            if row is None:
                names = [r[0] for r in conn.execute("SELECT name FROM studies")]
                raise NotFoundError(f"study '{name}' not found{did_you_mean(name, names)}")
        return _study(row)

    def list_studies(self) -> list[StudyRecord]:
        with self._transaction() as conn:
            return [_study(row) for row in conn.execute("SELECT * FROM studies ORDER BY id")]

    # ------------------------------------------------------------------ trials

    def start_trial(
        self,
        study_id: int,
        trainer: str,
        params: Mapping[str, Any],
        trainer_config: Mapping[str, Any],
    ) -> TrialRecord:
        params_json = to_json(params, f"params of a trial of study id {study_id}")
        config_json = to_json(trainer_config, f"trainer_config of a trial of study id {study_id}")
        with self._transaction(write=True) as conn:
            self._require_study(conn, study_id)
            # Safe under BEGIN IMMEDIATE: no other writer runs between this read and the insert.
            number = conn.execute(
                "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study_id = ?", (study_id,)
            ).fetchone()[0]
            cursor = conn.execute(
                "INSERT INTO trials (study_id, number, trainer, params, trainer_config, status,"
                " started_at) VALUES (?, ?, ?, ?, ?, 'running', ?)",
                (study_id, number, trainer, params_json, config_json, time.time()),
            )
            row = conn.execute("SELECT * FROM trials WHERE id = ?", (cursor.lastrowid,)).fetchone()
        return _trial(row, {})

    def end_trial(self, trial_id: int, status: str, error: str | None = None) -> TrialRecord:
        _check_end_status(status, f"trial id {trial_id}")
        with self._transaction(write=True) as conn:
            self._require_trial(conn, trial_id)
            conn.execute(
                "UPDATE trials SET status = ?, ended_at = ?, error = ? WHERE id = ?",
                (status, time.time(), error, trial_id),
            )
            row = conn.execute("SELECT * FROM trials WHERE id = ?", (trial_id,)).fetchone()
            metrics = _trial_metrics(conn, "trial_id = ?", trial_id).get(trial_id, {})
        return _trial(row, metrics)

    def reopen_trial(self, trial_id: int) -> TrialRecord:
        with self._transaction(write=True) as conn:
            self._require_trial(conn, trial_id)
            conn.execute(
                "UPDATE trials SET status = 'running', ended_at = NULL, error = NULL WHERE id = ?",
                (trial_id,),
            )
            row = conn.execute("SELECT * FROM trials WHERE id = ?", (trial_id,)).fetchone()
            metrics = _trial_metrics(conn, "trial_id = ?", trial_id).get(trial_id, {})
        return _trial(row, metrics)

    def list_trials(self, study_id: int) -> list[TrialRecord]:
        with self._transaction() as conn:
            self._require_study(conn, study_id)
            rows = conn.execute(
                "SELECT * FROM trials WHERE study_id = ? ORDER BY number", (study_id,)
            ).fetchall()
            metrics = _trial_metrics(
                conn, "trial_id IN (SELECT id FROM trials WHERE study_id = ?)", study_id
            )
        return [_trial(row, metrics.get(row["id"], {})) for row in rows]

    # ------------------------------------------------------------------ metrics

    def log_metrics(self, trial_id: int, epoch: int, metrics: Mapping[str, float]) -> None:
        try:
            epoch = operator.index(epoch)
        except TypeError:
            raise ConfigError(
                f"epoch of trial id {trial_id} must be an integer, got {epoch!r}"
            ) from None
        now = time.time()
        rows = [
            (trial_id, epoch, name, _metric_value(name, value), now)
            for name, value in metrics.items()
        ]
        with self._transaction(write=True) as conn:
            self._require_trial(conn, trial_id)
            conn.executemany(
                "INSERT OR REPLACE INTO metrics (trial_id, epoch, name, value, recorded_at)"
                " VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    def get_metrics(self, trial_id: int) -> list[MetricRecord]:
        with self._transaction() as conn:
            self._require_trial(conn, trial_id)
            rows = conn.execute(
                "SELECT * FROM metrics WHERE trial_id = ? ORDER BY epoch, name", (trial_id,)
            ).fetchall()
        return [
            MetricRecord(
                trial_id=row["trial_id"],
                epoch=row["epoch"],
                name=row["name"],
                value=_float(row["value"]),
                recorded_at=row["recorded_at"],
            )
            for row in rows
        ]

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _require_study(conn: sqlite3.Connection, study_id: int) -> None:
        if conn.execute("SELECT 1 FROM studies WHERE id = ?", (study_id,)).fetchone() is None:
            raise NotFoundError(f"study id {study_id} not found")

    @staticmethod
    def _require_trial(conn: sqlite3.Connection, trial_id: int) -> None:
        if conn.execute("SELECT 1 FROM trials WHERE id = ?", (trial_id,)).fetchone() is None:
            raise NotFoundError(f"trial id {trial_id} not found")


def _check_end_status(status: str, owner: str) -> None:
    if status not in END_STATUSES:
        raise ConfigError(
            f"end status of {owner} must be one of {', '.join(END_STATUSES)}; got {status!r}"
        )


def _metric_value(name: str, value: Any) -> float | None:
    """The value to store: a float, or NULL for NaN (SQLite has no NaN; it reads back as NaN)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(
            f"metric '{name}' must be a real number, got {type(value).__name__} {value!r}"
        )
    value = float(value)
    return None if math.isnan(value) else value


def _float(value: float | None) -> float:
    return math.nan if value is None else value


def _trial_metrics(conn: sqlite3.Connection, where: str, arg: int) -> dict[int, dict[str, float]]:
    """trial id -> {metric: value at the trial's best epoch}.

    The best epoch is the one with the best value of the study's perf_metric (the first
    of equals): it is the epoch whose weights the trainer keeps, so the trial's metrics
    describe the model it produced. A metric not reported at that epoch, or a trial that
    never reported the perf_metric, gets its value at the highest epoch.
    """
    rows = conn.execute(
        "SELECT m.trial_id, m.epoch, m.name, m.value, s.perf_metric, s.mode FROM metrics m"
        " JOIN trials t ON t.id = m.trial_id JOIN studies s ON s.id = t.study_id"
        f" WHERE m.{where} ORDER BY m.trial_id, m.epoch",
        (arg,),
    )
    epochs: dict[int, dict[int, dict[str, float | None]]] = {}
    objective: dict[int, tuple[str, str]] = {}
    for row in rows:
        epochs.setdefault(row["trial_id"], {}).setdefault(row["epoch"], {})[row["name"]] = row[
            "value"
        ]
        objective[row["trial_id"]] = (row["perf_metric"], row["mode"])
    result: dict[int, dict[str, float]] = {}
    for trial_id, by_epoch in epochs.items():
        metric, mode = objective[trial_id]
        merged: dict[str, float | None] = {}
        for values in by_epoch.values():
            merged.update(values)
        scored = [(e, v[metric]) for e, v in by_epoch.items() if v.get(metric) is not None]
        if scored:
            pick = max if mode == "max" else min
            best_value = pick(value for _, value in scored)
            best_epoch = next(e for e, value in scored if value == best_value)
            merged.update(by_epoch[best_epoch])
        result[trial_id] = {name: _float(value) for name, value in merged.items()}
    return result


def _study(row: sqlite3.Row) -> StudyRecord:
    return StudyRecord(
        id=row["id"],
        name=row["name"],
        perf_metric=row["perf_metric"],
        mode=row["mode"],
        status=row["status"],
        created_at=row["created_at"],
        config=json.loads(row["config"]),
        winner_trial_id=row["winner_trial_id"],
        winner_version=row["winner_version"],
    )


def _trial(row: sqlite3.Row, metrics: dict[str, float]) -> TrialRecord:
    return TrialRecord(
        id=row["id"],
        study_id=row["study_id"],
        number=row["number"],
        trainer=row["trainer"],
        params=json.loads(row["params"]),
        trainer_config=json.loads(row["trainer_config"]),
        status=row["status"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        error=row["error"],
        metrics=metrics,
    )
