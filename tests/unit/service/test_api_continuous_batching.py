"""EstimateInference with a load (concurrency or request_rate_per_second): continuous batching."""

import math

import pytest

from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.inference import MAX_CONCURRENCY, estimate_inference
from flopwatt.service.errors import FailedPrecondition, InvalidArgument
from flopwatt.v1 import common_pb2, estimator_pb2

DEPS = ApiDependencies()


def request_70b(**overrides):
    request = estimator_pb2.EstimateInferenceRequest(
        model=common_pb2.ModelSpec(preset_id="llama-3.1-70b"),
        hardware_id="h100-sxm",
        accelerator_count=2,
        precision=common_pb2.PRECISION_FP8,
        input_tokens=5000,
        output_tokens=500,
    )
    for key, value in overrides.items():
        setattr(request, key, value)
    return request


def seconds(duration) -> float:
    return duration.seconds + duration.nanos / 1e9


def test_a_concurrency_answers_with_p50_p99_queue_and_the_model_that_answered():
    response = estimate_inference(request_70b(concurrency=64), DEPS)
    assert seconds(response.time_to_first_token_p99) >= seconds(response.time_to_first_token) > 0
    assert seconds(response.time_per_output_token_p99) >= seconds(response.time_per_output_token) > 0
    assert response.running_batch_size == 64 and seconds(response.queueing_delay) == 0
    assert response.output_tokens_per_second == pytest.approx(2 * response.output_tokens_per_second_per_accelerator)
    assert response.requests_per_second == pytest.approx(response.output_tokens_per_second / 500)
    rows = {a.name: a for a in response.assumptions}
    assert rows["serving_model"].value == "continuous batching"
    assert {"kv_cache_block_tokens", "max_num_batched_tokens", "max_num_seqs", "concurrency"} <= set(rows)
    assert "prefill_chunks" in {q.name for q in response.breakdown.step_time}


def test_a_batch_size_keeps_the_static_batch():
    response = estimate_inference(request_70b(batch_size=16), DEPS)
    assert "serving_model" not in {a.name for a in response.assumptions}
    assert response.time_to_first_token_p99 == response.time_to_first_token
    assert response.running_batch_size == 16 and seconds(response.queueing_delay) == 0


def test_past_the_running_batch_bound_requests_queue():
    response = estimate_inference(request_70b(concurrency=512), DEPS)
    assert response.running_batch_size < 512 and seconds(response.queueing_delay) > 1


def test_an_open_loop_rate_and_its_capacity():
    response = estimate_inference(request_70b(request_rate_per_second=1.0), DEPS)
    assert response.requests_per_second == 1.0 and response.output_tokens_per_second == pytest.approx(500.0)
    assert {a.name for a in response.assumptions} >= {"request_rate_per_second", "serving_model"}
    with pytest.raises(FailedPrecondition, match="capacity"):
        estimate_inference(request_70b(request_rate_per_second=1000.0), DEPS)


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"concurrency": 4, "request_rate_per_second": 1.0}, "request_rate_per_second"),
        ({"concurrency": 4, "batch_size": 8}, "concurrency"),
        ({"request_rate_per_second": 1.0, "batch_size": 8}, "request_rate_per_second"),
        ({"concurrency": -1}, "concurrency"),
        ({"concurrency": MAX_CONCURRENCY + 1}, "concurrency"),
        ({"request_rate_per_second": -2.0}, "request_rate_per_second"),
        ({"request_rate_per_second": math.inf}, "request_rate_per_second"),
        ({"request_rate_per_second": math.nan}, "request_rate_per_second"),
    ],
)
def test_bad_loads_are_named(overrides, field):
    with pytest.raises(InvalidArgument) as error:
        estimate_inference(request_70b(**overrides), DEPS)
    assert field in {v.field for v in error.value.violations}


def test_intervals_are_refused_with_a_load():
    request = request_70b(concurrency=4)
    request.uncertainty.samples = 100
    with pytest.raises(InvalidArgument) as error:
        estimate_inference(request, DEPS)
    assert "uncertainty.samples" in {v.field for v in error.value.violations}


def slo_request(ttft: float, tpot: float, **overrides):
    request = request_70b(accelerator_count=8, **overrides)
    request.slo.time_to_first_token.FromNanoseconds(int(ttft * 1e9))
    request.slo.time_per_output_token.FromNanoseconds(int(tpot * 1e9))
    return request


def test_an_slo_plans_the_layout_and_answers_one_replica():
    response = estimate_inference(slo_request(2.0, 0.05, request_rate_per_second=5.0), DEPS)
    plan = response.slo_plan
    assert plan.replicas >= 1 and plan.accelerator_count == plan.replicas * plan.tensor_parallel_size
    assert seconds(response.time_to_first_token_p99) <= 2.0 and seconds(response.time_per_output_token_p99) <= 0.05
    assert response.requests_per_second == pytest.approx(5.0 / plan.replicas)
    rows = {a.name: a for a in response.assumptions}
    assert "slo_plan" in rows and rows["request_rate_per_second"].origin == "derived"
    assert float(rows["request_rate_per_second"].value) == pytest.approx(5.0 / plan.replicas, rel=1e-5)
    assert rows["max_num_batched_tokens"].value == "8192" and rows["max_num_seqs"].value == "1024"


def test_an_unreachable_slo_is_failed_precondition_with_the_best_values():
    with pytest.raises(FailedPrecondition, match="best reachable") as error:
        estimate_inference(slo_request(0.01, 0.001), DEPS)
    assert error.value.reason == "SLO_UNREACHABLE"


def test_bad_slos_are_named():
    with pytest.raises(InvalidArgument) as error:
        estimate_inference(slo_request(0.0, 0.0), DEPS)
    assert "slo" in {v.field for v in error.value.violations}
    with pytest.raises(InvalidArgument) as error:
        estimate_inference(slo_request(1.0, -0.5), DEPS)
    assert "slo.time_per_output_token" in {v.field for v in error.value.violations}
    with pytest.raises(InvalidArgument) as error:
        estimate_inference(slo_request(1.0, 0.1, batch_size=4), DEPS)
    assert "batch_size" in {v.field for v in error.value.violations}


def test_a_replica_too_small_says_it_does_not_fit():
    response = estimate_inference(
        request_70b(accelerator_count=1, precision=common_pb2.PRECISION_BF16, concurrency=4), DEPS
    )
    assert not response.fits_in_memory and "fits_in_memory" in {a.name for a in response.assumptions}


@pytest.mark.parametrize("rate", [0.001, 0.05, 0.2, 1.0])
def test_a_rate_answers_the_running_batch_its_step_is_timed_at(rate):
    """batch_size was the mean running batch rounded: 0 sequences at a light load (0.001
    requests/s with a ~20 s service time), while TPOT and power were a batch of 1's. It is the
    batch whose step the answer times: at least the mean, less than one above it."""
    response = estimate_inference(request_70b(request_rate_per_second=rate), DEPS)
    assert response.batch_size >= 1
    assert response.running_batch_size <= response.batch_size < response.running_batch_size + 1


@pytest.mark.parametrize(
    "disaggregation", [estimator_pb2.DISAGGREGATION_COLOCATED, estimator_pb2.DISAGGREGATION_REQUIRED]
)
def test_an_slo_load_past_any_campus_is_refused_naming_the_rate(disaggregation):
    """1e6 requests/s of million-token answers need ~4e9 replicas: the count overflowed
    ServingPlan.replicas (int32) and the answer was INTERNAL ("Value out of range")."""
    request = slo_request(0.0, 1.0, request_rate_per_second=1e6, disaggregation=disaggregation)
    request.model.preset_id = "llama-3.1-8b"
    request.input_tokens, request.output_tokens = 1000, 1_000_000
    with pytest.raises(InvalidArgument) as error:
        estimate_inference(request, DEPS)
    assert [v.field for v in error.value.violations] == ["request_rate_per_second"]
