"""The non-GEMM operators of a transformer layer, one workload per (operator, pass, shape, dtype).

The workload suite (bench/workload_suite.py) measures a model's own operators at their real
shapes; GEMMs and attention come from kernels/gemm.py and kernels/attention.py, everything else
from here: RMSNorm, the SwiGLU activation, rotary embedding, the residual add, cross-entropy over
the logits (forward, and backward through autograd), the AdamW step over a layer's parameters,
and decode attention over a KV cache (one query token per sequence reading the whole cache).

Each workload is verified against a float64 (or closed-form) reference before its timing counts.
FLOPs count the arithmetic of the textbook formula (stated per builder); bytes count the
minimum reads plus writes (each input read once, each output written once), so memory-bound
operators sit on a roofline by their bytes.
"""

from __future__ import annotations

import math
from typing import Callable

from flopwatt.kernels.workload import Workload, check_relative_error

ELEMENTWISE_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
# Relative Frobenius error against float64: a few output roundoffs (fp32 2^-24, bf16 2^-8,
# fp16 2^-11), with room for reductions over the hidden or vocabulary dimension.
TOLERANCE_RELATIVE = {"fp32": 1e-4, "bf16": 2e-2, "fp16": 5e-3}
BACKWARD_TOLERANCE_FACTOR = 3.0
PASSES = ("forward", "backward")
RMS_NORM_EPSILON = 1e-5
ROTARY_BASE = 10000.0
ADAMW_LEARNING_RATE = 1e-4
ADAMW_WEIGHT_DECAY = 0.1
ADAMW_EPSILON = 1e-8
ADAMW_TOLERANCE_RELATIVE = 1e-5  # fp32 master weights: one update, a few roundoffs
# FLOPs per element (forward): RMSNorm square, sum, scale, weight = 4; SiLU·up ≈ 5 (exp counted
# as one, divide, two multiplies, add); rotary 3 (two multiplies, one add); add 1; AdamW ≈ 12
# (two moment updates 3+4, bias-corrected step 4, decay 1); cross-entropy ≈ 4 per logit
# (max, subtract, exp, sum). Backward passes count 2× their forward.
FLOPS_PER_ELEMENT = {"rmsnorm": 4.0, "swiglu": 5.0, "rotary": 3.0, "residual_add": 1.0, "cross_entropy": 4.0}
ADAMW_FLOPS_PER_PARAMETER = 12.0
ADAMW_BYTES_PER_PARAMETER = 28.0  # fp32: read param, grad, exp_avg, exp_avg_sq; write param and moments
BACKWARD_FLOPS_FACTOR = 2.0
OPERATOR_KINDS = ("rmsnorm", "swiglu", "rotary", "residual_add", "cross_entropy", "adamw", "kv_cache_read")


def _dtype(precision: str):
    import torch

    if precision not in ELEMENTWISE_DTYPES:
        raise ValueError(f"precision: operators support {sorted(ELEMENTWISE_DTYPES)}, got {precision!r}")
    return getattr(torch, ELEMENTWISE_DTYPES[precision])


def _positive_dims(shape: dict[str, int]) -> None:
    for name, value in shape.items():
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"shape.{name}: must be a positive integer, got {value!r}")


def _relative_error(actual, reference) -> float:
    import torch

    denominator = float(torch.linalg.norm(reference))
    return float(torch.linalg.norm(actual.double() - reference)) / max(denominator, 1e-30)


def _autograd_workload(
    kind: str,
    precision: str,
    pass_name: str,
    shape: dict[str, int],
    inputs: list,
    function: Callable,
    reference: Callable,
    forward_flops: float,
    forward_bytes: float,
    device: str,
    tolerance: float,
    differentiable: tuple[int, ...] | None = None,
) -> Workload:
    """A forward or backward workload of `function(*inputs)`; the reference is the same formula
    in float64. Backward times `torch.autograd.grad` of a retained graph (the forward outside)."""
    import torch

    if pass_name not in PASSES:
        raise ValueError(f"pass: expected one of {PASSES}, got {pass_name!r}")
    label = f"{kind} {precision} {pass_name} {shape}"
    wanted = differentiable if differentiable is not None else tuple(range(len(inputs)))
    if pass_name == "forward":
        outputs: list = [None]

        def run() -> object:
            with torch.no_grad():
                outputs[0] = function(*inputs)
            return outputs[0]

        def verify() -> None:
            expected = reference(*[t.detach().double() for t in inputs])
            check_relative_error(label, _relative_error(run(), expected), tolerance)

        flops, moved = forward_flops, forward_bytes
    else:
        leaves = [t.detach().requires_grad_(i in wanted) for i, t in enumerate(inputs)]
        output = function(*leaves)
        generator = torch.Generator(device=device).manual_seed(len(inputs))
        grad_output = torch.randn(output.shape, device=device, dtype=output.dtype, generator=generator)
        grads: list = []
        targets = [leaves[i] for i in wanted]

        def run() -> object:
            grads[:] = torch.autograd.grad(output, targets, grad_output, retain_graph=True)
            return grads

        def verify() -> None:
            run()
            wide = [t.detach().double().requires_grad_(i in wanted) for i, t in enumerate(leaves)]
            expected = torch.autograd.grad(reference(*wide), [wide[i] for i in wanted], grad_output.double())
            for index, (actual, reference_grad) in enumerate(zip(grads, expected)):
                error = _relative_error(actual, reference_grad)
                check_relative_error(f"{label} grad[{index}]", error, tolerance * BACKWARD_TOLERANCE_FACTOR)

        flops, moved = forward_flops * BACKWARD_FLOPS_FACTOR, forward_bytes * 2.0
    return Workload(
        kernel=kind,
        precision=precision,
        shape=dict(shape),
        flops=flops,
        bytes=moved,
        device=device,
        run=run,
        verify=verify,
        working_set_bytes=int(moved),
        extra={"pass": pass_name, "backend": "torch"},
    )


def build_rmsnorm(precision: str, tokens: int, hidden: int, pass_name: str, device: str, seed: int = 0) -> Workload:
    """y = x / sqrt(mean(x²) + eps) · w over the hidden dimension (torch.nn.functional.rms_norm)."""
    import torch
    import torch.nn.functional as functional

    shape = {"tokens": tokens, "hidden": hidden}
    _positive_dims(shape)
    dtype = _dtype(precision)
    generator = torch.Generator(device=device).manual_seed(seed)
    x = torch.randn(tokens, hidden, device=device, dtype=dtype, generator=generator)
    weight = (1.0 + 0.1 * torch.randn(hidden, device=device, generator=generator)).to(dtype)

    def function(x, weight):
        return functional.rms_norm(x, (hidden,), weight, RMS_NORM_EPSILON)

    def reference(x, weight):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + RMS_NORM_EPSILON) * weight

    element = x.element_size()
    return _autograd_workload(
        "rmsnorm",
        precision,
        pass_name,
        shape,
        [x, weight],
        function,
        reference,
        FLOPS_PER_ELEMENT["rmsnorm"] * tokens * hidden,
        float((2 * tokens * hidden + hidden) * element),
        device,
        TOLERANCE_RELATIVE[precision],
    )


def build_swiglu(precision: str, tokens: int, width: int, pass_name: str, device: str, seed: int = 0) -> Workload:
    """silu(gate) · up on the (tokens × width) halves of the fused gate/up projection's output."""
    import torch
    import torch.nn.functional as functional

    shape = {"tokens": tokens, "width": width}
    _positive_dims(shape)
    dtype = _dtype(precision)
    generator = torch.Generator(device=device).manual_seed(seed)
    gate, up = (torch.randn(tokens, width, device=device, dtype=dtype, generator=generator) for _ in range(2))

    def function(gate, up):
        return functional.silu(gate) * up

    def reference(gate, up):
        return gate * torch.sigmoid(gate) * up

    return _autograd_workload(
        "swiglu",
        precision,
        pass_name,
        shape,
        [gate, up],
        function,
        reference,
        FLOPS_PER_ELEMENT["swiglu"] * tokens * width,
        float(3 * tokens * width * gate.element_size()),
        device,
        TOLERANCE_RELATIVE[precision],
    )


def rotary_tables(sequence_length: int, head_dim: int, device: str, dtype):
    """cos and sin of the rotary angles (Su et al. 2021, RoFormer eq. 34), shape (s, 1, d)."""
    import torch

    inverse = 1.0 / ROTARY_BASE ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float64) / head_dim)
    angles = torch.outer(torch.arange(sequence_length, device=device, dtype=torch.float64), inverse)
    angles = torch.cat((angles, angles), dim=-1)[:, None, :]
    return angles.cos().to(dtype), angles.sin().to(dtype)


def _rotate_half(x):
    import torch

    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


def build_rotary(
    precision: str,
    batch: int,
    sequence_length: int,
    heads: int,
    head_dim: int,
    pass_name: str,
    device: str,
    seed: int = 0,
) -> Workload:
    """x·cos + rotate_half(x)·sin on a (batch, sequence, heads, head_dim) tensor (queries and keys
    are two calls; the suite counts the heads of both)."""
    import torch

    shape = {"batch": batch, "sequence_length": sequence_length, "heads": heads, "head_dim": head_dim}
    _positive_dims(shape)
    if head_dim % 2:
        raise ValueError(f"shape.head_dim: rotary needs an even head_dim, got {head_dim}")
    dtype = _dtype(precision)
    generator = torch.Generator(device=device).manual_seed(seed)
    x = torch.randn(batch, sequence_length, heads, head_dim, device=device, dtype=dtype, generator=generator)
    cos, sin = rotary_tables(sequence_length, head_dim, device, dtype)

    def function(x):
        return x * cos + _rotate_half(x) * sin

    def reference(x):
        return x * cos.double() + _rotate_half(x) * sin.double()

    elements = batch * sequence_length * heads * head_dim
    return _autograd_workload(
        "rotary",
        precision,
        pass_name,
        shape,
        [x],
        function,
        reference,
        FLOPS_PER_ELEMENT["rotary"] * elements,
        float(2 * elements * x.element_size() + 2 * cos.numel() * cos.element_size()),
        device,
        TOLERANCE_RELATIVE[precision],
    )


def build_residual_add(precision: str, tokens: int, hidden: int, device: str, seed: int = 0) -> Workload:
    """x + y into a preallocated output (its backward passes the gradient through: no work)."""
    import torch

    shape = {"tokens": tokens, "hidden": hidden}
    _positive_dims(shape)
    dtype = _dtype(precision)
    generator = torch.Generator(device=device).manual_seed(seed)
    x, y = (torch.randn(tokens, hidden, device=device, dtype=dtype, generator=generator) for _ in range(2))
    out = torch.empty_like(x)

    def run() -> object:
        return torch.add(x, y, out=out)

    def verify() -> None:
        run()
        check_relative_error(
            f"residual_add {precision} {shape}",
            _relative_error(out, x.double() + y.double()),
            TOLERANCE_RELATIVE[precision],
        )

    return Workload(
        kernel="residual_add",
        precision=precision,
        shape=shape,
        flops=FLOPS_PER_ELEMENT["residual_add"] * tokens * hidden,
        bytes=float(3 * tokens * hidden * x.element_size()),
        device=device,
        run=run,
        verify=verify,
        working_set_bytes=3 * tokens * hidden * x.element_size(),
        extra={"pass": "forward", "backend": "torch"},
    )


def build_cross_entropy(
    precision: str, tokens: int, vocab: int, pass_name: str, device: str, seed: int = 0
) -> Workload:
    """Mean cross-entropy of (tokens × vocab) logits against random targets, computed in float32
    (logits are upcast first, as training loops do); backward gives the logits' gradient."""
    import torch
    import torch.nn.functional as functional

    shape = {"tokens": tokens, "vocab": vocab}
    _positive_dims(shape)
    dtype = _dtype(precision)
    generator = torch.Generator(device=device).manual_seed(seed)
    logits = torch.randn(tokens, vocab, device=device, dtype=dtype, generator=generator)
    targets = torch.randint(0, vocab, (tokens,), device=device, generator=generator)

    def function(logits):
        return functional.cross_entropy(logits.float(), targets)

    def reference(logits):
        return functional.cross_entropy(logits, targets)

    tolerance = max(TOLERANCE_RELATIVE[precision], 1e-4)  # the loss is computed in float32
    return _autograd_workload(
        "cross_entropy",
        precision,
        pass_name,
        shape,
        [logits],
        function,
        reference,
        FLOPS_PER_ELEMENT["cross_entropy"] * tokens * vocab,
        float(tokens * vocab * logits.element_size() + tokens * 8),
        device,
        tolerance,
    )


def adamw_implementation(parameters) -> str:
    """The implementation torch.optim.AdamW picks for these parameters when the caller does not
    say (`foreach=None`, as training loops leave it): "foreach" for CUDA tensors, "for-loop"
    (one tensor at a time) on the CPU."""
    from torch.optim.optimizer import _default_to_fused_or_foreach

    _, foreach = _default_to_fused_or_foreach(list(parameters), differentiable=False, use_fused=False)
    return "foreach" if foreach else "for-loop"


def build_adamw(
    parameter_shapes: list[tuple[int, ...]], device: str, seed: int = 0, foreach: bool | None = None
) -> Workload:
    """One torch.optim.AdamW step over fp32 parameters of these shapes (mixed-precision training
    keeps fp32 master weights and moments), by default with the implementation torch picks for
    the device (`foreach=None`, what a training loop that does not choose runs: the for-loop one
    on the CPU, foreach on CUDA). The check replays a first step on fresh copies against Adam's
    closed form: p·(1 − lr·wd) − lr·g / (|g| + eps)."""
    import torch

    if not parameter_shapes or any(not shape or any(d <= 0 for d in shape) for shape in parameter_shapes):
        raise ValueError(f"shape.parameters: need positive parameter shapes, got {parameter_shapes!r}")
    generator = torch.Generator(device=device).manual_seed(seed)
    parameters = [torch.randn(shape, device=device, generator=generator) for shape in parameter_shapes]
    parameters = [p.requires_grad_(True) for p in parameters]
    for p in parameters:
        p.grad = torch.randn(p.shape, device=device, generator=generator)
    implementation = adamw_implementation(parameters) if foreach is None else ("foreach" if foreach else "for-loop")
    options = dict(lr=ADAMW_LEARNING_RATE, weight_decay=ADAMW_WEIGHT_DECAY, eps=ADAMW_EPSILON, foreach=foreach)
    optimizer = torch.optim.AdamW(parameters, **options)
    count = sum(p.numel() for p in parameters)

    def run() -> object:
        optimizer.step()
        return None

    def verify() -> None:
        fresh = [p.detach().clone().requires_grad_(True) for p in parameters]
        for copy, p in zip(fresh, parameters):
            copy.grad = p.grad.clone()
        torch.optim.AdamW(fresh, **options).step()
        for copy, p in zip(fresh, parameters):
            start, grad = p.detach().double(), p.grad.double()
            expected = start * (1 - ADAMW_LEARNING_RATE * ADAMW_WEIGHT_DECAY) - ADAMW_LEARNING_RATE * grad / (
                grad.abs() + ADAMW_EPSILON
            )
            check_relative_error(
                f"adamw {tuple(p.shape)}", _relative_error(copy.detach(), expected), ADAMW_TOLERANCE_RELATIVE
            )

    return Workload(
        kernel="adamw",
        precision="fp32",
        shape={"parameters": count, "tensors": len(parameters)},
        flops=ADAMW_FLOPS_PER_PARAMETER * count,
        bytes=ADAMW_BYTES_PER_PARAMETER * count,
        device=device,
        run=run,
        verify=verify,
        working_set_bytes=int(ADAMW_BYTES_PER_PARAMETER * count),
        extra={"pass": "step", "backend": f"torch.optim.AdamW({implementation})"},
    )


def build_kv_cache_read(
    precision: str,
    batch: int,
    heads: int,
    kv_heads: int,
    context: int,
    head_dim: int,
    device: str,
    seed: int = 0,
) -> Workload:
    """Decode attention: one query token per sequence attends over `context` cached keys and
    values (SDPA, not causal: the new token sees the whole cache). Bytes: the cache read (keys
    and values) plus the query and output; FLOPs 4·b·heads·context·head_dim."""
    import torch
    import torch.nn.functional as functional

    from flopwatt.kernels.attention import sdpa_backend_name

    shape = {"batch": batch, "heads": heads, "kv_heads": kv_heads, "context": context, "head_dim": head_dim}
    _positive_dims(shape)
    if heads % kv_heads:
        raise ValueError(f"shape.kv_heads: heads ({heads}) must be a multiple of kv_heads ({kv_heads})")
    dtype = _dtype(precision)
    generator = torch.Generator(device=device).manual_seed(seed)
    q = torch.randn(batch, heads, 1, head_dim, device=device, dtype=dtype, generator=generator)
    keys, values = (
        torch.randn(batch, kv_heads, context, head_dim, device=device, dtype=dtype, generator=generator)
        for _ in range(2)
    )
    grouped = heads != kv_heads
    outputs: list = [None]

    def run() -> object:
        with torch.no_grad():
            if grouped:
                outputs[0] = functional.scaled_dot_product_attention(q, keys, values, enable_gqa=True)
            else:
                outputs[0] = functional.scaled_dot_product_attention(q, keys, values)
        return outputs[0]

    def verify() -> None:
        output = run()
        repeat = heads // kv_heads
        k64 = keys.double().repeat_interleave(repeat, dim=1)
        v64 = values.double().repeat_interleave(repeat, dim=1)
        scores = (q.double() @ k64.transpose(-1, -2)) / math.sqrt(head_dim)
        expected = torch.softmax(scores, dim=-1) @ v64
        check_relative_error(
            f"kv_cache_read {precision} {shape}", _relative_error(output, expected), TOLERANCE_RELATIVE[precision]
        )

    element = q.element_size()
    cache_bytes = 2 * batch * kv_heads * context * head_dim * element
    return Workload(
        kernel="kv_cache_read",
        precision=precision,
        shape=shape,
        flops=4.0 * batch * heads * context * head_dim,
        bytes=float(cache_bytes + 2 * batch * heads * head_dim * element),
        device=device,
        run=run,
        verify=verify,
        working_set_bytes=cache_bytes,
        extra={"pass": "forward", "backend": "sdpa:" + sdpa_backend_name(q, keys, values, False)},
    )
