"""ProfileStore: survives restart, atomic under a crash mid-write, paging, dedup, bad input."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3

import pytest

from flopwatt.bench.errors import ProfileFormatError
from flopwatt.bench.store import ProfileNotFound, ProfileStore, database_path, default_data_dir
from tests.profile_documents import minimal_profile


def _profile(host: str, created: str) -> dict:
    document = minimal_profile()
    document["host"], document["created_time"] = host, created
    return document


def test_profiles_survive_restart(tmp_path):
    path = tmp_path / "flopwatt.sqlite3"
    profile_id = ProfileStore(path).save(_profile("a", "2026-11-23T17:00:00Z"))
    reopened = ProfileStore(path)
    assert reopened.get(profile_id)["host"] == "a"
    assert reopened.summary(profile_id).ceilings["matmul_flops_per_second.bf16"] > 0
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute(
            "SELECT version FROM flopwatt_schema_versions WHERE family='hardware_profiles'"
        ).fetchone() == (1,)


def test_same_document_stored_once_and_listing_is_newest_first(tmp_path):
    store = ProfileStore(tmp_path / "s.sqlite3")
    ids = [store.save(_profile(f"h{i}", f"2026-11-2{i}T00:00:00Z")) for i in range(1, 6)]
    assert store.save(_profile("h1", "2026-11-21T00:00:00Z")) == ids[0]
    first, total = store.list(2, 0)
    assert total == 5 and [s.host for s in first] == ["h5", "h4"]
    rest, _ = store.list(10, 2)
    assert [s.host for s in rest] == ["h3", "h2", "h1"]
    with pytest.raises(ValueError, match="page_size"):
        store.list(0, 0)
    with pytest.raises(ProfileNotFound):
        store.get("nope")


def test_bad_document_refused_and_batch_is_all_or_nothing(tmp_path):
    store = ProfileStore(tmp_path / "s.sqlite3")
    bad = _profile("bad", "2026-11-23T00:00:00Z")
    bad["device"]["kind"] = "abacus"
    with pytest.raises(ProfileFormatError, match="device.kind"):
        store.save_many([_profile("good", "2026-11-23T00:00:00Z"), bad])
    assert store.list(10, 0)[1] == 0


def _crash_mid_write(path: str) -> None:
    """Open a write transaction, insert a row, and die before committing (like a SIGKILL)."""
    connection = sqlite3.connect(path)
    connection.execute("BEGIN IMMEDIATE")
    connection.execute(
        "INSERT INTO hardware_profiles VALUES ('partial', '2027-01-01T00:00:00Z', 'x', 'quick', 'cpu', 'x', NULL, NULL, '1', 1, '{}', '[]', '{}', '{', 99)"
    )
    os._exit(1)


def test_crash_mid_write_leaves_store_intact(tmp_path):
    path = tmp_path / "s.sqlite3"
    kept = ProfileStore(path).save(_profile("kept", "2026-11-23T00:00:00Z"))
    process = multiprocessing.get_context("spawn").Process(target=_crash_mid_write, args=(str(path),))
    process.start()
    process.join(60)
    assert process.exitcode == 1
    store = ProfileStore(path)
    summaries, total = store.list(10, 0)
    assert total == 1 and summaries[0].id == kept
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_data_dir_default(monkeypatch, tmp_path):
    monkeypatch.setenv("FLOPWATT_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path
    assert database_path() == tmp_path / "flopwatt.sqlite3"
    monkeypatch.delenv("FLOPWATT_DATA_DIR")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert default_data_dir().parts[-3:] == (".local", "share", "flopwatt")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "flopwatt"  # where `flopwatt serve` looks too


def test_serve_and_bench_share_the_default_data_dir(monkeypatch, tmp_path):
    from flopwatt.service.config import Settings

    monkeypatch.delenv("FLOPWATT_DATA_DIR", raising=False)
    for xdg in (None, str(tmp_path)):
        if xdg is None:
            monkeypatch.delenv("XDG_DATA_HOME", raising=False)
        else:
            monkeypatch.setenv("XDG_DATA_HOME", xdg)
        assert Settings().data_dir == default_data_dir()


def test_a_sound_store_passes_quick_check_and_lists_readable_ids_newest_first(tmp_path):
    """Issue 14 item 13: the checks that find a damaged file are quiet on a sound one, and the
    export's id scan keeps the listing's order."""
    store = ProfileStore(tmp_path / "flopwatt.sqlite3")
    for day in (3, 1, 2):
        store.save(_profile("h", f"2026-11-0{day}T00:00:00Z"))
    assert store.quick_check() == [] and store.damage is None
    assert store.readable_profile_ids() == [summary.id for summary in store.list(10, 0)[0]]
