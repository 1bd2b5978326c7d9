"""STREAM kernels in Numba CUDA (BabelStream's copy, mul/scale, add, triad) and a read-only
reduction, one element per thread like BabelStream's CUDA model (UoB-HPC/BabelStream).

Bytes per element (read + write, no write-allocate counted, the BabelStream convention):
copy 2, scale 2, add 3, triad 3, read 1 (times the element size). FLOPs per element: copy 0,
scale 1, add 1, triad 2, read 1.

Arrays are float64 (BabelStream's default type). On a real GPU they are allocated by torch
and viewed by Numba through __cuda_array_interface__, and kernels launch on torch's current
stream so the harness's torch CUDA events bracket them. Under NUMBA_ENABLE_CUDASIM=1 (the
simulator, for correctness tests on CPUs) they are plain host arrays copied in by Numba.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from flopwatt.kernels.numba_cuda_compat import restore_numpy_aliases_numba_cuda_needs
from flopwatt.kernels.numba_cuda_kernels_config import REDUCTION_THREADS_PER_BLOCK
from flopwatt.kernels.stream_reference import (
    STREAM_SCALAR,
    check_stream_result,
    stream_workload,
    validate_stream_arguments,
)
from flopwatt.kernels.workload import Workload

DEFAULT_THREADS_PER_BLOCK = 1024  # BabelStream CUDA TBSIZE default (v5.0)
# Blocks per SM for the read kernel: 4 × 256 = 1024 threads, resident at once for any kernel of
# ≤ 64 registers per thread (65 536 registers per SM on compute capability 7.0-9.0, CUDA C++
# Programming Guide "Technical Specifications per Compute Capability", read 2026-11). A grid larger
# than fits would run its grid-stride loop in two waves; bandwidth comes from the kernel's four
# loads in flight per thread instead (see numba_cuda_kernels.read_kernel).
REDUCTION_BLOCKS_PER_SM = 4


@functools.cache
def _kernels() -> dict:
    """Import lazily: importing this module must not need numba.cuda or a GPU."""
    from flopwatt.kernels import numba_cuda_kernels as module

    return {
        "copy": module.copy_kernel,
        "scale": module.scale_kernel,
        "add": module.add_kernel,
        "triad": module.triad_kernel,
        "read": module.read_kernel,
    }


SMOKE_TEST_ELEMENTS = 4096  # a launch small enough to cost nothing, large enough for 4 blocks


@functools.cache
def numba_cuda_unavailable_reason() -> str | None:
    """None when Numba can compile, launch and verify a kernel on this GPU; otherwise why not.

    Why: Numba CUDA needs its own toolchain pieces (NVVM, the CUDA Python bindings) that a host
    with a working torch may lack or have in the wrong CUDA major version. Finding out with one
    tiny copy before the STREAM probe lets the suite record the reason and go on (the torch
    device copy still measures memory bandwidth) instead of losing the whole run to a JIT error.
    """
    try:
        build_numba_cuda_stream("copy", SMOKE_TEST_ELEMENTS).verify()
    except Exception as error:  # any failure here is an environment problem, reported verbatim
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:500]
    return None


def simulator_enabled() -> bool:
    from numba import config

    return bool(config.ENABLE_CUDASIM)


@dataclass
class _Arrays:
    """Numba views of a, b, c (+ the partial sums), and the torch tensors that own them."""

    a: object
    b: object
    c: object
    partial: object
    owners: tuple
    stream: object


def _allocate(elements: int, reduction_blocks: int, seed: int) -> _Arrays:
    restore_numpy_aliases_numba_cuda_needs()
    from numba import cuda

    if simulator_enabled():
        import numpy as np

        rng = np.random.default_rng(seed)
        host = [rng.standard_normal(elements) for _ in range(3)]
        views = [cuda.to_device(x) for x in host]
        partial = cuda.to_device(np.zeros(reduction_blocks))
        return _Arrays(*views, partial=partial, owners=(), stream=0)
    import torch

    generator = torch.Generator(device="cuda").manual_seed(seed)
    tensors = [torch.randn(elements, dtype=torch.float64, device="cuda", generator=generator) for _ in range(3)]
    partial_tensor = torch.zeros(reduction_blocks, dtype=torch.float64, device="cuda")
    views = [cuda.as_cuda_array(t) for t in (*tensors, partial_tensor)]
    handle = torch.cuda.current_stream().cuda_stream
    stream = cuda.external_stream(handle) if handle else cuda.default_stream()
    return _Arrays(*views[:3], partial=views[3], owners=(*tensors, partial_tensor), stream=stream)


def build_numba_cuda_stream(
    operation: str,
    elements: int,
    *,
    threads_per_block: int = DEFAULT_THREADS_PER_BLOCK,
    multiprocessor_count: int = 1,
    seed: int = 0,
) -> Workload:
    """One STREAM operation over `elements` float64 values per array."""
    validate_stream_arguments(operation, elements)
    if not isinstance(threads_per_block, int) or threads_per_block <= 0:
        raise ValueError(f"threads_per_block: must be a positive integer, got {threads_per_block!r}")
    kernels = _kernels()
    blocks = (elements + threads_per_block - 1) // threads_per_block
    reduction_blocks = max(
        1,
        min(
            REDUCTION_BLOCKS_PER_SM * multiprocessor_count,
            (elements + REDUCTION_THREADS_PER_BLOCK - 1) // REDUCTION_THREADS_PER_BLOCK,
        ),
    )
    arrays = _allocate(elements, reduction_blocks, seed)
    a, b, c, partial, stream = arrays.a, arrays.b, arrays.c, arrays.partial, arrays.stream
    launches = {
        "copy": lambda: kernels["copy"][blocks, threads_per_block, stream](a, c),
        "scale": lambda: kernels["scale"][blocks, threads_per_block, stream](b, c, STREAM_SCALAR),
        "add": lambda: kernels["add"][blocks, threads_per_block, stream](a, b, c),
        "triad": lambda: kernels["triad"][blocks, threads_per_block, stream](a, b, c, STREAM_SCALAR),
        "read": lambda: kernels["read"][reduction_blocks, REDUCTION_THREADS_PER_BLOCK, stream](a, partial),
    }
    run = launches[operation]

    def verify() -> None:
        before = {name: array.copy_to_host() for name, array in (("a", a), ("b", b), ("c", c))}
        run()
        if not simulator_enabled():
            import torch

            torch.cuda.synchronize()
        after = {name: array.copy_to_host() for name, array in (("a", a), ("b", b), ("c", c))}
        reduction = float(partial.copy_to_host().sum()) if operation == "read" else 0.0
        check_stream_result("numba cuda", operation, before, after, reduction)

    return stream_workload(
        operation,
        elements,
        "cuda",
        run,
        verify,
        {"implementation": "numba-cuda", "threads_per_block": threads_per_block},
    )
