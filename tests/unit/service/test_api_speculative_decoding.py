"""EstimateInference's speculative_decoding: validation naming the field, the assumptions, and
every serving mode (static batch, continuous batching, SLO plan) answering with it."""

import math

import pytest
from google.protobuf import duration_pb2

from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.inference import estimate_inference
from flopwatt.service.api.request_bounds import MAX_SPECULATIVE_DRAFT_TOKENS
from flopwatt.service.errors import InvalidArgument
from flopwatt.v1 import common_pb2, estimator_pb2

DEPS = ApiDependencies()


def request(spec=None, **overrides):
    message = estimator_pb2.EstimateInferenceRequest(
        model=common_pb2.ModelSpec(preset_id="llama-3.1-70b"),
        hardware_id="h100-sxm",
        accelerator_count=2,
        precision=common_pb2.PRECISION_FP8,
        input_tokens=1000,
        output_tokens=200,
        **overrides,
    )
    if spec is not None:
        message.speculative_decoding.CopyFrom(spec)
    return message


def spec(k=3, alpha=0.7, draft=None):
    message = estimator_pb2.SpeculativeDecoding(draft_tokens=k, acceptance_rate=alpha)
    if draft is not None:
        message.draft_model.CopyFrom(common_pb2.ModelSpec(preset_id=draft))
    return message


def seconds(duration) -> float:
    return duration.seconds + duration.nanos / 1e9


@pytest.mark.parametrize(
    ("k", "alpha", "field"),
    [
        (0, 0.7, "speculative_decoding.draft_tokens"),
        (-1, 0.7, "speculative_decoding.draft_tokens"),
        (MAX_SPECULATIVE_DRAFT_TOKENS + 1, 0.7, "speculative_decoding.draft_tokens"),
        (3, 1.0, "speculative_decoding.acceptance_rate"),
        (3, -0.01, "speculative_decoding.acceptance_rate"),
        (3, math.nan, "speculative_decoding.acceptance_rate"),
        (3, math.inf, "speculative_decoding.acceptance_rate"),
    ],
)
def test_bad_speculation_is_invalid_argument_naming_the_field(k, alpha, field):
    with pytest.raises(InvalidArgument) as error:
        estimate_inference(request(spec(k, alpha), batch_size=1), DEPS)
    assert [v.field for v in error.value.violations] == [field]


def test_a_bad_draft_model_names_its_path():
    message = spec()
    message.draft_model.layer_count = -3
    with pytest.raises(InvalidArgument) as error:
        estimate_inference(request(message, batch_size=1), DEPS)
    assert [v.field for v in error.value.violations] == ["speculative_decoding.draft_model.layer_count"]


def test_a_static_batch_with_speculation_states_it_and_is_faster_at_batch_one():
    plain = estimate_inference(request(batch_size=1), DEPS)
    fast = estimate_inference(request(spec(), batch_size=1), DEPS)
    assert seconds(fast.time_per_output_token) < 0.5 * seconds(plain.time_per_output_token)
    rows = {a.name: a for a in fast.assumptions}
    assert "2.533 tokens per verification step" in rows["speculative_decoding"].value
    assert "Leviathan" in rows["speculative_decoding"].source
    assert "negligible" in rows["speculative_draft"].value
    assert "speculative_decoding" not in {a.name for a in plain.assumptions}


def test_a_draft_model_shows_its_cost():
    response = estimate_inference(request(spec(draft="llama-3.1-8b"), batch_size=1), DEPS)
    assert "speculative_draft" in {q.name for q in response.breakdown.step_time}
    assert "llama-3.1-8b" in {a.name: a for a in response.assumptions}["speculative_draft"].value


def test_continuous_batching_and_the_slo_plan_answer_with_speculation():
    response = estimate_inference(request(spec(), concurrency=16), DEPS)
    assert seconds(response.time_per_output_token_p99) >= seconds(response.time_per_output_token) > 0
    slo = estimator_pb2.ServingSlo(time_per_output_token=duration_pb2.Duration(nanos=10_000_000))
    planned = estimate_inference(request(spec(), slo=slo), DEPS)
    assert planned.slo_plan.tensor_parallel_size >= 1
    assert seconds(planned.time_per_output_token_p99) <= 0.010
