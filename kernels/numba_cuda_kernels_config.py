"""Compile-time constants of the Numba CUDA kernels, importable without numba.cuda."""

REDUCTION_THREADS_PER_BLOCK = 256  # the shared-memory tree needs a compile-time size (power of 2)
