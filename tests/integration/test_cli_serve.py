"""`flopwatt serve` and `flopwatt health` as processes: signals, exit codes, one-line errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

FLOPWATT = [sys.executable, "-m", "flopwatt"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOPWATT_")}
    env["FLOPWATT_DATA_DIR"] = str(tmp_path)
    return env


def _wait_serving(address: str, deadline_seconds: float = 60) -> None:
    deadline = time.monotonic() + deadline_seconds
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                if (
                    stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                    == health_pb2.HealthCheckResponse.SERVING
                ):
                    return
            except grpc.RpcError:
                time.sleep(0.2)
    raise AssertionError(f"{address} never answered SERVING")


def test_sigterm_reports_not_serving_then_exits_zero(tmp_path):
    port = _free_port()
    process = subprocess.Popen(
        [*FLOPWATT, "serve", "--port", str(port), "--metrics-port", "-1"],
        env=_environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        address = f"127.0.0.1:{port}"
        _wait_serving(address)
        health = subprocess.run([*FLOPWATT, "health", "--address", address], capture_output=True, text=True, timeout=60)
        assert health.returncode == 0, health.stderr
        assert "SERVING" in health.stdout
        process.send_signal(signal.SIGTERM)
        with grpc.insecure_channel(address) as channel:  # during the drain the server still answers, NOT_SERVING
            status = None
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    status = (
                        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1).status
                    )
                except grpc.RpcError:
                    break
                if status == health_pb2.HealthCheckResponse.NOT_SERVING:
                    break
                time.sleep(0.05)
        assert status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = process.stdout.read()
    assert "Traceback" not in output
    assert "flopwatt stopped" in output


def test_health_exits_one_when_nothing_listens():
    result = subprocess.run(
        [*FLOPWATT, "health", "--address", f"127.0.0.1:{_free_port()}", "--timeout", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "UNAVAILABLE" in result.stderr


def test_port_in_use_is_one_clear_line(tmp_path):
    from flopwatt.service.run_store import RunState, RunStore

    # A run another live server owns in the same data directory: a server that cannot bind must
    # leave it alone (recovery marks unfinished runs FAILED only once the port is ours).
    store = RunStore(tmp_path / "flopwatt.sqlite3")
    live = store.update(store.create("quick", "cpu", "cpu").run_id, state=RunState.RUNNING)
    store.close()
    with socket.socket() as blocker:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = subprocess.run(
            [*FLOPWATT, "serve", "--port", str(port), "--metrics-port", "-1"],
            env=_environment(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "cannot listen" in lines[0] and str(port) in lines[0]
    store = RunStore(tmp_path / "flopwatt.sqlite3")
    try:
        assert store.get(live.run_id).state is RunState.RUNNING
    finally:
        store.close()


def test_bad_flags_and_environment_are_one_clear_line(tmp_path):
    cases = [
        (["serve", "--port", "70000"], {}, "--port must be between"),
        (["serve", "--port", "abc"], {}, "not a valid port"),
        (
            ["serve", "--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", str(tmp_path / "k.pem")],
            {},
            "no such file",
        ),
        (["serve"], {"FLOPWATT_METRICS_PORT": "nine"}, "FLOPWATT_METRICS_PORT"),
    ]
    for args, extra_env, expected in cases:
        env = _environment(tmp_path) | extra_env
        result = subprocess.run([*FLOPWATT, *args], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert expected in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
