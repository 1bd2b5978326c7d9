"""Numba CUDA STREAM kernels under the CUDA simulator (correctness only; its timings mean
nothing). The simulator must be enabled before numba.cuda is imported, so this runs the
checks in a fresh interpreter with NUMBA_ENABLE_CUDASIM=1."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def _run_under_simulator(script: str) -> list[str]:
    """stdout lines of `script` run in a fresh interpreter with the simulator on; fails the test
    with the script's stderr when it exits non-zero."""
    environment = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    completed = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True, timeout=180
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout.splitlines()


SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from flopwatt.kernels import numba_cuda_stream as stream
    from flopwatt.kernels.workload import VerificationError

    assert stream.simulator_enabled()
    for operation in ("copy", "scale", "add", "triad", "read"):
        workload = stream.build_numba_cuda_stream(operation, 700, threads_per_block=64, multiprocessor_count=2)
        workload.verify()
        print("ok", operation, workload.bytes)

    # Long enough that the read kernel's four-load main loop and its remainder loop both run
    # (4 blocks × 256 threads, stride 1024, 10 003 elements), so a wrong unrolled index fails.
    workload = stream.build_numba_cuda_stream("read", 10_003, multiprocessor_count=1)
    workload.verify()
    print("unrolled read", workload.bytes)

    from numba import cuda

    @cuda.jit
    def wrong_triad(a, b, c, scalar):  # the sign of the scaled term flipped
        i = cuda.grid(1)
        if i < a.size:
            a[i] = b[i] - scalar * c[i]

    # A kernel that computes the wrong thing must fail its check.
    kernels = stream._kernels()
    original = kernels["triad"]
    kernels["triad"] = wrong_triad
    try:
        bad = stream.build_numba_cuda_stream("triad", 300, threads_per_block=64)
        try:
            bad.verify()
        except VerificationError as error:
            print("caught", error)
        else:
            raise SystemExit("broken triad passed verification")
    finally:
        kernels["triad"] = original
    """
)


def test_numba_cuda_stream_kernels_under_simulator():
    lines = _run_under_simulator(SCRIPT)
    assert [line.split()[1] for line in lines if line.startswith("ok")] == ["copy", "scale", "add", "triad", "read"]
    bytes_by_op = {line.split()[1]: float(line.split()[2]) for line in lines if line.startswith("ok")}
    assert bytes_by_op == {"copy": 700 * 16, "scale": 700 * 16, "add": 700 * 24, "triad": 700 * 24, "read": 700 * 8}
    assert any(line.startswith("caught") for line in lines)
    assert "unrolled read 80024.0" in lines


# The element-wise kernels' grid-stride loop (four elements per thread and iteration, then a
# remainder loop): with 64-thread blocks on one "SM" the grid is 16 blocks, a stride of 1024, so
# these sizes cover a partial wave (1, 1023), exactly four strides (4096: unrolled loop only),
# one past it (4097) and two unrolled iterations with a ragged tail (10 003). verify() poisons
# the output with NaN first, so a missed element fails even where a previous run left the right
# value; the last case proves that with a kernel that drops the remainder loop.
TAILS_SCRIPT = textwrap.dedent(
    """
    from numba import cuda

    from flopwatt.kernels import numba_cuda_stream as stream
    from flopwatt.kernels.workload import VerificationError

    assert stream.elementwise_blocks(10_003, 64, 1) == 16
    assert stream.elementwise_blocks(700, 64, 2) == 11
    for elements in (1, 1023, 4096, 4097, 10_003):
        for operation in ("copy", "scale", "add", "triad"):
            workload = stream.build_numba_cuda_stream(operation, elements, threads_per_block=64, multiprocessor_count=1)
            workload.verify()
            workload.run()
            workload.verify()  # again, after a run already wrote the output
            print("ok", operation, elements, workload.extra["blocks"])

    @cuda.jit
    def copy_without_remainder(a, c):  # the unrolled loop alone: misses the tail
        i = cuda.grid(1)
        stride = cuda.gridsize(1)
        while i + 3 * stride < c.size:
            c[i] = a[i]
            c[i + stride] = a[i + stride]
            c[i + 2 * stride] = a[i + 2 * stride]
            c[i + 3 * stride] = a[i + 3 * stride]
            i += 4 * stride

    workload = stream.build_numba_cuda_stream("copy", 10_003, threads_per_block=64, multiprocessor_count=1)
    workload.run()  # the correct kernel: c now equals a everywhere
    kernels = stream._kernels()
    original = kernels["copy"]
    kernels["copy"] = copy_without_remainder
    try:
        workload.verify()
    except VerificationError as error:
        print("caught", error)
    else:
        raise SystemExit("a copy that skips the tail passed verification")
    finally:
        kernels["copy"] = original
    """
)


def test_elementwise_kernels_cover_every_element_at_odd_sizes():
    lines = _run_under_simulator(TAILS_SCRIPT)
    ok = [line.split()[1:] for line in lines if line.startswith("ok")]
    assert len(ok) == 5 * 4
    blocks = {int(elements): int(count) for _, elements, count in ok}
    assert blocks == {1: 1, 1023: 16, 4096: 16, 4097: 16, 10_003: 16}
    assert any(line.startswith("caught") and "nan" in line for line in lines), lines[-3:]
