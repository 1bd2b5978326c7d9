"""The kernels: PyTorch (GEMM per precision, copy, SDPA attention, empty launch), Numba CUDA
(STREAM, read-only reduction) and Numba CPU (parallel STREAM), each stating its FLOPs and
bytes. Imports nothing of the project."""
