"""Campus sizing: rack rounding, fabric tiers, power parts, budget mode, build-out, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from google.protobuf.duration_pb2 import Duration
from google.type.money_pb2 import Money

from flopwatt.estimate import campus
from flopwatt.estimate.buildout import RampInputs, quarterly_periods
from flopwatt.service.api.campus import estimate_campus
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.errors import InvalidArgument
from flopwatt.v1 import common_pb2, estimator_pb2

DEPS = ApiDependencies()
SEVEN_YEARS = Duration(seconds=int(7 * 365.25 * 86400))


def _campus(**fields) -> estimator_pb2.EstimateCampusResponse:
    return estimate_campus(estimator_pb2.EstimateCampusRequest(hardware_id="gb200", **fields), DEPS)


def _parts(response) -> dict[str, float]:
    return {q.name: q.value for q in response.power_per_accelerator}


def test_power_budget_fills_whole_racks_without_exceeding_it():
    response = _campus(facility_power_watts=1.2e9)
    assert response.accelerator_count % 72 == 0 and response.accelerators_per_rack == 72
    assert response.rack_count * 72 == response.accelerator_count
    all_in = _parts(response)["all_in"]
    assert response.facility_power_watts <= 1.2e9 < response.facility_power_watts + 72 * all_in
    parts = _parts(response)
    assert parts["accelerator"] + parts["host"] + parts["network"] + parts[
        "cooling_and_power_delivery"
    ] == pytest.approx(all_in)
    assert response.facility_power_watts == pytest.approx(response.it_power_watts * 1.2)


def test_fat_tree_tiers_and_network_power_grow_with_the_fleet():
    assert campus.fabric_tiers(np.array([64, 65, 2048, 2049, 65536, 65537])).tolist() == [1, 2, 2, 3, 3, 4]
    small = _parts(_campus(accelerator_count=1000))["network"]
    large = _parts(_campus(accelerator_count=1_000_000))["network"]
    assert large > small > 0


def test_requested_count_rounds_up_to_whole_racks():
    response = _campus(accelerator_count=100)
    assert response.accelerator_count == 144


def test_rented_budget_buys_hours_within_the_budget():
    facility = common_pb2.Facility(accelerator_hour_price_usd=3.0)
    response = _campus(budget=Money(currency_code="USD", units=38_000_000_000), term=SEVEN_YEARS, facility=facility)
    hours = response.accelerator_count * SEVEN_YEARS.seconds / 3600.0
    assert hours * 3.0 <= 38e9 < (hours + 72 * SEVEN_YEARS.seconds / 3600.0) * 3.0


def test_annual_energy_is_average_draw_not_nameplate():
    response = _campus(facility_power_watts=1.0e9)
    nameplate_joules = response.facility_power_watts * campus.SECONDS_PER_YEAR
    assert 0.5 * nameplate_joules < response.annual_energy_joules < nameplate_joules
    households = {q.name: q.value for q in response.comparisons}["households"]
    assert households == pytest.approx(response.annual_energy_joules / 3.6e6 / 10715.0)


def test_buildout_sums_to_the_steady_state_after_the_ramp():
    periods = quarterly_periods(RampInputs(7200.0, 72, 12, 24, 0.9, 3.6e6, 2.0))
    assert [p.end_month for p in periods] == [3, 6, 9, 12, 15, 18, 21, 24]
    assert [p.accelerator_count for p in periods[:4]] == [1800, 3600, 5400, 7200]
    last_year = sum(p.accelerator_hours for p in periods[4:])
    assert last_year == pytest.approx(7200 * campus.SECONDS_PER_YEAR / 3600.0 * 0.9)
    assert periods[-1].cumulative_spend_usd == pytest.approx(sum(p.spend_usd for p in periods))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"facility_power_watts": -5.0}, "facility_power_watts"),
        ({"facility_power_watts": math.nan}, "facility_power_watts"),
        ({"facility_power_watts": 1e9, "facility": common_pb2.Facility(pue=0.9)}, "facility.pue"),
        ({"budget": Money(currency_code="USD", units=10**9), "term": Duration(seconds=0)}, "term"),
        ({"budget": Money(currency_code="USD", units=-1)}, "budget"),
        ({"accelerator_count": -3}, "accelerator_count"),
        ({}, "capacity"),
        ({"facility_power_watts": 1e9, "utilization": 1.5}, "utilization"),
        ({"facility_power_watts": 1e9, "buildout": estimator_pb2.Buildout(ramp_months=0)}, "buildout.ramp_months"),
        (
            {"facility_power_watts": 1e9, "capital_costs": estimator_pb2.CapitalCosts(it_depreciation_years=0)},
            "capital_costs.it_depreciation_years",
        ),
        ({"facility_power_watts": 1e3}, "facility_power_watts"),
    ],
)
def test_bad_input_names_the_field(fields, field):
    with pytest.raises(InvalidArgument) as raised:
        _campus(**fields)
    assert field in [v.field for v in raised.value.violations]


def test_training_workload_reports_single_job_feasibility_plainly():
    training = estimator_pb2.CampusTrainingWorkload(
        model=common_pb2.ModelSpec(preset_id="llama-3.1-70b"), training_tokens=15 * 10**12, sequence_length=8192
    )
    response = _campus(facility_power_watts=1.2e9, training=training)
    assert response.single_job_feasibility.startswith("no: one job can use")
    assert response.training_runs_per_year > 0 and response.training_estimate.accelerator_hours > 0
    small = _campus(accelerator_count=1152, training=training)
    assert small.single_job_feasibility.startswith("yes")


def test_a_tpu_without_pod_to_pod_bandwidth_runs_one_job_per_pod():
    """Issue 11 item 6: TPU v4 publishes no bandwidth between its 4,096-chip pods, so a campus
    of 8,192 runs two single-pod jobs instead of one NaN-timed job over both."""
    training = estimator_pb2.CampusTrainingWorkload(
        model=common_pb2.ModelSpec(preset_id="llama-3.1-8b"), training_tokens=10**12, sequence_length=4096
    )
    response = estimate_campus(
        estimator_pb2.EstimateCampusRequest(hardware_id="tpu-v4", accelerator_count=8192, training=training), DEPS
    )
    assert response.single_job_feasibility.startswith("no: one job can use 4,096 of 8,192")
    assert "pod" in response.single_job_feasibility
    assert math.isfinite(response.training_runs_per_year) and response.training_runs_per_year > 0


@pytest.mark.parametrize("hardware_id", ["gb200", "h100-sxm", "a100-80gb"])
def test_training_and_campus_price_an_accelerator_alike(hardware_id):
    """Issue 11 item 9: training amortised GPU price × 1.5 ($67.5k for GB200) while campus sizing
    summed $47.2k of parts; one IT capex per accelerator now serves both."""
    from flopwatt.estimate.facility_choice import FacilityChoice, facility_inputs

    count = 1152
    response = estimate_campus(
        estimator_pb2.EstimateCampusRequest(hardware_id=hardware_id, accelerator_count=count), DEPS
    )
    parts = {q.name: q.value for q in response.capital_cost}
    campus_it_capex = (parts["accelerators"] + parts["servers"] + parts["network"]) / response.accelerator_count
    training_capex = facility_inputs(FacilityChoice(), hardware_id)[0].capex_usd_per_accelerator
    assert training_capex == pytest.approx(campus_it_capex, rel=1e-9)


def test_a_campus_training_job_is_priced_at_the_campus_capex():
    training = estimator_pb2.CampusTrainingWorkload(
        model=common_pb2.ModelSpec(preset_id="llama-3.1-8b"), training_tokens=10**12, sequence_length=4096
    )
    base = dict(hardware_id="h100-sxm", accelerator_count=1024, training=training)
    default = estimate_campus(estimator_pb2.EstimateCampusRequest(**base), DEPS)
    doubled = estimate_campus(
        estimator_pb2.EstimateCampusRequest(capital_costs=estimator_pb2.CapitalCosts(accelerator_usd=60000.0), **base),
        DEPS,
    )
    capex = lambda r: {q.name: q.value for q in r.training_estimate.breakdown.cost}["amortised_capex"]  # noqa: E731
    assert capex(doubled) > capex(default)
