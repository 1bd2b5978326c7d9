"""Demand-side sizing (estimate/demand.py): a population → request rates → replicas → accelerators."""

from __future__ import annotations

import dataclasses
import math

import pytest

from flopwatt.estimate import demand as dm
from flopwatt.estimate.continuous import SloUnreachable, erlang_c
from flopwatt.estimate.model_choice import ModelChoice
from flopwatt.estimate.scenarios import InferenceWorkload, build_inference_scenario


@pytest.fixture(scope="module")
def replica():
    """Llama 3.1 70B FP8 on up to 8 H100, 1,000 / 200 tokens (issue 12's planning example)."""
    scenario, _ = build_inference_scenario(
        InferenceWorkload(
            model=ModelChoice("llama-3.1-70b", (), 0.0, 0.0),
            hardware_id="h100-sxm",
            accelerator_count=8,
            input_tokens=1000,
            output_tokens=200,
            precision="fp8",
            precision_set=True,
        )
    )
    return scenario


def plan(replica, users: float, **demand):
    return dm.plan_demand(dm.Demand(users, **demand), replica, 0.5, 0.05)


def test_request_rates_are_users_times_requests_over_a_day_and_the_peak_ratio():
    d = dm.Demand(86_400.0, requests_per_user_per_day=3.0, peak_to_average_ratio=2.5)
    assert d.average_request_rate_per_second == pytest.approx(3.0)
    assert d.peak_request_rate_per_second == pytest.approx(7.5)


def test_replicas_are_the_fewest_that_keep_the_peak_wait_under_the_target():
    peak, rate, slots, target = 1000.0, 6.0, 55, 0.01
    replicas = dm.replicas_for_peak(peak, rate, slots, target)
    service = slots / rate
    assert replicas >= math.ceil(peak / rate)
    assert erlang_c(slots, peak / replicas * service) <= target
    assert erlang_c(slots, peak / (replicas - 1) * service) > target  # one fewer waits too often


def test_a_tiny_demand_needs_one_replica():
    assert dm.replicas_for_peak(0.001, 6.0, 55, 0.01) == 1


def test_doubling_users_doubles_accelerators_within_replica_rounding(replica):
    one, two = plan(replica, 10e6), plan(replica, 20e6)
    assert one.accelerators_per_replica == two.accelerators_per_replica
    # Erlang C at a fixed number of slots per replica: the same utilisation per replica, so the
    # replicas scale with the peak rate up to the ceiling of each count.
    assert abs(two.replicas - 2 * one.replicas) <= 2
    assert two.accelerator_count == two.replicas * two.accelerators_per_replica


def test_the_fleet_carries_the_peak_within_the_slo(replica):
    p = plan(replica, 10e6)
    assert p.replicas * p.replica_requests_per_second >= p.demand.peak_request_rate_per_second
    assert p.peak_utilization == pytest.approx(
        p.demand.peak_request_rate_per_second / (p.replicas * p.replica_requests_per_second)
    )
    assert p.peak_utilization < 1.0 and p.peak_wait_probability <= dm.DEFAULT_PEAK_WAIT_PROBABILITY
    assert p.at_peak.ttft_p99 <= 0.5 and p.at_peak.tpot_p99 <= 0.05
    assert p.replica_service_seconds == pytest.approx(p.slo_plan.max_running_batch / p.replica_requests_per_second)


def test_a_higher_peak_ratio_needs_more_replicas_and_a_looser_wait_fewer(replica):
    base = plan(replica, 10e6)
    assert plan(replica, 10e6, peak_to_average_ratio=4.0).replicas > base.replicas
    assert plan(replica, 10e6, peak_wait_probability=0.2).replicas < base.replicas


def test_tokens_per_day_and_the_average_load(replica):
    p = plan(replica, 10e6)
    assert p.output_tokens_per_day == pytest.approx(10e6 * dm.DEFAULT_REQUESTS_PER_USER_PER_DAY * 200)
    installed = p.accelerator_count + 2  # as if rack rounding added a replica
    expected = p.demand.average_request_rate_per_second / (
        installed / p.accelerators_per_replica * p.replica_requests_per_second
    )
    assert p.average_utilization(installed) == pytest.approx(expected)
    # The average load is the peak's divided by the peak ratio (same replicas, fewer requests).
    assert p.average_utilization(p.accelerator_count) == pytest.approx(p.peak_utilization / 2.0)


def test_an_slo_no_layout_meets_raises_with_the_best_values(replica):
    with pytest.raises(SloUnreachable) as error:
        dm.plan_demand(dm.Demand(1e6), replica, 0.001, 0.0001)
    assert error.value.best_ttft_seconds > 0.001 and math.isfinite(error.value.best_tpot_seconds)


def test_a_model_that_fits_no_group_is_unreachable_with_infinite_best_values(replica):
    tiny = dataclasses.replace(replica, accelerator_count=1)  # 70B FP8 does not fit one H100 with a KV cache
    with pytest.raises(SloUnreachable) as error:
        dm.plan_demand(dm.Demand(1e6), dataclasses.replace(tiny, input_tokens=100_000), 0.5, 0.05)
    assert not math.isfinite(error.value.best_ttft_seconds)


def test_cost_per_user_per_month():
    assert dm.cost_per_user_per_month_usd(12e6, 1e6) == pytest.approx(1.0)
