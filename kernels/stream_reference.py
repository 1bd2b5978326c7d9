"""What each STREAM operation must produce (NumPy float64), shared by the CUDA and CPU kernels.

Element-wise results are compared by relative norm. The reduction is compared against the sum
of absolute values: summing n normals in another order changes the result by about
eps·Σ|aᵢ|, while the sum itself is only ~√n, so a relative error of the sum would fail
correct kernels (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed. 2002, §4.2).
"""

from __future__ import annotations

from typing import Callable, Mapping

from flopwatt.kernels.workload import Workload, check_relative_error

STREAM_OPERATIONS = ("copy", "scale", "add", "triad", "read")
STREAM_SCALAR = 0.4  # BabelStream's startScalar (UoB-HPC/BabelStream src/main.cpp, v5.0, 2023)
FLOAT64_BYTES = 8
ELEMENTWISE_TOLERANCE_RELATIVE = 1e-12  # float64; FMA contraction changes the last ulp
REDUCTION_TOLERANCE_RELATIVE = 1e-12  # of Σ|aᵢ|; reordering costs ~ eps·log2(n)·Σ|aᵢ|

# operation -> (arrays read, arrays written, FLOPs per element)
STREAM_TRAFFIC = {
    "copy": (1, 1, 0),
    "scale": (1, 1, 1),
    "add": (2, 1, 1),
    "triad": (2, 1, 2),
    "read": (1, 0, 1),
}


def validate_stream_arguments(operation: str, elements: int) -> None:
    if operation not in STREAM_OPERATIONS:
        raise ValueError(f"operation: expected one of {STREAM_OPERATIONS}, got {operation!r}")
    if not isinstance(elements, int) or elements <= 0:
        raise ValueError(f"elements: must be a positive integer, got {elements!r}")


def stream_bytes(operation: str, elements: int) -> float:
    reads, writes, _ = STREAM_TRAFFIC[operation]
    return float((reads + writes) * elements * FLOAT64_BYTES)


def stream_flops(operation: str, elements: int) -> float:
    return float(STREAM_TRAFFIC[operation][2] * elements)


def check_stream_result(label: str, operation: str, before: Mapping, after: Mapping, reduction_result: float) -> None:
    """Compare one run's output with NumPy on the inputs captured before it ran.

    `before` and `after` map "a", "b", "c" to host float64 arrays."""
    import numpy as np

    if operation == "read":
        scale = float(np.abs(before["a"]).sum()) or np.finfo(float).tiny
        error = abs(reduction_result - float(before["a"].sum())) / scale
        check_relative_error(f"{label} read", error, REDUCTION_TOLERANCE_RELATIVE)
        return
    target, expected = {
        "copy": ("c", before["a"]),
        "scale": ("b", STREAM_SCALAR * before["c"]),
        "add": ("c", before["a"] + before["b"]),
        "triad": ("a", before["b"] + STREAM_SCALAR * before["c"]),
    }[operation]
    norm = float(np.linalg.norm(expected)) or np.finfo(float).tiny
    error = float(np.linalg.norm(after[target] - expected)) / norm
    check_relative_error(f"{label} {operation} ({target})", error, ELEMENTWISE_TOLERANCE_RELATIVE)


def stream_workload(
    operation: str, elements: int, device: str, run: Callable[[], object], verify: Callable[[], None], extra: dict
) -> Workload:
    """The Workload of one STREAM operation: float64 arrays, BabelStream byte and FLOP counts."""
    return Workload(
        kernel=operation,
        precision="fp64",
        shape={"elements": elements},
        flops=stream_flops(operation, elements),
        bytes=stream_bytes(operation, elements),
        device=device,
        run=run,
        verify=verify,
        working_set_bytes=3 * elements * FLOAT64_BYTES,
        extra=extra,
    )
