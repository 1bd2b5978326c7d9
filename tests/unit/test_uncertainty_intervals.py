"""Monte Carlo intervals: ordered, seeded, centred on the deterministic estimate."""

from __future__ import annotations

import numpy as np
import pytest

from flopwatt.service.api import training as training_api
from flopwatt.service.api.campus import estimate_campus
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.model import uncertainty
from flopwatt.service.model.training import estimate_training_run
from flopwatt.v1 import common_pb2, estimator_pb2

DEPS = ApiDependencies()


@pytest.fixture(scope="module")
def scenario():
    request = estimator_pb2.EstimateTrainingRequest(
        model=common_pb2.ModelSpec(preset_id="llama-2-7b"), training_tokens=2 * 10**12, sequence_length=4096,
        hardware_id="h100-sxm", accelerator_count=512)
    return training_api.build_scenario(request, DEPS)[0]


def test_intervals_are_ordered_and_reproducible(scenario):
    first, listed = uncertainty.training_intervals(scenario, 4000, seed=11)
    again, _ = uncertainty.training_intervals(scenario, 4000, seed=11)
    other, _ = uncertainty.training_intervals(scenario, 4000, seed=12)
    assert first == again and first != other
    for name, item in first.items():
        assert item.p5 <= item.p50 <= item.p95, name
    assert first["cost"].p5 < first["cost"].p95
    assert {a.name for a in listed} >= {"uncertainty.compute_efficiency", "uncertainty.pue", "uncertainty.samples"}


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
        facility_power_watts=1.2e9, hardware_id="gb200", uncertainty=common_pb2.Uncertainty(samples=3000, seed=5))
    response = estimate_campus(request, DEPS)
    energy = response.intervals["annual_energy_joules"]
    assert energy.p5 < response.annual_energy_joules < energy.p95
    count = response.intervals["accelerator_count"]
    assert count.p5 <= response.accelerator_count <= count.p95
    assert estimate_campus(request, DEPS).intervals == response.intervals
