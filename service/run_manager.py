"""Benchmark runs: a bounded queue per device, one worker process at a time per device, cancel,
watch, and recovery after a restart.

Why this shape (DESIGN §6): two benchmarks on one GPU corrupt both measurements, so each device
("cpu", "cuda") has one FIFO queue served by one asyncio task that runs at most one worker
process at a time. The event loop never blocks on a benchmark: the work is in a 'spawn' child
(service/run_worker.py); this module only moves messages and records state. Every state change
is written to SQLite (service/run_store.py) in one transaction; progress is written at most once
per PROGRESS_PERSIST_INTERVAL_SECONDS and served from memory in between.

A run that was QUEUED or RUNNING when the previous server process died cannot still be running:
its worker exits when its parent dies (run_worker's watchdog). `start()` therefore marks such
runs FAILED with the reason, so no record stays RUNNING forever.

Store errors (a full disk above all) never kill a device's queue task and never leave a run
RUNNING in memory after its worker is gone. A write that answers a client (create, cancel) fails
that RPC instead: RESOURCE_EXHAUSTED with reason STORAGE_FULL when the disk is full. A cancel is
written (`cancel_requested`) before the worker is stopped, so once a client was told OK the run
ends CANCELLED: in memory at once, on disk when the final write succeeds (retried on later
writes), and at the latest when the next start recovers it. A terminal state that could not be
written is kept in memory (`_unpersisted`) so Get/Watch/List agree with what clients were told.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import math
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from typing import Any, AsyncIterator, Awaitable, Callable

from flopwatt.bench.power import physical_gpu_index
from flopwatt.service import errors
from flopwatt.service.run_store import RunNotFound, RunRecord, RunState, RunStore, is_disk_full
from flopwatt.service.run_worker import DEFAULT_RUNNER, WorkerJob
from flopwatt.service.run_worker import run as worker_main

LOG = logging.getLogger("flopwatt.runs")

# Runs waiting per device beyond the one running; more get RESOURCE_EXHAUSTED. A quick suite
# takes about 2 minutes (DESIGN §7), so 8 queued runs are a quarter of an hour of waiting:
# enough for a team sharing a host, small enough that a runaway client is stopped early.
MAX_QUEUED_RUNS_PER_DEVICE = 8
# After "cancel" the worker gets this long to stop between kernels before SIGTERM, then as long
# again before SIGKILL: the device is free within twice this bound.
CANCEL_GRACE_SECONDS = 2.0
PROGRESS_PERSIST_INTERVAL_SECONDS = 1.0
# Bound on shutdown waiting for runs in hand: spawn + the cancel escalation, with margin.
CLOSE_TIMEOUT_SECONDS = 30.0
# Bound on waiting for a CUDA probe subprocess (imports torch: a few seconds on a cold cache).
CUDA_PROBE_TIMEOUT_SECONDS = 120.0

RESTART_REASON_BY_STATE = {
    RunState.RUNNING: "the server stopped while this run was RUNNING (restart or crash); the worker was stopped and no profile was saved",
    RunState.QUEUED: "the server stopped before this QUEUED run started; create it again",
}
SHUTDOWN_REASON_BY_STATE = {
    RunState.RUNNING: "the server shut down during this run; no profile was saved",
    RunState.QUEUED: "the server shut down before this run started; create it again",
}

# A run whose cancel was recorded but whose end was not (disk full, or the server died meanwhile).
RESTART_CANCELLED_REASON = "cancelled by a client (the end was recorded when the server next started)"
STORAGE_FULL_REASON = "STORAGE_FULL"

CudaProbe = Callable[[], Awaitable[bool]]
ProfileSaver = Callable[[dict[str, Any]], str]


def storage_failure(error: sqlite3.Error, what: str) -> Exception:
    """The exception a client should get when a write it waits for fails: a full disk is
    RESOURCE_EXHAUSTED (the operator can act on it, the client can retry later) rather than
    INTERNAL; any other database error stays itself and becomes INTERNAL with a logged trace."""
    if is_disk_full(error):
        return errors.ResourceExhausted(
            f"{what}: the server's data disk is full (SQLite: {error}); free space in the data directory and retry",
            reason=STORAGE_FULL_REASON,
        )
    return error


async def probe_cuda_in_subprocess() -> bool:
    """Whether torch sees a CUDA device, asked of a short-lived child so the server process never
    imports torch nor initialises CUDA (a forked or spawned worker must own the device)."""
    command = [sys.executable, "-c", "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"]

    def probe() -> bool:
        try:
            return (
                subprocess.run(command, capture_output=True, timeout=CUDA_PROBE_TIMEOUT_SECONDS, check=False).returncode
                == 0
            )
        except (OSError, subprocess.SubprocessError):
            return False

    return await asyncio.to_thread(probe)


@dataclass
class _Worker:
    """The live child of a RUNNING run."""

    process: Any  # multiprocessing.context.SpawnProcess
    control: Connection
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)  # the record is terminal
    outcome: tuple[Any, ...] | None = None
    stop_reason: str = ""  # "cancel" or "shutdown" once asked to stop


class RunManager:
    """Owns the runs of one server. All methods run on the server's event loop."""

    def __init__(
        self,
        store: RunStore,
        save_profile: ProfileSaver | None,
        metrics: Any,
        *,
        runner: str = DEFAULT_RUNNER,
        cuda_available: CudaProbe = probe_cuda_in_subprocess,
        max_queued_runs_per_device: int = MAX_QUEUED_RUNS_PER_DEVICE,
        cancel_grace_seconds: float = CANCEL_GRACE_SECONDS,
        store_damage: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._store = store
        self._save_profile = save_profile
        self._metrics = metrics
        self._runner = runner
        self._cuda_probe = cuda_available
        # The one probe's answer, shared: concurrent first "cuda"/"auto" creates await the same
        # task instead of each starting a `python -c "import torch"` child (6.8-18.5 s of CPU
        # each, stolen from a running benchmark). A failed probe is forgotten and asked again.
        self._cuda_probe_task: asyncio.Task[bool] | None = None
        self._max_queued = max_queued_runs_per_device
        self._cancel_grace_seconds = cancel_grace_seconds
        # What a read found wrong with the database file (ProfileStore.damage), else None: new
        # runs would be written into a file that is known to be damaged, so none are accepted.
        self._store_damage = store_damage
        self._context = multiprocessing.get_context("spawn")
        self._active: dict[str, RunRecord] = {}  # QUEUED and RUNNING runs, freshest state
        self._queues: dict[str, collections.deque[str]] = {}
        self._wakeups: dict[str, asyncio.Event] = {}
        self._device_tasks: dict[str, asyncio.Task[None]] = {}
        self._workers: dict[str, _Worker] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._persisted_at: dict[str, float] = {}
        self._cancel_before_spawn: set[str] = set()
        # Terminal records the store refused (run_id -> (record, the changes to write again)).
        self._unpersisted: dict[str, tuple[RunRecord, dict[str, Any]]] = {}
        self._watchers = 0
        self._draining = False
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    def recover(self) -> list[RunRecord]:
        """Mark runs left QUEUED or RUNNING by an earlier process FAILED with the reason."""
        failed = self._store.fail_unfinished(RESTART_REASON_BY_STATE, cancelled_reason=RESTART_CANCELLED_REASON)
        for record in failed:
            LOG.warning("run %s was unfinished when the server stopped; marked %s", record.run_id, record.state.value)
            self._metrics.benchmark_runs.labels(result=record.state.value.lower()).inc()
        self._metrics.benchmark_queue_depth.set(0)
        return failed

    def drain(self) -> None:
        """Refuse new runs from now on (UNAVAILABLE, so clients retry elsewhere); runs in hand go
        on until close(). Called as shutdown starts: a run accepted during the drain would only be
        failed a second later by close()."""
        self._draining = True

    async def close(self) -> None:
        """Server shutdown: fail queued runs, stop running workers, wait for their records."""
        self._closed = True
        for device_key, queue in self._queues.items():
            while queue:
                self._finish(queue.popleft(), RunState.FAILED, SHUTDOWN_REASON_BY_STATE[RunState.QUEUED])
        self._update_queue_gauge()
        for worker in list(self._workers.values()):
            worker.stop_reason = worker.stop_reason or "shutdown"
        await asyncio.gather(*(self._stop_worker(worker) for worker in list(self._workers.values())))
        # Each device task finishes the run in hand (a worker still spawning sees _closed and is
        # stopped as soon as it exists), records it, and leaves its loop.
        for wakeup in self._wakeups.values():
            wakeup.set()
        tasks = list(self._device_tasks.values())
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT_SECONDS)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._retry_unpersisted()  # last chance; otherwise the next start's recover() settles them

    @property
    def store(self) -> RunStore:
        return self._store

    # -- queries -----------------------------------------------------------------------------

    def get(self, run_id: str) -> RunRecord:
        """The run's current state; NotFound when there is none."""
        active = self._active.get(run_id)
        if active is not None:
            return active
        if run_id in self._unpersisted:
            return self._unpersisted[run_id][0]
        try:
            return self._store.get(run_id)
        except RunNotFound:
            raise errors.NotFound("benchmark run", f"benchmarkRuns/{run_id}") from None

    def list(self, page_size: int, before_sequence: int | None) -> tuple[list[RunRecord], int | None]:
        records, next_before = self._store.list_page(page_size, before_sequence)
        return [self._memory_record(record) for record in records], next_before

    def _memory_record(self, stored: RunRecord) -> RunRecord:
        if stored.run_id in self._active:
            return self._active[stored.run_id]
        if stored.run_id in self._unpersisted:
            return self._unpersisted[stored.run_id][0]
        return stored

    async def watch(self, run_id: str) -> AsyncIterator[RunRecord]:
        """The run now, then after every change, ending with its terminal state. Cancelling the
        consuming task (client gone, deadline passed) ends the wait at once."""
        last: RunRecord | None = None
        while True:
            record = self.get(run_id)
            # Registered before the yield so a change while the consumer holds the record is not
            # missed; never for a terminal run, whose event nothing would ever pop (a leak per watch).
            changed = None if record.state.terminal else self._changed.setdefault(run_id, asyncio.Event())
            if record != last:
                yield record
                last = record
            if changed is None:
                return
            self._watchers += 1
            try:
                await changed.wait()
            finally:
                self._watchers -= 1

    @property
    def watcher_count(self) -> int:
        """Watches waiting for a change (tests check that deadlines release them)."""
        return self._watchers

    def queue_depth(self, device_key: str | None = None) -> int:
        queues = [self._queues.get(device_key, ())] if device_key else list(self._queues.values())
        return sum(len(queue) for queue in queues)

    def worker_pid(self, run_id: str) -> int | None:
        worker = self._workers.get(run_id)
        return worker.process.pid if worker is not None else None

    # -- commands ----------------------------------------------------------------------------

    async def create(self, suite: str, device: str, workload_json: str = "") -> RunRecord:
        """Queue a run (suite and device already validated against the bench vocabulary; the
        workload suite's WorkloadShape as JSON in `workload_json`, '' for the other suites)."""
        self._refuse_if_draining()
        if self._store_damage():
            raise errors.FailedPrecondition(
                "the server's database is damaged; no new benchmark runs until the operator recovers it "
                '(docs/benchmark-runs.md, "A damaged database")',
                reason="DATABASE_DAMAGED",
            )
        device_key = await self._resolve_device(device)
        self._refuse_if_draining()  # the drain may have begun during the probe
        queue = self._queues.setdefault(device_key, collections.deque())
        if len(queue) >= self._max_queued:
            raise errors.ResourceExhausted(
                f"the {device_key} benchmark queue is full ({self._max_queued} runs waiting); "
                "retry when a run finishes or cancel one",
                reason="BENCHMARK_QUEUE_FULL",
            )
        try:
            extra = {"workload_json": workload_json} if workload_json else {}
            record = self._store.create(suite, device, device_key, **extra)
        except sqlite3.Error as error:
            LOG.error("benchmark run not created: %s", error)
            raise storage_failure(error, "the benchmark run could not be recorded") from error
        self._retry_unpersisted()  # the store writes again: settle ends it refused before
        self._publish(record)
        queue.append(record.run_id)
        self._update_queue_gauge()
        self._ensure_device_task(device_key)
        return record

    async def cancel(self, run_id: str) -> RunRecord:
        """Cancel a queued or running run; returns once the worker is gone (a terminal record).

        The cancel is written to the store before anything is stopped, and a write that fails
        fails the cancel (the run goes on untouched): an OK answer always means CANCELLED, also
        after a restart. For a queued run that write is the terminal record itself; for a running
        one it is `cancel_requested`, which recovery turns into CANCELLED should the final write
        never happen."""
        record = self.get(run_id)
        if record.state.terminal:
            return record
        if record.state is RunState.QUEUED:
            queue = self._queues.get(record.device_key)
            if queue is not None and run_id in queue:
                stored = self._write(
                    run_id,
                    "the cancel could not be recorded; the run stays queued",
                    state=RunState.CANCELLED,
                    error="cancelled by a client before it started",
                    end_time_seconds=time.time(),
                    cancel_requested=True,
                )
                queue.remove(run_id)
                self._update_queue_gauge()
                self._ended(stored)
                return stored
        if not record.cancel_requested:
            self._write(run_id, "the cancel could not be recorded; the run goes on", cancel_requested=True)
            current = self._active.get(run_id)  # its progress is fresher than the stored row's
            if current is not None:  # not published: nothing a client sees has changed yet
                self._active[run_id] = replace(current, cancel_requested=True)
        worker = self._workers.get(run_id)
        if worker is None:  # dequeued, worker still spawning: _execute stops it once it exists
            self._cancel_before_spawn.add(run_id)
            async for record in self.watch(run_id):
                pass
            return record
        worker.stop_reason = worker.stop_reason or "cancel"
        await self._stop_worker(worker)
        await worker.finished.wait()
        return self.get(run_id)

    # -- internals ---------------------------------------------------------------------------

    def _refuse_if_draining(self) -> None:
        if self._draining or self._closed:
            raise errors.Unavailable(
                "the server is shutting down; create the run on another server or retry later", reason="SERVER_DRAINING"
            )

    async def _resolve_device(self, device: str) -> str:
        if device == "cpu":
            return "cpu"
        cuda = await self._cuda_available()
        if device == "cuda" and not cuda:
            raise errors.FailedPrecondition(
                "device 'cuda' was requested but this host has no usable CUDA GPU; use device 'cpu' or 'auto'",
                reason="NO_CUDA_DEVICE",
            )
        return "cuda" if cuda else "cpu"

    async def _cuda_available(self) -> bool:
        """Whether CUDA is usable, probed once per manager. The probe runs as its own task,
        shielded, so a caller that leaves (cancel, deadline) neither cancels the probe for the
        others waiting on it nor makes the next caller start another one."""
        task = self._cuda_probe_task
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):

            async def probe() -> bool:
                return bool(await self._cuda_probe())

            task = self._cuda_probe_task = asyncio.get_running_loop().create_task(probe(), name="flopwatt-cuda-probe")
        return await asyncio.shield(task)

    def _ensure_device_task(self, device_key: str) -> None:
        wakeup = self._wakeups.setdefault(device_key, asyncio.Event())
        wakeup.set()
        task = self._device_tasks.get(device_key)
        if task is None or task.done():
            self._device_tasks[device_key] = asyncio.get_running_loop().create_task(
                self._serve_device(device_key), name=f"flopwatt-runs-{device_key}"
            )

    async def _serve_device(self, device_key: str) -> None:
        """The device's queue loop. Nothing a run does may end it: a dead task would leave every
        queued run waiting until the next create restarted it."""
        queue = self._queues[device_key]
        wakeup = self._wakeups[device_key]
        while not self._closed:
            if not queue:
                wakeup.clear()
                await wakeup.wait()
                continue
            run_id = queue.popleft()
            self._update_queue_gauge()
            try:
                await self._execute(run_id, device_key)
            except Exception:  # noqa: BLE001 - one broken run must not stop the queue
                LOG.exception("benchmark run %s failed in the manager", run_id)
                try:
                    if not self.get(run_id).state.terminal:
                        self._finish(run_id, RunState.FAILED, "internal error in the run manager; see the server log")
                except Exception:  # noqa: BLE001 - e.g. the store unreadable: log, serve the next run
                    LOG.exception("benchmark run %s could not be marked FAILED", run_id)

    async def _execute(self, run_id: str, device_key: str) -> None:
        self._retry_unpersisted()
        try:
            record = self._store.update(
                run_id, state=RunState.RUNNING, start_time_seconds=time.time(), progress_message="starting worker"
            )
        except sqlite3.Error as error:  # nothing started: the run ends here (in memory if need be)
            LOG.error("benchmark run %s could not be started: %s", run_id, error)
            self._finish(
                run_id, RunState.FAILED, f"the run could not be recorded as RUNNING, so it was not started: {error}"
            )
            return
        self._publish(record)
        events_parent, events_child = self._context.Pipe(duplex=False)
        control_child, control_parent = self._context.Pipe(duplex=False)
        job = WorkerJob(
            run_id=run_id,
            suite=record.suite,
            device=device_key,
            runner=self._runner,
            parent_pid=os.getpid(),
            workload_json=record.workload_json,
        )
        process = self._context.Process(
            target=worker_main,
            args=(job, events_child, control_child),
            name=f"flopwatt-run-{run_id[:8]}",
            daemon=True,  # an exiting server terminates it rather than waiting for it
        )
        try:
            await asyncio.to_thread(process.start)
        except BaseException:  # no child (fork limit, out of memory): free the pipes; the caller fails the run
            for end in (events_parent, events_child, control_child, control_parent):
                end.close()
            self._cancel_before_spawn.discard(run_id)
            raise
        events_child.close()
        control_child.close()
        worker = _Worker(process=process, control=control_parent)
        self._workers[run_id] = worker
        if run_id in self._cancel_before_spawn or self._closed:
            self._cancel_before_spawn.discard(run_id)
            worker.stop_reason = "shutdown" if self._closed else "cancel"
            asyncio.get_running_loop().create_task(self._stop_worker(worker))
        loop = asyncio.get_running_loop()
        threading.Thread(
            target=self._pump_events,
            args=(events_parent, loop, run_id, worker),
            name=f"flopwatt-run-events-{run_id[:8]}",
            daemon=True,
        ).start()
        try:
            await worker.exited.wait()
            await asyncio.to_thread(process.join, self._cancel_grace_seconds * 2)
            if process.is_alive():  # closed its pipe but lingers: make sure it is gone
                await self._stop_worker(worker)
            self._settle(run_id, worker)
        finally:
            control_parent.close()
            del self._workers[run_id]
            worker.finished.set()

    def _pump_events(self, events: Connection, loop: asyncio.AbstractEventLoop, run_id: str, worker: _Worker) -> None:
        """Reader thread: forwards the child's messages to the loop until EOF (child exited)."""
        try:
            while True:
                try:
                    message = events.recv()
                except (EOFError, OSError):
                    break
                loop.call_soon_threadsafe(self._on_event, run_id, worker, message)
        finally:
            events.close()
            loop.call_soon_threadsafe(worker.exited.set)

    def _on_event(self, run_id: str, worker: _Worker, message: tuple[Any, ...]) -> None:
        if message[0] == "progress":
            _, fraction, text = message
            record = self._active.get(run_id)
            if record is None or record.state is not RunState.RUNNING:
                return
            now = time.monotonic()
            current = replace(record, progress_fraction=fraction, progress_message=text)
            if now - self._persisted_at.get(run_id, 0.0) >= PROGRESS_PERSIST_INTERVAL_SECONDS:
                self._persisted_at[run_id] = now
                try:
                    current = self._store.update(run_id, progress_fraction=fraction, progress_message=text)
                except sqlite3.Error as error:  # progress is advisory: keep it in memory, run on
                    LOG.warning("progress of run %s not stored: %s", run_id, error)
            self._publish(current)
        else:
            worker.outcome = message

    def _settle(self, run_id: str, worker: _Worker) -> None:
        """Record the terminal state from what the worker said and why it stopped."""
        outcome = worker.outcome or ("exited",)
        if worker.stop_reason == "cancel":
            self._finish(run_id, RunState.CANCELLED, "cancelled by a client")
        elif worker.stop_reason == "shutdown":
            self._finish(run_id, RunState.FAILED, SHUTDOWN_REASON_BY_STATE[RunState.RUNNING])
        elif outcome[0] == "result":
            self._succeed(run_id, outcome[1])
        elif outcome[0] == "error":
            self._finish(run_id, RunState.FAILED, str(outcome[1]))
        else:
            self._finish(run_id, RunState.FAILED, _exit_description(worker.process.exitcode))

    def _succeed(self, run_id: str, document_json: str) -> None:
        if self._save_profile is None:
            self._finish(run_id, RunState.FAILED, "no profile store is configured; the measured profile was discarded")
            return
        try:
            document = json.loads(document_json)
            profile_id = self._save_profile(document)
        except Exception as error:  # noqa: BLE001 - a bad document fails the run, not the server
            LOG.exception("saving the profile of run %s failed", run_id)
            self._finish(
                run_id, RunState.FAILED, f"the profile could not be saved: {type(error).__name__}: {error}"[:1000]
            )
            return
        self._record_energy(document)
        self._finish(
            run_id, RunState.SUCCEEDED, "", profile_id=str(profile_id), progress_fraction=1.0, progress_message="done"
        )

    def _record_energy(self, document: dict[str, Any]) -> None:
        """flopwatt_gpu_energy_joules_total from the profile's NVML energy; absent on the CPU.

        `gpu` is the physical index, as dcgm-exporter's `gpu` label (and nvidia-smi) number
        GPUs, not torch's logical index: under CUDA_VISIBLE_DEVICES=3 the run measures GPU 3, and
        a join with DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{gpu="3"} must find it. Empty when the
        physical index cannot be known (a UUID in CUDA_VISIBLE_DEVICES): UUID still joins."""
        energy_joules = gpu_energy_joules(document)
        if energy_joules is None:
            return
        device = dict(document.get("device") or {})
        device["kind"] = "cuda"  # NVML energy is only ever measured on a GPU, whatever the document says
        environment = document.get("environment")
        variables = environment.get("variables") if isinstance(environment, dict) else None
        if not isinstance(variables, dict):  # the worker inherited this process's environment
            variables = dict(os.environ)
        index = physical_gpu_index(device, variables)
        self._metrics.gpu_energy_joules.labels(
            gpu="" if index is None else str(index), UUID=str(device.get("uuid") or "")
        ).inc(energy_joules)

    def _write(self, run_id: str, what: str, **changes: Any) -> RunRecord:
        """A write a client waits for: its failure is the client's error (see storage_failure)."""
        try:
            return self._store.update(run_id, **changes)
        except sqlite3.Error as error:
            LOG.error("benchmark run %s: %s: %s", run_id, what, error)
            raise storage_failure(error, what) from error

    def _finish(self, run_id: str, state: RunState, error: str, **extra: Any) -> RunRecord:
        """Record a terminal state. Never raises for a store error: the worker is gone, so the
        run is terminal whatever the disk says; the record is kept in memory and written again on
        later writes (and recover() at the next start settles whatever is still unwritten)."""
        changes: dict[str, Any] = {"state": state, "error": error, "end_time_seconds": time.time(), **extra}
        try:
            record = self._store.update(run_id, **changes)
        except sqlite3.Error as store_error:
            LOG.error(
                "benchmark run %s ended %s but the store refused the write (%s); kept in memory",
                run_id,
                state.value,
                store_error,
            )
            base = self._active.get(run_id) or self._unpersisted.get(run_id, (None,))[0]
            if base is None:
                base = self._store.get(run_id)
            record = replace(base, **changes)
            self._unpersisted[run_id] = (record, changes)
        else:
            self._unpersisted.pop(run_id, None)
        return self._ended(record)

    def _retry_unpersisted(self) -> None:
        """Write the terminal records the store refused, oldest first; stop at the first failure
        (the disk is still full), keeping the rest in memory."""
        for run_id, (_, changes) in list(self._unpersisted.items()):
            try:
                self._store.update(run_id, **changes)
            except sqlite3.Error:
                return
            del self._unpersisted[run_id]
            LOG.info("benchmark run %s: its end is now stored", run_id)

    def _ended(self, record: RunRecord) -> RunRecord:
        run_id, state, error = record.run_id, record.state, record.error
        self._persisted_at.pop(run_id, None)
        self._publish(record)
        self._metrics.benchmark_runs.labels(result=state.value.lower()).inc()
        if record.duration_seconds is not None:
            self._metrics.benchmark_duration_seconds.observe(record.duration_seconds)
        LOG.info("benchmark run %s %s%s", run_id, state.value, f": {error}" if error else "")
        return record

    def _publish(self, record: RunRecord) -> None:
        if record.state.terminal:
            self._active.pop(record.run_id, None)
        else:
            self._active[record.run_id] = record
        changed = self._changed.pop(record.run_id, None)
        if changed is not None:
            changed.set()

    def _update_queue_gauge(self) -> None:
        self._metrics.benchmark_queue_depth.set(self.queue_depth())

    async def _stop_worker(self, worker: _Worker) -> None:
        """Ask the child to stop, then SIGTERM, then SIGKILL; returns when it has exited."""
        try:
            worker.control.send("cancel")
        except OSError:
            pass
        process = worker.process
        for escalate in (process.terminate, process.kill):
            await asyncio.to_thread(process.join, self._cancel_grace_seconds)
            if not process.is_alive():
                return
            escalate()
        await asyncio.to_thread(process.join, self._cancel_grace_seconds)


def gpu_energy_joules(document: dict[str, Any]) -> float | None:
    """GPU energy the profile measured with NVML, or None when nothing was measured (CPU, no NVML).

    bench/power_probe.py records one NVML counter delta per steady window in `power.windows[]`
    (`energy_joules`); their sum is the energy the run metered. `power.total_energy_joules`, when
    the bench core records the whole run, takes precedence. Missing, non-numeric, negative or
    non-finite values count as not measured: the counter only ever grows by real joules."""
    power = document.get("power")
    if not isinstance(power, dict):
        return None
    total = power.get("total_energy_joules")
    if total is not None:
        return float(total) if _is_energy(total) else None
    windows = power.get("windows")
    if not isinstance(windows, list) or not windows:
        return None
    energies = [window.get("energy_joules") if isinstance(window, dict) else None for window in windows]
    return float(sum(energies)) if all(_is_energy(e) for e in energies) else None


def _is_energy(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _exit_description(exit_code: int | None) -> str:
    if exit_code is not None and exit_code < 0:
        return f"the worker process was killed by signal {-exit_code} (crash or out of memory); no profile was saved"
    return f"the worker process exited with code {exit_code} without a result; no profile was saved"
