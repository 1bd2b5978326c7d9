"""The child process of one benchmark run (multiprocessing 'spawn' context).

Why a process: a kernel that segfaults, hangs in a driver call or exhausts memory takes down only
this process, never the gRPC server; killing it is the one reliable way to free a GPU at once.

Protocol, over two one-way pipes:
- `events` (child → parent): ("progress", fraction, message), then either ("result", json_text)
  or ("error", message) or ("cancelled",); then the child exits.
- `control` (parent → child): "cancel". EOF on it means the parent died: the child exits at once,
  so a SIGKILLed server never leaves an orphan holding the GPU. `os.getppid()` is polled too, as a
  second line of defence should the pipe be inherited somewhere unexpected.

Nothing here imports grpc: the child starts fast and carries only the benchmark core.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Callable

# The function that runs a suite; the benchmark core's contract (bench/suites.py).
DEFAULT_RUNNER = "flopwatt.bench.suites:run_suite"
# Test hook: seconds the worker spends "measuring" (cancellable, with progress) before the suite,
# so cancel/restart tests can catch a run mid-flight. Unset or 0 in production.
TEST_DELAY_ENVIRONMENT_VARIABLE = "FLOPWATT_TEST_RUN_DELAY_SECONDS"
# How often the watchdog looks for a cancel request or a dead parent; bounds orphan lifetime.
WATCHDOG_INTERVAL_SECONDS = 0.25
TEST_DELAY_STEP_SECONDS = 0.1
MAX_PROGRESS_MESSAGE_CHARS = 256

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PARENT_GONE = 3


@dataclass(frozen=True)
class WorkerJob:
    """What the parent tells the child (pickled by multiprocessing)."""

    run_id: str
    suite: str
    device: str  # "cpu" or "cuda", already resolved by the parent
    runner: str = DEFAULT_RUNNER  # "module:function"
    parent_pid: int = 0
    workload_json: str = ""  # the workload suite's WorkloadShape as JSON ('' for the other suites)


class RunCancelled(Exception):
    """Raised inside the worker when the parent asked it to stop."""


def load_runner(spec: str) -> Callable[..., Any]:
    """ "package.module:function" -> the function."""
    module_name, _, function_name = spec.partition(":")
    return getattr(importlib.import_module(module_name), function_name)


def _watchdog(control: Connection, parent_pid: int, cancel: threading.Event) -> None:
    while True:
        try:
            if control.poll(WATCHDOG_INTERVAL_SECONDS) and control.recv() == "cancel":
                cancel.set()
        except (EOFError, OSError):
            os._exit(EXIT_PARENT_GONE)  # the parent is gone: stop now, hold no device
        if parent_pid and os.getppid() != parent_pid:
            os._exit(EXIT_PARENT_GONE)


def _test_delay(seconds: float, report: Callable[[float, str], None], cancel: threading.Event) -> None:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if cancel.is_set():
            raise RunCancelled()
        report(0.0, f"test delay: {left:.1f} s left")
        time.sleep(min(TEST_DELAY_STEP_SECONDS, left))


def _test_delay_seconds() -> float:
    raw = os.environ.get(TEST_DELAY_ENVIRONMENT_VARIABLE, "")
    try:
        value = float(raw) if raw else 0.0
    except ValueError:
        return 0.0
    return value if math.isfinite(value) and value > 0 else 0.0


def run(job: WorkerJob, events: Connection, control: Connection) -> None:
    """Child entry point: run the suite, report, exit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent decides
    cancel = threading.Event()
    threading.Thread(
        target=_watchdog, args=(control, job.parent_pid, cancel), name="flopwatt-run-watchdog", daemon=True
    ).start()

    def report(fraction: float, message: str) -> None:
        if cancel.is_set():
            raise RunCancelled()
        safe_fraction = min(1.0, max(0.0, float(fraction))) if math.isfinite(fraction) else 0.0
        _send(events, ("progress", safe_fraction, str(message)[:MAX_PROGRESS_MESSAGE_CHARS]))

    exit_code = EXIT_OK
    try:
        delay = _test_delay_seconds()
        if delay:
            _test_delay(delay, report, cancel)
        runner = load_runner(job.runner)
        extra = {"workload": json.loads(job.workload_json)} if job.workload_json else {}
        document = runner(job.suite, job.device, progress=report, should_cancel=cancel.is_set, **extra)
        if cancel.is_set():
            raise RunCancelled()
        _send(events, ("result", json.dumps(document, allow_nan=False)))
    except BaseException as error:  # noqa: BLE001 - the parent gets every failure as a message
        if cancel.is_set() or isinstance(error, RunCancelled):
            _send(events, ("cancelled",))
        else:
            _send(events, ("error", _describe(error)))
            exit_code = EXIT_FAILED
    finally:
        events.close()
    os._exit(exit_code)  # skip interpreter teardown: CUDA contexts and numba threads die with us


def _send(events: Connection, message: tuple[Any, ...]) -> None:
    try:
        events.send(message)
    except OSError:  # the parent closed its end: nobody wants the result
        os._exit(EXIT_PARENT_GONE)


def _describe(error: BaseException) -> str:
    if isinstance(error, ModuleNotFoundError) and error.name and error.name.startswith("flopwatt.bench"):
        return f"the benchmark core is not installed in this build ({error.name} missing)"
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:1000]
