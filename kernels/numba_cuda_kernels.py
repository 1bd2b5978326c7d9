"""The Numba CUDA kernel bodies, at module level on purpose: the CUDA simulator
(NUMBA_ENABLE_CUDASIM=1) swaps the module-global `cuda` for its fake, which it cannot do for a
name captured in a closure. Launch them through numba_cuda_stream, which owns sizes and checks.
"""

from flopwatt.kernels.numba_cuda_compat import restore_numpy_aliases_numba_cuda_needs

restore_numpy_aliases_numba_cuda_needs()

from numba import cuda, float64  # noqa: E402 (after the NumPy alias numba.cuda needs)

from flopwatt.kernels.numba_cuda_kernels_config import REDUCTION_THREADS_PER_BLOCK  # noqa: E402


@cuda.jit(device=True)
def _load_four(x, i, stride):
    """x at i, i + stride, i + 2·stride, i + 3·stride: four independent loads, issued together."""
    return x[i], x[i + stride], x[i + 2 * stride], x[i + 3 * stride]


@cuda.jit(device=True)
def _store_four(y, i, stride, v0, v1, v2, v3):
    """The four values to y at i, i + stride, i + 2·stride, i + 3·stride."""
    y[i] = v0
    y[i + stride] = v1
    y[i + 2 * stride] = v2
    y[i + 3 * stride] = v3


@cuda.jit
def copy_kernel(a, c):
    """c = a, over a grid-stride loop of four elements per thread and iteration (as are scale,
    add and triad): the four loads (eight in add and triad) are issued before any store, so each
    thread keeps four independent loads in flight, and the grid is one resident wave, sized in
    numba_cuda_stream as the read kernel's, so no block retires and is refilled mid-run. Thread t
    handles exactly the indices t + k·stride below the size: the unrolled loop while all four are
    in range, then the remainder loop one at a time, so none is missed or written twice.

    Why (bench/results/README.md, 2026-11-28, H100 SXM): BabelStream's one element per thread
    held copy and scale, one 8-byte load per thread, at 2.64-2.73 TB/s at every size from 134 MB
    to 1 GiB per array, while triad (two loads per thread) and the read kernel (four, this loop)
    reached 3.05 and torch's copy 3.0. By the read kernel's Little's law count (~2 MB must be in
    flight), one load per thread on 132 SMs × 2048 threads is 2.2 MB at the very best, less while
    blocks retire and new ones start; 132 × 1024 resident threads × four loads is 4.3 MB.
    Compiled here for sm_90 (numba-cuda 0.30.4, ptxas 13.5, 2026-11-28): the unrolled loop is four
    ld.global.f64 then four st.global.f64 (eight loads in add and triad), 30 registers (32 in add
    and triad), no spills, so the 4 × 256-thread blocks per SM are resident with room to spare.
    The loads and stores go through the device functions _load_four / _store_four (inlined: the
    PTX of each kernel's loop is the same four, or eight, loads, now adjacent, then four stores).

    Prediction for the next H100 run (diagnostics/stream_sizes, harness best): copy and scale
    2.70 → ≥ 2.95 TB/s from 268 MB per array up (tests/gpu's size: ≥ 95 % of torch's 3.0 then
    passes) and ≥ 2.90 at 134 MB, where the ~90 µs kernel comes near Numba's host launch time
    (the read kernel's 134 MB median, 87 µs for a ~45 µs kernel) and the median may sit lower;
    add and triad unchanged within ±2 % (3.0-3.05). Bytes and FLOPs are counted per element as
    BabelStream counts them, unchanged."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    n = c.size
    while i + 3 * stride < n:
        a0, a1, a2, a3 = _load_four(a, i, stride)
        _store_four(c, i, stride, a0, a1, a2, a3)
        i += 4 * stride
    while i < n:
        c[i] = a[i]
        i += stride


@cuda.jit
def scale_kernel(b, c, scalar):
    """b = scalar · c, looped as copy_kernel."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    n = b.size
    while i + 3 * stride < n:
        c0, c1, c2, c3 = _load_four(c, i, stride)
        _store_four(b, i, stride, scalar * c0, scalar * c1, scalar * c2, scalar * c3)
        i += 4 * stride
    while i < n:
        b[i] = scalar * c[i]
        i += stride


@cuda.jit
def add_kernel(a, b, c):
    """c = a + b, looped as copy_kernel."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    n = c.size
    while i + 3 * stride < n:
        a0, a1, a2, a3 = _load_four(a, i, stride)
        b0, b1, b2, b3 = _load_four(b, i, stride)
        _store_four(c, i, stride, a0 + b0, a1 + b1, a2 + b2, a3 + b3)
        i += 4 * stride
    while i < n:
        c[i] = a[i] + b[i]
        i += stride


@cuda.jit
def triad_kernel(a, b, c, scalar):
    """a = b + scalar · c, looped as copy_kernel."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    n = a.size
    while i + 3 * stride < n:
        b0, b1, b2, b3 = _load_four(b, i, stride)
        c0, c1, c2, c3 = _load_four(c, i, stride)
        _store_four(a, i, stride, b0 + scalar * c0, b1 + scalar * c1, b2 + scalar * c2, b3 + scalar * c3)
        i += 4 * stride
    while i < n:
        a[i] = b[i] + scalar * c[i]
        i += stride


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
