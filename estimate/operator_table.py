"""Step times from a workload profile's operator table (issue 13 item 2).

A workload profile (bench/workload_suite.py, docs/benchmarks.md) holds each distinct operator of
a workload measured at its real shape. Here a training step and a decode step are rebuilt
operator by operator, and each operator is timed:

1. **measured**: the table holds this kind, pass, dtype and exact shape: its median seconds;
2. **interpolated**: the table holds the kind, pass and dtype at shapes within
   `MAX_LOG_DISTANCE` of this one in log-shape space (Euclidean distance of the logs of the named
   dimensions; 8× in one dimension at most): the rate (work per second, work = the product of the
   dimensions that scale the operator's work, e.g. m·n·k for a GEMM) interpolated by inverse
   squared distance over the `NEIGHBOURS` nearest rows in log space, and seconds = work ÷ rate;
3. **fallback**: the hardware model's path for that operator (datasheet numbers, or the ceilings
   and GEMM map of the same profile when it has them: `HardwareModel` decides).

What the rebuild covers: a dense decoder layer (qkv, attention out, MLP gate/up or up, MLP down
GEMMs forward and both backward GEMMs; fused causal attention forward and backward; two RMSNorms,
SwiGLU, rotary, each forward and backward; two residual adds forward and the two gradient sums
they cause in the backward), the embedding lookup and its backward, the LM head and loss, and
one AdamW step over the rank's parameters (the table's row over all of them,
else one layer's row scaled by the parameter count). Communication (TP all-reduces, the DP
gradient reduction), the pipeline and the per-step host overhead stay with the analytic model
(`training_step_time`), added unchanged. A decode step is the layer's forward at one token per
sequence, with the write of the new keys and values into the KV cache and the read of it, the
embedding lookup and the LM head (and, for a greedy loop, the argmax). Not covered, so `None`
(the caller keeps the analytic path): mixture-of-experts, MLA, pipeline or context parallelism,
and arrays of scenarios.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.measured_profile import OperatorTiming

MAX_LOG_DISTANCE = math.log(8.0)
NEIGHBOURS = 4
SOURCES = ("measured", "interpolated", "fallback")
# Dimensions whose product scales an operator's work (the others only select its variant).
WORK_DIMENSIONS = {
    "gemm": ("m", "n", "k"),
    "attention": ("batch", "heads", "sequence_length", "sequence_length", "head_dim"),
    "kv_cache_read": ("batch", "kv_heads", "context", "head_dim"),
    "kv_cache_write": ("batch", "kv_heads", "head_dim"),  # one position; the context only places it
    "adamw": ("parameters",),
}
# A training layer's residual adds: two in the forward, and the two backward sums of the gradient
# through each residual branch with the one around it (autograd adds them where they meet).
RESIDUAL_ADDS_PER_LAYER = 4
ADAMW_STATE_BYTES_PER_PARAMETER = 28.0  # fp32 param, grad, two moments read; param and moments written
CROSS_ENTROPY_BYTES_FACTOR = 3.0  # fp32 logits read, softmax written and read back (analytic fallback)


@dataclass(frozen=True)
class OperatorTime:
    seconds: float
    source: str  # one of SOURCES


def _work(kind: str, dims: dict[str, float]) -> float:
    if kind == "embedding" and "vocab" in dims:  # the backward: the table's gradient written, the rows added
        return (dims["vocab"] + 2.0 * dims["tokens"]) * dims["hidden"]
    names = WORK_DIMENSIONS.get(kind)
    if names is None:
        return math.prod(dims.values())
    return math.prod(dims[name] for name in names)


class OperatorTable:
    """Lookup of operator seconds by kind, pass, dtype and shape (exact, then interpolated)."""

    def __init__(self, rows: Iterable[OperatorTiming]) -> None:
        self._exact: dict[tuple, float] = {}
        self._groups: dict[tuple, list[tuple[dict[str, float], float]]] = {}
        for row in rows:
            pass_key = "" if row.kind == "gemm" else row.pass_name
            key = (row.kind, pass_key, row.dtype, row.group_size)
            self._exact.setdefault((*key, row.shape), row.seconds)
            self._groups.setdefault(key, []).append((row.dimensions, row.seconds))

    def __bool__(self) -> bool:
        return bool(self._exact)

    def lookup(
        self, kind: str, pass_name: str, dtype: str, shape: dict[str, float], group_size: int = 1
    ) -> OperatorTime | None:
        pass_key = "" if kind == "gemm" else pass_name
        key = (kind, pass_key, dtype, group_size)
        dims = {name: float(value) for name, value in shape.items()}
        exact = self._exact.get((*key, tuple(sorted(dims.items()))))
        if exact is not None:
            return OperatorTime(exact, "measured")
        near = []
        for candidate, seconds in self._groups.get(key, []):
            if set(candidate) != set(dims) or any(v <= 0 for v in dims.values()):
                continue
            distance = math.sqrt(sum(math.log(dims[n] / candidate[n]) ** 2 for n in dims))
            if distance <= MAX_LOG_DISTANCE:
                near.append((distance, math.log(_work(kind, candidate) / seconds)))
        if not near:
            return None
        near.sort()
        weights = [1.0 / max(d, 1e-9) ** 2 for d, _ in near[:NEIGHBOURS]]
        log_rate = sum(w * r for w, (_, r) in zip(weights, near)) / sum(weights)
        return OperatorTime(_work(kind, dims) / math.exp(log_rate), "interpolated")


@dataclass
class OperatorStep:
    """Seconds of a step rebuilt from operators, with where each operator's time came from."""

    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SOURCES})
    seconds_by_source: dict[str, float] = field(default_factory=lambda: {s: 0.0 for s in SOURCES})
    added_seconds: float = 0.0  # analytic terms added unchanged (communication, overheads)
    seconds_by_kind: dict[str, float] = field(default_factory=dict)  # operator kind → seconds

    def add(self, time: OperatorTime, repeats: float = 1.0, kind: str = "") -> None:
        self.seconds += time.seconds * repeats
        self.counts[time.source] += 1
        self.seconds_by_source[time.source] += time.seconds * repeats
        self.seconds_by_kind[kind] = self.seconds_by_kind.get(kind, 0.0) + time.seconds * repeats

    def kind_seconds(self, *kinds: str) -> float:
        return sum(self.seconds_by_kind.get(kind, 0.0) for kind in kinds)

    def scaled(self, factor: float) -> "OperatorStep":
        return OperatorStep(
            self.seconds * factor,
            dict(self.counts),
            {k: v * factor for k, v in self.seconds_by_source.items()},
            self.added_seconds * factor,
            {k: v * factor for k, v in self.seconds_by_kind.items()},
        )

    def plus(self, seconds: float) -> "OperatorStep":
        """This step with analytic seconds added (communication, host overhead)."""
        return OperatorStep(
            self.seconds + seconds,
            dict(self.counts),
            dict(self.seconds_by_source),
            self.added_seconds + seconds,
            dict(self.seconds_by_kind),
        )

    @property
    def shares(self) -> dict[str, float]:
        """Share of the step's time each source timed (the analytic additions count as fallback)."""
        total = self.seconds if self.seconds > 0 else 1.0
        shares = {s: self.seconds_by_source[s] / total for s in SOURCES}
        shares["fallback"] += self.added_seconds / total
        return shares

    def as_dict(self) -> dict:
        return {
            "operators_measured": self.counts["measured"],
            "operators_interpolated": self.counts["interpolated"],
            "operators_fallback": self.counts["fallback"],
            "measured_share": self.shares["measured"],
            "interpolated_share": self.shares["interpolated"],
            "fallback_share": self.shares["fallback"],
            "analytic_seconds": self.added_seconds,
        }


class _Timer:
    """Times operators from the table, else through `fallback(kind, pass, shape)`."""

    def __init__(self, table: OperatorTable, dtype: str, fallback: Callable[[str, str, dict], float]) -> None:
        self.table, self.dtype, self.fallback = table, dtype, fallback
        self.step = OperatorStep()

    def __call__(
        self,
        kind: str,
        pass_name: str,
        shape: dict,
        repeats: float = 1.0,
        dtype: str | None = None,
        label: str = "",
    ) -> None:
        found = self.table.lookup(kind, pass_name, dtype or self.dtype, shape)
        if found is None:
            found = OperatorTime(float(self.fallback(kind, pass_name, shape)), "fallback")
        self.step.add(found, repeats, label or kind)


def _dims(arch: ModelArchitecture, tp: int) -> tuple[int, int, int, int, int, int]:
    d = arch.effective_head_dim
    heads = arch.attention_head_count // tp
    kv = max(1, arch.kv_head_count // tp)
    ffn = arch.ffn_hidden_size // tp
    vocab = -(-arch.vocab_size // tp)
    return d, heads, kv, ffn, vocab, arch.hidden_size


def projections(arch: ModelArchitecture, tp: int) -> list[tuple[str, int, int]]:
    """(name, n, k) of the layer's projections and the LM head on one TP rank (as the suite)."""
    d, heads, kv, ffn, vocab, h = _dims(arch, tp)
    return [
        ("qkv", (heads + 2 * kv) * d, h),
        ("attention_out", h, heads * d),
        ("mlp_gate_up" if arch.gated_mlp else "mlp_up", (2 if arch.gated_mlp else 1) * ffn, h),
        ("mlp_down", h, ffn),
        ("lm_head", vocab, h),
    ]


def supported(arch: ModelArchitecture) -> bool:
    return not arch.is_moe and not arch.is_mla and arch.dense_layer_count == 0


def training_operator_step(
    arch: ModelArchitecture,
    sequence_length: int,
    micro_batch_size: int,
    micro_batches: int,
    tensor_parallel_size: int,
    precision: str,
    table: OperatorTable,
    fallback: Callable[[str, str, dict], float],
    *,
    rotary: bool = True,
    optimizer_parameters: float | None = None,
) -> OperatorStep | None:
    """One optimizer step's device work on one rank, operator by operator: `micro_batches`
    forward+backward passes of every layer, the LM head and the loss, then AdamW over
    `optimizer_parameters` (default: the rank's share of every weight). None when the
    architecture is not one the rebuild covers."""
    if not supported(arch):
        return None
    tp = tensor_parallel_size
    d, heads, kv, ffn, vocab, h = _dims(arch, tp)
    dtype = "bf16" if precision == "fp8" else precision
    gemm_dtype = precision
    b, s = micro_batch_size, sequence_length
    t = b * s
    layer = _Timer(table, dtype, fallback)
    for name, n, k in projections(arch, tp)[:4]:
        for shape in ({"m": t, "n": n, "k": k}, {"m": t, "n": k, "k": n}, {"m": n, "n": k, "k": t}):
            layer("gemm", "forward", shape, dtype=gemm_dtype)
    attention = {"batch": b, "heads": heads, "sequence_length": s, "head_dim": d}
    for pass_name in ("forward", "backward"):
        layer("attention", pass_name, attention)
        layer("rmsnorm", pass_name, {"tokens": t, "hidden": h}, repeats=2)
        if arch.gated_mlp:
            layer("swiglu", pass_name, {"tokens": t, "width": ffn})
        if rotary:
            layer("rotary", pass_name, {"batch": b, "sequence_length": s, "heads": heads + kv, "head_dim": d})
    # two residual adds in the forward; in the backward, at each residual's input the gradient
    # through the branch and the one around it are summed: one more add of the same shape each
    layer("residual_add", "forward", {"tokens": t, "hidden": h}, repeats=RESIDUAL_ADDS_PER_LAYER)
    per_microbatch = layer.step.scaled(arch.layer_count)
    head = _Timer(table, dtype, fallback)
    _, n, k = projections(arch, tp)[4]
    for shape in ({"m": t, "n": n, "k": k}, {"m": t, "n": k, "k": n}, {"m": n, "n": k, "k": t}):
        head("gemm", "forward", shape, dtype=gemm_dtype, label="lm_head")
    head("embedding", "forward", {"tokens": t, "hidden": h})
    head("embedding", "backward", {"tokens": t, "hidden": h, "vocab": vocab})
    for pass_name in ("forward", "backward"):
        head("rmsnorm", pass_name, {"tokens": t, "hidden": h})
        head("cross_entropy", pass_name, {"tokens": t, "vocab": vocab})
    step = _merge([per_microbatch, head.step]).scaled(micro_batches)
    layer_parameters = sum(n * k for _, n, k in projections(arch, tp)[:4]) + 2 * h
    tensors = arch.layer_count * 6 + (1 if arch.tied_embeddings else 2) + 1
    if optimizer_parameters is None:
        embeddings = (1 if arch.tied_embeddings else 2) * vocab * h
        optimizer_parameters = arch.layer_count * layer_parameters + embeddings + h
    # the whole optimizer step as measured (the suite's `optimizer.model` row), else one layer's
    # row scaled by the parameter count (which undercounts where a layer's state fits the cache)
    whole = table.lookup("adamw", "step", "fp32", {"parameters": optimizer_parameters, "tensors": tensors})
    if whole is not None:
        adamw = OperatorStep()
        adamw.add(whole, 1.0, "adamw")
    else:
        optimizer = _Timer(table, "fp32", fallback)
        optimizer("adamw", "step", {"parameters": layer_parameters, "tensors": 6}, dtype="fp32")
        adamw = optimizer.step.scaled(optimizer_parameters / layer_parameters)
    return _merge([step, adamw])


def decode_operator_step(
    arch: ModelArchitecture,
    batch: int,
    context: int,
    tensor_parallel_size: int,
    precision: str,
    table: OperatorTable,
    fallback: Callable[[str, str, dict], float],
    *,
    rotary: bool = True,
    greedy_sampling: bool = False,
) -> OperatorStep | None:
    """One decode step (one new token for each of `batch` sequences at `context` cached tokens)
    on one rank, operator by operator: the new tokens' embedding lookup; per layer the four
    projection GEMMs, two norms, two residual adds, SwiGLU, rotary, the write of the new keys
    and values into the KV cache and the read of it; the final norm and the LM head; with
    `greedy_sampling`, the argmax over the logits (a serving engine's sampler is the analytic
    `sampling` term instead: decode_step_from_operators). None when the architecture is not
    covered."""
    if not supported(arch):
        return None
    tp = tensor_parallel_size
    d, heads, kv, ffn, vocab, h = _dims(arch, tp)
    dtype = "bf16" if precision == "fp8" else precision
    layer = _Timer(table, dtype, fallback)
    for _, n, k in projections(arch, tp)[:4]:
        layer("gemm", "forward", {"m": batch, "n": n, "k": k}, dtype=precision)
    layer("rmsnorm", "forward", {"tokens": batch, "hidden": h}, repeats=2)
    layer("residual_add", "forward", {"tokens": batch, "hidden": h}, repeats=2)
    if arch.gated_mlp:
        layer("swiglu", "forward", {"tokens": batch, "width": ffn})
    if rotary:
        layer("rotary", "forward", {"batch": batch, "sequence_length": 1, "heads": heads + kv, "head_dim": d})
    layer("kv_cache_write", "forward", {"batch": batch, "kv_heads": kv, "context": context, "head_dim": d})
    layer(
        "kv_cache_read", "forward", {"batch": batch, "heads": heads, "kv_heads": kv, "context": context, "head_dim": d}
    )
    head = _Timer(table, dtype, fallback)
    head("embedding", "forward", {"tokens": batch, "hidden": h})
    _, n, k = projections(arch, tp)[4]
    head("gemm", "forward", {"m": batch, "n": n, "k": k}, dtype=precision, label="lm_head")
    head("rmsnorm", "forward", {"tokens": batch, "hidden": h})
    if greedy_sampling:
        head("argmax", "forward", {"batch": batch, "vocab": arch.vocab_size})
    return _merge([layer.step.scaled(arch.layer_count), head.step])


def _merge(steps: list[OperatorStep]) -> OperatorStep:
    merged = OperatorStep()
    for step in steps:
        merged.seconds += step.seconds
        merged.added_seconds += step.added_seconds
        for source in SOURCES:
            merged.counts[source] += step.counts[source]
            merged.seconds_by_source[source] += step.seconds_by_source[source]
        for kind, seconds in step.seconds_by_kind.items():
            merged.seconds_by_kind[kind] = merged.seconds_by_kind.get(kind, 0.0) + seconds
    return merged


def hardware_fallback(hw, bytes_per_element: float) -> Callable[[str, str, dict], float]:
    """The analytic time of an operator the table lacks, from a HardwareModel (its GEMM map or
    size curve, attention rate, memory bandwidth), with the byte counts of kernels/operators.py."""
    from flopwatt.estimate.constants import FLASH_ATTENTION_BACKWARD_FLOPS_PER_FORWARD_FLOP

    e = bytes_per_element

    def seconds(kind: str, pass_name: str, s: dict) -> float:
        backward = 2.0 if pass_name == "backward" else 1.0
        if kind == "gemm":
            if s["m"] <= 64:
                return float(hw.decode_gemm_seconds(s["m"], s["n"], s["k"]))
            return float(hw.gemm_seconds(s["m"], s["n"], s["k"]))
        if kind == "attention":
            flops = 2.0 * s["batch"] * s["heads"] * s["sequence_length"] ** 2 * s["head_dim"]
            forward = float(hw.attention_seconds(flops, s["sequence_length"], s["head_dim"]))
            return forward * (FLASH_ATTENTION_BACKWARD_FLOPS_PER_FORWARD_FLOP if pass_name == "backward" else 1.0)
        if kind == "kv_cache_read":
            cache = 2.0 * s["batch"] * s["kv_heads"] * s["context"] * s["head_dim"] * e
            return float(hw.memory_seconds(cache + 2.0 * s["batch"] * s["heads"] * s["head_dim"] * e))
        if kind == "kv_cache_write":  # one position's keys and values, read and written
            return float(hw.memory_seconds(2.0 * 2.0 * s["batch"] * s["kv_heads"] * s["head_dim"] * e))
        if kind == "adamw":
            return float(hw.memory_seconds(ADAMW_STATE_BYTES_PER_PARAMETER * s["parameters"]))
        if kind == "embedding":  # rows gathered; backward: the table's dense gradient written, the rows added
            rows = 2.0 * s["tokens"] * s["hidden"] * e
            return float(hw.memory_seconds(rows + (s["vocab"] * s["hidden"] * e if "vocab" in s else 0.0)))
        if kind == "cross_entropy":
            return float(hw.memory_seconds(CROSS_ENTROPY_BYTES_FACTOR * 4.0 * s["tokens"] * s["vocab"])) * backward
        elements = math.prod(s.values())
        return float(hw.memory_seconds(3.0 * elements * e)) * backward

    return seconds


def _scalar(*values) -> bool:
    import numpy as np

    return all(np.ndim(v) == 0 for v in values)


def training_step_from_operators(arch: ModelArchitecture, sequence_length, plan, hw, analytic, table: OperatorTable):
    """(StepTime, OperatorStep) of one training step with its device work timed from the operator
    table, or None where the rebuild does not cover the scenario (arrays of scenarios, pipeline,
    context or expert parallelism, activation recompute, MoE or MLA: the analytic step stands).

    GEMMs, attention, elementwise work (norms, SwiGLU, rotary, residual adds, LM-head loss) and
    the AdamW step (over the rank's parameters, ÷ DP with ZeRO ≥ 1) come from the table; the
    stack's realisation factor does not apply to them (they are the kernels as they ran). TP and
    DP communication, the pipeline terms and the per-step framework overhead are the analytic
    model's, unchanged; launch overhead is inside each measured operator, so no host term."""
    from dataclasses import replace

    from flopwatt.estimate.accounting import parameter_counts
    from flopwatt.estimate.memory import local_parameters
    from flopwatt.estimate.parallel_plan import RECOMPUTE_NONE

    if not table or not supported(arch):
        return None
    fields = (
        plan.tensor_parallel_size,
        plan.pipeline_parallel_size,
        plan.context_parallel_size,
        plan.expert_parallel_size,
        plan.micro_batch_size,
        plan.global_batch_size,
        plan.data_parallel_size,
        plan.activation_recompute,
        plan.zero_stage,
    )
    if not _scalar(sequence_length, analytic.total, *fields):
        return None
    if int(plan.pipeline_parallel_size) != 1 or int(plan.context_parallel_size) != 1:
        return None
    if int(plan.expert_parallel_size) != 1 or int(plan.activation_recompute) != RECOMPUTE_NONE:
        return None
    dp = float(plan.data_parallel_size)
    local = float(local_parameters(arch, plan, parameter_counts(arch)).dense)
    optimizer_parameters = local / (dp if int(plan.zero_stage) >= 1 else 1.0)
    op = training_operator_step(
        arch,
        int(sequence_length),
        int(plan.micro_batch_size),
        int(round(float(plan.micro_batch_count))),
        int(plan.tensor_parallel_size),
        hw.precision,
        table,
        hardware_fallback(hw, hw.bytes_per_element),
        optimizer_parameters=optimizer_parameters,
    )
    if op is None:
        return None
    gemm = op.kind_seconds("gemm", "lm_head")
    attention = op.kind_seconds("attention")
    optimizer = op.kind_seconds("adamw")
    elementwise = op.seconds - gemm - attention - optimizer
    analytic_terms = (
        analytic.tensor_parallel_communication
        + analytic.pipeline_bubble
        + analytic.pipeline_communication
        + analytic.data_parallel_communication
        + analytic.framework_overhead
    )
    total = op.seconds + float(analytic_terms)
    step = replace(
        analytic,
        gemm=gemm,
        attention=attention,
        elementwise=elementwise,
        host_overhead=0.0,
        recompute=0.0,
        optimizer=optimizer,
        total=total,
        busy_fraction=op.seconds / total,
    )
    return step, op.plus(float(analytic_terms))


def decode_step_from_operators(arch: ModelArchitecture, hw, tp: int, batch: int, context: int, analytic: dict, table):
    """(decode breakdown, OperatorStep) of one decode step at `batch` sequences and `context`
    cached tokens timed from the operator table, or None where the rebuild does not cover it
    (MoE, MLA). `analytic` is the analytic decode breakdown at the same batch (seconds per step,
    all layers): its TP communication, kernel-launch, sampler and engine host terms are kept unchanged
    (the table times the model's operators, not the sampler after them or the host between steps)."""
    if not table or not supported(arch):
        return None
    op = decode_operator_step(
        arch, batch, context, tp, hw.precision, table, hardware_fallback(hw, hw.bytes_per_element)
    )
    if op is None:
        return None
    kept = {
        name: float(analytic[name])
        for name in ("tensor_parallel_communication", "kernel_launch", "sampling", "engine_host")
        if name in analytic
    }
    return decode_breakdown(op, kept), op.plus(sum(kept.values()))


def decode_breakdown(op: OperatorStep, kept: dict[str, float]) -> dict[str, float]:
    """A decode step rebuilt from operators as serving's decode breakdown (seconds by part, the
    names of `serving_metrics`' breakdown, so `inference.classify_like` gives each part its
    bounding unit), with the analytic parts `kept` unchanged: GEMMs, the KV cache write and read,
    the LM head, and everything else (norms, adds, activations, embedding, argmax) elementwise."""
    gemm, head = op.kind_seconds("gemm"), op.kind_seconds("lm_head")
    kv = op.kind_seconds("kv_cache_read", "kv_cache_write")
    return {
        "weights_and_gemm": gemm,
        "kv_cache_and_attention": kv,
        "elementwise": op.seconds - gemm - head - kv,
        **kept,
        "lm_head": head,
    }
