"""SQLite store of hardware profiles in the data directory.

One file, `<data-dir>/flopwatt.sqlite3`, shared with other table families (benchmark runs);
this family owns the `hardware_profiles` table and records its schema version in
`flopwatt_schema_versions` (family → version). WAL journaling and one transaction per write:
a crash mid-write leaves the previous committed state (SQLite's atomic commit,
sqlite.org/atomiccommit.html), so profiles survive restarts and are never half-written.

What SQLite cannot prevent is damage from outside (a failing disk, a copy taken mid-write, a
file edited by hand): `quick_check()` runs `PRAGMA quick_check`, which the server does at start
(it refuses to start on a damaged file rather than write new runs into it) and again whenever a
read fails. A row whose text no longer decodes raises `StoreDamaged` (DATA_LOSS at the API) and
marks the store damaged (`damage`), so the server stops queueing benchmark runs into the file.
`readable_profile_ids()` and `flopwatt bench export` salvage what still reads
(docs/benchmark-runs.md, "A damaged database").
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from flopwatt.bench.profile import content_id, flatten_ceilings, validate_profile

DATA_DIR_ENV = "FLOPWATT_DATA_DIR"
XDG_DATA_HOME_ENV = "XDG_DATA_HOME"
DEFAULT_DATA_HOME = Path("~/.local/share")  # XDG Base Directory spec's default for $XDG_DATA_HOME
DATABASE_FILE_NAME = "flopwatt.sqlite3"
SCHEMA_FAMILY = "hardware_profiles"
SCHEMA_FAMILY_VERSION = 1
BUSY_TIMEOUT_SECONDS = 30.0  # another process (the server, a CLI run) may hold the write lock
MAX_PAGE_SIZE = 1000
# Problems PRAGMA quick_check reports at most; the first names the damage well enough.
QUICK_CHECK_MAX_ERRORS = 10
# SQLite primary result codes of a damaged file (sqlite.org/rescode.html).
SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26
RECOVERY_HINT = (
    "export what still reads with `flopwatt bench export --output profiles.json`, move the file "
    'aside and start on a new store (docs/benchmark-runs.md, "A damaged database")'
)

LOG = logging.getLogger(__name__)


def standard_data_dir() -> Path:
    """`$XDG_DATA_HOME/flopwatt`, else ~/.local/share/flopwatt. The one definition: `flopwatt
    serve` (service/config.py) and `flopwatt bench`/`report` must find the same store, or a
    profile measured from the command line is invisible to the server."""
    base = os.environ.get(XDG_DATA_HOME_ENV)
    return (Path(base) if base else DEFAULT_DATA_HOME).expanduser() / "flopwatt"


def default_data_dir() -> Path:
    """`$FLOPWATT_DATA_DIR`, else the standard data directory."""
    configured = os.environ.get(DATA_DIR_ENV)
    return Path(configured).expanduser() if configured else standard_data_dir()


def database_path(data_dir: Path | str | None = None) -> Path:
    return Path(data_dir).expanduser() / DATABASE_FILE_NAME if data_dir else default_data_dir() / DATABASE_FILE_NAME


def is_damage(error: BaseException) -> bool:
    """Whether a read error means the file is damaged (not a lock, a full disk, a bad query):
    SQLITE_CORRUPT / SQLITE_NOTADB, text that is no longer UTF-8 (Python's sqlite3 raises
    OperationalError "Could not decode to UTF-8 column ..."), or stored JSON that no longer
    parses."""
    if isinstance(error, (UnicodeDecodeError, json.JSONDecodeError)):
        return True
    if not isinstance(error, sqlite3.DatabaseError):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return True
    text = str(error)
    return "malformed" in text or "Could not decode to UTF-8" in text or "not a database" in text


class StoreDamaged(RuntimeError):
    """The database file is damaged: PRAGMA quick_check found problems, or a row cannot be read."""

    def __init__(self, path: Path, detail: str, profile_id: str | None = None) -> None:
        self.path = path
        self.detail = detail
        self.profile_id = profile_id
        what = f"profile {profile_id!r} in {path}" if profile_id else str(path)
        super().__init__(f"the profile store is damaged: {what}: {detail}; {RECOVERY_HINT}")


class ProfileNotFound(KeyError):
    """No profile with that id."""

    def __init__(self, profile_id: str) -> None:
        super().__init__(profile_id)
        self.profile_id = profile_id

    def __str__(self) -> str:
        return f"profile {self.profile_id!r} not found"


@dataclass(frozen=True)
class ProfileSummary:
    """What a listing shows without loading the (large) document."""

    id: str
    created_time: str
    host: str
    suite: str
    device_kind: str
    device_name: str
    device_uuid: str | None
    hardware_id: str | None
    benchmark_version: str
    schema_version: int
    ceilings: dict[str, float]
    warnings: list[str]
    power_watts: dict[str, float]  # "idle" and one entry per load window; empty without NVML


_SCHEMA = """
CREATE TABLE IF NOT EXISTS flopwatt_schema_versions (
    family TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS hardware_profiles (
    id TEXT PRIMARY KEY,
    created_time TEXT NOT NULL,
    host TEXT NOT NULL,
    suite TEXT NOT NULL,
    device_kind TEXT NOT NULL,
    device_name TEXT NOT NULL,
    device_uuid TEXT,
    hardware_id TEXT,
    benchmark_version TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    ceilings_json TEXT NOT NULL,
    warnings_json TEXT NOT NULL,
    power_watts_json TEXT NOT NULL,
    document_json TEXT NOT NULL,
    stored_sequence INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS hardware_profiles_newest ON hardware_profiles (created_time DESC, stored_sequence DESC);
"""

_SUMMARY_COLUMNS = (
    "id, created_time, host, suite, device_kind, device_name, device_uuid, hardware_id, "
    "benchmark_version, schema_version, ceilings_json, warnings_json, power_watts_json"
)


def _summary(row: tuple) -> ProfileSummary:
    return ProfileSummary(
        *row[:10], ceilings=json.loads(row[10]), warnings=json.loads(row[11]), power_watts=json.loads(row[12])
    )


def _power_watts(document: dict) -> dict[str, float]:
    power = document.get("power") or {}
    watts = {"idle": power["idle_watts"]} if "idle_watts" in power else {}
    watts.update(power.get("load_watts", {}))
    return watts


class ProfileStore:
    """Profiles by id; every method opens its own connection so one store object is safe to
    share between threads (the gRPC server) and processes (a benchmark worker)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser()
        self.damage: str | None = None  # set once a read found the file damaged
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            with connection:
                connection.executescript(_SCHEMA)
                row = connection.execute(
                    "SELECT version FROM flopwatt_schema_versions WHERE family = ?", (SCHEMA_FAMILY,)
                ).fetchone()
                if row is None:
                    connection.execute(
                        "INSERT INTO flopwatt_schema_versions VALUES (?, ?)", (SCHEMA_FAMILY, SCHEMA_FAMILY_VERSION)
                    )
                elif row[0] > SCHEMA_FAMILY_VERSION:
                    raise RuntimeError(
                        f"{self.path}: hardware_profiles schema version {row[0]} is newer than this build ({SCHEMA_FAMILY_VERSION})"
                    )

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS)
        connection.execute("PRAGMA synchronous=FULL")
        return connection

    def quick_check(self) -> list[str]:
        """The problems `PRAGMA quick_check` finds, empty when the file is sound. quick_check
        reads every page and checks the b-tree structure and records (O(size), seconds for a
        large file) but not index contents, which is integrity_check's slower extra; a damaged
        page in the middle of the file — the case that used to go unnoticed — is found. Text
        that was altered in place keeps a valid structure: reads catch that (`_reading`)."""
        try:
            with closing(self._connect()) as connection:
                rows = connection.execute(f"PRAGMA quick_check({QUICK_CHECK_MAX_ERRORS})").fetchall()
        except sqlite3.DatabaseError as error:
            problems = [str(error)]
        else:
            lines = [line for row in rows for line in str(row[0]).splitlines()]
            problems = [line for line in lines if line != "ok" and not line.startswith("*** in database")]
        if problems:
            self.damage = self.damage or problems[0]
        return problems

    @contextmanager
    def _reading(self, profile_id: str | None = None) -> Iterator[None]:
        """Turn a read error that means damage into StoreDamaged, after a quick_check whose
        findings (if any) go into the message and the log."""
        try:
            yield
        except Exception as error:
            if not is_damage(error):
                raise
            problems = self.quick_check()
            detail = f"{type(error).__name__}: {error}"[:300]
            if problems:
                detail += f" (PRAGMA quick_check: {problems[0]})"
            self.damage = self.damage or detail
            LOG.error("profile store %s is damaged: %s", self.path, detail)
            raise StoreDamaged(self.path, detail, profile_id) from error

    def readable_profile_ids(self) -> list[str]:
        """Every profile id some path through the file still reaches: the newest-first index
        (the order `list` uses, so a sound store exports as before), the table in rowid order and
        the id index, each scanned until it hits damage; their union. What a damaged page holds
        is lost; everything else is found."""
        scans = (
            "SELECT id FROM hardware_profiles INDEXED BY hardware_profiles_newest ORDER BY created_time DESC, stored_sequence DESC",
            "SELECT id FROM hardware_profiles ORDER BY rowid",
            "SELECT id FROM hardware_profiles INDEXED BY sqlite_autoindex_hardware_profiles_1 ORDER BY id",
        )
        found: dict[str, None] = {}
        for query in scans:
            with closing(self._connect()) as connection:
                try:
                    for (profile_id,) in connection.execute(query):
                        found.setdefault(profile_id, None)
                except sqlite3.DatabaseError as error:
                    LOG.warning("a scan of %s stopped early: %s", self.path, error)
        return list(found)

    def save(self, document: dict) -> str:
        """Validate and store one profile; returns its id (content-derived, so saving the same
        document twice stores it once)."""
        validate_profile(document)
        return self.save_many([document])[0]

    def save_many(self, documents: Iterable[dict]) -> list[str]:
        """All or nothing: one transaction for the whole batch (an import of a bundle)."""
        rows = []
        for document in documents:
            validate_profile(document)
            profile_id = content_id(document)
            device = document["device"]
            rows.append(
                (
                    profile_id,
                    document["created_time"],
                    str(document.get("host", "")),
                    document["suite"],
                    device["kind"],
                    device["name"],
                    device.get("uuid"),
                    device.get("hardware_id"),
                    document["benchmark_version"],
                    document["schema_version"],
                    json.dumps(flatten_ceilings(document["ceilings"])),
                    json.dumps(list(document.get("warnings", []))),
                    json.dumps(_power_watts(document)),
                    json.dumps(document, allow_nan=False),
                )
            )
        with closing(self._connect()) as connection, connection:
            sequence = connection.execute("SELECT COALESCE(MAX(stored_sequence), 0) FROM hardware_profiles").fetchone()[
                0
            ]
            for offset, row in enumerate(rows, start=1):
                connection.execute(
                    f"INSERT OR IGNORE INTO hardware_profiles ({_SUMMARY_COLUMNS}, document_json, stored_sequence) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*row, sequence + offset),
                )
        return [row[0] for row in rows]

    def get(self, profile_id: str) -> dict:
        """The whole document; raises ProfileNotFound, or StoreDamaged when its row is damaged."""
        with self._reading(profile_id), closing(self._connect()) as connection:
            row = connection.execute(
                "SELECT document_json FROM hardware_profiles WHERE id = ?", (profile_id,)
            ).fetchone()
            if row is None:
                raise ProfileNotFound(profile_id)
            return json.loads(row[0])

    def summary(self, profile_id: str) -> ProfileSummary:
        with self._reading(profile_id), closing(self._connect()) as connection:
            row = connection.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM hardware_profiles WHERE id = ?", (profile_id,)
            ).fetchone()
            if row is None:
                raise ProfileNotFound(profile_id)
            return _summary(row)

    def list(self, page_size: int = 50, offset: int = 0) -> tuple[list[ProfileSummary], int]:
        """Newest first; returns (page, total count) so callers can tell whether more follow."""
        if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size: must be an integer in [1, {MAX_PAGE_SIZE}], got {page_size!r}")
        if not isinstance(offset, int) or offset < 0:
            raise ValueError(f"offset: must be an integer ≥ 0, got {offset!r}")
        with self._reading(), closing(self._connect()) as connection:
            total = connection.execute("SELECT COUNT(*) FROM hardware_profiles").fetchone()[0]
            rows = connection.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM hardware_profiles ORDER BY created_time DESC, stored_sequence DESC LIMIT ? OFFSET ?",
                (page_size, offset),
            ).fetchall()
            return [_summary(r) for r in rows], total

    def latest_per_device(self) -> list[ProfileSummary]:
        """The newest profile of each device (UUID, else host + device name), for the metrics
        exporter."""
        with self._reading(), closing(self._connect()) as connection:
            rows = connection.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM hardware_profiles ORDER BY created_time DESC, stored_sequence DESC"
            ).fetchall()
            summaries = [_summary(row) for row in rows]
        latest: dict[str, ProfileSummary] = {}
        for summary in summaries:
            key = summary.device_uuid or f"{summary.host}/{summary.device_kind}/{summary.device_name}"
            latest.setdefault(key, summary)
        return list(latest.values())

    def delete(self, profile_id: str) -> None:
        with closing(self._connect()) as connection, connection:
            deleted = connection.execute("DELETE FROM hardware_profiles WHERE id = ?", (profile_id,)).rowcount
        if not deleted:
            raise ProfileNotFound(profile_id)
