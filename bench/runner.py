"""Shared state of one suite run: the harness, the collected results, progress and cancel.

Probes call `measure(build, plan)`: the workload is built (allocation outside any timing),
measured, released, and its result appended, so no probe repeats that bookkeeping. A shape
that does not fit in memory is recorded as skipped rather than aborting the suite.
"""

from __future__ import annotations

import time
from typing import Callable

from flopwatt.bench.errors import BenchmarkCancelled
from flopwatt.bench.harness import Harness, Measurement, MeasurementPlan
from flopwatt.kernels.workload import Workload

ProgressCallback = Callable[[float, str], None]


class SuiteRun:
    def __init__(
        self,
        device: str,
        harness: Harness,
        progress: ProgressCallback | None = None,
        should_cancel: Callable[[], bool] | None = None,
        total_steps: int = 1,
    ) -> None:
        self.device = device
        self.harness = harness
        self.results: list[dict] = []
        self.notes: list[str] = []
        self._progress = progress
        self._should_cancel = should_cancel
        self._total_steps = max(1, total_steps)
        self._done_steps = 0
        self.started = time.perf_counter()

    def check_cancel(self) -> None:
        if self._should_cancel is not None and self._should_cancel():
            raise BenchmarkCancelled("benchmark cancelled")

    def check_cancel_flag(self) -> bool:
        """The cancel predicate as a plain bool, for loops that raise on their own."""
        return self._should_cancel is not None and bool(self._should_cancel())

    def set_total_steps(self, total: int) -> None:
        self._total_steps = max(1, total)

    def announce(self, message: str) -> None:
        """Say what is being measured now (the progress bar and a run's progress stream show it)
        without counting a step done."""
        self.check_cancel()
        if self._progress is not None:
            self._progress(min(self._done_steps / self._total_steps, 0.999), message)

    def step(self, message: str) -> None:
        """Mark one unit of work done and report progress in [0, 1)."""
        self.check_cancel()
        self._done_steps += 1
        if self._progress is not None:
            self._progress(min(self._done_steps / self._total_steps, 0.999), message)

    def measure(self, build: Callable[[], Workload], plan: MeasurementPlan, label: str) -> Measurement | None:
        """Build, measure, release; returns None when the shape did not fit in memory.

        Running out of memory while building, warming up or verifying (the float64 reference
        of a large GEMM or attention slice needs gigabytes of its own) skips this shape only:
        one shape too big for this card must not cost the rest of the suite."""
        self.check_cancel()
        import torch

        out_of_memory = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)  # torch.OutOfMemoryError: 2.5+
        workload: Workload | None = None
        failure: str | None = None
        try:
            workload = build()
            measurement = self.harness.measure(workload, plan)
        except out_of_memory as error:
            failure = str(error).splitlines()[0] if str(error) else type(error).__name__
        finally:
            if workload is not None:
                workload.close()
        if failure is not None:
            self.notes.append(f"{label}: skipped, out of memory ({failure})")
            if self.device == "cuda":
                torch.cuda.empty_cache()
            return None
        self.results.append(measurement.to_result())
        if not measurement.verified:
            self.notes.append(f"{label}: not counted, verification failed: {measurement.error}")
        return measurement

    def record_skip(self, label: str, reason: str) -> None:
        self.notes.append(f"{label}: skipped, {reason}")

    @property
    def elapsed_seconds(self) -> float:
        return time.perf_counter() - self.started
