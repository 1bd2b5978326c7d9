"""The Numba CUDA kernel bodies, at module level on purpose: the CUDA simulator
(NUMBA_ENABLE_CUDASIM=1) swaps the module-global `cuda` for its fake, which it cannot do for a
name captured in a closure. Launch them through numba_cuda_stream, which owns sizes and checks.
"""

from flopwatt.kernels.numba_cuda_compat import restore_numpy_aliases_numba_cuda_needs

restore_numpy_aliases_numba_cuda_needs()

from numba import cuda, float64  # noqa: E402 (after the NumPy alias numba.cuda needs)

from flopwatt.kernels.numba_cuda_kernels_config import REDUCTION_THREADS_PER_BLOCK  # noqa: E402


@cuda.jit
def copy_kernel(a, c):
    i = cuda.grid(1)
    if i < c.size:
        c[i] = a[i]


@cuda.jit
def scale_kernel(b, c, scalar):
    i = cuda.grid(1)
    if i < b.size:
        b[i] = scalar * c[i]


@cuda.jit
def add_kernel(a, b, c):
    i = cuda.grid(1)
    if i < c.size:
        c[i] = a[i] + b[i]


@cuda.jit
def triad_kernel(a, b, c, scalar):
    i = cuda.grid(1)
    if i < a.size:
        a[i] = b[i] + scalar * c[i]


@cuda.jit
def read_kernel(a, partial):
    """Read-only reduction: grid-stride sums per thread, a shared-memory tree per block, one
    partial sum per block (no atomics, so the check is deterministic).

    The main loop keeps four independent, coalesced loads per thread in flight, each into its
    own accumulator. Why four: by Little's law an H100 SXM needs 3.35 TB/s × ~600 ns loaded HBM
    latency ≈ 2 MB in flight; 132 SMs × 1024 threads × one 8-byte load is ~1.1 MB (about half
    the bandwidth), four loads ~4.3 MB. BabelStream's dot reaches 95 % of H100 peak with 2048
    threads per SM and two loads each (anchors-microbench §2.2, read 2026-11)."""
    shared = cuda.shared.array(REDUCTION_THREADS_PER_BLOCK, float64)
    tid = cuda.threadIdx.x
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    n = a.size
    accumulator0 = 0.0
    accumulator1 = 0.0
    accumulator2 = 0.0
    accumulator3 = 0.0
    while i + 3 * stride < n:
        accumulator0 += a[i]
        accumulator1 += a[i + stride]
        accumulator2 += a[i + 2 * stride]
        accumulator3 += a[i + 3 * stride]
        i += 4 * stride
    while i < n:
        accumulator0 += a[i]
        i += stride
    shared[tid] = (accumulator0 + accumulator1) + (accumulator2 + accumulator3)
    cuda.syncthreads()
    half = REDUCTION_THREADS_PER_BLOCK // 2
    while half > 0:
        if tid < half:
            shared[tid] += shared[tid + half]
        cuda.syncthreads()
        half //= 2
    if tid == 0:
        partial[cuda.blockIdx.x] = shared[0]
