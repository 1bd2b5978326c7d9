"""Numba CUDA STREAM kernels under the CUDA simulator (correctness only; its timings mean
nothing). The simulator must be enabled before numba.cuda is imported, so this runs the
checks in a fresh interpreter with NUMBA_ENABLE_CUDASIM=1."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

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
    environment = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=environment, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = completed.stdout.splitlines()
    assert [line.split()[1] for line in lines if line.startswith("ok")] == ["copy", "scale", "add", "triad", "read"]
    bytes_by_op = {line.split()[1]: float(line.split()[2]) for line in lines if line.startswith("ok")}
    assert bytes_by_op == {"copy": 700 * 16, "scale": 700 * 16, "add": 700 * 24, "triad": 700 * 24, "read": 700 * 8}
    assert any(line.startswith("caught") for line in lines)
    assert "unrolled read 80024.0" in lines
