"""Scaled dot-product attention (torch SDPA, which dispatches to FlashAttention/cuDNN/efficient
kernels on GPUs and a fused math kernel on CPUs), forward or backward, causal or not.

FLOP convention (FlashAttention-2 paper, Dao 2023-07, §4.1 benchmark accounting): forward
4·b·h·s²·d (QKᵀ and PV), halved when causal; backward 2.5× forward. Bytes are the minimum
traffic: forward reads q, k, v and writes o; backward reads q, k, v, o, dO and writes dq, dk, dv.
The check recomputes one (batch, head) slice in float32 with plain matmuls and softmax.
"""

from __future__ import annotations

import math

from flopwatt.kernels.workload import Workload, check_relative_error

ATTENTION_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
# Relative Frobenius tolerances of the checked slice: a few output roundoffs (bf16 2^-8,
# fp16 2^-11, fp32 2^-24 amplified by softmax over s); backward chains two more rounded products.
FORWARD_TOLERANCE_RELATIVE = {"bf16": 2e-2, "fp16": 1e-2, "fp32": 1e-4}
BACKWARD_TOLERANCE_FACTOR = 3.0
BACKWARD_FLOPS_FACTOR = 2.5  # FlashAttention convention: backward = 2.5 × forward FLOPs
PASSES = ("forward", "backward")


def attention_flops(batch: int, heads: int, sequence_length: int, head_dim: int, causal: bool, pass_name: str) -> float:
    forward = 4.0 * batch * heads * sequence_length**2 * head_dim
    if causal:
        forward /= 2.0
    return forward * (BACKWARD_FLOPS_FACTOR if pass_name == "backward" else 1.0)


def _reference_slice(q, k, v, causal: bool):
    """Attention of one (s×d) slice in float32, the textbook way."""
    import torch

    scores = (q.float() @ k.float().transpose(-1, -2)) / math.sqrt(q.shape[-1])
    if causal:
        s = scores.shape[-1]
        mask = torch.ones(s, s, dtype=torch.bool, device=scores.device).triu(1)
        scores = scores.masked_fill(mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v.float()


def sdpa_backend_name(q, k, v, causal: bool) -> str:
    """The kernel torch's dispatcher picks for these inputs ("FLASH_ATTENTION", "CUDNN_ATTENTION",
    "EFFICIENT_ATTENTION", "MATH", ...), recorded because rates differ by backend and torch
    changes its preference between releases (cuDNN first on H100 in 2.5.0, flash again in 2.5.1).
    `torch._fused_sdp_choice` is private, so any failure reads "unknown" rather than breaking."""
    import torch

    try:
        from torch.nn.attention import SDPBackend

        return SDPBackend(torch._fused_sdp_choice(q, k, v, None, 0.0, causal)).name
    except Exception:  # private API: absent or changed in this torch build
        return "unknown"


def _relative_error(actual, reference) -> float:
    import torch

    return float(torch.linalg.norm(actual.float() - reference) / torch.linalg.norm(reference))


def build_attention(
    precision: str,
    batch: int,
    heads: int,
    sequence_length: int,
    head_dim: int,
    causal: bool,
    pass_name: str,
    device: str,
    seed: int = 0,
) -> Workload:
    import torch
    import torch.nn.functional as functional

    if precision not in ATTENTION_DTYPES:
        raise ValueError(f"precision: attention supports {sorted(ATTENTION_DTYPES)}, got {precision!r}")
    if pass_name not in PASSES:
        raise ValueError(f"pass: expected one of {PASSES}, got {pass_name!r}")
    for name, value in (
        ("batch", batch),
        ("heads", heads),
        ("sequence_length", sequence_length),
        ("head_dim", head_dim),
    ):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"shape.{name}: must be a positive integer, got {value!r}")
    dtype = getattr(torch, ATTENTION_DTYPES[precision])
    generator = torch.Generator(device=device).manual_seed(seed)
    shape = (batch, heads, sequence_length, head_dim)
    backward = pass_name == "backward"
    q, k, v = (
        torch.randn(shape, device=device, dtype=dtype, generator=generator).requires_grad_(backward) for _ in range(3)
    )
    element_bytes = q.element_size()
    tensor_bytes = float(batch * heads * sequence_length * head_dim * element_bytes)
    tolerance = FORWARD_TOLERANCE_RELATIVE[precision]
    label = f"attention {precision} {pass_name} b{batch} h{heads} s{sequence_length} d{head_dim} causal={causal}"

    if backward:
        output = functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
        grad_output = torch.randn(shape, device=device, dtype=dtype, generator=generator)
        grads: list = []

        def run() -> object:
            grads[:] = torch.autograd.grad(output, (q, k, v), grad_output, retain_graph=True)
            return grads

        def verify() -> None:
            run()
            slices = [t[0, 0].detach().float().requires_grad_(True) for t in (q, k, v)]
            reference_out = _reference_slice(*slices, causal)
            reference_grads = torch.autograd.grad(reference_out, slices, grad_output[0, 0].float())
            for name, actual, reference in zip("qkv", grads, reference_grads):
                error = _relative_error(actual[0, 0], reference)
                check_relative_error(f"{label} d{name}", error, tolerance * BACKWARD_TOLERANCE_FACTOR)

        bytes_moved = 8.0 * tensor_bytes
    else:
        outputs: list = [None]

        def run() -> object:
            with torch.no_grad():
                outputs[0] = functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
            return outputs[0]

        def verify() -> None:
            output = run()
            reference = _reference_slice(q[0, 0].detach(), k[0, 0].detach(), v[0, 0].detach(), causal)
            check_relative_error(label, _relative_error(output[0, 0], reference), tolerance)

        bytes_moved = 4.0 * tensor_bytes

    return Workload(
        kernel="attention",
        precision=precision,
        shape={"batch": batch, "heads": heads, "sequence_length": sequence_length, "head_dim": head_dim},
        flops=attention_flops(batch, heads, sequence_length, head_dim, causal, pass_name),
        bytes=bytes_moved,
        device=device,
        run=run,
        verify=verify,
        working_set_bytes=int(bytes_moved),
        extra={"causal": causal, "pass": pass_name, "sdpa_backend": sdpa_backend_name(q, k, v, causal)},
    )
