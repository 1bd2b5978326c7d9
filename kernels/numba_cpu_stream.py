"""STREAM for host memory with Numba CPU (`parallel=True`, one prange loop per kernel): copy,
scale, add, triad and a read-only reduction, the same operations and byte counts as the CUDA
kernels (BabelStream convention, no write-allocate traffic counted).

Arrays are float64 from a seeded normal generator and should be ≥ 4× the last-level cache
(BabelStream/NERSC-10 run rules), which the suites arrange.
"""

from __future__ import annotations

import functools

from flopwatt.kernels.stream_reference import (
    STREAM_SCALAR,
    check_stream_result,
    stream_workload,
    validate_stream_arguments,
)
from flopwatt.kernels.workload import Workload


@functools.cache
def _kernels() -> dict:
    """Compiled on first use (the JIT costs about a second) so importing stays cheap."""
    from numba import njit, prange

    @njit(parallel=True, cache=False)
    def copy(a, c):
        for i in prange(a.size):
            c[i] = a[i]

    @njit(parallel=True, cache=False)
    def scale(b, c, scalar):
        for i in prange(b.size):
            b[i] = scalar * c[i]

    @njit(parallel=True, cache=False)
    def add(a, b, c):
        for i in prange(c.size):
            c[i] = a[i] + b[i]

    @njit(parallel=True, cache=False)
    def triad(a, b, c, scalar):
        for i in prange(a.size):
            a[i] = b[i] + scalar * c[i]

    @njit(parallel=True, cache=False)
    def read(a):
        total = 0.0
        for i in prange(a.size):
            total += a[i]
        return total

    return {"copy": copy, "scale": scale, "add": add, "triad": triad, "read": read}


def build_numba_cpu_stream(operation: str, elements: int, seed: int = 0) -> Workload:
    import numpy as np

    validate_stream_arguments(operation, elements)
    rng = np.random.default_rng(seed)
    a, b, c = (rng.standard_normal(elements) for _ in range(3))
    kernels = _kernels()
    result: list[float] = [0.0]
    runs = {
        "copy": lambda: kernels["copy"](a, c),
        "scale": lambda: kernels["scale"](b, c, STREAM_SCALAR),
        "add": lambda: kernels["add"](a, b, c),
        "triad": lambda: kernels["triad"](a, b, c, STREAM_SCALAR),
        "read": lambda: result.__setitem__(0, kernels["read"](a)),
    }
    run = runs[operation]

    def verify() -> None:
        before = {"a": a.copy(), "b": b.copy(), "c": c.copy()}
        run()
        check_stream_result("numba cpu", operation, before, {"a": a, "b": b, "c": c}, result[0])

    return stream_workload(operation, elements, "cpu", run, verify, {"implementation": "numba-cpu-parallel"})
