"""GPU fidelity checks (DESIGN §7), run on a real NVIDIA GPU; skipped cleanly without CUDA.

bf16 GEMM through our harness ≥ 97 % of the best plain torch.matmul at 8192³ in the same
process; Numba copy/triad ≥ 95 % of a plain device copy; power windows measured via NVML.
"""

from __future__ import annotations

import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

GEMM_TARGET_FRACTION = 0.97  # DESIGN §7
MEMORY_TARGET_FRACTION = 0.95  # DESIGN §7
SIZE = 8192


def plain_matmul_best_flops_per_second(repeats: int = 50) -> float:
    a = torch.randn(SIZE, SIZE, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(SIZE, SIZE, device="cuda", dtype=torch.bfloat16)
    for _ in range(10):
        a @ b
    torch.cuda.synchronize()
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(repeats)]
    for start, end in events:
        start.record()
        a @ b
        end.record()
    torch.cuda.synchronize()
    return 2 * SIZE**3 / (min(s.elapsed_time(e) for s, e in events) * 1e-3)


def plain_copy_best_bytes_per_second(size_bytes: int = 1 << 30, repeats: int = 30) -> float:
    src = torch.randn(size_bytes // 4, device="cuda")
    dst = torch.empty_like(src)
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(repeats)]
    for start, end in events:
        start.record()
        dst.copy_(src)
        end.record()
    torch.cuda.synchronize()
    return 2 * size_bytes / (min(s.elapsed_time(e) for s, e in events) * 1e-3)


def test_bf16_gemm_reaches_plain_torch():
    from flopwatt.bench.cache import CacheFlusher
    from flopwatt.bench.harness import Harness, MeasurementPlan
    from flopwatt.kernels.gemm import build_gemm

    harness = Harness("cuda", CacheFlusher("cuda"))
    result = harness.measure(build_gemm("bf16", SIZE, SIZE, SIZE, device="cuda"), MeasurementPlan(warmup_iterations=20, samples=50, flush_cache=True)).to_result()
    assert result["verified"]
    assert result["flops_per_second"] >= GEMM_TARGET_FRACTION * plain_matmul_best_flops_per_second()


def test_stream_copy_and_triad_reach_plain_copy():
    from flopwatt.bench.harness import Harness, MeasurementPlan
    from flopwatt.bench.probes import stream_elements
    from flopwatt.bench.suite_config import suite_config
    from flopwatt.kernels.numba_cuda_stream import build_numba_cuda_stream

    elements = stream_elements(suite_config("quick", "cuda"))
    sm_count = torch.cuda.get_device_properties(0).multi_processor_count
    harness = Harness("cuda")
    plain = plain_copy_best_bytes_per_second()
    for operation in ("copy", "triad"):
        result = harness.measure(build_numba_cuda_stream(operation, elements, multiprocessor_count=sm_count), MeasurementPlan(warmup_iterations=10, samples=50)).to_result()
        assert result["verified"]
        best = result["bytes"] / result["stats"]["min"]
        assert best >= MEMORY_TARGET_FRACTION * plain, (operation, best, plain)


def test_fp8_and_graph_launch_where_supported():
    from flopwatt.bench.harness import Harness, MeasurementPlan
    from flopwatt.kernels.gemm import build_gemm, fp8_supported
    from flopwatt.kernels.launch import build_launch

    harness = Harness("cuda")
    graph = harness.measure(build_launch(200, "cuda", use_graph=True), MeasurementPlan(samples=5)).to_result()
    plain = harness.measure(build_launch(200, "cuda"), MeasurementPlan(samples=5)).to_result()
    assert graph["verified"] and plain["verified"]
    if fp8_supported("cuda"):
        assert harness.measure(build_gemm("fp8", 4096, 4096, 4096, device="cuda"), MeasurementPlan(samples=5)).verified


def test_quick_suite_on_gpu_within_two_minutes():
    import time

    from flopwatt.bench.profile import validate_profile
    from flopwatt.bench.suites import run_suite

    started = time.perf_counter()
    document = run_suite("quick", "cuda")
    assert time.perf_counter() - started <= 120
    validate_profile(document)
    assert document["ceilings"]["matmul_flops_per_second"]["bf16"] > 0
    if "power" in document:
        assert document["power"]["idle_watts"] > 0 and document["power"]["joules_per_flop"]["bf16"] > 0
    else:
        assert document["power_unavailable_reason"]
