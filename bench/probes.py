"""The measurements a suite is made of: GEMM sweep, memory bandwidth, host↔device transfers,
attention and launch overhead. Each probe builds workloads from flopwatt.kernels and hands
them to the SuiteRun; none of them times anything itself."""

from __future__ import annotations

from flopwatt.bench.cache import CACHE_MULTIPLE_FOR_FLUSH, cpu_last_level_cache_bytes, gpu_l2_cache_bytes
from flopwatt.bench.runner import SuiteRun
from flopwatt.bench.suite_config import SuiteConfig
from flopwatt.kernels.attention import PASSES, attention_flops, build_attention
from flopwatt.kernels.copy import build_device_copy, build_host_device_copy
from flopwatt.kernels.gemm import build_gemm, fp8_shape_problem, fp8_supported, gemm_flops
from flopwatt.kernels.launch import build_launch
from flopwatt.kernels.stream_reference import FLOAT64_BYTES, STREAM_OPERATIONS

ATTENTION_CAUSAL_MODES = (True, False)


def gemm_shapes(config: SuiteConfig) -> list[tuple[int, int, int]]:
    """Search and map shapes, smallest work first, so the rate seen so far predicts the cost
    of the next shape and over-long shapes can be skipped before they run."""
    shapes = list(dict.fromkeys(config.gemm_search_shapes + config.gemm_map_shapes))
    return sorted(shapes, key=lambda s: (gemm_flops(*s), s))


def count_gemm_steps(config: SuiteConfig) -> int:
    return len(config.gemm_precisions) * len(gemm_shapes(config))


def run_gemm_probe(run: SuiteRun, config: SuiteConfig) -> dict[str, tuple[int, int, int]]:
    """Measure every shape per precision; returns the best shape of each precision."""
    best_shapes: dict[str, tuple[int, int, int]] = {}
    for precision in config.gemm_precisions:
        best_rate = 0.0
        if precision == "fp8" and not fp8_supported(config.device):
            run.record_skip("gemm fp8", "this GPU has no e4m3 tensor cores (compute capability < 8.9)")
        for shape in gemm_shapes(config):
            label = f"gemm {precision} {shape[0]}x{shape[1]}x{shape[2]}"
            if precision == "fp8" and not fp8_supported(config.device):
                run.step(label)
                continue
            if precision == "fp8" and fp8_shape_problem(*shape):
                run.record_skip(label, fp8_shape_problem(*shape))
            elif best_rate and gemm_flops(*shape) / best_rate > config.max_call_seconds:
                run.record_skip(label, f"predicted call time above {config.max_call_seconds} s")
            else:
                measurement = run.measure(
                    lambda: build_gemm(precision, *shape, device=config.device), config.gemm_plan, label
                )
                rate = measurement.to_result()["flops_per_second"] if measurement and measurement.verified else None
                if rate and rate > best_rate:
                    best_rate, best_shapes[precision] = rate, shape
            run.step(label)
    return best_shapes


def stream_elements(config: SuiteConfig) -> int:
    """Array length: at least the suite minimum and ≥ 4× the last-level cache per array."""
    cache = gpu_l2_cache_bytes() if config.device == "cuda" else cpu_last_level_cache_bytes()
    return max(config.stream_elements_minimum, CACHE_MULTIPLE_FOR_FLUSH * cache // FLOAT64_BYTES)


def count_memory_steps(config: SuiteConfig) -> int:
    return len(STREAM_OPERATIONS) + 1 + (2 if config.device == "cuda" else 0)


def run_memory_probe(run: SuiteRun, config: SuiteConfig) -> None:
    elements = stream_elements(config)
    unavailable_reason = None
    if config.device == "cuda":
        import torch

        from flopwatt.kernels.numba_cuda_stream import build_numba_cuda_stream, numba_cuda_unavailable_reason

        sm_count = torch.cuda.get_device_properties(torch.cuda.current_device()).multi_processor_count
        unavailable_reason = numba_cuda_unavailable_reason()

        def build_stream(operation: str):
            return build_numba_cuda_stream(operation, elements, multiprocessor_count=sm_count)

    else:
        from flopwatt.kernels.numba_cpu_stream import build_numba_cpu_stream

        def build_stream(operation: str):
            return build_numba_cpu_stream(operation, elements)

    for operation in STREAM_OPERATIONS:
        if unavailable_reason:
            run.record_skip(f"stream {operation}", f"Numba CUDA cannot run here ({unavailable_reason})")
        else:
            run.measure(lambda: build_stream(operation), config.stream_plan, f"stream {operation}")
        run.step(f"memory {operation}")
    copy_bytes = config.copy_bytes or elements * FLOAT64_BYTES
    run.measure(lambda: build_device_copy(copy_bytes, config.device), config.stream_plan, "device copy")
    run.step("memory device copy")
    if config.device == "cuda":
        for direction in ("host_to_device", "device_to_host"):
            run.measure(
                lambda: build_host_device_copy(config.transfer_bytes, direction), config.transfer_plan, direction
            )
            run.step(f"transfer {direction}")


def attention_cases(config: SuiteConfig) -> list[tuple]:
    return [
        (precision, shape, causal, pass_name)
        for precision in config.attention_precisions
        for shape in config.attention_shapes
        for causal in ATTENTION_CAUSAL_MODES
        for pass_name in PASSES
    ]


def run_attention_probe(run: SuiteRun, config: SuiteConfig) -> None:
    best_rate: dict[str, float] = {}
    for precision, shape, causal, pass_name in attention_cases(config):
        label = f"attention {precision} {pass_name} b{shape[0]} h{shape[1]} s{shape[2]} d{shape[3]} causal={causal}"
        flops = attention_flops(*shape, causal, pass_name)
        rate = best_rate.get(precision)
        if rate and flops / rate > config.max_call_seconds:
            run.record_skip(label, f"predicted call time above {config.max_call_seconds} s")
        else:
            measurement = run.measure(
                lambda: build_attention(precision, *shape, causal=causal, pass_name=pass_name, device=config.device),
                config.attention_plan,
                label,
            )
            measured = measurement.to_result()["flops_per_second"] if measurement and measurement.verified else None
            if measured:
                best_rate[precision] = max(best_rate.get(precision, 0.0), measured)
        run.step(label)


def count_launch_steps(config: SuiteConfig) -> int:
    return 2 if config.device == "cuda" else 1


def run_launch_probe(run: SuiteRun, config: SuiteConfig) -> None:
    run.measure(lambda: build_launch(config.launches_per_call, config.device), config.launch_plan, "launch")
    run.step("launch overhead")
    if config.device == "cuda":
        run.measure(
            lambda: build_launch(config.launches_per_call, config.device, use_graph=True),
            config.launch_plan,
            "launch graph",
        )
        run.step("launch overhead (CUDA graph)")
