"""Restart mid-benchmark: `flopwatt serve` as a real process is SIGKILLed while a run is RUNNING.
The orphaned worker must exit by itself, and the next server must open the same store, report the
run FAILED with a reason (never RUNNING), and serve the profiles stored before, unchanged."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import grpc
import pytest

from flopwatt.service.run_worker import TEST_DELAY_ENVIRONMENT_VARIABLE
from flopwatt.v1 import benchmark_pb2, benchmark_pb2_grpc
from tests.conftest import process_alive

pytestmark = pytest.mark.timeout(180)
FLOPWATT = [sys.executable, "-m", "flopwatt"]
State = benchmark_pb2.BenchmarkRun.State
LISTENING = re.compile(r"serving gRPC on (\S+) ")


def _stored_profile_document() -> dict:
    """A schema-valid profile to prove the store survives; its numbers are store test data, not
    a measurement, and nothing reads them but the equality check below."""
    return {
        "schema_version": 1,
        "benchmark_version": "restart-test",
        "created_time": "2026-01-01T00:00:00Z",
        "suite": "quick",
        "device": {"kind": "cpu", "name": "restart-test host", "uuid": None, "hardware_id": None},
        "environment": {},
        "results": [],
        "ceilings": {},
        "warnings": [],
        "power_unavailable_reason": "store integrity fixture",
    }


def _start(data_dir, log_path) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOPWATT_")}
    env[TEST_DELAY_ENVIRONMENT_VARIABLE] = "120"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [*FLOPWATT, "serve", "--port", "0", "--metrics-port", "-1", "--data-dir", str(data_dir)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = LISTENING.search(log_path.read_text())
        if match:
            return process, match.group(1)
        if process.poll() is not None:
            raise AssertionError(log_path.read_text())
        time.sleep(0.1)
    process.kill()
    raise AssertionError("server did not start:\n" + log_path.read_text())


def _worker_pids(server_pid: int) -> list[int]:
    children = subprocess.run(["pgrep", "-P", str(server_pid)], capture_output=True, text=True).stdout.split()
    workers = []
    for child in map(int, children):
        try:
            with open(f"/proc/{child}/cmdline", "rb") as cmdline:
                if b"spawn_main" in cmdline.read():
                    workers.append(child)
        except OSError:
            pass
    return workers


def test_sigkill_mid_run_fails_the_run_kills_the_worker_and_keeps_profiles(tmp_path):
    from flopwatt.bench.store import ProfileStore

    data_dir = tmp_path / "data"
    stored = ProfileStore(data_dir / "flopwatt.sqlite3")
    profile_id = stored.save(_stored_profile_document())
    before = stored.get(profile_id)
    server, address = _start(data_dir, tmp_path / "first.log")
    try:
        with grpc.insecure_channel(address) as channel:
            stub = benchmark_pb2_grpc.BenchmarkServiceStub(channel)
            run = stub.CreateBenchmarkRun(
                benchmark_pb2.CreateBenchmarkRunRequest(device="cpu"), timeout=10
            ).benchmark_run
            deadline = time.monotonic() + 30
            while not (workers := _worker_pids(server.pid)) or stub.GetBenchmarkRun(
                benchmark_pb2.GetBenchmarkRunRequest(name=run.name), timeout=5
            ).benchmark_run.progress_message.startswith("starting"):
                assert time.monotonic() < deadline, "the run never started measuring"
                time.sleep(0.1)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
        deadline = time.monotonic() + 5
        while any(process_alive(pid) for pid in workers):
            assert time.monotonic() < deadline, f"orphaned worker {workers} still alive 5 s after the server died"
            time.sleep(0.05)

        server, address = _start(data_dir, tmp_path / "second.log")
        with grpc.insecure_channel(address) as channel:
            stub = benchmark_pb2_grpc.BenchmarkServiceStub(channel)
            after = stub.GetBenchmarkRun(benchmark_pb2.GetBenchmarkRunRequest(name=run.name), timeout=5).benchmark_run
            assert after.state == State.STATE_FAILED
            assert "RUNNING" in after.error and "restart or crash" in after.error
            assert after.end_time.seconds >= after.start_time.seconds > 0
            profile = stub.GetProfile(benchmark_pb2.GetProfileRequest(name=f"profiles/{profile_id}"), timeout=5).profile
            assert json.loads(profile.profile_json) == before
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
    assert server.returncode == 0
