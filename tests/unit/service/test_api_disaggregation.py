"""EstimateInference's disaggregation: the SLO plan's prefill and decode pools in slo_plan, the
margins, and the field errors."""

import pytest

from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.inference import estimate_inference
from flopwatt.service.errors import FailedPrecondition, InvalidArgument
from flopwatt.v1 import common_pb2, estimator_pb2

DEPS = ApiDependencies()


def request(prompt=8000, output=200, ttft_ms=2000, tpot_ms=30, mode=estimator_pb2.DISAGGREGATION_ALLOWED, slo=True):
    message = estimator_pb2.EstimateInferenceRequest(
        model=common_pb2.ModelSpec(preset_id="llama-3.1-70b"),
        hardware_id="h100-sxm",
        accelerator_count=8,
        precision=common_pb2.PRECISION_FP8,
        input_tokens=prompt,
        output_tokens=output,
        disaggregation=mode,
    )
    if slo:
        message.slo.time_to_first_token.FromMilliseconds(ttft_ms)
        message.slo.time_per_output_token.FromMilliseconds(tpot_ms)
    return message


def seconds(duration) -> float:
    return duration.seconds + duration.nanos / 1e9


def test_a_disaggregated_plan_returns_its_pools_transfer_and_margins():
    response = estimate_inference(request(), DEPS)
    plan = response.slo_plan
    assert plan.disaggregated and plan.prefill_tensor_parallel_size >= 1 and plan.prefill_replicas >= 1
    assert plan.accelerator_count == (
        plan.prefill_tensor_parallel_size * plan.prefill_replicas + plan.tensor_parallel_size * plan.replicas
    )
    assert plan.kv_transfer_tier in ("scale_up", "scale_out")
    assert plan.kv_transfer_bytes == 2 * 80 * 8 * 128 * 8000  # FP8 cache of an 8000-token prompt
    assert seconds(plan.kv_transfer_time) > 0
    assert seconds(plan.time_to_first_token_margin) == pytest.approx(2.0 - seconds(response.time_to_first_token_p99))
    assert seconds(plan.time_per_output_token_margin) >= 0
    assert response.output_tokens_per_second == pytest.approx(
        response.output_tokens_per_second_per_accelerator * plan.accelerator_count
    )
    rows = {a.name: a for a in response.assumptions}
    assert rows["serving_model"].value == "prefill/decode disaggregation"
    assert {"prefill_pool", "decode_pool", "kv_transfer"} <= set(rows)


def test_unspecified_stays_colocated_and_allowed_beats_it_on_long_prompts():
    colocated = estimate_inference(request(mode=estimator_pb2.DISAGGREGATION_UNSPECIFIED), DEPS)
    allowed = estimate_inference(request(), DEPS)
    assert not colocated.slo_plan.disaggregated and colocated.slo_plan.prefill_replicas == 0
    assert not colocated.slo_plan.HasField("kv_transfer_time")
    assert allowed.output_tokens_per_second_per_accelerator > colocated.output_tokens_per_second_per_accelerator


def test_short_prompts_stay_colocated_when_allowed():
    response = estimate_inference(request(prompt=128, output=512, ttft_ms=500, tpot_ms=100), DEPS)
    assert not response.slo_plan.disaggregated


def test_a_target_left_open_has_no_margin():
    message = request()
    message.slo.ClearField("time_to_first_token")
    response = estimate_inference(message, DEPS)
    assert not response.slo_plan.HasField("time_to_first_token_margin")
    assert response.slo_plan.HasField("time_per_output_token_margin")


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (request(slo=False), "disaggregation"),
        (request(mode=9), "disaggregation"),
    ],
)
def test_bad_disaggregation_is_invalid_argument_naming_the_field(message, field):
    with pytest.raises(InvalidArgument) as error:
        estimate_inference(message, DEPS)
    assert [v.field for v in error.value.violations] == [field]


def test_an_unreachable_ttft_when_required_is_failed_precondition_with_the_best_values():
    with pytest.raises(FailedPrecondition) as error:
        estimate_inference(request(ttft_ms=50, mode=estimator_pb2.DISAGGREGATION_REQUIRED), DEPS)
    assert "best reachable p99" in str(error.value)


@pytest.mark.parametrize("rate", [0.001, 0.05])
def test_a_light_load_on_disaggregated_pools_answers_a_batch_of_at_least_one(rate):
    """batch_size was the decode instances' mean running batch rounded: 0 at 0.001 requests/s,
    while the memory counted one sequence's KV cache. It is the sequences an instance holds."""
    message = request(mode=estimator_pb2.DISAGGREGATION_REQUIRED)
    message.request_rate_per_second = rate
    response = estimate_inference(message, DEPS)
    assert response.slo_plan.disaggregated
    assert response.batch_size >= 1
    assert response.running_batch_size <= response.batch_size < response.running_batch_size + 1
