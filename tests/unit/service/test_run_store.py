"""RunStore (SQLite) and the run API's pure helpers: paging, schema versions, name and token
parsing, record -> proto conversion."""

from __future__ import annotations

import sqlite3

import pytest

from flopwatt.service.api import runs
from flopwatt.service.errors import InvalidArgument
from flopwatt.service.run_store import SCHEMA_VERSION, RunNotFound, RunState, RunStore, RunStoreError
from flopwatt.v1 import benchmark_pb2


def test_create_update_and_newest_first_paging(tmp_path):
    store = RunStore(tmp_path / "db.sqlite3")
    ids = [store.create("quick", "auto", "cpu", now_seconds=100.0 + i).run_id for i in range(5)]
    store.update(
        ids[0], state=RunState.RUNNING, start_time_seconds=200.0, progress_fraction=0.25, progress_message="gemm"
    )
    seen, before = [], None
    while True:
        page, before = store.list_page(2, before)
        seen.extend(record.run_id for record in page)
        if before is None:
            break
    assert seen == ids[::-1]
    record = store.get(ids[0])
    assert (record.state, record.progress_fraction, record.progress_message) == (RunState.RUNNING, 0.25, "gemm")
    with pytest.raises(RunNotFound):
        store.get("nope")
    with pytest.raises(ValueError, match="cannot update"):
        store.update(ids[0], suite="full")
    assert [r.run_id for r in store.unfinished()] == ids


def test_reopening_keeps_runs_and_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "db.sqlite3"
    run_id = RunStore(path).create("full", "cpu", "cpu").run_id
    assert RunStore(path).get(run_id).suite == "full"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "UPDATE flopwatt_schema_versions SET version = ? WHERE family = 'benchmark_runs'", (SCHEMA_VERSION + 1,)
        )
    with pytest.raises(RunStoreError, match="newer"):
        RunStore(path)


def test_a_version_1_store_gains_cancel_requested_and_disk_full_is_recognised(tmp_path):
    """Schema 2 (issue 14 item 12): a v1 file is migrated in place, its runs kept."""
    from flopwatt.service.run_store import is_disk_full

    path = tmp_path / "db.sqlite3"
    run_id = RunStore(path).create("quick", "cpu", "cpu").run_id
    with sqlite3.connect(path) as connection:  # back to what version 1 wrote
        connection.execute("ALTER TABLE benchmark_runs DROP COLUMN cancel_requested")
        connection.execute("ALTER TABLE benchmark_runs DROP COLUMN workload_json")
        connection.execute("UPDATE flopwatt_schema_versions SET version = 1 WHERE family = 'benchmark_runs'")
    store = RunStore(path)
    assert store.get(run_id).cancel_requested is False
    assert store.update(run_id, cancel_requested=True).cancel_requested is True
    with sqlite3.connect(path) as connection:
        assert connection.execute(
            "SELECT version FROM flopwatt_schema_versions WHERE family = 'benchmark_runs'"
        ).fetchone() == (SCHEMA_VERSION,)
    assert is_disk_full(sqlite3.OperationalError("database or disk is full"))
    assert not is_disk_full(sqlite3.OperationalError("database is locked"))
    assert not is_disk_full(OSError("database or disk is full"))


def test_a_version_2_store_gains_workload_json(tmp_path):
    """Schema 3 (issue 13 item 1): the workload suite's workload is kept with its run."""
    path = tmp_path / "db.sqlite3"
    run_id = RunStore(path).create("quick", "cpu", "cpu").run_id
    with sqlite3.connect(path) as connection:  # back to what version 2 wrote
        connection.execute("ALTER TABLE benchmark_runs DROP COLUMN workload_json")
        connection.execute("UPDATE flopwatt_schema_versions SET version = 2 WHERE family = 'benchmark_runs'")
    store = RunStore(path)
    assert store.get(run_id).workload_json == ""
    created = store.create("workload", "cpu", "cpu", workload_json='{"hidden_size": 64}')
    assert store.get(created.run_id).workload_json == '{"hidden_size": 64}'
    with sqlite3.connect(path) as connection:
        assert (
            connection.execute(
                "SELECT version FROM flopwatt_schema_versions WHERE family = 'benchmark_runs'"
            ).fetchone()
            == (SCHEMA_VERSION,)
            == (3,)
        )


def test_a_failed_transaction_leaves_no_trace(tmp_path):
    store = RunStore(tmp_path / "db.sqlite3")
    run_id = store.create("quick", "cpu", "cpu").run_id
    with pytest.raises(sqlite3.IntegrityError):
        store.update(run_id, state="NOT_A_STATE")  # the CHECK constraint rejects it
    assert store.get(run_id).state is RunState.QUEUED
    assert store.create("quick", "cpu", "cpu").sequence == 2  # the store still works


@pytest.mark.parametrize(
    "name",
    [
        "",
        "runs/abc",
        "benchmarkRuns/",
        "benchmarkRuns/ABC",
        "benchmarkRuns/a/b",
        "benchmarkRuns/" + "a" * 300,
        "benchmarkRuns/a\x00",
    ],
)
def test_bad_run_names_name_the_field(name):
    with pytest.raises(InvalidArgument) as raised:
        runs.parse_run_name(name)
    assert [v.field for v in raised.value.violations] == ["name"]


def test_page_tokens_round_trip_and_foreign_tokens_are_refused():
    assert runs.decode_page_token(runs.encode_page_token(42)) == 42
    assert runs.decode_page_token("") is None
    from flopwatt.service.api.catalog import encode_page_token as catalog_token

    for token in ("!!!", "x" * 100, catalog_token("hardware", 3), runs.encode_page_token(1)[:-2]):
        with pytest.raises(InvalidArgument) as raised:
            runs.decode_page_token(token)
        assert raised.value.violations[0].field == "page_token"


def test_record_to_proto(tmp_path):
    store = RunStore(tmp_path / "db.sqlite3")
    record = store.create("quick", "auto", "cpu", now_seconds=1_700_000_000.25)
    record = store.update(
        record.run_id,
        state=RunState.SUCCEEDED,
        start_time_seconds=1_700_000_001.0,
        end_time_seconds=1_700_000_061.5,
        progress_fraction=1.0,
        profile_id="abc",
    )
    proto = runs.run_to_proto(record)
    assert proto.name == f"benchmarkRuns/{record.run_id}" and proto.state == benchmark_pb2.BenchmarkRun.STATE_SUCCEEDED
    assert proto.create_time.ToNanoseconds() == 1_700_000_000_250_000_000
    assert proto.end_time.seconds - proto.start_time.seconds == 60
    assert proto.profile_name == "profiles/abc" and proto.device == "auto"
    queued = runs.run_to_proto(store.create("full", "cpu", "cpu"))
    assert not queued.HasField("start_time") and queued.profile_name == ""
