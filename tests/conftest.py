"""Shared fixtures: a real flopwatt server in-process on port 0, driven by ordinary sync clients.

The grpc.aio server runs on its own event loop in a background thread, so tests use the plain
blocking grpc API the way most users do.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import pathlib
import threading
from typing import Any, Iterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from flopwatt.service.config import Settings


@dataclasses.dataclass
class ServerHandle:
    """A started test server: its address, metrics port and the RunningServer itself."""

    address: str
    metrics_port: int | None
    running: Any
    loop: asyncio.AbstractEventLoop

    def channel(self) -> grpc.Channel:
        return grpc.insecure_channel(self.address)

    def metrics_text(self) -> str:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            return response.read().decode()

    def call(self, coroutine: Any, timeout: float = 30) -> Any:
        """Run a coroutine on the server's loop (e.g. running.set_serving(False))."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


@contextlib.contextmanager
def run_server(tmp_path: pathlib.Path, **settings_fields: Any) -> Iterator[ServerHandle]:
    """Start a server with Settings(port=0, metrics_port=0, data_dir=tmp_path, **fields)."""
    from flopwatt.service.server import start_server

    fields = {"port": 0, "metrics_port": 0, "data_dir": tmp_path, "shutdown_grace_seconds": 1.0, **settings_fields}
    settings = Settings(**fields).validate()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    def loop_thread() -> None:
        asyncio.set_event_loop(loop)

        async def start() -> None:
            try:
                holder["running"] = await start_server(settings)
            except BaseException as error:  # reported to the test thread below
                holder["error"] = error
            finally:
                started.set()

        loop.create_task(start())
        loop.run_forever()

    thread = threading.Thread(target=loop_thread, name="flopwatt-test-server", daemon=True)
    thread.start()
    if not started.wait(60):
        raise RuntimeError("test server did not start within 60 s")
    if "error" in holder:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        raise holder["error"]
    running = holder["running"]
    handle = ServerHandle(f"127.0.0.1:{running.port}", running.metrics_port, running, loop)
    try:
        yield handle
    finally:
        with contextlib.suppress(Exception):
            handle.call(running.stop(0.5))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.fixture
def server(tmp_path: pathlib.Path) -> Iterator[ServerHandle]:
    with run_server(tmp_path) as handle:
        yield handle


def field_violations(error: grpc.RpcError) -> list[str]:
    """The fields named by the BadRequest detail of a rich error status (fails without one)."""
    status = rpc_status.from_call(error)
    assert status is not None, "no google.rpc.Status in the trailers"
    fields: list[str] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            fields += [violation.field for violation in bad_request.field_violations]
    return fields


def process_alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie awaiting its reaper counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1][0] != "Z"
    except OSError:
        return False


# Every operator kind the workload suite measures, spelled out (not read from the suite) so that
# a kind added or dropped there fails the tests that expect this set.
WORKLOAD_OPERATOR_KINDS = (
    "gemm",
    "attention",
    "rmsnorm",
    "swiglu",
    "rotary",
    "residual_add",
    "cross_entropy",
    "adamw",
    "kv_cache_read",
    "embedding",
    "kv_cache_write",
    "argmax",
)
