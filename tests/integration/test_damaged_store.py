"""A database damaged in the middle (issue 14 item 13): the server refuses to start on it with
one line (exit status 2) instead of serving a damaged profile and writing new runs into the
file; damage that keeps SQLite's structure intact (altered text) is DATA_LOSS on read and stops
new runs; `flopwatt bench export` saves every profile that still reads."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import random
import subprocess
import sys

import grpc
import pytest

from flopwatt.bench.store import ProfileStore
from flopwatt.service.run_store import RunStore
from flopwatt.v1 import benchmark_pb2, benchmark_pb2_grpc
from tests.conftest import run_server
from tests.profile_documents import minimal_profile

PAGE_SIZE = 4096  # SQLite's default page size


def _marker(index: int) -> bytes:
    return f"MARKER-{index}-".encode() * 40


def _make_store(data_dir: pathlib.Path, count: int = 6) -> tuple[pathlib.Path, list[str]]:
    """`count` profiles, each with a unique marker only in its document (not a summary column)."""
    path = data_dir / "flopwatt.sqlite3"
    store = ProfileStore(path)
    ids = []
    for index in range(count):
        document = minimal_profile()
        document["created_time"] = f"2026-11-{index + 1:02d}T00:00:00Z"
        document["environment"] = {"torch": "2.13", "note": _marker(index).decode()}
        ids.append(store.save(document))
    runs = RunStore(path)
    runs.create("quick", "cpu", "cpu")
    runs.close()  # the last connection closes: the WAL is checkpointed into the main file
    assert not (data_dir / "flopwatt.sqlite3-wal").exists() or (data_dir / "flopwatt.sqlite3-wal").stat().st_size == 0
    return path, ids


def _digest(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _export(data_dir: pathlib.Path, output: pathlib.Path, capsys) -> tuple[int, list[dict], str]:
    from flopwatt.service.cli import main

    status = main(["bench", "export", "--data-dir", str(data_dir), "--output", str(output)])
    captured = capsys.readouterr()
    documents = json.loads(output.read_text())["profiles"] if output.exists() else []
    return status, documents, captured.out + captured.err


def test_a_damaged_page_stops_the_server_at_start_and_export_saves_the_rest(tmp_path, capsys):
    path, ids = _make_store(tmp_path)
    data = bytearray(path.read_bytes())
    offset = data.index(_marker(2))  # a page in the middle holding the third profile's document
    page = offset // PAGE_SIZE
    assert 0 < page < len(data) // PAGE_SIZE - 1
    data[page * PAGE_SIZE : (page + 1) * PAGE_SIZE] = random.Random(14).randbytes(PAGE_SIZE)
    path.write_bytes(bytes(data))
    before = _digest(path)

    from flopwatt.service.server import ServerStartError

    with pytest.raises(ServerStartError) as raised:
        with run_server(tmp_path):
            pass
    message = str(raised.value)
    assert "is damaged" in message and "quick_check" in message and "flopwatt bench export" in message
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLOPWATT_")}
    environment["FLOPWATT_DATA_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "flopwatt", "serve", "--port", "0", "--metrics-port", "-1"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "is damaged" in lines[0], result.stderr
    assert _digest(path) == before  # nothing was written into the damaged file

    status, documents, output = _export(tmp_path, tmp_path / "salvaged.json", capsys)
    assert status == 0
    assert f"profiles/{ids[2]} is unreadable, skipped" in output
    exported = {document["environment"]["note"][:10] for document in documents}
    assert "MARKER-2-M" not in exported
    assert len(documents) >= 4  # one damaged page loses what it holds, not the store
    new_dir = tmp_path / "new"
    store = ProfileStore(new_dir / "flopwatt.sqlite3")
    store.save_many(documents)  # the recovery the docs describe: a new store from the export
    assert store.quick_check() == [] and store.list(50, 0)[1] == len(documents)


def test_altered_text_is_data_loss_and_stops_new_runs(tmp_path, capsys):
    path, ids = _make_store(tmp_path)
    data = bytearray(path.read_bytes())
    offset = data.index(_marker(3))
    data[offset + 7 : offset + 15] = b"\xff\xfe\xff\xfe\xff\xfe\xff\xfe"  # no longer UTF-8; structure intact
    path.write_bytes(bytes(data))
    assert ProfileStore(path).quick_check() == []  # quick_check cannot see this: reads must

    with run_server(tmp_path) as server, server.channel() as channel:
        stub = benchmark_pb2_grpc.BenchmarkServiceStub(channel)
        stub.GetProfile(benchmark_pb2.GetProfileRequest(name=f"profiles/{ids[0]}"), timeout=10)
        with pytest.raises(grpc.RpcError) as raised:
            stub.GetProfile(benchmark_pb2.GetProfileRequest(name=f"profiles/{ids[3]}"), timeout=10)
        assert raised.value.code() == grpc.StatusCode.DATA_LOSS
        assert ids[3] in raised.value.details() and "damaged" in raised.value.details()
        assert str(tmp_path) not in raised.value.details()  # the server's paths stay in its log
        with pytest.raises(grpc.RpcError) as raised:
            stub.CreateBenchmarkRun(benchmark_pb2.CreateBenchmarkRunRequest(device="cpu"), timeout=10)
        assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "damaged" in raised.value.details()
        stub.GetProfile(benchmark_pb2.GetProfileRequest(name=f"profiles/{ids[1]}"), timeout=10)  # the rest still reads

    status, documents, output = _export(tmp_path, tmp_path / "salvaged.json", capsys)
    assert status == 0 and len(documents) == 5
    assert f"profiles/{ids[3]} is unreadable, skipped" in output and "skipped 1 unreadable" in output
