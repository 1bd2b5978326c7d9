"""Benchmark-run records in SQLite, in the same database file as the profile store.

Why SQLite and not memory: a run is a resource clients poll for minutes and come back to after
a reconnect or a server restart; the record must outlive the process, and a crash mid-write must
never leave a half-written row (every change is one transaction). The run store owns its own
table and records its own schema version in `flopwatt_schema_versions` (one row per family; the
table is shared with bench/store.py), so the profile store beside it can evolve independently.

Schema version 2 adds `cancel_requested`: a client's cancel is written here before the worker is
stopped, so a cancel that was answered OK survives a full disk at the moment the run ends and a
restart (recovery marks such a run CANCELLED, not FAILED). Version 1 files are migrated in place
(one ALTER TABLE ADD COLUMN with a default, which SQLite does without rewriting rows).
Schema version 3 adds `workload_json`: the workload a "workload" suite run measures (the
bench.workload_suite.WorkloadShape as JSON, '' for the other suites), migrated the same way.
"""

from __future__ import annotations

import enum
import pathlib
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass

SCHEMA_FAMILY = "benchmark_runs"
SCHEMA_VERSION = 3
# SQLite's primary result code for "database or disk is full" (sqlite.org/rescode.html#full).
SQLITE_FULL = 13
# Seconds SQLite waits for a lock held by another connection (the profile store) before failing.
BUSY_TIMEOUT_SECONDS = 10.0


class RunState(str, enum.Enum):
    """Lifecycle of a run; the values are the proto enum names without the STATE_ prefix."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in (RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED)


@dataclass(frozen=True)
class RunRecord:
    """One benchmark run. Times are Unix seconds (None until they happen)."""

    run_id: str
    sequence: int  # insertion order, the key of newest-first paging
    suite: str
    device: str  # as requested: "auto", "cpu" or "cuda"
    device_key: str  # the device the run occupies: "cpu" or "cuda"
    state: RunState
    create_time_seconds: float
    start_time_seconds: float | None = None
    end_time_seconds: float | None = None
    progress_fraction: float = 0.0
    progress_message: str = ""
    error: str = ""
    profile_id: str = ""
    cancel_requested: bool = False  # a client asked to cancel; recorded before the worker is stopped
    workload_json: str = ""  # the workload suite's WorkloadShape as JSON; '' for the other suites

    @property
    def name(self) -> str:
        return f"benchmarkRuns/{self.run_id}"

    @property
    def duration_seconds(self) -> float | None:
        if self.start_time_seconds is None or self.end_time_seconds is None:
            return None
        return max(0.0, self.end_time_seconds - self.start_time_seconds)


class RunNotFound(LookupError):
    """No run with this id."""


_COLUMNS = (
    "run_id",
    "sequence",
    "suite",
    "device",
    "device_key",
    "state",
    "create_time_seconds",
    "start_time_seconds",
    "end_time_seconds",
    "progress_fraction",
    "progress_message",
    "error",
    "profile_id",
    "cancel_requested",
    "workload_json",
)
_UPDATABLE = frozenset(_COLUMNS) - {
    "run_id",
    "sequence",
    "suite",
    "device",
    "device_key",
    "create_time_seconds",
    "workload_json",
}
# Columns added after version 1, with the version that added them (migrations run in order).
_ADDED_COLUMNS = (
    (2, "cancel_requested INTEGER NOT NULL DEFAULT 0"),
    (3, "workload_json TEXT NOT NULL DEFAULT ''"),
)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS flopwatt_schema_versions (
    family TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS benchmark_runs (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL UNIQUE,
    suite TEXT NOT NULL,
    device TEXT NOT NULL,
    device_key TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ({", ".join(repr(s.value) for s in RunState)})),
    create_time_seconds REAL NOT NULL,
    start_time_seconds REAL,
    end_time_seconds REAL,
    progress_fraction REAL NOT NULL DEFAULT 0,
    progress_message TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    profile_id TEXT NOT NULL DEFAULT '',
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    workload_json TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS benchmark_runs_state ON benchmark_runs (state);
"""


class RunStoreError(RuntimeError):
    """The database holds a newer schema than this code understands."""


def is_disk_full(error: BaseException) -> bool:
    """Whether a SQLite error means the disk (or the database's size limit) is full.

    The error code is authoritative when present (Python 3.11+ sets `sqlite_errorcode`); the
    message is checked too because SQLite reports SQLITE_FULL as "database or disk is full" and
    an error raised by a wrapper (or a test's stand-in) may carry only the text."""
    if not isinstance(error, sqlite3.Error):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF == SQLITE_FULL:
        return True
    return "database or disk is full" in str(error)


class RunStore:
    """Thread-safe access to the `benchmark_runs` table of one SQLite file."""

    def __init__(self, path: pathlib.Path | str) -> None:
        self._path = pathlib.Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(
            str(self._path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
        self._connection.row_factory = sqlite3.Row
        try:
            self._create_schema()
        except BaseException:  # a newer schema or a locked file: do not leak the connection
            self._connection.close()
            raise

    def _create_schema(self) -> None:
        with self._lock:
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
            row = self._connection.execute(
                "SELECT version FROM flopwatt_schema_versions WHERE family = ?", (SCHEMA_FAMILY,)
            ).fetchone()
            if row is None:  # OR IGNORE: a second process opening a fresh file at once inserts it too
                self._connection.execute(
                    "INSERT OR IGNORE INTO flopwatt_schema_versions (family, version) VALUES (?, ?)",
                    (SCHEMA_FAMILY, SCHEMA_VERSION),
                )
            elif row["version"] < SCHEMA_VERSION:  # v1 -> v2 -> v3: one added column each
                for version, column in _ADDED_COLUMNS:
                    if row["version"] < version:
                        self._add_column(column, version)
            elif row["version"] > SCHEMA_VERSION:
                raise RunStoreError(
                    f"{self._path}: benchmark_runs schema version {row['version']} is newer than this "
                    f"flopwatt understands ({SCHEMA_VERSION}); upgrade flopwatt"
                )

    def _add_column(self, column: str, version: int) -> None:
        """One migration step (caller holds the lock); a column another process added first is fine."""
        try:
            self._connection.executescript(
                "BEGIN IMMEDIATE;"
                f"ALTER TABLE benchmark_runs ADD COLUMN {column};"
                f"UPDATE flopwatt_schema_versions SET version = {version} WHERE family = '{SCHEMA_FAMILY}';"
                "COMMIT;"
            )
        except sqlite3.OperationalError as error:
            if self._connection.in_transaction:
                self._connection.execute("ROLLBACK")
            if "duplicate column" not in str(error):  # another process migrated it first
                raise

    @property
    def path(self) -> pathlib.Path:
        return self._path

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    @staticmethod
    def _record(row: sqlite3.Row) -> RunRecord:
        values = {column: row[column] for column in _COLUMNS}
        values["state"] = RunState(values["state"])
        values["cancel_requested"] = bool(values["cancel_requested"])
        return RunRecord(**values)

    def _transaction(self) -> "_Transaction":
        return _Transaction(self._connection, self._lock)

    def create(
        self, suite: str, device: str, device_key: str, now_seconds: float | None = None, *, workload_json: str = ""
    ) -> RunRecord:
        """Insert a QUEUED run and return it."""
        run_id = uuid.uuid4().hex
        created = time.time() if now_seconds is None else now_seconds
        with self._transaction() as cursor:
            cursor.execute(
                "INSERT INTO benchmark_runs"
                " (run_id, suite, device, device_key, state, create_time_seconds, workload_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, suite, device, device_key, RunState.QUEUED.value, created, workload_json),
            )
            row = cursor.execute("SELECT * FROM benchmark_runs WHERE run_id = ?", (run_id,)).fetchone()
        return self._record(row)

    def get(self, run_id: str) -> RunRecord:
        with self._lock:
            row = self._connection.execute("SELECT * FROM benchmark_runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(run_id)
        return self._record(row)

    def update(self, run_id: str, **changes: object) -> RunRecord:
        """Change some columns of one run in one transaction; return the new record."""
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        if "state" in changes and isinstance(changes["state"], RunState):
            changes["state"] = changes["state"].value  # type: ignore[union-attr]
        if "cancel_requested" in changes:
            changes["cancel_requested"] = int(bool(changes["cancel_requested"]))
        assignments = ", ".join(f"{column} = ?" for column in changes)
        with self._transaction() as cursor:
            if changes:
                cursor.execute(f"UPDATE benchmark_runs SET {assignments} WHERE run_id = ?", (*changes.values(), run_id))
            row = cursor.execute("SELECT * FROM benchmark_runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(run_id)
        return self._record(row)

    def list_page(self, page_size: int, before_sequence: int | None = None) -> tuple[list[RunRecord], int | None]:
        """Newest first: up to `page_size` runs older than `before_sequence`, and the sequence to
        pass for the next page (None on the last page)."""
        bound = before_sequence if before_sequence is not None else 2**62
        with self._lock:
            rows = self._connection.execute(
                "SELECT * FROM benchmark_runs WHERE sequence < ? ORDER BY sequence DESC LIMIT ?",
                (bound, page_size + 1),
            ).fetchall()
        records = [self._record(row) for row in rows[:page_size]]
        next_before = records[-1].sequence if len(rows) > page_size and records else None
        return records, next_before

    def unfinished(self) -> list[RunRecord]:
        """Runs in QUEUED or RUNNING, oldest first."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT * FROM benchmark_runs WHERE state IN (?, ?) ORDER BY sequence",
                (RunState.QUEUED.value, RunState.RUNNING.value),
            ).fetchall()
        return [self._record(row) for row in rows]

    def fail_unfinished(
        self, reason_by_state: dict[RunState, str], now_seconds: float | None = None, *, cancelled_reason: str = ""
    ) -> list[RunRecord]:
        """Mark every QUEUED or RUNNING run FAILED with the reason for its state, in one
        transaction; used at start-up, when no worker of an earlier process can still own them.

        A run whose cancel was recorded (`cancel_requested`) becomes CANCELLED with
        `cancelled_reason` instead: the client was told its cancel succeeded, and the only thing
        lost was the final write (a full disk, or the process dying while the worker stopped)."""
        ended = time.time() if now_seconds is None else now_seconds
        with self._transaction() as cursor:
            rows = cursor.execute(
                "SELECT run_id, state, cancel_requested FROM benchmark_runs WHERE state IN (?, ?)",
                (RunState.QUEUED.value, RunState.RUNNING.value),
            ).fetchall()
            for row in rows:
                if row["cancel_requested"]:
                    state, reason = RunState.CANCELLED, cancelled_reason or "cancelled by a client"
                else:
                    state, reason = RunState.FAILED, reason_by_state[RunState(row["state"])]
                cursor.execute(
                    "UPDATE benchmark_runs SET state = ?, error = ?, end_time_seconds = ? WHERE run_id = ?",
                    (state.value, reason, ended, row["run_id"]),
                )
            ids = [row["run_id"] for row in rows]
        return [self.get(run_id) for run_id in ids]


class _Transaction:
    """`with` block: BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception, under the lock."""

    def __init__(self, connection: sqlite3.Connection, lock: threading.Lock) -> None:
        self._connection = connection
        self._lock = lock

    def __enter__(self) -> sqlite3.Cursor:
        self._lock.acquire()
        try:
            self._connection.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._connection.cursor()

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        try:
            self._connection.execute("ROLLBACK" if exc_type is not None else "COMMIT")
        finally:
            self._lock.release()
