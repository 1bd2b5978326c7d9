"""The NVML power meter against an autospec'd pynvml: counter deltas, resets, device mapping,
and the absent-not-zero rule."""

from __future__ import annotations

import time
from unittest import mock

import pynvml
import pytest

from flopwatt.bench.power import (
    NvmlDevice,
    NvmlUnavailable,
    energy_delta_millijoules,
    physical_device_selector,
    reason_names,
)


def fake_nvml(energy_values_mj):
    nvml = mock.create_autospec(pynvml, instance=False)
    nvml.NVML_CLOCK_SM, nvml.NVML_CLOCK_MEM, nvml.NVML_TEMPERATURE_GPU = (
        pynvml.NVML_CLOCK_SM,
        pynvml.NVML_CLOCK_MEM,
        pynvml.NVML_TEMPERATURE_GPU,
    )
    readings = iter(energy_values_mj)
    last = [0]

    def energy(_handle):
        try:
            last[0] = next(readings)
        except StopIteration:
            pass
        return last[0]

    nvml.nvmlDeviceGetTotalEnergyConsumption.side_effect = energy
    nvml.nvmlDeviceGetPowerUsage.return_value = 250_000
    nvml.nvmlDeviceGetClockInfo.return_value = 1980
    nvml.nvmlDeviceGetTemperature.return_value = 61
    nvml.nvmlDeviceGetCurrentClocksEventReasons.return_value = 0x4
    nvml.nvmlDeviceGetEnforcedPowerLimit.return_value = 700_000
    nvml.nvmlSystemGetDriverVersion.return_value = "580.65"
    nvml.nvmlDeviceGetUUID.return_value = "GPU-abc"
    nvml.nvmlDeviceGetMaxClockInfo.return_value = 1980
    return nvml


def test_counter_delta_and_reset():
    assert energy_delta_millijoules(1000, 1500) == (500, False)
    assert energy_delta_millijoules(10_000_000, 120) == (120, True)


def test_cuda_visible_devices_mapping():
    assert physical_device_selector(0, None) == ("index", 0)
    assert physical_device_selector(1, "3,1") == ("index", 1)
    assert physical_device_selector(0, "3,1") == ("index", 3)
    assert physical_device_selector(0, "GPU-1234-abcd") == ("uuid", "GPU-1234-abcd")
    with pytest.raises(NvmlUnavailable, match="no logical device 2"):
        physical_device_selector(2, "0,1")


def test_open_uses_physical_index_and_uuid(monkeypatch):
    nvml = fake_nvml([0])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5")
    NvmlDevice.open(0, nvml=nvml)
    nvml.nvmlDeviceGetHandleByIndex.assert_called_once_with(5)
    NvmlDevice.open(0, uuid="1234-5678", nvml=nvml)
    nvml.nvmlDeviceGetHandleByUUID.assert_called_once_with("GPU-1234-5678")


def test_open_without_driver_says_why():
    nvml = fake_nvml([0])
    nvml.nvmlInit.side_effect = pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    with pytest.raises(NvmlUnavailable, match="could not be initialised"):
        NvmlDevice.open(0, nvml=nvml)


def test_window_energy_is_counter_delta_with_reset():
    # start 1000 mJ; climbs by 300 per sample; then the counter resets and reads 200
    nvml = fake_nvml([1000, 1300, 1600, 200, 500])
    device = NvmlDevice(nvml, handle=object())
    window = device.measure_window("unit", lambda: time.sleep(0.005), min_seconds=0.3, sample_interval_seconds=0.01)
    # deltas: +300 +300 +200(reset) +300, then the counter stays at 500
    assert window.energy_joules == pytest.approx(1.1)
    assert window.counter_resets == 1 and window.iterations > 0
    summary = window.summary()
    assert summary["clock_event_reasons"] == ["sw_power_cap"] and summary["throttled"]
    assert summary["median_power_watts"] == 250.0 and summary["max_temperature_celsius"] == 61


def test_unreported_fields_stay_none_not_zero():
    nvml = fake_nvml([0])
    nvml.nvmlDeviceGetPowerUsage.side_effect = pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
    nvml.nvmlDeviceGetEnforcedPowerLimit.side_effect = pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
    device = NvmlDevice(nvml, handle=object())
    assert device.sample().power_watts is None
    context = device.context()
    assert context["power_limit_watts"] is None and context["driver"] == "580.65"


def test_reason_names():
    assert reason_names(0x1 | 0x40) == ["gpu_idle", "hw_thermal_slowdown"]


def test_the_memory_bound_power_window_falls_back_to_a_torch_copy_without_numba_cuda(monkeypatch):
    """Serving's decode is bandwidth-bound, so a profile needs the power of moving memory: the
    STREAM triad through Numba CUDA where it runs, else torch's device copy over the same array
    bytes (the 2026-11-23 H100 session had no Numba CUDA and so no memory-bound window), with a
    note saying which kernel loaded the GPU."""
    from flopwatt.bench import power_probe
    from flopwatt.bench.suite_config import suite_config
    from flopwatt.kernels import copy, numba_cuda_stream

    config = suite_config("quick", "cuda")
    monkeypatch.setattr("flopwatt.bench.probes.stream_elements", lambda _config: 1000)
    built: dict = {}
    real_copy = copy.build_device_copy

    def device_copy(size_bytes, device, seed=0):
        built["copy"] = (size_bytes, device)
        return real_copy(size_bytes, "cpu", seed)

    monkeypatch.setattr(copy, "build_device_copy", device_copy)
    monkeypatch.setattr(numba_cuda_stream, "numba_cuda_unavailable_reason", lambda: "no CUDA driver")
    label, workload, note = power_probe._memory_bound_workload(config)
    assert label == "copy_fp32" and built["copy"] == (8000, "cuda")  # the triad's 1000 fp64 elements per array
    assert workload.bytes == 2 * 8000 and "torch's device copy" in note and "no CUDA driver" in note

    monkeypatch.setattr(numba_cuda_stream, "numba_cuda_unavailable_reason", lambda: "")
    monkeypatch.setattr(numba_cuda_stream, "build_numba_cuda_stream", lambda operation, elements: (operation, elements))
    assert power_probe._memory_bound_workload(config) == ("triad_fp64", ("triad", 1000), "")
