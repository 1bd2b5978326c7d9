"""The closed loop's operator-table prediction (`flopwatt validate --local`): the DDP step is the
ranks' operators side by side plus the measured all-reduce of every gradient."""

from __future__ import annotations

import pytest

from flopwatt.bench.closed_loop import ClosedLoopModel
from flopwatt.bench.workload_suite import WorkloadShape, collective_cases, enumerate_operators
from flopwatt.estimate.catalog.loader import get_hardware
from flopwatt.estimate.hardware import datasheet_hardware_model
from flopwatt.estimate.measured_profile import OperatorTiming
from flopwatt.estimate.operator_table import OperatorTable
from flopwatt.service.cli.validate_local import ddp_gradient_bytes, predict_from_operators, workload_shape

CONFIG = ClosedLoopModel(layer_count=2, hidden_size=64, attention_head_count=4, ffn_hidden_size=128, vocab_size=256)
REDUCTION_SECONDS = 0.125


def _table(with_reduction: bool) -> OperatorTable:
    shape = WorkloadShape.from_dict(workload_shape(CONFIG))
    rows = [
        OperatorTiming(c.kind, c.pass_name, c.dtype, tuple(sorted((k, float(v)) for k, v in c.shape.items())), 1e-3)
        for c in enumerate_operators(shape, "cpu")[0]
    ]
    if with_reduction:
        for case in collective_cases(shape):
            seconds = REDUCTION_SECONDS if case.use == "training.dp_all_reduce.model" else 1e-6
            rows.append(
                OperatorTiming(case.collective, "forward", "fp32", (("bytes", float(case.size_bytes)),), seconds, 2)
            )
    return OperatorTable(rows)


def test_the_ddp_step_adds_the_measured_all_reduce_of_every_gradient():
    assert ddp_gradient_bytes(CONFIG) == 4 * (2 * (4 * 64 * 64 + 3 * 64 * 128 + 2 * 64) + 2 * 256 * 64 + 64)
    hw = datasheet_hardware_model(get_hardware("cpu"), "fp32")
    checks = {"training_step": {}, "ddp_training_step": {}}
    predicted, coverage = predict_from_operators(CONFIG, hw, _table(True), checks)
    assert predicted["ddp_training_step"] == pytest.approx(2 * predicted["training_step"] + REDUCTION_SECONDS)
    assert coverage["ddp_training_step"]["analytic_seconds"] == 0.0  # measured, not the analytic term
    without, _ = predict_from_operators(CONFIG, hw, _table(False), checks)
    assert without["ddp_training_step"] < predicted["ddp_training_step"]  # the analytic, overlapped reduction


# Each operator the real decode step calls from Python (a top-level op under torch.profiler) →
# the operator-table kind that times it and how many such calls one use of that kind covers.
REAL_DECODE_OPS = {
    "aten::embedding": ("embedding", 1),
    "aten::rms_norm": ("rmsnorm", 1),
    "aten::copy_": ("kv_cache_write", 2),  # `cache[:, :, p:p+1] = k` for the keys and the values
    "aten::scaled_dot_product_attention": ("kv_cache_read", 1),
    "aten::add": ("residual_add", 1),
    "aten::silu": ("swiglu", 1),
    "aten::argmax": ("argmax", 1),
}


def _real_decode_calls(config: ClosedLoopModel) -> dict[str, int]:
    """Top-level ops of one real decode step (bench.closed_loop's model, cache and greedy step)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from flopwatt.bench.closed_loop_model import build_model, kv_caches

    model = build_model(config).eval()
    position = 8
    with torch.inference_mode():
        caches = kv_caches(config, config.decode_batch, position + 1, "cpu")
        token = torch.zeros(config.decode_batch, 1, dtype=torch.long)
        with profile(activities=[ProfilerActivity.CPU]) as profiler:
            model(token, caches, position)[:, -1:].argmax(-1)
    calls: dict[str, int] = {}
    for event in profiler.events():
        if event.cpu_parent is None:
            calls[event.name] = calls.get(event.name, 0) + 1
    return calls


def test_the_predicted_decode_step_times_every_operator_the_real_step_runs():
    """The real decode step looks up the embedding, writes each layer's keys and values into the
    cache, reads the cache, and takes the argmax: the operator-table prediction counts each as
    often as the step runs it (before, the embedding, the cache writes and the argmax were
    missing from it)."""
    calls = _real_decode_calls(CONFIG)
    hw = datasheet_hardware_model(get_hardware("cpu"), "fp32")
    _, coverage = predict_from_operators(CONFIG, hw, _table(False), {"decode_step": {}})
    uses = {kind: round(seconds / 1e-3) for kind, seconds in coverage["decode_step"]["seconds_by_kind"].items()}
    for op, (kind, per_use) in REAL_DECODE_OPS.items():
        assert calls.get(op, 0) == uses.get(kind, 0) * per_use, (op, kind, calls.get(op), uses.get(kind))
    assert calls["aten::linear"] == uses["gemm"] + uses["lm_head"]
    assert coverage["decode_step"]["operators_fallback"] == 0
