"""Precisions the matmul kernels support and how each maps onto torch.

Tolerances are relative Frobenius errors of sampled output rows against a float64 reference
computed from the same (already rounded) inputs, so they only have to absorb accumulation
error and the rounding of the output: a few units of the output format's roundoff
(IEEE 754-2019 binary32/binary16, bfloat16: 8-bit significand, OCP FP8 spec v1.0 2023-06 for
e4m3), widened for TF32 whose inputs are rounded to a 10-bit mantissa inside the tensor core.
"""

from __future__ import annotations

from dataclasses import dataclass

# Unit roundoffs (IEEE 754-2019; bfloat16 per Google Brain's format note, 2019): 2^-24, 2^-11,
# 2^-8, and TF32's 2^-11 on inputs (NVIDIA A100 whitepaper, 2020-05).
FP32_TOLERANCE_RELATIVE = 1e-4  # ≈ 2^-24·sqrt(k) for k ≤ 16384 plus margin
TF32_TOLERANCE_RELATIVE = 5e-3  # inputs rounded to 2^-11, errors add in quadrature
BF16_TOLERANCE_RELATIVE = 1.5e-2  # output rounding 2^-8 plus fp32 accumulation
FP16_TOLERANCE_RELATIVE = 1e-2  # output rounding 2^-11; cuBLAS may reduce in fp16 (split-k)
FP8_TOLERANCE_RELATIVE = 2e-2  # bf16 output of scaled_mm; inputs compared after quantisation


@dataclass(frozen=True)
class MatmulPrecision:
    name: str
    torch_dtype_name: str  # attribute of torch, e.g. "bfloat16"
    allow_tf32: bool
    tolerance_relative: float
    element_bytes: int
    output_element_bytes: int
    scaled_mm: bool = False  # fp8 runs through torch._scaled_mm
    gpu_only: bool = False


MATMUL_PRECISIONS: dict[str, MatmulPrecision] = {
    "fp32": MatmulPrecision("fp32", "float32", False, FP32_TOLERANCE_RELATIVE, 4, 4),
    "tf32": MatmulPrecision("tf32", "float32", True, TF32_TOLERANCE_RELATIVE, 4, 4, gpu_only=True),
    "bf16": MatmulPrecision("bf16", "bfloat16", False, BF16_TOLERANCE_RELATIVE, 2, 2),
    "fp16": MatmulPrecision("fp16", "float16", False, FP16_TOLERANCE_RELATIVE, 2, 2),
    "fp8": MatmulPrecision("fp8", "float8_e4m3fn", False, FP8_TOLERANCE_RELATIVE, 1, 2, scaled_mm=True, gpu_only=True),
}

# torch._scaled_mm needs compute capability 8.9 (Ada) or 9.0+ (Hopper) for e4m3 tensor cores
# (PyTorch 2.5 release notes, 2024-10; NVIDIA Hopper tuning guide).
FP8_MIN_COMPUTE_CAPABILITY = (8, 9)


def get_precision(name: str) -> MatmulPrecision:
    try:
        return MATMUL_PRECISIONS[name]
    except KeyError:
        raise ValueError(f"precision: unknown {name!r}; expected one of {sorted(MATMUL_PRECISIONS)}") from None
