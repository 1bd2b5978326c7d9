"""EstimateTraining and EstimateInference through the real server: complete, self-explaining
answers for the issue's two headline cases, and deliberate errors for bad input."""

from __future__ import annotations

import math

import grpc
import pytest

from flopwatt.v1 import common_pb2, estimator_pb2, estimator_pb2_grpc
from tests.conftest import field_violations


def _stub(server):
    channel = server.channel()
    return channel, estimator_pb2_grpc.EstimatorServiceStub(channel)


def test_llama_405b_on_16k_h100_is_complete_and_explains_itself(server):
    request = estimator_pb2.EstimateTrainingRequest(
        model=common_pb2.ModelSpec(preset_id="llama-3.1-405b"),
        training_tokens=15_600_000_000_000,
        sequence_length=8192,
        hardware_id="h100-sxm",
        accelerator_count=16_384,
        # The published run's final batch: 16 M tokens = 2,048 sequences of 8,192 (Llama 3 paper §3.4).
        parallelism=common_pb2.Parallelism(global_batch_size=2048),
    )
    channel, stub = _stub(server)
    with channel:
        response = stub.EstimateTraining(request, timeout=30)
    # 6·N·D for 405 B parameters and 15.6 T tokens is 3.8e25 FLOP; attention adds a few per cent.
    assert 3.7e25 < response.total_flops < 4.4e25
    assert 0.2 < response.model_flops_utilization < 0.7
    # HFU counts the causal half of the scores (MFU the full matrix) plus recomputation: at 8K
    # tokens attention is a few per cent of a 405B model's FLOPs, so the two stay close.
    assert 0.9 * response.model_flops_utilization <= response.hardware_flops_utilization < 1.0
    # Published: 30.84 M H100-hours (Llama 3.1 model card). Hold the estimate within ±35 %.
    assert 20e6 < response.accelerator_hours < 42e6
    wall_days = response.wall_clock_duration.ToTimedelta().total_seconds() / 86400
    assert math.isclose(response.accelerator_hours, wall_days * 24 * 16_384, rel_tol=1e-6)
    assert response.step_duration.ToTimedelta().total_seconds() > 0
    assert response.facility_energy_joules > response.accelerator_energy_joules > 0
    assert response.cost.currency_code == "USD" and response.cost.units > 0
    assert response.co2e_kilograms > 0
    assert response.fits_in_memory and 0 < response.memory_per_accelerator_bytes <= response.accelerator_memory_bytes
    plan = response.parallelism
    assert (
        plan.tensor_parallel_size * plan.context_parallel_size * plan.pipeline_parallel_size * plan.data_parallel_size
        == 16_384
    )
    assert len(response.assumptions) >= 10
    assert all(a.name and a.value and a.origin for a in response.assumptions)
    assert response.calibration.kind == common_pb2.Calibration.KIND_DATASHEET
    assert response.calibration.hardware_id == "h100-sxm" and response.calibration.source
    assert response.breakdown.step_time and response.breakdown.memory


def test_llama_70b_inference_on_8_h100_is_complete(server):
    request = estimator_pb2.EstimateInferenceRequest(
        model=common_pb2.ModelSpec(preset_id="llama-3.1-70b"),
        hardware_id="h100-sxm",
        accelerator_count=8,
        input_tokens=1024,
        output_tokens=512,
    )
    channel, stub = _stub(server)
    with channel:
        response = stub.EstimateInference(request, timeout=30)
        single = stub.EstimateInference(
            estimator_pb2.EstimateInferenceRequest(
                model=common_pb2.ModelSpec(preset_id="llama-3.1-70b"),
                hardware_id="h100-sxm",
                accelerator_count=8,
                input_tokens=1024,
                output_tokens=512,
                batch_size=1,
            ),
            timeout=30,
        )
    assert response.fits_in_memory and response.max_batch_size >= response.batch_size > 1
    # KV cache of Llama 3.1 70B in bf16: 2 · 80 layers · 8 kv heads · 128 · 2 bytes = 327,680 bytes per token.
    assert response.kv_cache_bytes_per_token == 327_680
    assert math.isclose(
        response.output_tokens_per_second_per_accelerator * 8, response.output_tokens_per_second, rel_tol=1e-9
    )
    # Decode at batch 1 is bandwidth-bound: 140 GB of weights over 8 × 3.35 TB/s is ≥ 5.2 ms per token.
    tpot_single = single.time_per_output_token.ToTimedelta().total_seconds()
    assert 0.0052 < tpot_single < 0.05
    assert response.energy_per_output_token_joules > 0
    assert response.cost_per_million_output_tokens.units > 0 or response.cost_per_million_output_tokens.nanos > 0
    assert response.assumptions and response.calibration.hardware_id == "h100-sxm"


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda r: setattr(r, "training_tokens", -5), "training_tokens"),
        (lambda r: setattr(r, "accelerator_count", 0), "accelerator_count"),
        (lambda r: setattr(r.facility, "pue", float("nan")), "facility.pue"),
        (lambda r: setattr(r.facility, "pue", 0.5), "facility.pue"),
        (lambda r: setattr(r.model, "layer_count", -1), "model.layer_count"),
        (lambda r: setattr(r, "sequence_length", 0), "sequence_length"),
    ],
)
def test_bad_training_input_names_the_field(server, mutate, field):
    request = estimator_pb2.EstimateTrainingRequest(
        model=common_pb2.ModelSpec(preset_id="llama-3.1-8b"),
        training_tokens=10**12,
        sequence_length=4096,
        hardware_id="h100-sxm",
        accelerator_count=64,
    )
    mutate(request)
    channel, stub = _stub(server)
    with channel, pytest.raises(grpc.RpcError) as raised:
        stub.EstimateTraining(request, timeout=30)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(raised.value)


def test_unknown_ids_are_not_found(server):
    channel, stub = _stub(server)
    with channel:
        for request in (
            estimator_pb2.EstimateTrainingRequest(
                model=common_pb2.ModelSpec(preset_id="llama-3.1-8b"),
                training_tokens=10**12,
                sequence_length=4096,
                hardware_id="h900",
                accelerator_count=64,
            ),
            estimator_pb2.EstimateTrainingRequest(
                model=common_pb2.ModelSpec(preset_id="no-such-model"),
                training_tokens=10**12,
                sequence_length=4096,
                hardware_id="h100-sxm",
                accelerator_count=64,
            ),
            estimator_pb2.EstimateTrainingRequest(
                model=common_pb2.ModelSpec(preset_id="llama-3.1-8b"),
                training_tokens=10**12,
                sequence_length=4096,
                hardware_id="h100-sxm",
                accelerator_count=64,
                profile_id="profiles/nope",
            ),
        ):
            with pytest.raises(grpc.RpcError) as raised:
                stub.EstimateTraining(request, timeout=30)
            assert raised.value.code() == grpc.StatusCode.NOT_FOUND, raised.value.details()


def test_list_frameworks_and_the_framework_field_over_grpc(server):
    """ListFrameworks pages the software stacks; a listed id is accepted by EstimateTraining and
    an unknown one is INVALID_ARGUMENT naming `framework` (issue 11)."""
    channel, stub = _stub(server)
    with channel:
        first = stub.ListFrameworks(estimator_pb2.ListFrameworksRequest(page_size=4), timeout=5)
        rest = stub.ListFrameworks(estimator_pb2.ListFrameworksRequest(page_token=first.next_page_token), timeout=5)
        ids = [f.id for f in first.frameworks] + [f.id for f in rest.frameworks]
        assert ids == [
            "megatron-core",
            "pytorch-fsdp",
            "deepspeed",
            "jax",
            "megatron-lm-2022",
            "megatron-deepspeed",
            "hai-llm",
        ]
        assert rest.next_page_token == ""
        request = estimator_pb2.EstimateTrainingRequest(
            model=common_pb2.ModelSpec(preset_id="llama-3.1-8b"),
            training_tokens=10**12,
            sequence_length=4096,
            hardware_id="h100-sxm",
            accelerator_count=64,
            framework="pytorch-fsdp",
        )
        response = stub.EstimateTraining(request, timeout=30)
        assert {a.name: a.value for a in response.assumptions}["framework"] == "pytorch-fsdp"
        request.framework = "caffe"
        with pytest.raises(grpc.RpcError) as caught:
            stub.EstimateTraining(request, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(caught.value) == ["framework"]


def _inference_at_load(**fields) -> estimator_pb2.EstimateInferenceRequest:
    defaults = {"accelerator_count": 2, "input_tokens": 5000, "output_tokens": 500}
    return estimator_pb2.EstimateInferenceRequest(
        model=common_pb2.ModelSpec(preset_id="llama-3.1-70b"),
        hardware_id="h100-sxm",
        precision=common_pb2.PRECISION_FP8,
        **{**defaults, **fields},
    )


def test_continuous_batching_over_grpc(server):
    """A load answers with p50/p99 and the queue; bad loads are INVALID_ARGUMENT naming the
    field; a rate past the replica's capacity and an unreachable SLO are FAILED_PRECONDITION."""
    channel, stub = _stub(server)
    with channel:
        response = stub.EstimateInference(_inference_at_load(concurrency=512), timeout=30)
        with pytest.raises(grpc.RpcError) as both:
            stub.EstimateInference(_inference_at_load(concurrency=4, request_rate_per_second=1.0), timeout=30)
        with pytest.raises(grpc.RpcError) as overloaded:
            stub.EstimateInference(_inference_at_load(request_rate_per_second=1000.0), timeout=30)
        unreachable = _inference_at_load(accelerator_count=8)
        unreachable.slo.time_per_output_token.FromNanoseconds(1000)
        with pytest.raises(grpc.RpcError) as impossible:
            stub.EstimateInference(unreachable, timeout=30)
    assert response.queueing_delay.seconds > 0 and 0 < response.running_batch_size < 512
    assert response.time_to_first_token_p99.ToNanoseconds() >= response.time_to_first_token.ToNanoseconds()
    assert both.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "request_rate_per_second" in field_violations(both.value)
    assert overloaded.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "capacity" in overloaded.value.details()
    assert (
        impossible.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        and "best reachable" in impossible.value.details()
    )


def test_list_engines_and_the_engine_field_over_grpc(server):
    """ListEngines lists the serving engines; a listed id is accepted by EstimateInference and an
    unknown one is INVALID_ARGUMENT naming `engine` with the accepted ids (issue 12, item 4)."""
    channel, stub = _stub(server)
    with channel:
        engines = stub.ListEngines(estimator_pb2.ListEnginesRequest(), timeout=5).engines
        assert [e.id for e in engines] == ["vllm", "sglang", "tensorrt-llm"]
        assert [e.id for e in engines if e.is_default] == ["vllm"]
        request = estimator_pb2.EstimateInferenceRequest(
            model=common_pb2.ModelSpec(preset_id="llama-3.1-8b"),
            hardware_id="h100-sxm",
            accelerator_count=1,
            input_tokens=1000,
            output_tokens=200,
            concurrency=64,
            engine="sglang",
        )
        response = stub.EstimateInference(request, timeout=10)
        assert {a.name: a.value for a in response.assumptions}["engine"] == "sglang"
        request.engine = "tgi"
        with pytest.raises(grpc.RpcError) as error:
            stub.EstimateInference(request, timeout=10)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "engine" in error.value.details() and "tensorrt-llm" in error.value.details()
