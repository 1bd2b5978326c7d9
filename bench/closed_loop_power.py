"""Power and energy of the closed loop's real steps: one NVML window per step (bench/power.py).

Why: the estimator's accelerator power (training: idle + (load − idle) × busy; serving:
estimate/accelerator_power.py) was checked against GEMM and STREAM windows only, never against a
real workload. After a check's timed steps (so the timings are unchanged) the same step, on the
same model, optimizer and KV cache, runs again for one window of at least
`power.MIN_WINDOW_SECONDS` (5 s: the energy counter updates about every 100 ms, so ≥ 50 updates),
in units of about 0.2 s of back-to-back steps and one synchronise (`power.batched_work`). The
window's counter energy over the steps in it is the energy per step; over its seconds, the mean
watts. The caller predicts the same steps' power and compares.

Decode and its KV cache: `measure_decode` sizes the cache to hold exactly the timed steps'
positions, and a 5 s window at batch 8 is about 700 steps of ~7 ms on an H100, far more than
the 32 timed ones. Rather than size the cache for a window whose step count is known only
afterwards (and let the attention context grow ~700 tokens past the timed steps'), each window
step cycles its cache position through the timed steps' range [context_start, context_end)
(`cycling_step`): the attention reads the same cache lengths as the timed steps, with the same
mean, and the cache never overflows. Rewriting keys and values at a reused position changes
only their values, which are random anyway.

Added time on an H100 (1B-class preset), in one round only (the caller's choice: the last):
training ~0.16 s a step in units of 2 → ≥ 5 s plus at most one unit, ≈ 5.3 s and ~32 steps;
decode ~7 ms a step in units of 29 → ≈ 5.2 s and ~720 steps; ≈ 11 s in all (the closed loop
with `--repeats 3` took 47 s on 2026-11-28).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from flopwatt.bench.power import MIN_WINDOW_SECONDS, NvmlDevice, NvmlUnavailable, PowerWindow, batched_work
from flopwatt.bench.suite_config import POWER_UNIT_OF_WORK_SECONDS

POWER_CHECKS = ("training_step", "decode_step")  # the DDP step's ranks are other processes
CPU_REASON = "power is measured through NVML on CUDA devices only; this closed loop runs on the CPU"
TURNED_OFF_REASON = "turned off (--no-power)"


@dataclass(frozen=True)
class StepPower:
    """One window of a repeated step: the NVML window and the steps in each of its units."""

    window: PowerWindow
    steps_per_unit: int

    @property
    def steps(self) -> int:
        return self.window.iterations * self.steps_per_unit

    @property
    def measured_joules_per_step(self) -> float:
        return self.window.energy_joules / self.steps

    @property
    def measured_seconds_per_step(self) -> float:
        return self.window.seconds / self.steps

    def as_dict(self) -> dict:
        return {
            "measured_watts": self.window.average_watts,
            "measured_joules_per_step": self.measured_joules_per_step,
            "measured_seconds_per_step": self.measured_seconds_per_step,
            "steps": self.steps,
            "steps_per_unit": self.steps_per_unit,
            "window": self.window.summary(),
        }


def device_synchronize(device: str) -> Callable[[], None]:
    """What ends a unit of work: the device's queued work finished (nothing to wait for on the CPU)."""
    if device == "cuda":
        import torch

        return torch.cuda.synchronize
    return lambda: None


@dataclass(frozen=True)
class StepPowerMeter:
    """An NVML meter and the window each step is held for (`window_seconds`: tests shorten it)."""

    meter: Any  # NvmlDevice, or a stand-in with its measure_window
    window_seconds: float = MIN_WINDOW_SECONDS

    def measure(
        self, label: str, step: Callable[[], object], check: Callable[[], None], seconds_per_step: float, device: str
    ) -> dict:
        """`StepPower.as_dict()` of `step` held for one window, then `check`ed; or {"skipped": why}
        when NVML stopped answering, its counter did not advance, or the step failed its check
        after the window (a failed window never costs the timings already taken)."""
        from flopwatt.kernels.workload import VerificationError

        work, calls = batched_work(step, seconds_per_step, POWER_UNIT_OF_WORK_SECONDS, device_synchronize(device))
        try:
            window = self.meter.measure_window(label, work, self.window_seconds)
            check()
        except NvmlUnavailable as error:
            return {"skipped": str(error)}
        except VerificationError as error:
            return {"skipped": f"the {label} failed its check after the power window: {error}"}
        return StepPower(window, calls).as_dict()


def cycling_step(step: Callable[[], None], state: dict, first_position: int, end_position: int) -> Callable[[], None]:
    """`step` (bench.closed_loop.decode_step_and_check's, which advances `state["position"]`) with
    the position brought back to `first_position` whenever it reaches `end_position`, so a window
    of any length reads cache lengths in [first_position + 1, end_position] and never writes past
    a cache of `end_position` positions."""
    if not 0 <= first_position < end_position:
        raise ValueError(f"positions: need 0 ≤ first < end, got {first_position}, {end_position}")

    def cycled() -> None:
        if state["position"] >= end_position:
            state["position"] = first_position
        step()

    return cycled


def open_step_power_meter(device: str, uuid: str | None, turned_off: bool) -> tuple[StepPowerMeter | None, str | None]:
    """(meter, None) for a CUDA device NVML can meter, else (None, the reason power is absent):
    turned off, the CPU, or `power.NvmlUnavailable`'s (no nvidia-ml-py, no driver, MIG, no counter)."""
    if turned_off:
        return None, TURNED_OFF_REASON
    if device != "cuda":
        return None, CPU_REASON
    try:
        return StepPowerMeter(NvmlDevice.open(0, uuid=uuid)), None
    except NvmlUnavailable as error:
        return None, str(error)
