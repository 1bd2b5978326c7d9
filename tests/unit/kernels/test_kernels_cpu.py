"""Kernels on the CPU: FLOP/byte accounting and reference checks that really fail on bad output."""

from __future__ import annotations

import pytest
import torch

from flopwatt.kernels.attention import attention_flops, build_attention
from flopwatt.kernels.copy import build_device_copy
from flopwatt.kernels.gemm import build_gemm, gemm_bytes, gemm_flops
from flopwatt.kernels.launch import build_launch
from flopwatt.kernels.numba_cpu_stream import build_numba_cpu_stream
from flopwatt.kernels.precision import get_precision
from flopwatt.kernels.stream_reference import STREAM_OPERATIONS, stream_bytes
from flopwatt.kernels.workload import VerificationError


def test_gemm_accounting_and_check_passes():
    workload = build_gemm("fp32", 64, 32, 16, device="cpu")
    assert workload.flops == 2 * 64 * 32 * 16 == gemm_flops(64, 32, 16)
    assert workload.bytes == (64 * 16 + 16 * 32 + 64 * 32) * 4 == gemm_bytes(64, 32, 16, get_precision("fp32"))
    workload.verify()


def test_gemm_check_catches_wrong_output(monkeypatch):
    workload = build_gemm("fp32", 64, 64, 64, device="cpu")
    real_mm = torch.mm

    def broken_mm(a, b, out):  # a fast path that skips a term: must never be timed
        real_mm(a, b, out=out)
        return out.mul_(1.01)

    monkeypatch.setattr(torch, "mm", broken_mm)
    with pytest.raises(VerificationError, match="relative error"):
        workload.verify()


@pytest.mark.parametrize("m,n,k", [(0, 4, 4), (4, -1, 4), (4, 4, 2.5)])
def test_gemm_rejects_bad_shapes(m, n, k):
    with pytest.raises(ValueError, match="shape"):
        build_gemm("fp32", m, n, k, device="cpu")


def test_gpu_only_precisions_refused_on_cpu():
    with pytest.raises(ValueError, match="precision"):
        build_gemm("tf32", 16, 16, 16, device="cpu")
    with pytest.raises(ValueError, match="precision"):
        build_gemm("fp8", 16, 16, 16, device="cpu")
    with pytest.raises(ValueError, match="unknown"):
        get_precision("int4")


def test_attention_flop_convention():
    forward = attention_flops(2, 4, 128, 64, causal=False, pass_name="forward")
    assert forward == 4 * 2 * 4 * 128**2 * 64
    assert attention_flops(2, 4, 128, 64, causal=True, pass_name="forward") == forward / 2
    assert attention_flops(2, 4, 128, 64, causal=False, pass_name="backward") == 2.5 * forward


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("pass_name", ["forward", "backward"])
def test_attention_checks_pass(causal, pass_name):
    workload = build_attention("fp32", 1, 2, 64, 32, causal=causal, pass_name=pass_name, device="cpu")
    workload.verify()
    assert workload.extra["causal"] is causal and workload.extra["pass"] == pass_name
    # the dispatcher's pick is recorded (a CPU build has a flash kernel and the math fallback)
    assert workload.extra["sdpa_backend"] in ("FLASH_ATTENTION", "MATH")


def test_attention_check_catches_non_causal_output_for_causal_request(monkeypatch):
    import torch.nn.functional as functional

    real = functional.scaled_dot_product_attention
    monkeypatch.setattr(
        functional, "scaled_dot_product_attention", lambda q, k, v, is_causal: real(q, k, v, is_causal=not is_causal)
    )
    workload = build_attention("fp32", 1, 2, 64, 32, causal=True, pass_name="forward", device="cpu")
    with pytest.raises(VerificationError):
        workload.verify()


def test_device_copy_and_launch_counter():
    copy = build_device_copy(4096, "cpu")
    assert copy.bytes == 2 * 4096
    copy.verify()
    launch = build_launch(25, "cpu")
    launch.verify()
    assert launch.shape == {"launches": 25}
    with pytest.raises(ValueError, match="graph"):
        build_launch(5, "cpu", use_graph=True)


@pytest.mark.parametrize("operation", STREAM_OPERATIONS)
def test_numba_cpu_stream_verifies(operation):
    workload = build_numba_cpu_stream(operation, 10_000)
    assert workload.bytes == stream_bytes(operation, 10_000)
    workload.verify()


def test_numba_cpu_stream_byte_counts():
    assert stream_bytes("copy", 10) == 160 and stream_bytes("triad", 10) == 240 and stream_bytes("read", 10) == 80
    with pytest.raises(ValueError, match="operation"):
        build_numba_cpu_stream("dot", 10)
    with pytest.raises(ValueError, match="elements"):
        build_numba_cpu_stream("copy", 0)


@pytest.mark.parametrize(("m", "rows"), [(1, 16), (8, 16), (16, 16), (17, 32), (4096, 4096)])
def test_fp8_gemm_rows_are_padded_to_what_scaled_mm_accepts(m, rows):
    from flopwatt.kernels.gemm import fp8_padded_rows

    assert fp8_padded_rows(m) == rows


def test_fp8_shapes_are_refused_only_for_weight_dimensions_scaled_mm_cannot_take():
    from flopwatt.kernels.gemm import fp8_shape_problem

    assert fp8_shape_problem(1, 4096, 14336) is None  # decode: rows are padded
    assert "n and k" in fp8_shape_problem(16, 4100, 4096)
    assert "n and k" in fp8_shape_problem(16, 4096, 100)
