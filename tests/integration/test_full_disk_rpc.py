"""A full data disk seen through the API (issue 14 item 12): CreateBenchmarkRun is
RESOURCE_EXHAUSTED with reason STORAGE_FULL, not INTERNAL. The disk is simulated by making the
run store's write raise SQLite's own error (no tiny tmpfs in the test environment)."""

from __future__ import annotations

import sqlite3

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from flopwatt.v1 import benchmark_pb2, benchmark_pb2_grpc
from tests.conftest import run_server


def test_create_on_a_full_disk_is_resource_exhausted(tmp_path, monkeypatch):
    with run_server(tmp_path) as server, server.channel() as channel:

        def full(*args, **kwargs):
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(server.running.run_manager.store, "create", full)
        stub = benchmark_pb2_grpc.BenchmarkServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.CreateBenchmarkRun(benchmark_pb2.CreateBenchmarkRunRequest(device="cpu"), timeout=10)
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "disk is full" in raised.value.details()
        status = rpc_status.from_call(raised.value)
        info = error_details_pb2.ErrorInfo()
        assert status.details[0].Unpack(info) and info.reason == "STORAGE_FULL"
        assert stub.ListBenchmarkRuns(benchmark_pb2.ListBenchmarkRunsRequest(), timeout=5).benchmark_runs == []


def test_a_full_disk_at_start_is_one_clear_start_error(tmp_path, monkeypatch):
    from flopwatt.service.run_store import RunStore
    from flopwatt.service.server import ServerStartError

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(RunStore, "fail_unfinished", full)
    with pytest.raises(ServerStartError, match="disk is full"):
        with run_server(tmp_path):
            pass
