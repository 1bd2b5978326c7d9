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
