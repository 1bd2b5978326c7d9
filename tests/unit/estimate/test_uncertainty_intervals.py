"""Monte Carlo intervals: ordered, seeded, centred on the deterministic estimate."""

from __future__ import annotations

import numpy as np
import pytest

from flopwatt.estimate import uncertainty
from flopwatt.estimate.training import estimate_training_run
from flopwatt.service.api import training as training_api
from flopwatt.service.api.campus import estimate_campus
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.v1 import common_pb2, estimator_pb2

DEPS = ApiDependencies()


@pytest.fixture(scope="module")
def scenario():
    request = estimator_pb2.EstimateTrainingRequest(
        model=common_pb2.ModelSpec(preset_id="llama-2-7b"),
        training_tokens=2 * 10**12,
        sequence_length=4096,
        hardware_id="h100-sxm",
        accelerator_count=512,
    )
    return training_api.build_scenario(request, DEPS)[0]


def test_intervals_are_ordered_and_reproducible(scenario):
    first, listed = uncertainty.training_intervals(scenario, 4000, seed=11)
    again, _ = uncertainty.training_intervals(scenario, 4000, seed=11)
    other, _ = uncertainty.training_intervals(scenario, 4000, seed=12)
    assert first == again and first != other
    for name, item in first.items():
        assert item.p5 <= item.p50 <= item.p95, name
    assert first["cost"].p5 < first["cost"].p95
    assert {a.name for a in listed} >= {"uncertainty.step_model_error", "uncertainty.pue", "uncertainty.samples"}


def test_inputs_at_their_medians_reproduce_the_deterministic_estimate(scenario):
    deterministic = estimate_training_run(scenario)
    at_medians = uncertainty.training_samples(scenario, uncertainty.median_draws(3))
    for name, values in uncertainty.training_outputs(at_medians).items():
        expected = np.asarray(uncertainty.training_outputs(deterministic)[name], float)
        np.testing.assert_allclose(values, np.broadcast_to(expected, np.shape(values)), rtol=1e-12, err_msg=name)


def test_p50_sits_at_the_deterministic_value(scenario):
    deterministic = uncertainty.training_outputs(estimate_training_run(scenario))
    sampled, _ = uncertainty.training_intervals(scenario, 20000, seed=3)
    for name in ("wall_clock_duration", "facility_energy_joules", "cost"):
        assert sampled[name].p50 == pytest.approx(float(deterministic[name]), rel=0.03), name


def test_pue_samples_never_fall_below_one():
    draws = uncertainty.draw(50000, seed=1)
    assert draws.pue(1.05).min() >= 1.0


def test_sample_count_is_bounded():
    with pytest.raises(ValueError):
        uncertainty.draw(0, seed=1)
    with pytest.raises(ValueError):
        uncertainty.draw(uncertainty.MAX_SAMPLES + 1, seed=1)


def test_campus_intervals_bracket_the_central_answer():
    request = estimator_pb2.EstimateCampusRequest(
        facility_power_watts=1.2e9, hardware_id="gb200", uncertainty=common_pb2.Uncertainty(samples=3000, seed=5)
    )
    response = estimate_campus(request, DEPS)
    energy = response.intervals["annual_energy_joules"]
    assert energy.p5 < response.annual_energy_joules < energy.p95
    count = response.intervals["accelerator_count"]
    assert count.p5 <= response.accelerator_count <= count.p95
    assert estimate_campus(request, DEPS).intervals == response.intervals


# --- EstimateInference ----------------------------------------------------------------------------

from flopwatt.estimate.inference import estimate_serving  # noqa: E402
from flopwatt.service.api import inference as inference_api  # noqa: E402

INFERENCE_FIELDS = {
    "time_to_first_token",
    "time_per_output_token",
    "output_tokens_per_second",
    "energy_per_output_token_joules",
    "cost_per_million_output_tokens",
}


def _inference_request(samples: int = 0, seed: int = 0) -> estimator_pb2.EstimateInferenceRequest:
    return estimator_pb2.EstimateInferenceRequest(
        model=common_pb2.ModelSpec(preset_id="llama-3.1-70b"),
        hardware_id="h100-sxm",
        accelerator_count=8,
        input_tokens=1024,
        output_tokens=512,
        uncertainty=common_pb2.Uncertainty(samples=samples, seed=seed),
    )


def test_inference_intervals_are_ordered_reproducible_and_listed():
    response = inference_api.estimate_inference(_inference_request(3000, seed=4), DEPS)
    assert set(response.intervals) == INFERENCE_FIELDS
    for name, item in response.intervals.items():
        assert item.p5 < item.p50 < item.p95, name
    assert inference_api.estimate_inference(_inference_request(3000, seed=4), DEPS).intervals == response.intervals
    assert inference_api.estimate_inference(_inference_request(3000, seed=5), DEPS).intervals != response.intervals
    tpot = response.time_per_output_token.seconds + response.time_per_output_token.nanos / 1e9
    assert response.intervals["time_per_output_token"].p5 < tpot < response.intervals["time_per_output_token"].p95
    assert (
        response.intervals["energy_per_output_token_joules"].p5
        < response.energy_per_output_token_joules
        < response.intervals["energy_per_output_token_joules"].p95
    )
    names = {a.name for a in response.assumptions}
    assert {
        "uncertainty.compute_efficiency",
        "uncertainty.power_draw",
        "uncertainty.pue",
        "uncertainty.samples",
    } <= names
    assert "uncertainty.failure_rate" not in names  # serving has no goodput
    assert not inference_api.estimate_inference(_inference_request(), DEPS).intervals


def test_inference_inputs_at_their_medians_reproduce_the_deterministic_estimate():
    scenario, _ = inference_api.build_scenario(_inference_request(), DEPS)
    deterministic = estimate_serving(scenario)
    at_medians = uncertainty.inference_outputs(
        uncertainty.inference_samples(scenario, deterministic.batch_size, uncertainty.median_draws(3))
    )
    expected = {
        "time_to_first_token": deterministic.time_to_first_token_seconds,
        "time_per_output_token": deterministic.time_per_output_token_seconds,
        "output_tokens_per_second": deterministic.output_tokens_per_second,
        "energy_per_output_token_joules": deterministic.energy_per_output_token_joules,
        "cost_per_million_output_tokens": deterministic.cost_per_million_output_tokens_usd,
    }
    for name, values in at_medians.items():
        np.testing.assert_allclose(values, np.full(3, expected[name]), rtol=1e-12, err_msg=name)


def test_faster_kernels_serve_faster_and_more_power_costs_more_energy():
    scenario, _ = inference_api.build_scenario(_inference_request(), DEPS)
    batch = estimate_serving(scenario).batch_size
    factors = {name: np.ones(2) for name in (item.name for item in uncertainty.INPUTS)}
    factors["compute_efficiency"] = np.array([1.0, 1.2])
    faster = uncertainty.inference_outputs(uncertainty.inference_samples(scenario, batch, uncertainty.Draws(factors)))
    assert faster["time_per_output_token"][1] < faster["time_per_output_token"][0]
    factors["compute_efficiency"], factors["power_draw"] = np.ones(2), np.array([1.0, 1.3])
    hungrier = uncertainty.inference_outputs(uncertainty.inference_samples(scenario, batch, uncertainty.Draws(factors)))
    assert hungrier["energy_per_output_token_joules"][1] > hungrier["energy_per_output_token_joules"][0]
    assert hungrier["time_per_output_token"][1] == pytest.approx(hungrier["time_per_output_token"][0])


def test_campus_output_tokens_per_day_interval_brackets_the_central_answer():
    request = estimator_pb2.EstimateCampusRequest(
        accelerator_count=1024,
        hardware_id="h100-sxm",
        uncertainty=common_pb2.Uncertainty(samples=2000, seed=9),
        inference=estimator_pb2.CampusInferenceWorkload(
            model=common_pb2.ModelSpec(preset_id="llama-3.1-70b"), input_tokens=1024, output_tokens=512
        ),
    )
    response = estimate_campus(request, DEPS)
    tokens = response.intervals["output_tokens_per_day"]
    assert tokens.p5 < response.output_tokens_per_day < tokens.p95
    assert estimate_campus(request, DEPS).intervals["output_tokens_per_day"] == tokens
