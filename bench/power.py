"""GPU power and energy through NVML (`nvidia-ml-py`, module `pynvml`).

Energy comes from the total-energy counter (nvmlDeviceGetTotalEnergyConsumption, millijoules
since the driver loaded, Volta and later), differenced over steady windows of at least 5 s —
the counter updates about every 100 ms and `power.draw` is a 1 s average that A100/H100 sample
only 25 % of the time (Zeus, CodeCarbon; Yang et al. arXiv 2312.02741; anchors-microbench §3,
§7.12, read 2026-11). A background thread samples the counter, power, clocks, temperature and
clock-event (throttle) reasons every 100 ms; a counter that goes backwards (driver reload or
reset) contributes its new value as the energy since the reset, and the window records it.
Without NVML nothing here invents a number: the caller records why power is absent.
"""

from __future__ import annotations

import math
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

MIN_WINDOW_SECONDS = 5.0  # ≥ 50 counter updates (anchors-microbench §7.12)
SAMPLE_INTERVAL_SECONDS = 0.1  # the counter's update period on Volta+ (Zeus docs, 2026-08)
MILLI = 1e-3

# NVML clock-event reason bits (nvml.h, nvmlClocksEventReason*, driver 535+; same values as the
# older nvmlClocksThrottleReason* names).
CLOCK_EVENT_REASONS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
NVML_DEVICE_MIG_ENABLE = 1  # nvml.h, nvmlDeviceGetMigMode's "current mode" when MIG is on
THROTTLING_REASON_BITS = 0x4 | 0x8 | 0x20 | 0x40 | 0x80  # reasons that lower clocks under load


class NvmlUnavailable(Exception):
    """NVML cannot be used; the message is the `power_unavailable_reason` of the profile."""


def reason_names(bitmask: int) -> list[str]:
    return [name for bit, name in CLOCK_EVENT_REASONS.items() if bitmask & bit]


def physical_device_selector(logical_index: int, visible_devices: str | None) -> tuple[str, Any]:
    """Map a CUDA logical index to what NVML needs, honouring CUDA_VISIBLE_DEVICES.

    NVML ignores CUDA_VISIBLE_DEVICES and numbers GPUs physically, so logical device 0 under
    CUDA_VISIBLE_DEVICES=3,1 is physical 3. Entries may be indices or GPU-/MIG- UUIDs (CUDA
    programming guide, "CUDA Environment Variables"). Returns ("index", n) or ("uuid", text).
    """
    if logical_index < 0:
        raise ValueError(f"logical_index: must be ≥ 0, got {logical_index}")
    if visible_devices is None or not visible_devices.strip():
        return ("index", logical_index)
    entries = [e.strip() for e in visible_devices.split(",") if e.strip()]
    if logical_index >= len(entries):
        raise NvmlUnavailable(f"CUDA_VISIBLE_DEVICES={visible_devices!r} has no logical device {logical_index}")
    entry = entries[logical_index]
    if entry.isdigit():
        return ("index", int(entry))
    return ("uuid", entry)


def physical_gpu_index(device: dict, variables: dict | None) -> int | None:
    """The physical (NVML, nvidia-smi, dcgm-exporter `gpu` label) index of a profile's CUDA
    device, or None when it cannot be known.

    `device["index"]` is torch's logical index, which differs from the physical one under
    CUDA_VISIBLE_DEVICES (logical 0 under CUDA_VISIBLE_DEVICES=3 is GPU 3). `variables` are the
    environment variables the benchmark ran with (the profile's `environment.variables`, which
    records every CUDA_* variable); a CUDA_VISIBLE_DEVICES entry given as a UUID has no index
    here, so None: the UUID alone identifies the GPU then. None for CPUs too."""
    if device.get("kind") != "cuda":
        return None
    logical = device.get("index", 0)
    if not isinstance(logical, int) or isinstance(logical, bool) or logical < 0:
        return None
    try:
        kind, value = physical_device_selector(logical, (variables or {}).get("CUDA_VISIBLE_DEVICES"))
    except NvmlUnavailable:  # the recorded mask does not have this logical device
        return None
    return value if kind == "index" else None


@dataclass
class PowerSample:
    time_seconds: float
    energy_millijoules: int
    power_watts: float | None
    sm_clock_mhz: float | None
    memory_clock_mhz: float | None
    temperature_celsius: float | None
    clock_event_reasons: int


@dataclass
class PowerWindow:
    """One steady window: energy from the counter, the sampled context, and the work done."""

    label: str
    seconds: float
    energy_joules: float
    iterations: int
    counter_resets: int
    samples: list[PowerSample] = field(default_factory=list)

    @property
    def average_watts(self) -> float:
        return self.energy_joules / self.seconds if self.seconds > 0 else float("nan")

    def summary(self) -> dict:
        def median_of(attribute: str) -> float | None:
            values = [getattr(s, attribute) for s in self.samples if getattr(s, attribute) is not None]
            return statistics.median(values) if values else None

        reasons = 0
        for sample in self.samples:
            reasons |= sample.clock_event_reasons
        temperatures = [s.temperature_celsius for s in self.samples if s.temperature_celsius is not None]
        return {
            "label": self.label,
            "seconds": self.seconds,
            "energy_joules": self.energy_joules,
            "average_watts": self.average_watts,
            "iterations": self.iterations,
            "counter_resets": self.counter_resets,
            "sample_count": len(self.samples),
            "median_sm_clock_mhz": median_of("sm_clock_mhz"),
            "median_memory_clock_mhz": median_of("memory_clock_mhz"),
            "median_power_watts": median_of("power_watts"),
            "max_temperature_celsius": max(temperatures) if temperatures else None,
            "clock_event_reasons": reason_names(reasons),
            "throttled": bool(reasons & THROTTLING_REASON_BITS),
        }


def batched_work(
    run: Callable[[], object], seconds_per_call: float, unit_seconds: float, synchronize: Callable[[], None]
) -> tuple[Callable[[], None], int]:
    """(one unit of work for `NvmlDevice.measure_window`, calls of `run` in it): enough
    back-to-back calls to last about `unit_seconds`, then one `synchronize`, so the loop's
    overhead is negligible and the device never waits for the host between calls. Why batch:
    a window checks the clock once per unit, and synchronising after every short call (a 7 ms
    decode step) would add host gaps the timed steps do not have."""
    calls = max(1, math.ceil(unit_seconds / max(seconds_per_call, 1e-9)))

    def work() -> None:
        for _ in range(calls):
            run()
        synchronize()

    return work, calls


def energy_delta_millijoules(previous: int, current: int) -> tuple[int, bool]:
    """Counter difference; a decrease means the counter restarted from zero (driver reload or
    reset — a 64-bit wrap of a millijoule counter takes ~10⁷ years), so the new value is the
    energy since the reset. Returns (delta, reset_happened)."""
    if current >= previous:
        return current - previous, False
    return current, True


def _handle_by_uuid(nvml: Any, uuid: str) -> Any:
    """The NVML handle of the device CUDA reports as `uuid`.

    torch prints a bare UUID; NVML wants it prefixed "GPU-" for a whole GPU and "MIG-" for a MIG
    instance (CUDA reports the instance's own UUID inside one; NVML docs, "Device Queries",
    driver R470+). Try the whole-GPU form first, then the MIG form."""
    if uuid.startswith(("GPU-", "MIG-")):
        return nvml.nvmlDeviceGetHandleByUUID(uuid)
    try:
        return nvml.nvmlDeviceGetHandleByUUID(f"GPU-{uuid}")
    except Exception:
        return nvml.nvmlDeviceGetHandleByUUID(f"MIG-{uuid}")


def _refuse_shared_counter(nvml: Any, handle: Any) -> None:
    """Raise NvmlUnavailable for a MIG instance or a GPU in MIG mode: the energy counter belongs
    to the whole board and counts every instance's work, so it cannot be charged to ours."""
    is_mig_instance = getattr(nvml, "nvmlDeviceIsMigDeviceHandle", None)
    if is_mig_instance is not None:
        try:
            instance = is_mig_instance(handle)
        except Exception:  # older drivers: not a MIG handle
            instance = 0
        if isinstance(instance, int) and instance:
            raise NvmlUnavailable(
                "this is a MIG instance: NVML's energy counter covers the whole GPU and every instance on it"
            )
    get_mig_mode = getattr(nvml, "nvmlDeviceGetMigMode", None)
    if get_mig_mode is not None:
        try:
            modes = get_mig_mode(handle)  # [current, pending]
        except Exception:  # GPUs without MIG answer NOT_SUPPORTED
            modes = [0]
        current = modes[0] if isinstance(modes, (list, tuple)) and modes else modes
        if isinstance(current, int) and current == NVML_DEVICE_MIG_ENABLE:
            raise NvmlUnavailable(
                "the GPU is in MIG mode: its energy counter covers every instance, not this run alone"
            )


class NvmlDevice:
    """One GPU seen through NVML; `nvml` is the pynvml module (tests pass an autospec mock)."""

    def __init__(self, nvml: Any, handle: Any) -> None:
        self.nvml = nvml
        self.handle = handle

    @classmethod
    def open(cls, logical_index: int = 0, uuid: str | None = None, nvml: Any = None) -> "NvmlDevice":
        """Initialise NVML and find the GPU torch calls `logical_index` (by UUID when known)."""
        if nvml is None:
            try:
                import pynvml as nvml  # type: ignore[no-redef]
            except ImportError as error:
                raise NvmlUnavailable(f"nvidia-ml-py is not installed ({error})") from None
        try:
            nvml.nvmlInit()
        except Exception as error:  # pynvml raises NVMLError subclasses; no driver → library missing
            raise NvmlUnavailable(f"NVML could not be initialised: {error}") from None
        try:
            if uuid:
                handle = _handle_by_uuid(nvml, uuid)
            else:
                kind, value = physical_device_selector(logical_index, os.environ.get("CUDA_VISIBLE_DEVICES"))
                handle = (
                    nvml.nvmlDeviceGetHandleByIndex(value) if kind == "index" else nvml.nvmlDeviceGetHandleByUUID(value)
                )
        except NvmlUnavailable:
            raise
        except Exception as error:
            raise NvmlUnavailable(
                f"NVML cannot find this GPU ({uuid or f'logical device {logical_index}'}): {error}"
            ) from None
        _refuse_shared_counter(nvml, handle)
        try:
            nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        except Exception as error:
            raise NvmlUnavailable(f"NVML has no energy counter for this GPU: {error}") from None
        return cls(nvml, handle)

    def _optional(self, function: Callable[[], Any]) -> Any:
        try:
            return function()
        except Exception:  # a field this GPU or driver does not report stays None, not 0
            return None

    def sample(self) -> PowerSample:
        nvml, handle = self.nvml, self.handle
        reasons_function = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or getattr(
            nvml, "nvmlDeviceGetCurrentClocksThrottleReasons"
        )
        power_milliwatts = self._optional(lambda: nvml.nvmlDeviceGetPowerUsage(handle))
        try:
            energy_millijoules = int(nvml.nvmlDeviceGetTotalEnergyConsumption(handle))
        except Exception as error:  # the one reading a window cannot do without
            raise NvmlUnavailable(f"NVML stopped answering the energy counter: {error}") from None
        return PowerSample(
            time_seconds=time.perf_counter(),
            energy_millijoules=energy_millijoules,
            power_watts=power_milliwatts * MILLI if power_milliwatts is not None else None,
            sm_clock_mhz=self._optional(lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM)),
            memory_clock_mhz=self._optional(lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_MEM)),
            temperature_celsius=self._optional(
                lambda: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)
            ),
            clock_event_reasons=int(self._optional(lambda: reasons_function(handle)) or 0),
        )

    def context(self) -> dict:
        """Static facts for the profile's environment block (None where NVML has no answer)."""
        nvml, handle = self.nvml, self.handle

        def decoded(value: Any) -> Any:
            return value.decode() if isinstance(value, bytes) else value

        limit = self._optional(lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(handle))
        return {
            "driver": decoded(self._optional(nvml.nvmlSystemGetDriverVersion)),
            "nvml_uuid": decoded(self._optional(lambda: nvml.nvmlDeviceGetUUID(handle))),
            "power_limit_watts": limit * MILLI if limit is not None else None,
            "clocks": {
                "max_sm_mhz": self._optional(lambda: nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_SM)),
                "max_memory_mhz": self._optional(lambda: nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_MEM)),
                "sm_mhz": self._optional(lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM)),
                "memory_mhz": self._optional(lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_MEM)),
            },
            "temperature_celsius": self._optional(
                lambda: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)
            ),
        }

    def measure_window(
        self,
        label: str,
        work: Callable[[], None],
        min_seconds: float = MIN_WINDOW_SECONDS,
        sample_interval_seconds: float = SAMPLE_INTERVAL_SECONDS,
        should_cancel: Callable[[], bool] | None = None,
    ) -> PowerWindow:
        """Run `work()` (one synchronised unit, e.g. a batch of GEMMs) repeatedly for at least
        `min_seconds` while sampling; energy is the counter delta between the first and last
        sample, which bracket exactly the iterations counted."""
        samples: list[PowerSample] = [self.sample()]
        stop = threading.Event()
        failures: list[NvmlUnavailable] = []

        def sampler() -> None:
            while not stop.wait(sample_interval_seconds):
                try:
                    samples.append(self.sample())
                except NvmlUnavailable as error:
                    failures.append(error)
                    return

        thread = threading.Thread(target=sampler, name="flopwatt-nvml-sampler", daemon=True)
        thread.start()
        iterations = 0
        try:
            while time.perf_counter() - samples[0].time_seconds < min_seconds:
                if should_cancel is not None and should_cancel():
                    from flopwatt.bench.errors import BenchmarkCancelled

                    raise BenchmarkCancelled("benchmark cancelled")
                work()
                iterations += 1
        finally:
            stop.set()
            thread.join()
        if failures:
            raise failures[0]
        samples.append(self.sample())
        energy_millijoules = 0
        resets = 0
        for previous, current in zip(samples, samples[1:]):
            delta, reset = energy_delta_millijoules(previous.energy_millijoules, current.energy_millijoules)
            energy_millijoules += delta
            resets += int(reset)
        seconds = samples[-1].time_seconds - samples[0].time_seconds
        if energy_millijoules <= 0:  # a powered GPU always uses energy: the counter is not live
            raise NvmlUnavailable(f"NVML's energy counter did not advance during the {seconds:.1f} s {label} window")
        return PowerWindow(
            label=label,
            seconds=seconds,
            energy_joules=energy_millijoules * MILLI,
            iterations=iterations,
            counter_resets=resets,
            samples=samples,
        )
