"""STREAM kernels in Numba CUDA (BabelStream's copy, mul/scale, add, triad) and a read-only
reduction. BabelStream's CUDA model launches one element per thread; these walk the arrays with
a grid-stride loop of four elements per thread and iteration over one resident wave of blocks
(why, with the measured shortfall it fixes: numba_cuda_kernels.copy_kernel).

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

# Blocks per SM for every kernel here: 4 × 256 = 1024 threads, resident at once for any kernel of
# ≤ 64 registers per thread (65 536 registers per SM on compute capability 7.0-9.0, CUDA C++
# Programming Guide "Technical Specifications per Compute Capability", read 2026-11). A grid larger
# than fits would run its grid-stride loop in two waves; bandwidth comes from the kernels' four
# loads in flight per thread instead (see numba_cuda_kernels.read_kernel and copy_kernel). The
# read kernel reached 3.02-3.05 TB/s on an H100 at ≥ 537 MB with this shape (2026-11-28).
REDUCTION_BLOCKS_PER_SM = 4
RESIDENT_THREADS_PER_SM = REDUCTION_BLOCKS_PER_SM * REDUCTION_THREADS_PER_BLOCK
# The element-wise kernels' block: the read kernel's 256 threads, so their grid (blocks per SM ×
# SMs) is the same 4 × 256 per SM; several small blocks per SM also keep one SM from holding
# two blocks' work while another has none if the block scheduler places them unevenly.
DEFAULT_THREADS_PER_BLOCK = REDUCTION_THREADS_PER_BLOCK


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


SMOKE_TEST_ELEMENTS = 4096  # a launch small enough to cost nothing; 4 blocks × 256 threads × 4 elements


@functools.cache
def numba_cuda_unavailable_reason() -> str | None:
    """None when Numba can compile, launch and verify a kernel on this GPU; otherwise why not.

    Why: Numba CUDA needs its own toolchain pieces (NVVM, the CUDA Python bindings) that a host
    with a working torch may lack or have in the wrong CUDA major version. Finding out with one
    tiny copy before the STREAM probe lets the suite record the reason and go on (the torch
    device copy still measures memory bandwidth) instead of losing the whole run to a JIT error.
    """
    try:
        build_numba_cuda_stream("copy", SMOKE_TEST_ELEMENTS, multiprocessor_count=1).verify()
    except Exception as error:  # any failure here is an environment problem, reported verbatim
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:500]
    return None


def simulator_enabled() -> bool:
    from numba import config

    return bool(config.ENABLE_CUDASIM)


def _device_multiprocessor_count() -> int:
    """The current CUDA device's SM count (torch's, the device that owns the arrays); 1 under
    the simulator, where the grid's size only changes how many simulated threads run."""
    if simulator_enabled():
        return 1
    import torch

    return torch.cuda.get_device_properties(torch.cuda.current_device()).multi_processor_count


def elementwise_blocks(elements: int, threads_per_block: int, multiprocessor_count: int) -> int:
    """Blocks of the element-wise kernels' grid: one resident wave (RESIDENT_THREADS_PER_SM on
    each SM), or fewer where the array has fewer elements than that wave has threads."""
    blocks_per_sm = max(1, RESIDENT_THREADS_PER_SM // threads_per_block)
    return max(1, min(blocks_per_sm * multiprocessor_count, (elements + threads_per_block - 1) // threads_per_block))


def _nan_array(elements: int):
    import numpy as np

    return np.full(elements, np.nan)


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
    multiprocessor_count: int | None = None,
    seed: int = 0,
) -> Workload:
    """One STREAM operation over `elements` float64 values per array, its grid sized for
    `multiprocessor_count` SMs (default: the current device's)."""
    validate_stream_arguments(operation, elements)
    if not isinstance(threads_per_block, int) or threads_per_block <= 0:
        raise ValueError(f"threads_per_block: must be a positive integer, got {threads_per_block!r}")
    if multiprocessor_count is None:
        multiprocessor_count = _device_multiprocessor_count()
    if not isinstance(multiprocessor_count, int) or multiprocessor_count <= 0:
        raise ValueError(f"multiprocessor_count: must be a positive integer, got {multiprocessor_count!r}")
    kernels = _kernels()
    blocks = elementwise_blocks(elements, threads_per_block, multiprocessor_count)
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

    output = {"copy": c, "scale": b, "add": c, "triad": a, "read": partial}[operation]

    def verify() -> None:
        before = {name: array.copy_to_host() for name, array in (("a", a), ("b", b), ("c", c))}
        # NaN in every output element first (never an input of the operation), on the kernel's
        # stream: an element the kernel misses fails the check even when an earlier (timed) run
        # already left the right value there.
        output.copy_to_device(_nan_array(output.size), stream=stream)
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
        {
            "implementation": "numba-cuda",
            "threads_per_block": threads_per_block,
            "blocks": reduction_blocks if operation == "read" else blocks,
        },
    )
