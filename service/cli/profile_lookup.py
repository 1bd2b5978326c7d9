"""Measured profiles for the in-process CLI commands (`estimate`, `sweep`, `rank`, `report`).

Why: these commands call the API handlers in-process, and without a profile lookup a
`--profile ID` (or a request file's `profile_id`) was always "not found" even when `flopwatt
bench` had stored that profile in the same data directory. The store is the one `flopwatt
bench` and `flopwatt serve` use (`--data-dir`, else $FLOPWATT_DATA_DIR, else the standard data
directory); it is opened only when a profile is asked for."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from flopwatt.service.cli.errors import CliError


def add_data_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        help="where stored profiles are read for --profile (default: $FLOPWATT_DATA_DIR or ~/.local/share/flopwatt)",
    )


def cli_dependencies(data_dir: str | None):
    """ApiDependencies whose profile lookup reads the data directory's profile store."""
    from flopwatt.service.api.deps import ApiDependencies, stored_profile_lookup

    @functools.cache
    def open_store():
        from flopwatt.bench.store import database_path

        path = database_path(data_dir)
        if not path.exists():
            return _EmptyStore()
        return open_profile_store(path)

    return ApiDependencies(profile_document=stored_profile_lookup(open_store))


def open_profile_store(path: Path):
    """The ProfileStore at `path`, or a one-line CliError naming it: a data directory that is a
    file or cannot be created, a file that is not a SQLite database, a newer schema. `flopwatt
    serve` refuses to start with the same words; the other commands (bench list|export|import,
    estimate --profile, report profile, validate --local) ended in a sqlite3 or OSError traceback."""
    import sqlite3

    from flopwatt.bench.store import ProfileStore

    try:
        return ProfileStore(path)
    except (OSError, sqlite3.Error, RuntimeError) as error:  # unreadable or damaged file, locked, newer schema
        detail = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise CliError(f"cannot open the profile store {path}: {detail}") from None


class _EmptyStore:
    """No database in the data directory: every profile is missing (and none is created)."""

    def get(self, profile_id: str):
        raise LookupError(profile_id)
