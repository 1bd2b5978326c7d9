"""CPU checks of the GPU-only paths that no CI machine can run: NVML device mapping under MIG,
a dead or stuck energy counter, out-of-memory during verification, the TF32 switch, and the
Numba CUDA availability probe. Each mocks the one piece a CPU lacks."""

from __future__ import annotations

import time
from unittest import mock

import pynvml
import pytest
import torch
from test_bench_power import fake_nvml

from flopwatt.bench.harness import Harness, MeasurementPlan
from flopwatt.bench.power import NvmlDevice, NvmlUnavailable
from flopwatt.bench.runner import SuiteRun
from flopwatt.kernels.gemm import tf32_mode
from flopwatt.kernels.workload import Workload


def opened(nvml, uuid="1234-abcd"):
    nvml.nvmlDeviceIsMigDeviceHandle.return_value = 0
    nvml.nvmlDeviceGetMigMode.side_effect = pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
    return NvmlDevice.open(0, uuid, nvml=nvml)


def test_bare_uuid_tries_gpu_then_mig_prefix():
    nvml = fake_nvml([5])
    nvml.nvmlDeviceGetHandleByUUID.side_effect = lambda text: (
        "handle" if text == "MIG-1234-abcd" else (_ for _ in ()).throw(pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND))
    )
    assert opened(nvml).handle == "handle"
    assert [c.args[0] for c in nvml.nvmlDeviceGetHandleByUUID.call_args_list] == ["GPU-1234-abcd", "MIG-1234-abcd"]


def test_mig_instance_and_mig_mode_are_refused_with_a_reason():
    nvml = fake_nvml([5])
    nvml.nvmlDeviceIsMigDeviceHandle.return_value = 1
    with pytest.raises(NvmlUnavailable, match="MIG instance"):
        NvmlDevice.open(0, "GPU-1", nvml=nvml)
    nvml = fake_nvml([5])
    nvml.nvmlDeviceIsMigDeviceHandle.return_value = 0
    nvml.nvmlDeviceGetMigMode.return_value = [1, 1]
    with pytest.raises(NvmlUnavailable, match="MIG mode"):
        NvmlDevice.open(0, "GPU-1", nvml=nvml)


def test_unknown_uuid_says_which_device():
    nvml = fake_nvml([5])
    nvml.nvmlDeviceGetHandleByUUID.side_effect = pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
    with pytest.raises(NvmlUnavailable, match="cannot find this GPU"):
        opened(nvml)


def test_stuck_counter_is_unavailable_not_zero_joules():
    device = NvmlDevice(fake_nvml([7000]), handle=object())
    with pytest.raises(NvmlUnavailable, match="did not advance"):
        device.measure_window("idle", lambda: time.sleep(0.005), min_seconds=0.05, sample_interval_seconds=0.01)


def test_counter_that_fails_mid_window_is_unavailable():
    nvml = fake_nvml([1000, 1100])
    calls = {"n": 0}

    def energy(_handle):
        calls["n"] += 1
        if calls["n"] > 2:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
        return 1000 * calls["n"]

    nvml.nvmlDeviceGetTotalEnergyConsumption.side_effect = energy
    device = NvmlDevice(nvml, handle=object())
    with pytest.raises(NvmlUnavailable, match="stopped answering"):
        device.measure_window("load", lambda: time.sleep(0.005), min_seconds=0.1, sample_interval_seconds=0.01)


def _workload_that_runs_out_of_memory(where: str) -> Workload:
    def fail() -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    released = []
    workload = Workload(
        kernel="gemm",
        precision="fp32",
        shape={"m": 1},
        flops=1.0,
        bytes=1.0,
        device="cpu",
        run=fail if where == "run" else (lambda: None),
        verify=fail if where == "verify" else (lambda: None),
        release=lambda: released.append(True),
    )
    workload.extra["released"] = released
    return workload


@pytest.mark.parametrize("where", ["run", "verify"])
def test_out_of_memory_while_measuring_skips_the_shape_only(where):
    run = SuiteRun("cpu", Harness("cpu"))
    workload = _workload_that_runs_out_of_memory(where)
    assert run.measure(lambda: workload, MeasurementPlan(warmup_iterations=1, samples=1), "gemm fp32 16384") is None
    assert run.results == [] and workload.extra["released"] == [True]
    assert run.notes == ["gemm fp32 16384: skipped, out of memory (CUDA out of memory. Tried to allocate 2.00 GiB)"]


def test_tf32_mode_restores_the_callers_setting_even_on_error():
    before = torch.backends.cuda.matmul.allow_tf32
    with pytest.raises(RuntimeError):
        with tf32_mode(not before):
            assert torch.backends.cuda.matmul.allow_tf32 is (not before)
            raise RuntimeError("boom")
    assert torch.backends.cuda.matmul.allow_tf32 is before


def test_numba_cuda_probe_reports_why_instead_of_raising():
    from flopwatt.kernels import numba_cuda_stream

    numba_cuda_stream.numba_cuda_unavailable_reason.cache_clear()
    try:
        with mock.patch.object(numba_cuda_stream, "_allocate", side_effect=RuntimeError("libnvvm.so not found\nmore")):
            assert numba_cuda_stream.numba_cuda_unavailable_reason() == "RuntimeError: libnvvm.so not found"
    finally:
        numba_cuda_stream.numba_cuda_unavailable_reason.cache_clear()
