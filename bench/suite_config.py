"""What the `quick` and `full` suites measure on each device kind, and for how long.

Sizes follow the method notes (anchors-microbench §1, §7, read 2026-11): GEMM shapes from
mamf-finder's sweeps and published best shapes, STREAM arrays ≥ 4× the last-level cache,
host↔device buffers of 256 MiB (nvbandwidth uses 512 MiB; 256 MiB is past every L2 and halves
the quick suite's transfer time), power windows ≥ 5 s. CPU sizes are scaled so the quick
suite fits in 3 minutes on a 2-core CI runner (measured: see docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flopwatt.bench.harness import MeasurementPlan
from flopwatt.bench.vocabulary import DEVICE_KINDS, SIZED_SUITES

MEBIBYTE = 1024**2
# GPU warm-up before the first measurement: mamf-finder warms for 30 s (clocks, temperature);
# the quick suite spends 5 s so it stays under its 2-minute budget (DESIGN §7).
GPU_WARMUP_SECONDS_FULL = 30.0
GPU_WARMUP_SECONDS_QUICK = 5.0
GPU_STREAM_ELEMENTS_MINIMUM = 2**25  # BabelStream's default array length (268 MB of float64)
CPU_STREAM_ELEMENTS_MINIMUM = 2**22  # 32 MiB of float64; raised to 4× LLC below
HOST_DEVICE_TRANSFER_BYTES = 256 * MEBIBYTE
GPU_DEVICE_COPY_BYTES = 1024 * MEBIBYTE  # ≥ 4× the 50-60 MB L2 of Hopper, ×20 margin
# Per-call cap: a shape whose predicted time (FLOPs ÷ best rate so far) exceeds this is skipped
# and recorded as skipped, so slow precisions (bf16 on CPUs without AVX512-BF16/AMX runs at
# ~1 GFLOP/s, measured 2026-11 on the CI EPYC) cannot blow the suite's time budget.
CPU_MAX_CALL_SECONDS = 0.5
GPU_MAX_CALL_SECONDS = 0.5
POWER_UNIT_OF_WORK_SECONDS = 0.2  # one synchronised batch inside a power window

Shape = tuple[int, int, int]
AttentionShape = tuple[int, int, int, int]  # batch, heads, sequence_length, head_dim


def _squares(sizes: list[int]) -> list[Shape]:
    return [(s, s, s) for s in sizes]


def _decode_and_prefill(tokens: list[int], projections: list[tuple[int, int]]) -> list[Shape]:
    """Shapes of transformer projections: m tokens × (n out, k in) weight matrices."""
    return [(m, n, k) for m in tokens for (n, k) in projections]


# Llama-3-8B-like projection matrices (n, k): QKV/O 4096², MLP up 14336×4096, down 4096×14336
# (Meta Llama 3 model card, 2024-04).
LLAMA_PROJECTIONS = [(4096, 4096), (14336, 4096), (4096, 14336)]
CPU_PROJECTIONS = [(1024, 1024), (3584, 1024), (1024, 3584)]  # the same ratios, 1/4 scale


@dataclass(frozen=True)
class SuiteConfig:
    name: str
    device: str
    gemm_precisions: tuple[str, ...]
    gemm_search_shapes: list[Shape]
    gemm_map_shapes: list[Shape]
    gemm_plan: MeasurementPlan
    max_call_seconds: float
    stream_elements_minimum: int
    stream_plan: MeasurementPlan
    copy_bytes: int
    transfer_plan: MeasurementPlan
    attention_precisions: tuple[str, ...]
    attention_shapes: list[AttentionShape]
    attention_plan: MeasurementPlan
    launches_per_call: int
    launch_plan: MeasurementPlan
    warmup_seconds: float = 0.0
    power_window_seconds: float = 5.0
    power_precisions: tuple[str, ...] = ()
    transfer_bytes: int = HOST_DEVICE_TRANSFER_BYTES
    extra: dict = field(default_factory=dict)


def _gpu(name: str) -> SuiteConfig:
    full = name == "full"
    search = _squares([1024, 2048, 4096, 6144, 8192, 12288, 16384]) + [
        (2048, 2048, 13312),  # H100 SXM bf16 best in the MAMF table (ml-engineering, 2025)
        (6144, 17920, 2816),  # H100 best per mag-/gpu_benchmark README
        (1024, 9216, 14336),  # H100 fp8 best (MAMF table)
        (1024, 10240, 5120),  # A100 SXM bf16 best (MAMF table)
    ]
    if full:  # mamf-finder-style 3-D brute force over a coarse grid
        grid = [1024, 4096, 8192, 16384]
        search += [(m, n, k) for m in grid for n in grid for k in grid]
    squares = [128, 256, 512, 1024, 2048, 4096, 8192] + ([16384] if full else [])
    tokens = [1, 8, 32, 128, 512, 2048, 8192] if full else [1, 16, 128, 2048]
    sequence_lengths = [512, 1024, 2048, 4096, 8192, 16384] if full else [1024, 4096]
    return SuiteConfig(
        name=name,
        device="cuda",
        gemm_precisions=("fp32", "tf32", "bf16", "fp16", "fp8"),
        gemm_search_shapes=list(dict.fromkeys(search)),
        gemm_map_shapes=_squares(squares) + _decode_and_prefill(tokens, LLAMA_PROJECTIONS),
        # mamf-finder: 50 warm-up + 100 timed per shape; the quick suite takes 10 + 30.
        gemm_plan=MeasurementPlan(
            warmup_iterations=50 if full else 10, samples=100 if full else 30, max_seconds=2.0, flush_cache=True
        ),
        max_call_seconds=GPU_MAX_CALL_SECONDS,
        stream_elements_minimum=GPU_STREAM_ELEMENTS_MINIMUM,
        stream_plan=MeasurementPlan(warmup_iterations=10, samples=100 if full else 30, max_seconds=2.0),
        copy_bytes=GPU_DEVICE_COPY_BYTES,
        transfer_plan=MeasurementPlan(warmup_iterations=3, samples=20 if full else 10, max_seconds=3.0),
        attention_precisions=("bf16", "fp16"),
        # batch × heads fixed at 16 × 16 (FlashAttention-2 §4.1 uses 16k tokens total; we keep
        # b·h constant across lengths so short sequences are not launch-bound).
        attention_shapes=[(max(1, 16384 // s), 16, s, d) for s in sequence_lengths for d in (64, 128)],
        attention_plan=MeasurementPlan(
            warmup_iterations=5, samples=30 if full else 10, max_seconds=2.0, flush_cache=True
        ),
        launches_per_call=1000,
        launch_plan=MeasurementPlan(warmup_iterations=3, samples=20, max_seconds=2.0),
        warmup_seconds=GPU_WARMUP_SECONDS_FULL if full else GPU_WARMUP_SECONDS_QUICK,
        power_window_seconds=5.0,
        power_precisions=("fp32", "tf32", "bf16", "fp16", "fp8") if full else ("bf16",),
    )


def _cpu(name: str) -> SuiteConfig:
    full = name == "full"
    squares = [64, 128, 256, 512, 1024, 2048] + ([3072, 4096] if full else [])
    tokens = [1, 16, 128, 1024] if full else [1, 16, 256]
    sequence_lengths = [256, 512, 1024, 2048] if full else [512, 1024]
    return SuiteConfig(
        name=name,
        device="cpu",
        gemm_precisions=("fp32", "bf16"),
        gemm_search_shapes=_squares([256, 512, 1024, 1536, 2048] + ([3072, 4096] if full else []))
        + [(1024, 4096, 1024)],
        gemm_map_shapes=_squares(squares) + _decode_and_prefill(tokens, CPU_PROJECTIONS),
        gemm_plan=MeasurementPlan(
            warmup_iterations=2, samples=20 if full else 8, max_seconds=3.0 if full else 1.0, flush_cache=True
        ),
        max_call_seconds=CPU_MAX_CALL_SECONDS,
        stream_elements_minimum=CPU_STREAM_ELEMENTS_MINIMUM,
        stream_plan=MeasurementPlan(warmup_iterations=2, samples=30 if full else 10, max_seconds=3.0 if full else 1.0),
        copy_bytes=0,  # chosen from the LLC at run time, like the STREAM arrays
        transfer_plan=MeasurementPlan(warmup_iterations=1, samples=5, max_seconds=1.0),
        attention_precisions=("fp32", "bf16"),
        attention_shapes=[(1, 8, s, d) for s in sequence_lengths for d in (64, 128)],
        attention_plan=MeasurementPlan(
            warmup_iterations=2, samples=10 if full else 5, max_seconds=2.0 if full else 0.5
        ),
        launches_per_call=1000,
        launch_plan=MeasurementPlan(warmup_iterations=2, samples=10, max_seconds=1.0),
    )


def suite_config(suite: str, device: str) -> SuiteConfig:
    if suite not in SIZED_SUITES:
        raise ValueError(f"suite: expected one of {SIZED_SUITES}, got {suite!r}")
    if device not in DEVICE_KINDS:
        raise ValueError(f"device: expected 'cpu' or 'cuda', got {device!r}")
    return _gpu(suite) if device == "cuda" else _cpu(suite)
