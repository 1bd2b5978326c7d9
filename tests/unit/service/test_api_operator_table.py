"""EstimateTraining with a workload profile (issue 13 item 2): the step's device work is timed
from the profile's operator table and `calibration.operator_table` reports the coverage."""

from __future__ import annotations

import pytest

from flopwatt.bench.workload_suite import WorkloadShape, enumerate_operators
from flopwatt.estimate.operator_table import _work
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.inference import estimate_inference
from flopwatt.service.api.training import estimate_training
from flopwatt.v1 import common_pb2, estimator_pb2
from tests.profile_documents import minimal_profile

MODEL = dict(
    layer_count=2, hidden_size=128, attention_head_count=4, kv_head_count=4, ffn_hidden_size=352, vocab_size=1000
)
SEQUENCE = 64


INPUT_TOKENS, OUTPUT_TOKENS, DECODE_BATCH = 96, 64, 4
CONTEXT = INPUT_TOKENS + OUTPUT_TOKENS // 2  # the mean history the serving model uses


def _profile(seconds_per_work: float, kinds_left_out: tuple[str, ...] = ()) -> dict:
    shape = WorkloadShape(
        **MODEL,
        sequence_length=SEQUENCE,
        precision="fp32",
        decode_batch_sizes=(DECODE_BATCH,),
        context_lengths=(CONTEXT,),
    )
    rows = []
    for case in enumerate_operators(shape, "cpu")[0]:
        if case.kind in kinds_left_out:
            continue
        seconds = _work(case.kind, {k: float(v) for k, v in case.shape.items()}) * seconds_per_work
        rows.append(
            {
                "kind": case.kind,
                "pass": case.pass_name,
                "phase": case.phase,
                "uses": case.uses,
                "shape": case.shape,
                "dtype": case.dtype,
                "backend": "torch",
                "flops": 1.0,
                "bytes": 1.0,
                "seconds": {"median": seconds, "n": 3},
                "verified": True,
            }
        )
    document = minimal_profile()
    document["device"] = {**document["device"], "hardware_id": "cpu"}
    document["ceilings"]["matmul_flops_per_second"]["fp32"] = 1e11
    return {**document, "schema_version": 2, "suite": "workload", "operators": rows}


def _request(profile_id: str = "w1") -> estimator_pb2.EstimateTrainingRequest:
    return estimator_pb2.EstimateTrainingRequest(
        model=common_pb2.ModelSpec(**MODEL, tied_embeddings=False, dropout=False),
        training_tokens=SEQUENCE * 4 * 100,
        sequence_length=SEQUENCE,
        hardware_id="cpu",
        accelerator_count=1,
        precision=common_pb2.PRECISION_FP32,
        profile_id=profile_id,
        parallelism=common_pb2.Parallelism(
            tensor_parallel_size=1,
            pipeline_parallel_size=1,
            data_parallel_size=1,
            micro_batch_size=1,
            global_batch_size=4,
            activation_recompute=common_pb2.ACTIVATION_RECOMPUTE_NONE,
        ),
    )


def _estimate(document: dict):
    return estimate_training(_request(), ApiDependencies(profile_document=lambda name: document))


def _device_seconds(response) -> float:
    parts = {q.name: q.value for q in response.breakdown.step_time}
    return sum(parts[name] for name in ("gemm", "attention", "elementwise", "optimizer"))


def test_a_workload_profile_times_the_step_from_its_operators_and_reports_the_coverage():
    slow, fast = _estimate(_profile(2e-11)), _estimate(_profile(1e-11))
    coverage = fast.calibration.operator_table
    assert fast.calibration.HasField("operator_table")
    # the optimizer: the suite's whole-model AdamW row counts the final norm, the estimator's
    # local parameters do not (64 fewer): interpolated from that row at its rate
    assert coverage.operators_measured > 20 and coverage.operators_interpolated == 1
    assert coverage.operators_fallback == 0
    total = fast.step_duration.seconds + fast.step_duration.nanos * 1e-9
    device_share = coverage.measured_share + coverage.interpolated_share
    assert device_share == pytest.approx(_device_seconds(fast) / total, rel=1e-3)
    assert device_share + coverage.fallback_share == pytest.approx(1.0)
    # twice the operator times: twice the device work, the analytic terms unchanged
    assert _device_seconds(slow) == pytest.approx(2 * _device_seconds(fast), rel=1e-9)
    rest = total - _device_seconds(fast)
    assert slow.step_duration.seconds + slow.step_duration.nanos * 1e-9 == pytest.approx(
        _device_seconds(slow) + rest, rel=1e-3
    )
    assert {a.name: a.value for a in fast.assumptions}["step_time_source"] == "operator table"


def test_missing_operators_fall_back_and_are_counted():
    response = _estimate(_profile(1e-11, kinds_left_out=("swiglu", "cross_entropy")))
    coverage = response.calibration.operator_table
    assert coverage.operators_fallback == 4  # SwiGLU and the loss, forward and backward
    assert coverage.fallback_share > 0


def test_a_profile_without_an_operator_table_keeps_the_analytic_step():
    document = _profile(1e-11)
    del document["operators"]
    response = _estimate(document)
    assert response.calibration.kind == common_pb2.Calibration.KIND_MEASURED_PROFILE
    assert not response.calibration.HasField("operator_table")
    assert "step_time_source" not in {a.name for a in response.assumptions}


def _inference(document: dict):
    request = estimator_pb2.EstimateInferenceRequest(
        model=common_pb2.ModelSpec(**MODEL, tied_embeddings=False, dropout=False),
        hardware_id="cpu",
        accelerator_count=1,
        precision=common_pb2.PRECISION_FP32,
        batch_size=DECODE_BATCH,
        input_tokens=INPUT_TOKENS,
        output_tokens=OUTPUT_TOKENS,
        profile_id="w1",
    )
    return estimate_inference(request, ApiDependencies(profile_document=lambda name: document))


def _decode_device_seconds(response) -> float:
    parts = {q.name: q.value for q in response.breakdown.step_time}
    return sum(parts[name] for name in ("weights_and_gemm", "kv_cache_and_attention", "elementwise", "lm_head"))


def test_a_workload_profile_times_the_decode_step_from_its_operators():
    slow, fast = _inference(_profile(2e-11)), _inference(_profile(1e-11))
    coverage = fast.calibration.operator_table
    assert coverage.operators_measured >= 8 and coverage.operators_fallback == 0
    tpot = fast.time_per_output_token.seconds + fast.time_per_output_token.nanos * 1e-9
    assert tpot == pytest.approx(sum(q.value for q in fast.breakdown.step_time), rel=1e-5)
    assert coverage.measured_share == pytest.approx(_decode_device_seconds(fast) / tpot, rel=1e-3)
    assert _decode_device_seconds(slow) == pytest.approx(2 * _decode_device_seconds(fast), rel=1e-9)
    assert {a.name: a.value for a in fast.assumptions}["step_time_source"] == "operator table"
    without = _profile(1e-11)
    del without["operators"]
    assert not _inference(without).calibration.HasField("operator_table")
