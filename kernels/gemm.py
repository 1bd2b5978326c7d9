"""Dense GEMM C = A·B through torch, one workload per (precision, m, n, k).

FLOPs 2·m·n·k (dense); bytes read A and B and write C once, the minimum traffic, which places
the point on a roofline. The check compares sampled rows of C with a float64 product of the
same inputs, so a fast path that skips work or returns garbage fails before it is timed.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from flopwatt.kernels.precision import FP8_MIN_COMPUTE_CAPABILITY, MatmulPrecision, get_precision
from flopwatt.kernels.workload import Workload, check_relative_error

VERIFY_ROWS = 64  # sampled output rows checked against float64; cost stays ≪ one GEMM
# torch._scaled_mm (cuBLASLt FP8) needs m, n and k divisible by 16 (torch 2.5+ docs).
FP8_DIMENSION_MULTIPLE = 16


def gemm_flops(m: int, n: int, k: int) -> float:
    return 2.0 * m * n * k


def gemm_bytes(m: int, n: int, k: int, precision: MatmulPrecision) -> float:
    return float((m * k + k * n) * precision.element_bytes + m * n * precision.output_element_bytes)


def fp8_padded_rows(m: int) -> int:
    """Rows an FP8 GEMM of m rows runs with: m rounded up to FP8_DIMENSION_MULTIPLE.

    Why pad rather than skip: decode GEMMs have m = tokens in flight (1, 8, ...), and an FP8
    serving path that calls cuBLASLt pads its activations the same way, so the padded GEMM's time
    is what such a step pays (the weight read, n·k bytes, dominates it). The FLOPs and bytes
    recorded stay those of the m useful rows; `padded_m` in the result says what ran."""
    return -(-m // FP8_DIMENSION_MULTIPLE) * FP8_DIMENSION_MULTIPLE


def fp8_shape_problem(m: int, n: int, k: int) -> str | None:
    """Why an FP8 GEMM of this shape cannot be measured, or None. Rows are padded
    (fp8_padded_rows); n and k are weight dimensions, which a model would have to be built with."""
    if n % FP8_DIMENSION_MULTIPLE or k % FP8_DIMENSION_MULTIPLE:
        return f"fp8 needs n and k divisible by {FP8_DIMENSION_MULTIPLE}"
    return None


def fp8_supported(device: str) -> bool:
    """True when this device can run e4m3 GEMMs through torch._scaled_mm."""
    import torch

    if device != "cuda" or not torch.cuda.is_available() or not hasattr(torch, "_scaled_mm"):
        return False
    return torch.cuda.get_device_capability() >= FP8_MIN_COMPUTE_CAPABILITY


@contextlib.contextmanager
def tf32_mode(enabled: bool) -> Iterator[None]:
    """Set cuBLAS's TF32 switch for the duration, restoring the caller's setting."""
    import torch

    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous


def build_gemm(precision_name: str, m: int, n: int, k: int, device: str, seed: int = 0) -> Workload:
    """Allocate random normal A (m×k), B (k×n) and C, and return the GEMM workload."""
    import torch

    for field_name, value in (("m", m), ("n", n), ("k", k)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"shape.{field_name}: must be a positive integer, got {value!r}")
    precision = get_precision(precision_name)
    if precision.gpu_only and device != "cuda":
        raise ValueError(f"precision: {precision.name} GEMM needs a CUDA device")
    if precision.scaled_mm and not fp8_supported(device):
        raise ValueError("precision: fp8 needs torch._scaled_mm on compute capability ≥ 8.9")
    generator = torch.Generator(device=device).manual_seed(seed)
    extra: dict = {}
    if precision.scaled_mm:
        problem = fp8_shape_problem(m, n, k)
        if problem:
            raise ValueError(f"shape: {problem}, got {m}x{n}x{k}")
        rows = fp8_padded_rows(m)
        if rows != m:
            extra["padded_m"] = rows
        a_wide = torch.randn(rows, k, device=device, generator=generator)  # random padding rows, never zeros
        b_t_wide = torch.randn(n, k, device=device, generator=generator)
        a = a_wide.to(torch.float8_e4m3fn)
        b = b_t_wide.to(torch.float8_e4m3fn).t()  # column-major (k×n), as _scaled_mm wants
        del a_wide, b_t_wide
        scale = torch.ones((), device=device, dtype=torch.float32)
        c = torch.empty(rows, n, device=device, dtype=torch.bfloat16)

        def run() -> object:
            return torch._scaled_mm(a, b, scale_a=scale, scale_b=scale, out_dtype=torch.bfloat16, out=c)

    else:
        dtype = getattr(torch, precision.torch_dtype_name)
        a = torch.randn(m, k, device=device, dtype=dtype, generator=generator)
        b = torch.randn(k, n, device=device, dtype=dtype, generator=generator)
        c = torch.empty(m, n, device=device, dtype=dtype)
        allow_tf32 = precision.allow_tf32

        def run() -> object:
            if device == "cuda":
                with tf32_mode(allow_tf32):
                    return torch.mm(a, b, out=c)
            return torch.mm(a, b, out=c)

    def verify() -> None:
        run()
        rows = torch.randperm(m, generator=torch.Generator().manual_seed(seed))[:VERIFY_ROWS]
        rows = rows.to(device)
        # fp8 rows are gathered as bytes: index_select is not dispatched for float8 by every
        # torch build, while a byte gather is exact and the upcast of the gathered rows is not.
        a_rows = (
            a.view(torch.uint8).index_select(0, rows).view(a.dtype) if precision.scaled_mm else a.index_select(0, rows)
        )
        reference = a_rows.double() @ b.double()
        actual = c.index_select(0, rows).double()
        error = float(torch.linalg.norm(actual - reference) / torch.linalg.norm(reference))
        check_relative_error(f"gemm {precision.name} {m}x{n}x{k}", error, precision.tolerance_relative)

    def release() -> None:
        nonlocal a, b, c
        a = b = c = None  # type: ignore[assignment]

    return Workload(
        kernel="gemm",
        precision=precision.name,
        shape={"m": m, "n": n, "k": k},
        flops=gemm_flops(m, n, k),
        bytes=gemm_bytes(m, n, k, precision),
        device=device,
        run=run,
        verify=verify,
        working_set_bytes=int(gemm_bytes(m, n, k, precision)),
        release=release,
        extra=extra,
    )
