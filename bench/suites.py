"""`run_suite`: run the quick or full suite on one device and return the hardware profile.

This is the entry point both the CLI (`flopwatt bench`) and the service's benchmark worker
call. It returns a plain dict (the profile JSON, DESIGN §2); catalog identification and
plausibility warnings are added where a profile is saved (flopwatt.estimate.profile_checks, called by
the CLI and the service's runs alike), because the benchmark core imports only the kernels.
"""

from __future__ import annotations

import time
from typing import Callable

from flopwatt.bench.cache import CacheFlusher
from flopwatt.bench.context import cpu_device, cuda_device, environment, host_name
from flopwatt.bench.errors import BenchmarkCancelled, DeviceUnavailable
from flopwatt.bench.harness import Harness
from flopwatt.bench.power import NvmlDevice, NvmlUnavailable
from flopwatt.bench.power_probe import count_power_steps, run_power_probe
from flopwatt.bench.probes import (
    attention_cases,
    count_gemm_steps,
    count_launch_steps,
    count_memory_steps,
    run_attention_probe,
    run_gemm_probe,
    run_launch_probe,
    run_memory_probe,
)
from flopwatt.bench.profile import BENCHMARK_VERSION, SCHEMA_VERSION, derive_ceilings, derive_efficiency, utc_now_iso
from flopwatt.bench.runner import ProgressCallback, SuiteRun
from flopwatt.bench.suite_config import SuiteConfig, suite_config
from flopwatt.bench.vocabulary import DEVICE_AUTO, DEVICE_CHOICES, RUNNABLE_SUITES, WORKLOAD_SUITE

RANDOM_SEED = 20261123  # fixed so two runs draw the same inputs
CPU_POWER_REASON = "NVML measures NVIDIA GPUs only; this suite does not read CPU energy (RAPL)"
WARMUP_GEMM_SIZE = 8192  # a bf16 GEMM big enough to reach steady clocks and power
GPU_WORKLOAD_WARMUP_SECONDS = 5.0  # as the quick suite: clocks steady before the first operator


def resolve_device(device: str) -> str:
    """ "auto" → "cuda" when a GPU is visible, else "cpu"; "cuda" without one is an error."""
    if device not in DEVICE_CHOICES:
        raise ValueError(f"device: expected one of {DEVICE_CHOICES}, got {device!r}")
    import torch

    if device == DEVICE_AUTO:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable("device: cuda was requested but torch sees no CUDA device")
    return device


def _warm_up_gpu(run: SuiteRun, seconds: float) -> None:
    """Hardware warm-up (clocks, temperature) before anything is timed (mamf-finder)."""
    import torch

    from flopwatt.kernels.gemm import build_gemm

    workload = build_gemm("bf16", WARMUP_GEMM_SIZE, WARMUP_GEMM_SIZE, WARMUP_GEMM_SIZE, device="cuda")
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < seconds:
            run.check_cancel()
            workload.run()
            torch.cuda.synchronize()
    finally:
        workload.close()


def _open_meter(device_info: dict) -> tuple[NvmlDevice | None, str | None]:
    if device_info["kind"] != "cuda":
        return None, CPU_POWER_REASON
    try:
        return NvmlDevice.open(device_info.get("index", 0), device_info.get("uuid")), None
    except NvmlUnavailable as error:
        return None, str(error)


def _total_steps(config: SuiteConfig, with_power: bool) -> int:
    return (
        1
        + count_gemm_steps(config)
        + count_memory_steps(config)
        + len(attention_cases(config))
        + count_launch_steps(config)
        + (count_power_steps(config) if with_power else 0)
    )


def run_suite(
    suite: str,
    device: str,
    *,
    progress: ProgressCallback | None = None,
    should_cancel: Callable[[], bool] | None = None,
    workload: dict | None = None,
) -> dict:
    """Run `suite` ("quick" | "full" | "workload") on `device` ("auto" | "cpu" | "cuda"); return
    the profile. The workload suite needs `workload` (a bench.workload_suite.WorkloadShape as a
    dict); the others refuse one.

    Raises ValueError for a bad argument (WorkloadSpecError naming the workload's field),
    DeviceUnavailable when CUDA was asked for and is absent, and BenchmarkCancelled when
    `should_cancel()` turns true (checked between measurements and between timed chunks)."""
    if suite not in RUNNABLE_SUITES:
        raise ValueError(f"suite: expected one of {RUNNABLE_SUITES}, got {suite!r}")
    if suite == WORKLOAD_SUITE:
        from flopwatt.bench.workload_suite import WorkloadShape, WorkloadSpecError

        if workload is None:
            raise WorkloadSpecError("workload", "the workload suite needs a workload (a model and its shapes)")
        shape = workload if isinstance(workload, WorkloadShape) else WorkloadShape.from_dict(workload)
        return run_workload_suite(shape, device, progress=progress, should_cancel=should_cancel)
    if workload is not None:
        raise ValueError(f"workload: only the {WORKLOAD_SUITE} suite takes a workload")
    import torch

    resolved = resolve_device(device)
    config = suite_config(suite, resolved)
    torch.manual_seed(RANDOM_SEED)
    created_time = utc_now_iso()
    device_info = cuda_device(torch.cuda.current_device()) if resolved == "cuda" else cpu_device()
    env = environment(resolved)
    meter, power_reason = _open_meter(device_info)
    if meter is not None:
        env.update(meter.context())
    harness = Harness(resolved, CacheFlusher(resolved), should_cancel)
    run = SuiteRun(resolved, harness, progress, should_cancel, _total_steps(config, meter is not None))
    if progress is not None:
        progress(0.0, f"{suite} suite on {device_info['name']}")
    if resolved == "cuda":
        _warm_up_gpu(run, config.warmup_seconds)
    run.step("warm-up")
    best_gemm_shapes = run_gemm_probe(run, config)
    run_memory_probe(run, config)
    run_attention_probe(run, config)
    run_launch_probe(run, config)
    power = None
    if meter is not None:
        try:
            power = run_power_probe(run, config, meter, best_gemm_shapes)
        except NvmlUnavailable as error:  # the counter died mid-run: keep every timing, say why
            power_reason = f"NVML failed during the power windows: {error}"
            run.notes.append(f"power: not measured, {error}")
    if meter is not None:
        env["clocks_after"] = meter.context()["clocks"]
    document = _profile_document(suite, created_time, device_info, env, run)
    if power is not None:
        document["power"] = power
    else:
        document["power_unavailable_reason"] = power_reason
    if progress is not None:
        progress(1.0, "done")
    return document


def _profile_document(suite: str, created_time: str, device_info: dict, env: dict, run: SuiteRun, **body) -> dict:
    """A profile document of `run` (docs/benchmarks.md keys, in their order): the header, the
    suite's own `body` keys after the environment, then the results and what derives from them."""
    ceilings = derive_ceilings(run.results)
    return {
        "schema_version": SCHEMA_VERSION,
        "benchmark_version": BENCHMARK_VERSION,
        "created_time": created_time,
        "suite": suite,
        "host": host_name(),
        "device": device_info,
        "environment": env,
        **body,
        "results": run.results,
        "ceilings": ceilings,
        "efficiency": derive_efficiency(run.results, ceilings),
        "duration_seconds": run.elapsed_seconds,
        "notes": run.notes,
        "warnings": [],
    }


def run_workload_suite(
    shape,
    device: str,
    *,
    progress: ProgressCallback | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> dict:
    """The workload suite (bench/workload_suite.py): the operator table of `shape` measured on
    `device`, as a profile document (`suite` "workload", `workload`, `operators`, `topology`)."""
    import torch

    from flopwatt.bench.workload_suite import count_workload_steps, measure_workload

    resolved = resolve_device(device)
    torch.manual_seed(RANDOM_SEED)
    created_time = utc_now_iso()
    device_info = cuda_device(torch.cuda.current_device()) if resolved == "cuda" else cpu_device()
    harness = Harness(resolved, CacheFlusher(resolved), should_cancel)
    run = SuiteRun(resolved, harness, progress, should_cancel, 1 + count_workload_steps(shape, resolved))
    if progress is not None:
        progress(0.0, f"{WORKLOAD_SUITE} suite ({shape.model_id or 'custom model'}) on {device_info['name']}")
    if resolved == "cuda":
        _warm_up_gpu(run, GPU_WORKLOAD_WARMUP_SECONDS)
    run.step("warm-up")
    operators, groups = measure_workload(run, shape)
    largest_group = max((g["group_size"] for g in groups), default=1)
    document = _profile_document(
        WORKLOAD_SUITE,
        created_time,
        device_info,
        environment(resolved),
        run,
        workload=shape.as_dict(),
        operators=operators,
        topology={"nodes": 1, "processes_per_node": largest_group, "launcher": "local spawn"},
    )
    document["power_unavailable_reason"] = "the workload suite times operators; it does not measure power"
    if groups:
        document["collective_groups"] = groups
    if progress is not None:
        progress(1.0, "done")
    return document


__all__ = ["BenchmarkCancelled", "DeviceUnavailable", "resolve_device", "run_suite", "run_workload_suite"]
