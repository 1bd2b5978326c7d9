"""The `workload` suite (issue 13 item 1): measure a model's own operators at their real shapes.

A `WorkloadShape` (plain numbers: the benchmark core imports nothing of the estimator; the CLI
and the API resolve presets) is enumerated into its distinct operators (`enumerate_operators`):

- training (when `sequence_length` > 0), at `micro_batch_size` × `sequence_length` tokens and
  Megatron tensor-parallel sharding over `tensor_parallel_size` ranks: every projection GEMM
  (qkv, attention out, fused MLP gate/up, MLP down, LM head) forward and its two backward GEMMs
  (input gradient, weight gradient); causal SDPA attention forward and backward (the backend
  torch selects is recorded); RMSNorm, SwiGLU and rotary forward and backward; the residual add;
  the embedding lookup and its backward (the table's dense gradient); cross-entropy over the
  (vocabulary-sharded) logits forward and backward; one AdamW step over one layer's (sharded)
  parameters in fp32, and over all of the rank's;
- decode, at each of `decode_batch_sizes`: the GEMV-shaped projection GEMMs (m = batch), the
  layer's small elementwise operators, the new tokens' embedding lookup and the greedy sampler's
  argmax over the vocabulary, and at each of `context_lengths` a KV-cache read (decode attention
  over the cache) and the write of the new position's keys and values into it;
- collectives at the plan's group sizes when `tensor_parallel_size` or `data_parallel_size` > 1
  (bench/collectives.py over locally spawned ranks: gloo on the CPU, NCCL on GPUs when enough are
  visible): TP all-reduces of the activations, DP all-reduce / reduce-scatter / all-gather of one
  layer's gradients.

Shapes are deduplicated (two uses of one shape are measured once; the table lists every use).
Operators are timed warm (no cache flush between calls): in a step the operator's inputs are the
previous operator's outputs; except a decode step's GEMMs and KV-cache reads when the model's
weights exceed the last-level cache (`times_cold`): those are timed cold, as the step finds
them, each call on the next of several copies of its operands (`cold_copies`; the cache flushed
before each call where one copy already holds what the step reads); and the small operators
between a step's GEMMs, which are timed right after a GEMM of the layer's gate/up projection at
the step's tokens (in decode streaming the step's weights), as the step runs them
(`stream_bytes_before`; the row's `cache` says which). FP8 GEMMs run through
torch._scaled_mm only on a GPU with e4m3 tensor cores; elsewhere they are skipped and noted, the
other operators run in bf16.

The result is the profile's operator table (`operators`, docs/benchmarks.md), beside the usual
`results` (raw samples), `ceilings` and `efficiency` derived from the same measurements.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from functools import partial
from typing import Any, Callable

from flopwatt.bench.cache import StreamingGemv, flush_bytes
from flopwatt.bench.harness import MeasurementPlan
from flopwatt.bench.profile import derive_ceilings, derive_efficiency
from flopwatt.bench.runner import SuiteRun
from flopwatt.kernels.operators import ELEMENTWISE_DTYPES
from flopwatt.kernels.workload import Workload

WORKLOAD_PRECISIONS = ("fp32", "bf16", "fp16", "fp8")
CPU_PLAN = MeasurementPlan(warmup_iterations=2, samples=10, max_seconds=0.5)
GPU_PLAN = MeasurementPlan(warmup_iterations=10, samples=30, max_seconds=1.0)
CPU_MAX_CALL_SECONDS = 1.0  # a GEMM predicted (FLOPs ÷ best rate so far) to take longer is skipped
GPU_MAX_CALL_SECONDS = 0.5
MEMORY_FRACTION = 0.25  # an operator whose buffers exceed this share of memory is skipped
COLLECTIVE_ITERATIONS = 10
COLLECTIVE_WARMUP = 3
MAX_DECODE_SHAPES = 16  # decode batch sizes and context lengths each
MAX_DIMENSION = 1 << 24
COLD_DECODE_KINDS = ("gemm", "kv_cache_read")  # decode operators that read weights or the KV cache


class WorkloadSpecError(ValueError):
    """A workload field is invalid; `field` names it (the API answers INVALID_ARGUMENT with it)."""

    def __init__(self, field_name: str, problem: str) -> None:
        self.field = field_name
        self.problem = problem
        super().__init__(f"{field_name}: {problem}")


@dataclass(frozen=True)
class WorkloadShape:
    """The workload as plain numbers (names follow the API's ModelSpec and Parallelism)."""

    layer_count: int
    hidden_size: int
    attention_head_count: int
    kv_head_count: int
    ffn_hidden_size: int
    vocab_size: int
    head_dim: int = 0  # 0: hidden_size // attention_head_count
    gated_mlp: bool = True
    tied_embeddings: bool = False  # the LM head reuses the embedding (one fewer optimizer tensor)
    model_id: str = ""  # the preset id when the shape came from one (a label)
    sequence_length: int = 0  # 0: no training operators
    micro_batch_size: int = 1
    precision: str = "bf16"
    tensor_parallel_size: int = 1
    data_parallel_size: int = 1
    decode_batch_sizes: tuple[int, ...] = ()
    context_lengths: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "decode_batch_sizes", tuple(self.decode_batch_sizes))
        object.__setattr__(self, "context_lengths", tuple(self.context_lengths))
        for name in ("layer_count", "hidden_size", "attention_head_count", "kv_head_count", "ffn_hidden_size"):
            _check_count(name, getattr(self, name), 1)
        _check_count("vocab_size", self.vocab_size, 1)
        _check_count("head_dim", self.head_dim, 0)
        _check_count("sequence_length", self.sequence_length, 0)
        for name in ("micro_batch_size", "tensor_parallel_size", "data_parallel_size"):
            _check_count(name, getattr(self, name), 1)
        if self.precision not in WORKLOAD_PRECISIONS:
            raise WorkloadSpecError(
                "precision", f"must be one of {', '.join(WORKLOAD_PRECISIONS)}, got {self.precision!r}"
            )
        if not self.head_dim and self.hidden_size % self.attention_head_count:
            raise WorkloadSpecError("model.hidden_size", "must be a multiple of attention_head_count (or set head_dim)")
        if self.effective_head_dim % 2:
            raise WorkloadSpecError(
                "model.head_dim", f"rotary needs an even head dimension, got {self.effective_head_dim}"
            )
        if self.attention_head_count % self.kv_head_count:
            raise WorkloadSpecError("model.kv_head_count", "must divide attention_head_count")
        tp = self.tensor_parallel_size
        if self.attention_head_count % tp:
            raise WorkloadSpecError(
                "tensor_parallel_size", f"must divide attention_head_count ({self.attention_head_count})"
            )
        if self.ffn_hidden_size % tp:
            raise WorkloadSpecError("tensor_parallel_size", f"must divide ffn_hidden_size ({self.ffn_hidden_size})")
        for name in ("decode_batch_sizes", "context_lengths"):
            values = getattr(self, name)
            if len(values) > MAX_DECODE_SHAPES:
                raise WorkloadSpecError(name, f"at most {MAX_DECODE_SHAPES} values, got {len(values)}")
            for index, value in enumerate(values):
                _check_count(f"{name}[{index}]", value, 1)
        if self.context_lengths and not self.decode_batch_sizes:
            raise WorkloadSpecError("decode_batch_sizes", "context_lengths need at least one decode batch size")
        if not self.sequence_length and not self.decode_batch_sizes:
            raise WorkloadSpecError(
                "sequence_length", "set a sequence length (training) or decode batch sizes (serving)"
            )

    @property
    def effective_head_dim(self) -> int:
        return self.head_dim or self.hidden_size // self.attention_head_count

    def as_dict(self) -> dict:
        data = asdict(self)
        data["decode_batch_sizes"] = list(self.decode_batch_sizes)
        data["context_lengths"] = list(self.context_lengths)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "WorkloadShape":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise WorkloadSpecError(unknown[0], "is not a workload field")
        return cls(**data)


def _check_count(name: str, value: Any, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= MAX_DIMENSION:
        raise WorkloadSpecError(name, f"must be an integer in [{least}, {MAX_DIMENSION}], got {value!r}")


@dataclass
class OperatorCase:
    """One distinct operator to measure: what it is, its shape, and every use in the workload."""

    # gemm | attention | rmsnorm | swiglu | rotary | residual_add | cross_entropy | adamw | kv_cache_read
    # | kv_cache_write | embedding | argmax
    kind: str
    pass_name: str  # forward | backward | backward_input | backward_weight | step
    dtype: str
    shape: dict[str, Any]
    phase: str  # training | decode
    build: Callable[[str], Workload] = field(repr=False, compare=False)
    uses: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple:
        """What makes two uses one measurement: a GEMM is the same work whichever pass it serves
        (forward, input or weight gradient), other operators differ between passes."""
        pass_name = "" if self.kind == "gemm" else self.pass_name
        return (self.kind, pass_name, self.dtype, tuple(sorted(self.shape.items())))

    @property
    def label(self) -> str:
        dims = "x".join(str(v) for v in self.shape.values())
        return f"{self.kind} {self.pass_name} {self.dtype} {dims} ({self.uses[0]})"

    @property
    def size(self) -> int:
        """Elements the operator's buffers hold, roughly (for ordering and the memory guard)."""
        s = self.shape
        if self.kind == "gemm":
            return s["m"] * s["k"] + s["k"] * s["n"] + s["m"] * s["n"]
        if self.kind == "adamw":
            return 4 * s["parameters"]
        if self.kind == "attention":
            return 4 * s["batch"] * s["heads"] * s["sequence_length"] * s["head_dim"]
        if self.kind == "kv_cache_read":
            return 2 * s["batch"] * s["kv_heads"] * s["context"] * s["head_dim"]
        if self.kind == "embedding":  # the rows, and backward the table and its gradient
            tables = 2 * s.get("vocab", 0)  # only the backward's shape names the vocabulary
            return (tables + 2 * s["tokens"]) * s["hidden"]
        return 3 * math.prod(int(v) for v in s.values())

    @property
    def predicted_flops(self) -> float:
        s = self.shape
        return 2.0 * s["m"] * s["n"] * s["k"] if self.kind == "gemm" else 0.0


def _projections(shape: WorkloadShape) -> list[tuple[str, int, int]]:
    """(name, n out, k in) of each projection per tensor-parallel rank (Megatron: qkv and
    gate/up column-parallel, attention out and down row-parallel, LM head vocabulary-parallel)."""
    tp, d, h = shape.tensor_parallel_size, shape.effective_head_dim, shape.hidden_size
    heads = shape.attention_head_count // tp
    kv_heads = max(1, shape.kv_head_count // tp)
    ffn = shape.ffn_hidden_size // tp
    return [
        ("qkv", (heads + 2 * kv_heads) * d, h),
        ("attention_out", h, heads * d),
        ("mlp_gate_up" if shape.gated_mlp else "mlp_up", (2 if shape.gated_mlp else 1) * ffn, h),
        ("mlp_down", h, ffn),
        ("lm_head", -(-shape.vocab_size // tp), h),
    ]


def layer_parameter_shapes(shape: WorkloadShape) -> list[tuple[int, ...]]:
    """One layer's parameters on one tensor-parallel rank: the four projections and two norms."""
    return [(n, k) for name, n, k in _projections(shape) if name != "lm_head"] + [(shape.hidden_size,)] * 2


def model_parameter_shapes(shape: WorkloadShape) -> list[tuple[int, ...]]:
    """Every parameter one tensor-parallel rank's optimizer steps: each layer's, the embedding
    (vocabulary-sharded), the LM head unless tied, and the final norm (the closed loop's model and
    ModelArchitecture count the same)."""
    vocab = -(-shape.vocab_size // shape.tensor_parallel_size)
    embeddings = [(vocab, shape.hidden_size)] * (1 if shape.tied_embeddings else 2)
    return layer_parameter_shapes(shape) * shape.layer_count + embeddings + [(shape.hidden_size,)]


def enumerate_operators(shape: WorkloadShape, device: str) -> tuple[list[OperatorCase], list[str]]:
    """The workload's distinct operators (deduplicated, each with its uses) and notes on what
    is skipped (fp8 without a capable GPU)."""
    from flopwatt.kernels import decode_operators as decode_ops
    from flopwatt.kernels import operators as ops
    from flopwatt.kernels.attention import build_attention
    from flopwatt.kernels.gemm import build_gemm, fp8_shape_problem, fp8_supported

    notes: list[str] = []
    gemm_dtype = shape.precision
    dtype = "bf16" if shape.precision == "fp8" else shape.precision
    if gemm_dtype == "fp8" and not fp8_supported(device):
        notes.append("gemm fp8: skipped, torch._scaled_mm needs a CUDA GPU of compute capability ≥ 8.9")
    cases: dict[tuple, OperatorCase] = {}

    def add(kind: str, pass_name: str, precision: str, dims: dict, phase: str, use: str, build) -> None:
        case = OperatorCase(kind, pass_name, precision, dims, phase, build)
        existing = cases.setdefault(case.key, case)
        existing.uses.append(f"{phase}.{use}")

    def add_gemm(m: int, n: int, k: int, phase: str, use: str, pass_name: str) -> None:
        if gemm_dtype == "fp8" and not fp8_supported(device):
            return
        if gemm_dtype == "fp8" and fp8_shape_problem(m, n, k):
            notes.append(f"gemm fp8 {m}x{n}x{k} ({use}): skipped, {fp8_shape_problem(m, n, k)}")
            return
        add(
            "gemm",
            pass_name,
            gemm_dtype,
            {"m": m, "n": n, "k": k},
            phase,
            use,
            lambda dev: build_gemm(gemm_dtype, m, n, k, dev),
        )

    tp, d, h = shape.tensor_parallel_size, shape.effective_head_dim, shape.hidden_size
    heads = shape.attention_head_count // tp
    kv_heads = max(1, shape.kv_head_count // tp)
    ffn = shape.ffn_hidden_size // tp
    vocab = -(-shape.vocab_size // tp)
    projections = _projections(shape)
    if shape.sequence_length:
        b, s = shape.micro_batch_size, shape.sequence_length
        t = b * s
        for name, n, k in projections:
            add_gemm(t, n, k, "training", f"{name}.forward", "forward")
            add_gemm(t, k, n, "training", f"{name}.backward_input", "backward_input")
            add_gemm(n, k, t, "training", f"{name}.backward_weight", "backward_weight")
        for pass_name in ("forward", "backward"):
            attention_dims = {"batch": b, "heads": heads, "sequence_length": s, "head_dim": d}
            add(
                "attention",
                pass_name,
                dtype,
                attention_dims,
                "training",
                f"attention.{pass_name}",
                lambda dev, p=pass_name: build_attention(dtype, b, heads, s, d, True, p, dev),
            )
            add(
                "rmsnorm",
                pass_name,
                dtype,
                {"tokens": t, "hidden": h},
                "training",
                f"norm.{pass_name}",
                lambda dev, p=pass_name: ops.build_rmsnorm(dtype, t, h, p, dev),
            )
            if shape.gated_mlp:
                add(
                    "swiglu",
                    pass_name,
                    dtype,
                    {"tokens": t, "width": ffn},
                    "training",
                    f"swiglu.{pass_name}",
                    lambda dev, p=pass_name: ops.build_swiglu(dtype, t, ffn, p, dev),
                )
            rotary_dims = {"batch": b, "sequence_length": s, "heads": heads + kv_heads, "head_dim": d}
            add(
                "rotary",
                pass_name,
                dtype,
                rotary_dims,
                "training",
                f"rotary_qk.{pass_name}",
                lambda dev, p=pass_name: ops.build_rotary(dtype, b, s, heads + kv_heads, d, p, dev),
            )
            add(
                "cross_entropy",
                pass_name,
                dtype,
                {"tokens": t, "vocab": vocab},
                "training",
                f"loss.{pass_name}",
                lambda dev, p=pass_name: ops.build_cross_entropy(dtype, t, vocab, p, dev),
            )
        add(
            "residual_add",
            "forward",
            dtype,
            {"tokens": t, "hidden": h},
            "training",
            "residual_add",
            lambda dev: ops.build_residual_add(dtype, t, h, dev),
        )
        # The tokens' embedding lookup, and its backward: the (vocabulary-sharded) table's dense
        # gradient written whole, however few tokens the step has.
        add(
            "embedding",
            "forward",
            dtype,
            {"tokens": t, "hidden": h},
            "training",
            "embedding.forward",
            lambda dev: decode_ops.build_embedding(dtype, t, h, vocab, dev),
        )
        add(
            "embedding",
            "backward",
            dtype,
            {"tokens": t, "hidden": h, "vocab": vocab},
            "training",
            "embedding.backward",
            lambda dev: decode_ops.build_embedding(dtype, t, h, vocab, dev, pass_name="backward"),
        )
        # The optimizer over one layer (a rate to scale when the whole model's step does not fit)
        # and over all of the rank's parameters: a step streams every parameter's four fp32
        # tensors once, and one layer's (a few MB on a small model) partly stays in the cache,
        # so the layer row scaled by the parameter count undercounts the real step.
        for use, parameter_shapes in (
            ("optimizer.layer", layer_parameter_shapes(shape)),
            ("optimizer.model", model_parameter_shapes(shape)),
        ):
            add(
                "adamw",
                "step",
                "fp32",
                {"parameters": sum(math.prod(p) for p in parameter_shapes), "tensors": len(parameter_shapes)},
                "training",
                use,
                lambda dev, p=parameter_shapes: ops.build_adamw(p, dev),
            )
    for batch in shape.decode_batch_sizes:
        for name, n, k in projections:
            add_gemm(batch, n, k, "decode", f"{name}.forward", "forward")
        for kind, dims, build in (
            (
                "rmsnorm",
                {"tokens": batch, "hidden": h},
                lambda dev, bb=batch: ops.build_rmsnorm(dtype, bb, h, "forward", dev),
            ),
            (
                "rotary",
                {"batch": batch, "sequence_length": 1, "heads": heads + kv_heads, "head_dim": d},
                lambda dev, bb=batch: ops.build_rotary(dtype, bb, 1, heads + kv_heads, d, "forward", dev),
            ),
            (
                "residual_add",
                {"tokens": batch, "hidden": h},
                lambda dev, bb=batch: ops.build_residual_add(dtype, bb, h, dev),
            ),
            (
                "embedding",
                {"tokens": batch, "hidden": h},
                lambda dev, bb=batch: decode_ops.build_embedding(dtype, bb, h, vocab, dev),
            ),
            (  # greedy sampling over the whole vocabulary (the logits gathered over TP ranks)
                "argmax",
                {"batch": batch, "vocab": shape.vocab_size},
                lambda dev, bb=batch: decode_ops.build_argmax(dtype, bb, shape.vocab_size, dev),
            ),
        ):
            add(kind, "forward", dtype, dims, "decode", kind, build)
        if shape.gated_mlp:
            add(
                "swiglu",
                "forward",
                dtype,
                {"tokens": batch, "width": ffn},
                "decode",
                "swiglu",
                lambda dev, bb=batch: ops.build_swiglu(dtype, bb, ffn, "forward", dev),
            )
        for context in shape.context_lengths:
            add(
                "kv_cache_read",
                "forward",
                dtype,
                {"batch": batch, "heads": heads, "kv_heads": kv_heads, "context": context, "head_dim": d},
                "decode",
                "attention.kv_cache_read",
                lambda dev, bb=batch, c=context: ops.build_kv_cache_read(dtype, bb, heads, kv_heads, c, d, dev),
            )
            add(
                "kv_cache_write",
                "forward",
                dtype,
                {"batch": batch, "kv_heads": kv_heads, "context": context, "head_dim": d},
                "decode",
                "attention.kv_cache_write",
                lambda dev, bb=batch, c=context: decode_ops.build_kv_cache_write(dtype, bb, kv_heads, c, d, dev),
            )
    ordered = sorted(cases.values(), key=lambda c: (c.kind != "gemm", c.predicted_flops, c.size))
    return ordered, notes


@dataclass(frozen=True)
class CollectiveCase:
    group: str  # tensor_parallel | data_parallel
    group_size: int
    collective: str
    size_bytes: int
    use: str


def collective_cases(shape: WorkloadShape) -> list[CollectiveCase]:
    """The plan's collectives: TP all-reduces of a micro-batch's activations (forward and
    backward, two per layer each) and of a decode batch's hidden states; DP all-reduce (and the
    ZeRO reduce-scatter / all-gather pair) of one layer's gradients per TP rank, and the DP
    all-reduce of all of the rank's gradients (DDP's reduction per step)."""
    element = 4 if shape.precision == "fp32" else 2
    cases: list[CollectiveCase] = []
    tp, dp = shape.tensor_parallel_size, shape.data_parallel_size
    if tp > 1:
        if shape.sequence_length:
            activation = shape.micro_batch_size * shape.sequence_length * shape.hidden_size * element
            cases.append(CollectiveCase("tensor_parallel", tp, "all_reduce", activation, "training.tp_all_reduce"))
        for batch in shape.decode_batch_sizes:
            cases.append(
                CollectiveCase(
                    "tensor_parallel", tp, "all_reduce", batch * shape.hidden_size * element, "decode.tp_all_reduce"
                )
            )
    if dp > 1 and shape.sequence_length:
        gradient = sum(math.prod(p) for p in layer_parameter_shapes(shape)) * element
        for collective in ("all_reduce", "reduce_scatter", "all_gather"):
            cases.append(CollectiveCase("data_parallel", dp, collective, gradient, f"training.dp_{collective}"))
        # DDP's whole gradient reduction per step (every parameter of the rank, as the optimizer row)
        model_gradient = sum(math.prod(p) for p in model_parameter_shapes(shape)) * element
        cases.append(CollectiveCase("data_parallel", dp, "all_reduce", model_gradient, "training.dp_all_reduce.model"))
    return cases


def _collective_rows(run: SuiteRun, cases: list[CollectiveCase], device: str) -> tuple[list[dict], list[dict]]:
    """Measure the collectives per group size (one process group each); operator rows and the
    groups' raw results."""
    from flopwatt.bench import collectives

    operators: list[dict] = []
    groups: list[dict] = []
    for group_size in sorted({c.group_size for c in cases}):
        mine = [c for c in cases if c.group_size == group_size]
        label = f"collectives over {group_size} ranks"
        backend = "gloo"
        if device == "cuda":
            import torch

            if torch.cuda.device_count() < group_size:
                run.record_skip(
                    label, f"{group_size} ranks need {group_size} GPUs, {torch.cuda.device_count()} visible"
                )
                run.step(label)
                continue
            backend = "nccl"
        run.announce(f"measuring {label} ({backend})")
        names = tuple(dict.fromkeys(c.collective for c in mine))
        sizes = sorted({c.size_bytes for c in mine})
        result = collectives.spawn_local(
            group_size,
            backend,
            sizes=sizes,
            collectives=names,
            iterations=COLLECTIVE_ITERATIONS,
            warmup=COLLECTIVE_WARMUP,
        )
        run.check_cancel()
        groups.append({"group_size": group_size, **result})
        for name in names:
            for size, row in zip(sizes, result.get(name, [])):
                uses = [c.use for c in mine if c.collective == name and c.size_bytes == size]
                if not uses:
                    continue
                operators.append(
                    {
                        "kind": name,
                        "pass": "forward",
                        "phase": uses[0].split(".", 1)[0],
                        "uses": uses,
                        "shape": {"bytes": row["bytes"], "group_size": group_size},
                        "dtype": "fp32",
                        "backend": result["backend"],
                        "flops": 0.0,
                        "bytes": float(row["bytes"]),
                        # the mean of back-to-back calls, the slowest rank's (nccl-tests' method)
                        "seconds": {"mean": row["seconds"], "n": result["iterations"]},
                        "busbw_bytes_per_second": row["busbw_bytes_per_second"],
                        "verified": bool(row["verified"]),
                    }
                )
        run.step(label)
    return operators, groups


def _memory_bytes(device: str) -> int:
    if device == "cuda":
        import torch

        return int(torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory)
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 1 << 34


WEIGHT_BYTES_PER_ELEMENT = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1}


def decode_layer_weight_bytes(shape: WorkloadShape) -> int:
    """Bytes of one layer's projection weights on one tensor-parallel rank."""
    element = WEIGHT_BYTES_PER_ELEMENT[shape.precision]
    return sum(n * k for name, n, k in _projections(shape) if name != "lm_head") * element


def decode_weight_bytes(shape: WorkloadShape) -> int:
    """Bytes of weights one decode step reads on one tensor-parallel rank: every layer's
    projections and the LM head, once each."""
    _, vocab, hidden = _projections(shape)[-1]
    return (
        decode_layer_weight_bytes(shape) * shape.layer_count
        + vocab * hidden * WEIGHT_BYTES_PER_ELEMENT[shape.precision]
    )


def last_level_cache_bytes(device: str) -> int:
    from flopwatt.bench.cache import cpu_last_level_cache_bytes, gpu_l2_cache_bytes

    return gpu_l2_cache_bytes() if device == "cuda" else cpu_last_level_cache_bytes()


def decode_kv_cache_bytes(case: OperatorCase, shape: WorkloadShape) -> int:
    """Bytes of KV cache one decode step reads at `case`'s batch and context: every layer's
    keys and values once."""
    element = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 2}[shape.precision]
    s = case.shape
    return 2 * shape.layer_count * s["batch"] * s["kv_heads"] * s["context"] * s["head_dim"] * element


def times_cold(case: OperatorCase, shape: WorkloadShape, cache_bytes: int) -> bool:
    """Whether `case` is timed cold (over rotating copies of its operands, `cold_copies`). A decode step reads
    every layer's weights and every layer's KV cache once: when what one kind reads over the
    step exceeds the last-level cache, each call finds its operands in memory, not in the cache
    where back-to-back calls on one buffer leave them. Decode GEMMs: the weights (measured on
    the 2-core CI host: the closed-loop model's 68 MB over a 32 MB L3, GEMMs 2.5-4x slower cold,
    as the real step ran them). KV-cache reads: the cache of every layer (the same model at
    batch 4 and context 522: 34.2 MB, just over the 32 MiB L3, so cold; its real step's SDPA
    took 0.39-0.73 ms per layer, between 0.2 ms warm and 0.7-1.1 ms cold: the edge of the cache
    is gradual, the rule is not). The other decode operators run between those reads, and
    training's small operators between its GEMMs (`stream_bytes_before`); training GEMMs,
    attention and the optimizer step are timed warm."""
    if case.phase != "decode" or case.kind not in COLD_DECODE_KINDS:
        return False
    if case.kind == "kv_cache_read":
        return decode_kv_cache_bytes(case, shape) > cache_bytes
    return decode_weight_bytes(shape) > cache_bytes


# Training operators timed right after a GEMM (`stream_bytes_before`): all but the GEMMs, the
# attention and the optimizer step, which run long enough that what ran before them does not
# move their time.
TRAINING_AFTER_GEMM_KINDS = ("rmsnorm", "swiglu", "rotary", "residual_add", "cross_entropy", "embedding")


def stream_bytes_before(case: OperatorCase, shape: WorkloadShape, flush_size_bytes: int) -> int:
    """Bytes of weights a GEMM (bench.cache.StreamingGemv, of `preceding_gemm_shape`) runs over
    before each timed call of `case`, outside the timed region; 0 for none.

    Decode: a decode step runs its small operators (norms, residual adds, SwiGLU, rotary, the
    embedding lookup, the KV-cache write, the argmax) between the layer's projection GEMVs;
    timed back to back they keep what the step takes from them. Measured inside the closed-loop
    model's real decode step on the 2-core CI host (perf_counter around each call, 10
    repetitions, 1 and 2 threads): RMSNorm 59-97 µs against 16-22 µs back to back, the embedding
    54-73 against 6-9, the KV-cache write 13-18 against 3-4, SiLU 20-27 against 5, the argmax
    68-105 against 32-59; outside its GEMMs and SDPA the step took 2.1-2.8 ms, against 0.4-0.7 ms
    for the same step with the GEMMs and SDPA replaced by stand-ins. Timed after one GEMV
    streaming its weights from memory (1 thread): RMSNorm 90 µs, the embedding 58, the KV-cache
    write 28, the argmax 84; after a plain read of one layer's weights they stayed near their
    back-to-back times in one suite run and doubled in another, and after the 128 MB flush they
    took 2-4x the in-step times. So each is timed after a GEMV of the layer's gate/up (or up)
    projection at the operator's batch, over weight copies as large as the step's weights (capped
    at `flush_size_bytes`): from memory when the step's weights exceed the cache, warm when they
    fit, as in the step.

    Training: the same holds between a training step's GEMMs. Inside the closed-loop model's CPU
    training step (torch.profiler, 2 threads, 4 layers of hidden 512 at 512 tokens) its norms and
    SwiGLU took 15-17 ms per step against 8.4 ms for the same operators timed back to back, the
    residual adds ~135 µs each against 23-29 µs; timed right after a GEMM of the layer's gate/up
    projection at the step's tokens (512 x 2816 x 512), RMSNorm forward took 604 µs against 299
    back to back, its backward 1,333 against 570, SwiGLU 608 / 1,266 against 298 / 711, the add
    183 against 29: the step's ratio. So each (`TRAINING_AFTER_GEMM_KINDS`) is timed after that
    GEMM over one copy of its weights: what the operator follows in the step is a GEMM's traffic
    through the caches and its threads, not a stream of every layer's weights (a training GEMM
    reuses its weights over the micro-batch's tokens). GEMMs and KV reads keep their cold/warm
    rule (`times_cold`); attention and the optimizer step run nothing first."""
    if case.phase == "decode":
        return 0 if case.kind in COLD_DECODE_KINDS else min(decode_weight_bytes(shape), flush_size_bytes)
    if case.phase == "training" and case.kind in TRAINING_AFTER_GEMM_KINDS:
        _, n, k = preceding_gemm_shape(case, shape)
        return n * k * WEIGHT_BYTES_PER_ELEMENT[case.dtype]
    return 0


def cold_copies(case: OperatorCase, shape: WorkloadShape, flush_size_bytes: int) -> int:
    """Copies of a cold decode operator's operands (`_rotating`): as many as hold what the step
    reads of that kind (every layer's weights for a GEMM, every layer's KV cache for a KV read),
    at most `flush_size_bytes`. Each timed call then reads an operand last used that many bytes
    ago, as in the step, and evicts only clean lines. The cache flush before each call instead
    (CacheFlusher writes 4x the last-level cache) left dirty lines to write back and overstated
    the step: decode GEMVs of the closed-loop model on the 2-core CI host took 2.98 ms per layer
    flushed, 2.62 ms after a read of the same size, 2.14 ms rotating over four layers' weights,
    and 1.96-2.35 ms inside the real step (perf_counter around each call)."""
    s = case.shape
    element = WEIGHT_BYTES_PER_ELEMENT[case.dtype]
    if case.kind == "gemm":
        one, step = s["n"] * s["k"] * element, decode_weight_bytes(shape)
    else:
        one = 2 * s["batch"] * s["kv_heads"] * s["context"] * s["head_dim"] * element
        step = decode_kv_cache_bytes(case, shape)
    return max(1, -(-min(step, flush_size_bytes) // one))


def _rotating(build: Callable[[], Workload], copies: int) -> Workload:
    """`copies` instances of one workload (each its own buffers), each timed call on the next;
    verified on the first, released together."""
    workloads = [build() for _ in range(copies)]
    current = [0]

    def advance() -> None:
        current[0] = (current[0] + 1) % copies

    def release() -> None:
        for workload in workloads:
            workload.close()

    first = workloads[0]
    return replace(
        first,
        run=lambda: workloads[current[0]].run(),
        prepare=advance,
        release=release,
        working_set_bytes=first.working_set_bytes * copies,
    )


def preceding_gemm_shape(case: OperatorCase, shape: WorkloadShape) -> tuple[int, int, int]:
    """(rows, n, k) of the GEMM run before `case`: the layer's gate/up (or up) projection at the
    operator's tokens: in training the micro-batch's (micro-batch × sequence), in decode the
    operator's batch (its `batch`, or its `tokens`: one per sequence)."""
    if case.phase == "training":
        rows = shape.micro_batch_size * shape.sequence_length
    else:
        rows = int(case.shape.get("batch", case.shape.get("tokens", 1)))
    _, n, k = _projections(shape)[2]
    return rows, n, k


def _operator_row(case: OperatorCase, result: dict, index: int, cold: bool = False, stream_bytes: int = 0) -> dict:
    backend = result.get("backend")
    if case.kind == "gemm":
        backend = "torch._scaled_mm" if case.dtype == "fp8" else "torch.mm"
    elif case.kind == "attention":
        backend = f"sdpa:{result.get('sdpa_backend', 'unknown')}"
    stats = result.get("stats") or {}
    return {
        "kind": case.kind,
        "pass": case.pass_name,
        "phase": case.phase,
        "uses": list(case.uses),
        "shape": dict(result["shape"]),
        "dtype": result["precision"],
        "backend": backend or "torch",
        "flops": result["flops"],
        "bytes": result["bytes"],
        "seconds": {k: stats[k] for k in ("median", "mean", "min", "max", "p10", "p90", "cv", "n") if k in stats},
        "verified": bool(result["verified"]),
        "result_index": index,
        "cache": "cold" if cold else ("streamed" if stream_bytes else "warm"),
        **({"stream_bytes": stream_bytes} if stream_bytes else {}),
    }


def _after_preceding_gemm(
    case: OperatorCase, shape: WorkloadShape, device: str, gemvs: dict[tuple, StreamingGemv], stream_bytes: int
) -> Callable[[], Workload]:
    """The builder of `case`'s workload, running a GEMM (`preceding_gemm_shape`) before
    each call when `stream_bytes` is non-zero (one such GEMM's weights held at a time: consecutive
    cases of one shape share it, another shape replaces it)."""
    if not stream_bytes:
        return lambda: case.build(device)

    def build() -> Workload:
        key = (*preceding_gemm_shape(case, shape), stream_bytes, case.dtype)
        if key not in gemvs:
            gemvs.clear()
            gemvs[key] = StreamingGemv(device, *key[:4], ELEMENTWISE_DTYPES[case.dtype])
        gemv = gemvs[key]
        workload = case.build(device)
        own = workload.prepare
        workload.prepare = gemv if own is None else lambda: (gemv(), own())
        return workload

    return build


def count_workload_steps(shape: WorkloadShape, device: str) -> int:
    """Progress steps of measure_workload: one per distinct operator and per collective group."""
    return len(enumerate_operators(shape, device)[0]) + len({c.group_size for c in collective_cases(shape)})


def measure_workload(run: SuiteRun, shape: WorkloadShape) -> tuple[list[dict], list[dict]]:
    """Measure every distinct operator of `shape` (and its collectives); the operator table and
    the collective groups' raw results."""
    device = run.device
    cases, notes = enumerate_operators(shape, device)
    run.notes.extend(notes)
    comms = collective_cases(shape)
    plan = GPU_PLAN if device == "cuda" else CPU_PLAN
    cap = GPU_MAX_CALL_SECONDS if device == "cuda" else CPU_MAX_CALL_SECONDS
    memory_budget = MEMORY_FRACTION * _memory_bytes(device)
    cache_bytes = last_level_cache_bytes(device)
    flush_size = flush_bytes(device)
    gemvs: dict[tuple, StreamingGemv] = {}
    best_gemm_rate = 0.0
    table: list[dict] = []
    for case in cases:
        label = case.label
        if case.size * 8 > memory_budget:
            run.record_skip(label, f"its buffers would exceed {MEMORY_FRACTION:.0%} of the device's memory")
        elif case.kind == "gemm" and best_gemm_rate and case.predicted_flops / best_gemm_rate > cap:
            run.record_skip(label, f"predicted call time above {cap} s")
        else:
            run.announce(f"measuring {label}")
            cold = times_cold(case, shape, cache_bytes)
            stream_bytes = stream_bytes_before(case, shape, flush_size)
            copies = cold_copies(case, shape, flush_size) if cold else 1
            if copies > 1:
                build = partial(_rotating, partial(case.build, device), copies)
            else:
                build = _after_preceding_gemm(case, shape, device, gemvs, stream_bytes)
            measurement = run.measure(build, replace(plan, flush_cache=cold and copies == 1), label)
            if measurement is not None:
                result = run.results[-1]
                row = _operator_row(case, result, len(run.results) - 1, cold, stream_bytes)
                table.append({**row, "copies": copies} if copies > 1 else row)
                rate = result.get("flops_per_second")
                if case.kind == "gemm" and rate and rate > best_gemm_rate:
                    best_gemm_rate = rate
        run.step(label)
    groups: list[dict] = []
    if comms:
        rows, groups = _collective_rows(run, comms, device)
        table.extend(rows)
    return table, groups


def _typical_seconds(row: dict) -> float:
    seconds = row.get("seconds") or {}
    value = seconds.get("median", seconds.get("mean"))
    return float(value) if isinstance(value, (int, float)) else math.inf


def _phase_seconds(document: dict, phase: str) -> float:
    """A round's time for one phase as its rows add up: each row's median times its uses."""
    rows = [row for row in document.get("operators", []) if row.get("phase") == phase]
    return sum(_typical_seconds(row) * max(1, len(row.get("uses", []))) for row in rows)


def median_round(totals: list[float]) -> int:
    """Index of the median of `totals` (the lower of the two middle ones for an even count: with
    two rounds, the lesser)."""
    order = sorted(range(len(totals)), key=lambda i: totals[i])
    return order[(len(order) - 1) // 2]


def median_of_rounds(documents: list[dict]) -> dict:
    """One workload profile from `documents`, the same suite run several times (interleaved with
    the closed loop's real steps): for each phase (training, decode) the round whose rows add up
    to the median time over the rounds (each row's median times its uses; `median_round`) gives
    that phase's rows, with their statistics and raw samples; every row lists every round's
    median (`round_medians_seconds`).

    Why the median round: a round is off in either direction. On a shared host another job's
    burst adds scheduler slices to whatever runs then (a 2-thread RMSNorm of 512 x 512 took 0.4 ms
    alone and 27-32 ms while another process held a core: each parallel region waits a slice),
    and on an idle VM whole rounds still run in a faster or a slower regime (2026-11-28, the CPU
    host idle but for these runs: the real decode step's rounds 13.7 / 18.1 / 23.3 ms and
    16.1 / 20.9 / 18.3 ms, each round's 16 samples within ±3 %; the suite's training rows adding up
    to 346 against 389 and 419 ms in one run). The least round, used before, is robust to the
    first only, and took each side's fast outlier independently: six runs of the closed loop
    (3 rounds each, docs/benchmarks.md "fourth look") gave decode errors of -4.0, -21.9, +27.1,
    +6.1, +23.5, -27.6 % from the least rounds and -5.0, -28.9, -4.4, +2.1, -6.3, -10.1 % from
    the median rounds of the same data (the second run under another process's load throughout),
    training -14.5 … +2.9 % against -11.5 … -0.4 %. With three rounds the median drops one
    outlier of either kind. Whole rounds, not each operator's own median: the real
    steps are reduced as whole steps (bench.closed_loop.median_of_rounds), and a sum of
    per-operator picks over rounds is no round that ran, so the two sides of the comparison
    would not carry the same estimator."""
    if not documents:
        raise ValueError("documents: need at least one workload profile")
    base = dict(documents[0])
    results: list[dict] = []
    offsets = []
    for document in documents:
        offsets.append(len(results))
        results.extend(document.get("results", []))
    phases = list(dict.fromkeys(row.get("phase") for d in documents for row in d.get("operators", [])))
    chosen_round = {
        phase: median_round([_phase_seconds(document, phase) for document in documents]) for phase in phases
    }

    def key(row: dict) -> tuple:
        return (row["kind"], row["pass"], row["dtype"], row.get("phase"), tuple(sorted(row["shape"].items())))

    medians: dict[tuple, list[float]] = {}
    for document in documents:
        for row in document.get("operators", []):
            medians.setdefault(key(row), []).append(_typical_seconds(row))
    operators = []
    for phase in phases:
        round_index = chosen_round[phase]
        for row in documents[round_index].get("operators", []):
            if row.get("phase") != phase:
                continue
            merged = dict(row)
            if "result_index" in merged:
                merged["result_index"] = merged["result_index"] + offsets[round_index]
            merged["round_medians_seconds"] = medians[key(row)]
            operators.append(merged)
    base.update(
        operators=operators,
        results=results,
        rounds=len(documents),
        median_round_by_phase=chosen_round,
        duration_seconds=sum(float(d.get("duration_seconds", 0.0)) for d in documents),
        notes=list(dict.fromkeys(note for d in documents for note in d.get("notes", []))),
    )
    # Ceilings and efficiency follow from the merged results (every round's), as in any profile;
    # kept from the first round they disagreed with the results stored beside them (the H100 run of
    # 2026-11-28: bf16 attention 382.6 TFLOP/s stored, 387.4 in the results).
    base["ceilings"] = derive_ceilings(results)
    base["efficiency"] = derive_efficiency(results, base["ceilings"])
    return base
