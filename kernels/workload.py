"""The contract between a kernel and the timing harness.

A `Workload` is one kernel at one shape with its buffers already allocated: the harness calls
`run()` to do the work once, `verify()` once after warm-up (a broken fast path must never be
reported as fast), and reads `flops` and `bytes` to turn times into rates. Keeping allocation
in the builder and only the work in `run()` is what lets the harness time the work alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping


class VerificationError(AssertionError):
    """A kernel's output disagrees with its reference; its timings must not count."""


@dataclass
class Workload:
    """One kernel at one shape, ready to run.

    `flops` and `bytes` are per call of `run()`; bytes count reads plus writes (STREAM
    convention) and FLOPs are dense. `device` is "cuda" or "cpu". `working_set_bytes` tells the
    harness whether a cache flush is needed between timed calls.
    """

    kernel: str
    precision: str
    shape: Mapping[str, int]
    flops: float
    bytes: float
    device: str
    run: Callable[[], object]
    verify: Callable[[], None]
    working_set_bytes: int = 0
    # Called before each timed call, outside the timed region (e.g. re-randomise the output).
    prepare: Callable[[], None] | None = None
    # Releases device memory early; the suites call it so a sweep never holds two shapes.
    release: Callable[[], None] | None = None
    extra: dict = field(default_factory=dict)

    def close(self) -> None:
        if self.release is not None:
            self.release()
            self.release = None


def check_relative_error(name: str, actual_error: float, tolerance: float) -> None:
    """Raise VerificationError when `actual_error` (a relative norm) exceeds `tolerance`.

    NaN fails too: `not (x <= tol)` is True for NaN, which `x > tol` would let through.
    """
    if not (actual_error <= tolerance):
        raise VerificationError(f"{name}: relative error {actual_error:.3g} exceeds tolerance {tolerance:.3g}")
