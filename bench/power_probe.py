"""Power and energy of the suite's workloads: an idle baseline first, then one steady window
(≥ 5 s) per GEMM precision at its best shape and one memory-bound window (the STREAM triad, or
torch's device copy where Numba's CUDA target cannot run).

Joules per FLOP / per byte are reported total (energy ÷ work) and dynamic (idle power
subtracted), as anchors-microbench §9 proposes. When NVML is unavailable the caller leaves
the "power" object out and records the reason instead (never zeros, never guesses).
"""

from __future__ import annotations

import time

from flopwatt.bench.power import NvmlDevice, PowerWindow, batched_work
from flopwatt.bench.runner import SuiteRun
from flopwatt.bench.suite_config import POWER_UNIT_OF_WORK_SECONDS, SuiteConfig
from flopwatt.kernels.workload import Workload

IDLE_SETTLE_SECONDS = 1.0  # let clocks drop after set-up before the idle window opens
FLOAT64_BYTES = 8  # the triad's element: the copy fallback moves arrays of the same bytes


def _repeat_batch(workload: Workload, median_seconds: float):
    """One unit of work for a power window: ~0.2 s of back-to-back calls, then a synchronise."""
    import torch

    return batched_work(workload.run, median_seconds, POWER_UNIT_OF_WORK_SECONDS, torch.cuda.synchronize)


def _loaded_window(
    run: SuiteRun, meter: NvmlDevice, config: SuiteConfig, label: str, workload: Workload, work_per_call: float
) -> tuple[PowerWindow, float] | None:
    """Verify, time and then hold `workload` for one power window; returns the window and the
    work done in it (FLOPs or bytes), or None after recording why (a failed check is a skip,
    not a crash that would cost every timing already taken)."""
    try:
        measurement = run.harness.measure(workload, config.stream_plan)  # verify + a median for batching
        if not measurement.verified:
            run.record_skip(f"power {label}", f"verification failed, no power window: {measurement.error}")
            return None
        work, calls = _repeat_batch(workload, measurement.median_seconds or 0.0)
        window = meter.measure_window(label, work, config.power_window_seconds, should_cancel=run.check_cancel_flag)
    finally:
        workload.close()
    return window, window.iterations * calls * work_per_call


def _dynamic_joules(window: PowerWindow, idle_watts: float) -> float | None:
    """Energy above the idle baseline; None when the window sat at or below idle power, which
    says nothing about the dynamic cost (omitted rather than reported as zero or negative)."""
    dynamic = window.energy_joules - idle_watts * window.seconds
    return dynamic if dynamic > 0 else None


def _memory_bound_workload(config: SuiteConfig) -> tuple[str, Workload, str]:
    """(window label, workload, note) of the memory-bound power window: the STREAM triad through
    Numba CUDA, or where Numba's CUDA target cannot run, torch's device copy over the same array
    size. Why always one: the power of moving memory is what serving's bandwidth-bound decode
    draws, and without it a profile has only the GEMM windows' (the 2026-11-23 H100 session had
    no Numba CUDA, so its profiles have no memory-bound power)."""
    from flopwatt.bench.probes import stream_elements
    from flopwatt.kernels.copy import build_device_copy
    from flopwatt.kernels.numba_cuda_stream import build_numba_cuda_stream, numba_cuda_unavailable_reason

    elements = stream_elements(config)
    reason = numba_cuda_unavailable_reason()
    if not reason:
        return "triad_fp64", build_numba_cuda_stream("triad", elements), ""
    note = f"power: the memory-bound window is torch's device copy (Numba CUDA cannot run here: {reason})"
    return "copy_fp32", build_device_copy(elements * FLOAT64_BYTES, "cuda"), note


def run_power_probe(run: SuiteRun, config: SuiteConfig, meter: NvmlDevice, best_gemm_shapes: dict) -> dict:
    """Returns the profile's "power" object."""
    from flopwatt.kernels.gemm import build_gemm

    time.sleep(IDLE_SETTLE_SECONDS)
    idle = meter.measure_window(
        "idle", lambda: time.sleep(0.05), config.power_window_seconds, should_cancel=run.check_cancel_flag
    )
    run.step("power idle baseline")
    idle_watts = idle.average_watts
    windows = [idle]
    power: dict = {
        "idle_watts": idle_watts,
        "load_watts": {},
        "joules_per_flop": {},
        "dynamic_joules_per_flop": {},
        "windows": [],
    }
    for precision in config.power_precisions:
        shape = best_gemm_shapes.get(precision)
        if shape is None:
            run.record_skip(f"power gemm {precision}", "no verified GEMM of this precision to load the GPU with")
        else:
            workload = build_gemm(precision, *shape, device="cuda")
            loaded = _loaded_window(run, meter, config, f"gemm_{precision}", workload, workload.flops)
            if loaded is not None:
                window, work_flops = loaded
                power["load_watts"][f"gemm_{precision}"] = window.average_watts
                power["joules_per_flop"][precision] = window.energy_joules / work_flops
                dynamic = _dynamic_joules(window, idle_watts)
                if dynamic is not None:
                    power["dynamic_joules_per_flop"][precision] = dynamic / work_flops
                windows.append(window)
        run.step(f"power gemm {precision}")
    label, workload, note = _memory_bound_workload(config)
    if note:
        run.notes.append(note)
    loaded = _loaded_window(run, meter, config, label, workload, workload.bytes)
    if loaded is not None:
        window, work_bytes = loaded
        power["load_watts"][label] = window.average_watts
        power["joules_per_byte"] = window.energy_joules / work_bytes
        power["memory_bound_window"] = label
        dynamic = _dynamic_joules(window, idle_watts)
        if dynamic is not None:
            power["dynamic_joules_per_byte"] = dynamic / work_bytes
        windows.append(window)
    run.step("power triad")
    power["windows"] = [w.summary() for w in windows]
    throttled = [w.label for w in windows if w.summary()["throttled"]]
    if throttled:
        run.notes.append(f"power: clocks were throttled during {', '.join(throttled)} (see power.windows)")
    return power


def count_power_steps(config: SuiteConfig) -> int:
    return 2 + len(config.power_precisions)
