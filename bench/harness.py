"""The timing harness: warm up, verify, then time the work alone and keep every sample.

On CUDA each timed call sits between its own pair of CUDA events recorded on the current
stream (mamf-finder, triton do_bench); the cache flush and any `prepare` run before the start
event, so they never count; the host synchronises once per chunk, not per call. On the CPU,
`time.perf_counter_ns` brackets the call (torch CPU ops and Numba functions are synchronous).
Workloads that measure overhead (`extra["host_timed"]`) are timed on the host, including the
final device synchronise, because the overhead is the thing measured.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from flopwatt.bench.errors import BenchmarkCancelled
from flopwatt.bench.stats import summarize
from flopwatt.bench.vocabulary import DEVICE_KINDS
from flopwatt.kernels.workload import VerificationError, Workload

MINIMUM_SAMPLES = 3  # p10/p90 and CV need a few points even when a time cap is hit
SAMPLES_PER_SYNC = 10  # CUDA: events are read back in chunks so the time cap can be checked


@dataclass(frozen=True)
class MeasurementPlan:
    """How long to warm up and how many samples to take.

    Warm-up runs until both `warmup_iterations` and `min_warmup_seconds` are reached (JIT,
    cuBLAS heuristics, clocks), but never past `max_seconds`; sampling stops at `samples` or
    when `max_seconds` of sampling have passed with at least MINIMUM_SAMPLES taken.
    """

    warmup_iterations: int = 5
    min_warmup_seconds: float = 0.0
    samples: int = 20
    max_seconds: float = 10.0
    flush_cache: bool = False

    def __post_init__(self) -> None:
        if self.warmup_iterations < 0 or self.samples < 1 or self.max_seconds <= 0 or self.min_warmup_seconds < 0:
            raise ValueError(f"plan: invalid measurement plan {self}")


@dataclass
class Measurement:
    workload: Workload
    samples_seconds: list[float] = field(default_factory=list)
    verified: bool = False
    error: str | None = None

    @property
    def median_seconds(self) -> float | None:
        return summarize(self.samples_seconds)["median"] if self.samples_seconds else None

    def to_result(self) -> dict:
        """The profile's `results` entry: raw samples, statistics and dense rates (from the median)."""
        w = self.workload
        entry: dict = {
            "kernel": w.kernel,
            "precision": w.precision,
            "device": w.device,
            "shape": dict(w.shape),
            "flops": w.flops,
            "bytes": w.bytes,
            "samples_seconds": list(self.samples_seconds),
            "verified": self.verified,
        }
        entry.update({k: v for k, v in w.extra.items() if isinstance(v, (str, int, float, bool))})
        if self.error:
            entry["error"] = self.error
        if self.verified and self.samples_seconds:
            stats = summarize(self.samples_seconds)
            entry["stats"] = stats
            median = stats["median"]
            entry["flops_per_second"] = w.flops / median if w.flops > 0 and median > 0 else None
            entry["bytes_per_second"] = w.bytes / median if w.bytes > 0 and median > 0 else None
        else:
            entry["stats"] = None
            entry["flops_per_second"] = None
            entry["bytes_per_second"] = None
        return entry


def _synchronize(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def _check_cancel(should_cancel: Callable[[], bool] | None) -> None:
    if should_cancel is not None and should_cancel():
        raise BenchmarkCancelled("benchmark cancelled")


class Harness:
    """Measures workloads on one device with one plan; `flusher` is a bench.cache.CacheFlusher."""

    def __init__(
        self, device: str, flusher: Callable[[], None] | None = None, should_cancel: Callable[[], bool] | None = None
    ) -> None:
        if device not in DEVICE_KINDS:
            raise ValueError(f"device: expected cpu or cuda, got {device!r}")
        self.device = device
        self.flusher = flusher
        self.should_cancel = should_cancel

    def measure(self, workload: Workload, plan: MeasurementPlan) -> Measurement:
        measurement = Measurement(workload)
        self._warm_up(workload, plan)
        try:
            workload.verify()
            _synchronize(workload.device)
        except VerificationError as error:
            measurement.error = str(error)
            return measurement
        measurement.verified = True
        if workload.extra.get("host_timed") or workload.device != "cuda":
            measurement.samples_seconds = self._time_on_host(workload, plan)
        else:
            measurement.samples_seconds = self._time_with_events(workload, plan)
        return measurement

    def _before_call(self, workload: Workload, plan: MeasurementPlan) -> None:
        if plan.flush_cache and self.flusher is not None:
            self.flusher()
        if workload.prepare is not None:
            workload.prepare()

    def _warm_up(self, workload: Workload, plan: MeasurementPlan) -> None:
        started = time.perf_counter()
        iterations = 0
        while True:
            _check_cancel(self.should_cancel)
            self._before_call(workload, plan)
            workload.run()
            _synchronize(workload.device)
            iterations += 1
            elapsed = time.perf_counter() - started
            enough = iterations >= plan.warmup_iterations and elapsed >= plan.min_warmup_seconds
            if enough or elapsed >= plan.max_seconds:
                return

    def _time_on_host(self, workload: Workload, plan: MeasurementPlan) -> list[float]:
        samples: list[float] = []
        started = time.perf_counter()
        while len(samples) < plan.samples:
            _check_cancel(self.should_cancel)
            self._before_call(workload, plan)
            _synchronize(workload.device)
            begin = time.perf_counter_ns()
            workload.run()
            _synchronize(workload.device)
            samples.append((time.perf_counter_ns() - begin) * 1e-9)
            if len(samples) >= MINIMUM_SAMPLES and time.perf_counter() - started >= plan.max_seconds:
                break
        return samples

    def _time_with_events(self, workload: Workload, plan: MeasurementPlan) -> list[float]:
        import torch

        samples: list[float] = []
        started = time.perf_counter()
        while len(samples) < plan.samples:
            _check_cancel(self.should_cancel)
            chunk = min(SAMPLES_PER_SYNC, plan.samples - len(samples))
            events = [
                (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(chunk)
            ]
            for start, end in events:
                self._before_call(workload, plan)
                start.record()
                workload.run()
                end.record()
            torch.cuda.synchronize()
            samples.extend(start.elapsed_time(end) * 1e-3 for start, end in events)
            if len(samples) >= MINIMUM_SAMPLES and time.perf_counter() - started >= plan.max_seconds:
                break
        return samples
