"""RunManager with real spawn worker processes running small stand-in suites (defined below and
imported by the child by name): queue order, one run per device, cancel escalation, crashes,
restart recovery, metrics. The real benchmark suite is exercised in tests/integration."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import sqlite3
import time
from typing import Any, Callable

import pytest

from flopwatt.service import errors
from flopwatt.service.metrics import create_metrics
from flopwatt.service.run_manager import RunManager, gpu_energy_joules
from flopwatt.service.run_store import RunState, RunStore
from tests.conftest import process_alive

HERE = __name__  # the child imports this module by the name pytest gave it
pytestmark = pytest.mark.timeout(120)


# -- stand-in suites, run inside the spawned worker ------------------------------------------------


def measured_suite(
    suite: str, device: str, *, progress: Callable[[float, str], None], should_cancel: Callable[[], bool]
) -> dict:
    """Returns a profile-shaped document with a process-specific value, so a test can tell that
    this document (not a constant) made it through the pipe and into the saver."""
    progress(0.5, "halfway")
    return {
        "schema_version": 1,
        "suite": suite,
        "device": {"kind": device, "uuid": "GPU-test", "index": 0},
        "worker_pid": os.getpid(),
        "power": {"windows": [{"energy_joules": 10.0}, {"energy_joules": 2.5}]},
    }


def endless_suite(
    suite: str, device: str, *, progress: Callable[[float, str], None], should_cancel: Callable[[], bool]
) -> dict:
    """Cooperative: stops between steps once asked."""
    step = 0
    while not should_cancel():
        step += 1
        progress(min(0.99, step / 1000), f"step {step}")
        time.sleep(0.02)
    raise RuntimeError("cancelled")


def stubborn_suite(
    suite: str, device: str, *, progress: Callable[[float, str], None], should_cancel: Callable[[], bool]
) -> dict:
    """Never looks at should_cancel and ignores SIGTERM: only SIGKILL stops it."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(0.05)


def crashing_suite(
    suite: str, device: str, *, progress: Callable[[float, str], None], should_cancel: Callable[[], bool]
) -> dict:
    os.kill(os.getpid(), signal.SIGSEGV)  # what a faulting kernel does
    return {}


def raising_suite(
    suite: str, device: str, *, progress: Callable[[float, str], None], should_cancel: Callable[[], bool]
) -> dict:
    raise RuntimeError("GEMM output did not match the reference")


def nan_suite(
    suite: str, device: str, *, progress: Callable[[float, str], None], should_cancel: Callable[[], bool]
) -> dict:
    return {"ceilings": {"matmul_flops_per_second": {"fp32": float("nan")}}}


# -- harness ---------------------------------------------------------------------------------------


async def _no_cuda() -> bool:
    return False


class Saver:
    def __init__(self) -> None:
        self.documents: dict[str, dict] = {}

    def __call__(self, document: dict) -> str:
        profile_id = f"p{len(self.documents) + 1}"
        self.documents[profile_id] = document
        return profile_id


def make_manager(tmp_path: pathlib.Path, runner: str, **kwargs: Any) -> tuple[RunManager, Saver, Any]:
    metrics = create_metrics()
    saver = Saver()
    manager = RunManager(
        RunStore(tmp_path / "db.sqlite3"),
        saver,
        metrics,
        runner=f"{HERE}:{runner}",
        cuda_available=_no_cuda,
        cancel_grace_seconds=kwargs.pop("cancel_grace_seconds", 1.0),
        **kwargs,
    )
    return manager, saver, metrics


async def wait_terminal(manager: RunManager, run_id: str, timeout: float = 60) -> Any:
    async def last() -> Any:
        record = None
        async for record in manager.watch(run_id):
            pass
        return record

    return await asyncio.wait_for(last(), timeout)


async def wait_state(manager: RunManager, run_id: str, state: RunState, timeout: float = 30) -> None:
    async def reached() -> None:
        async for record in manager.watch(run_id):
            if record.state is state:
                return
        raise AssertionError(f"run ended {record.state} without reaching {state}")

    await asyncio.wait_for(reached(), timeout)


async def wait_worker(manager: RunManager, run_id: str, timeout: float = 30) -> int:
    """The worker's pid once it exists."""
    deadline = time.monotonic() + timeout
    while (pid := manager.worker_pid(run_id)) is None:
        assert time.monotonic() < deadline, "no worker process appeared"
        await asyncio.sleep(0.02)
    return pid


def sample(metrics: Any, name: str, labels: dict | None = None) -> float:
    return metrics.registry.get_sample_value(name, labels or {}) or 0.0


# -- tests -----------------------------------------------------------------------------------------


def test_run_succeeds_and_its_document_is_saved(tmp_path):
    async def scenario() -> None:
        manager, saver, metrics = make_manager(tmp_path, "measured_suite")
        created = await manager.create("quick", "auto")
        assert created.state is RunState.QUEUED and created.device_key == "cpu"
        updates = []
        async for record in manager.watch(created.run_id):
            updates.append(record)
        final = updates[-1]
        assert final.state is RunState.SUCCEEDED, final.error
        assert final.profile_id == "p1" and final.progress_fraction == 1.0
        document = saver.documents["p1"]
        assert document["suite"] == "quick" and document["worker_pid"] != os.getpid()
        assert RunState.RUNNING in {u.state for u in updates}
        assert manager.store.get(created.run_id) == final  # persisted
        assert sample(metrics, "flopwatt_benchmark_runs_total", {"result": "succeeded"}) == 1
        assert sample(metrics, "flopwatt_benchmark_duration_seconds_count") == 1
        assert sample(metrics, "flopwatt_gpu_energy_joules_total", {"gpu": "0", "UUID": "GPU-test"}) == 12.5
        await manager.close()

    asyncio.run(scenario())


def test_one_run_at_a_time_per_device_and_a_bounded_queue(tmp_path):
    async def scenario() -> None:
        manager, _, metrics = make_manager(tmp_path, "endless_suite", max_queued_runs_per_device=2)
        first = await manager.create("quick", "cpu")
        pid = await wait_worker(manager, first.run_id)
        second = await manager.create("quick", "cpu")
        third = await manager.create("full", "cpu")
        with pytest.raises(errors.ResourceExhausted, match="queue is full"):
            await manager.create("quick", "cpu")
        assert manager.get(second.run_id).state is RunState.QUEUED
        assert sample(metrics, "flopwatt_benchmark_queue_depth") == 2
        cancelled_queued = await manager.cancel(third.run_id)
        assert cancelled_queued.state is RunState.CANCELLED and "before it started" in cancelled_queued.error
        assert (await manager.cancel(first.run_id)).state is RunState.CANCELLED
        assert not process_alive(pid)
        # the queue moves on to the second run
        await wait_state(manager, second.run_id, RunState.RUNNING)
        await manager.close()
        assert manager.store.get(second.run_id).state is RunState.FAILED
        assert "shut down" in manager.store.get(second.run_id).error

    asyncio.run(scenario())


def test_cancel_kills_a_worker_that_ignores_cancel_and_sigterm(tmp_path):
    async def scenario() -> None:
        manager, _, _ = make_manager(tmp_path, "stubborn_suite", cancel_grace_seconds=0.5)
        run = await manager.create("quick", "cpu")
        pid = await wait_worker(manager, run.run_id)
        await asyncio.sleep(1.5)  # let the child import this module and ignore SIGTERM
        started = time.monotonic()
        final = await manager.cancel(run.run_id)
        assert final.state is RunState.CANCELLED
        assert time.monotonic() - started < 5
        assert not process_alive(pid)
        await manager.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("runner", "expected_error"),
    [
        ("crashing_suite", "killed by signal 11"),
        ("raising_suite", "RuntimeError: GEMM output did not match the reference"),
        ("nan_suite", "ValueError"),
        ("missing_suite", "AttributeError"),
    ],
)
def test_failures_are_recorded_with_their_reason(tmp_path, runner, expected_error):
    async def scenario() -> None:
        manager, saver, metrics = make_manager(tmp_path, runner)
        run = await manager.create("quick", "cpu")
        final = await wait_terminal(manager, run.run_id)
        assert final.state is RunState.FAILED
        assert expected_error in final.error
        assert not saver.documents
        assert sample(metrics, "flopwatt_benchmark_runs_total", {"result": "failed"}) == 1
        # the manager survives and runs the next one
        again = await manager.create("quick", "cpu")
        assert (await wait_terminal(manager, again.run_id)).state is RunState.FAILED
        await manager.close()

    asyncio.run(scenario())


def test_cuda_without_a_gpu_is_a_failed_precondition(tmp_path):
    async def scenario() -> None:
        manager, _, _ = make_manager(tmp_path, "measured_suite")
        with pytest.raises(errors.FailedPrecondition, match="no usable CUDA GPU"):
            await manager.create("quick", "cuda")
        assert manager.list(10, None)[0] == []
        await manager.close()

    asyncio.run(scenario())


def test_recover_fails_runs_an_earlier_process_left_unfinished(tmp_path):
    store = RunStore(tmp_path / "db.sqlite3")
    running = store.update(store.create("quick", "cpu", "cpu").run_id, state=RunState.RUNNING, start_time_seconds=1.0)
    queued = store.create("full", "auto", "cpu")
    done = store.update(store.create("quick", "cpu", "cpu").run_id, state=RunState.SUCCEEDED, profile_id="x")
    store.close()
    manager, _, metrics = make_manager(tmp_path, "measured_suite")
    failed = {record.run_id: record for record in manager.recover()}
    assert set(failed) == {running.run_id, queued.run_id}
    assert failed[running.run_id].state is RunState.FAILED and "RUNNING" in failed[running.run_id].error
    assert "QUEUED" in failed[queued.run_id].error
    assert manager.get(done.run_id).state is RunState.SUCCEEDED
    assert sample(metrics, "flopwatt_benchmark_runs_total", {"result": "failed"}) == 2


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"power": {"total_energy_joules": 3.5}}, 3.5),
        ({"power": {"total_energy_joules": float("nan")}}, None),
        ({"power": {"total_energy_joules": -1}}, None),
        ({"power": {"total_energy_joules": True}}, None),
        ({"power": {"windows": [{"energy_joules": 10.0}, {"energy_joules": 2.5}]}}, 12.5),
        ({"power": {"windows": [{"energy_joules": 10.0}, {"energy_joules": None}]}}, None),
        ({"power": {"windows": []}}, None),
        ({"power": {}}, None),
        ({}, None),
    ],
)
def test_gpu_energy_is_read_only_when_measured(document, expected):
    assert gpu_energy_joules(document) == expected


# -- a full disk (issue 14 item 12) ----------------------------------------------------------------

FULL = sqlite3.OperationalError("database or disk is full")


def fill_disk(monkeypatch: pytest.MonkeyPatch, store: RunStore, refuses: Callable[[str, dict], bool]) -> None:
    """Make the store's writes raise SQLite's "database or disk is full" when `refuses(run_id,
    changes)` says so (creates are asked with run_id "" and the columns); reads still work, as on
    a real full disk. A tiny tmpfs is not available to tests, so the write is monkeypatched."""
    update, create = store.update, store.create

    def full_update(run_id: str, **changes: Any) -> Any:
        if refuses(run_id, changes):
            raise FULL
        return update(run_id, **changes)

    def full_create(suite: str, device: str, device_key: str, now_seconds: float | None = None) -> Any:
        if refuses("", {"suite": suite}):
            raise FULL
        return create(suite, device, device_key, now_seconds)

    monkeypatch.setattr(store, "update", full_update)
    monkeypatch.setattr(store, "create", full_create)


def test_full_disk_refuses_create_with_resource_exhausted_and_the_queue_task_survives(tmp_path, monkeypatch):
    async def scenario() -> None:
        manager, _, _ = make_manager(tmp_path, "measured_suite")
        disk = {"full": True}
        fill_disk(monkeypatch, manager.store, lambda run_id, changes: disk["full"])
        with pytest.raises(errors.ResourceExhausted, match="disk is full") as raised:
            await manager.create("quick", "cpu")
        assert raised.value.reason == "STORAGE_FULL"
        assert manager.list(10, None)[0] == []
        # the disk fills between the create and the RUNNING write: the run fails, the queue task lives
        disk["full"] = False
        run = await manager.create("quick", "cpu")
        disk["full"] = True
        final = await wait_terminal(manager, run.run_id)
        assert final.state is RunState.FAILED and "could not be recorded as RUNNING" in final.error
        disk["full"] = False
        again = await manager.create("quick", "cpu")
        assert (await wait_terminal(manager, again.run_id)).state is RunState.SUCCEEDED
        assert manager.store.get(run.run_id).state is RunState.FAILED  # written once the disk had room
        await manager.close()

    asyncio.run(scenario())


def test_cancel_answered_ok_ends_cancelled_even_when_the_final_write_fails(tmp_path, monkeypatch):
    """The cancel is recorded before the worker stops; the terminal write then fails (disk full).
    The cancel still answers CANCELLED, Watch ends, the queued run behind it starts without another
    create, and after a restart the run is CANCELLED (not FAILED "server stopped")."""

    async def scenario() -> None:
        manager, _, _ = make_manager(tmp_path, "endless_suite")
        first = await manager.create("quick", "cpu")
        pid = await wait_worker(manager, first.run_id)
        second = await manager.create("quick", "cpu")
        fill_disk(monkeypatch, manager.store, lambda run_id, changes: run_id == first.run_id and "state" in changes)
        watch = asyncio.ensure_future(wait_terminal(manager, first.run_id))
        cancelled = await asyncio.wait_for(manager.cancel(first.run_id), 30)
        assert cancelled.state is RunState.CANCELLED
        assert (await watch).state is RunState.CANCELLED
        assert not process_alive(pid)
        assert manager.get(first.run_id).state is RunState.CANCELLED
        assert manager.store.get(first.run_id).state is RunState.RUNNING  # the disk refused the end ...
        assert manager.store.get(first.run_id).cancel_requested  # ... but not the request
        await wait_state(manager, second.run_id, RunState.RUNNING)  # the queue task survived
        assert (await manager.cancel(second.run_id)).state is RunState.CANCELLED
        await manager.close()
        manager.store.close()
        monkeypatch.undo()

        restarted, _, _ = make_manager(tmp_path, "endless_suite")
        restarted.recover()
        assert restarted.get(first.run_id).state is RunState.CANCELLED
        assert restarted.get(second.run_id).state is RunState.CANCELLED

    asyncio.run(scenario())


def test_cancel_that_cannot_be_recorded_is_an_error_and_the_run_goes_on(tmp_path, monkeypatch):
    async def scenario() -> None:
        manager, _, _ = make_manager(tmp_path, "endless_suite")
        running = await manager.create("quick", "cpu")
        pid = await wait_worker(manager, running.run_id)
        queued_behind = await manager.create("quick", "cpu")
        disk = {"full": True}
        fill_disk(
            monkeypatch, manager.store, lambda run_id, changes: disk["full"] and "progress_message" not in changes
        )
        for run in (running, queued_behind):
            with pytest.raises(errors.ResourceExhausted, match="cancel could not be recorded"):
                await manager.cancel(run.run_id)
        assert process_alive(pid)
        assert manager.get(running.run_id).state is RunState.RUNNING
        assert manager.get(queued_behind.run_id).state is RunState.QUEUED and manager.queue_depth("cpu") == 1
        disk["full"] = False
        assert (await manager.cancel(queued_behind.run_id)).state is RunState.CANCELLED
        assert (await manager.cancel(running.run_id)).state is RunState.CANCELLED
        assert manager.store.get(running.run_id).state is RunState.CANCELLED
        await manager.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("environment", "expected_gpu"),
    [
        ({"variables": {"CUDA_VISIBLE_DEVICES": "2,0"}}, "2"),
        ({"variables": {}}, "0"),
        ({"variables": {"CUDA_VISIBLE_DEVICES": "GPU-abc"}}, ""),
    ],
)
def test_energy_counter_gpu_label_is_the_physical_index(tmp_path, environment, expected_gpu):
    """Issue 14 item 16: dcgm-exporter's `gpu` is the NVML (physical) index; the profile's
    device index is torch's logical one, which differs under CUDA_VISIBLE_DEVICES."""
    manager, _, metrics = make_manager(tmp_path, "measured_suite")
    manager._record_energy(
        {
            "device": {"kind": "cuda", "uuid": "GPU-x", "index": 0},
            "environment": environment,
            "power": {"total_energy_joules": 5.0},
        }
    )
    assert sample(metrics, "flopwatt_gpu_energy_joules_total", {"gpu": expected_gpu, "UUID": "GPU-x"}) == 5.0


def test_concurrent_first_cuda_creates_share_one_probe(tmp_path):
    """Issue 14 item 5: six concurrent first device="cuda" creates used to start six
    `python -c "import torch"` probes (6.8-18.5 s of CPU each); now one probe answers all, and
    a caller that leaves mid-probe neither cancels it for the others nor causes a second one."""
    calls = []

    async def slow_probe() -> bool:
        calls.append(time.monotonic())
        await asyncio.sleep(0.3)
        return False

    async def scenario() -> None:
        manager, _, _ = make_manager(tmp_path, "measured_suite")
        manager._cuda_probe = slow_probe
        leaver = asyncio.ensure_future(manager.create("quick", "cuda"))
        creates = [asyncio.ensure_future(manager.create("quick", device)) for device in ("cuda",) * 5 + ("auto",)]
        await asyncio.sleep(0.05)
        leaver.cancel()
        outcomes = await asyncio.gather(*creates, return_exceptions=True)
        assert len(calls) == 1
        assert all(isinstance(outcome, errors.FailedPrecondition) for outcome in outcomes[:5])
        assert outcomes[5].device_key == "cpu"  # auto without CUDA runs on the CPU
        with pytest.raises(errors.FailedPrecondition):
            await manager.create("quick", "cuda")
        assert len(calls) == 1  # the answer is remembered
        await manager.close()

    asyncio.run(scenario())


def test_a_draining_manager_refuses_new_runs_with_unavailable(tmp_path):
    """Issue 14 item 6: a run created after SIGTERM was accepted and failed a second later."""

    async def scenario() -> None:
        manager, _, _ = make_manager(tmp_path, "measured_suite")
        manager.drain()
        with pytest.raises(errors.Unavailable, match="shutting down"):
            await manager.create("quick", "cpu")
        assert manager.list(10, None)[0] == []
        await manager.close()

    asyncio.run(scenario())
