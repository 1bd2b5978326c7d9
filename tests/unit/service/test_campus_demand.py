"""EstimateCampus with a demand capacity (service/api/campus_demand.py) and `estimate campus --users`."""

from __future__ import annotations

import argparse
import math

import pytest

from flopwatt.service.api.campus import estimate_campus
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.cli import CliError
from flopwatt.service.cli import estimate_campus as campus_cli
from flopwatt.service.errors import FailedPrecondition, InvalidArgument
from flopwatt.v1 import common_pb2, estimator_pb2

DEPS = ApiDependencies()


def national(users: int = 10_000_000, hardware: str = "h100-sxm", **demand) -> estimator_pb2.EstimateCampusRequest:
    """The README's national example: Llama 3.1 70B FP8 for `users` people, defaults elsewhere."""
    request = estimator_pb2.EstimateCampusRequest(hardware_id=hardware)
    request.demand.users = users
    request.demand.model.preset_id = "llama-3.1-70b"
    request.demand.precision = common_pb2.PRECISION_FP8
    for name, value in demand.items():
        setattr(request.demand, name, value)
    return request


def usd(money) -> float:
    return money.units + money.nanos / 1e9


def seconds(duration) -> float:
    return duration.seconds + duration.nanos / 1e9


def test_the_national_example_answers_fleet_power_energy_cost_and_the_plan():
    response = estimate_campus(national(), DEPS)
    plan = response.demand_plan
    serving = plan.serving_plan
    assert serving.accelerator_count == serving.replicas * serving.tensor_parallel_size
    # Whole 8-GPU nodes, at least the planned accelerators, at most one node more.
    assert response.accelerator_count % 8 == 0
    assert serving.accelerator_count <= response.accelerator_count < serving.accelerator_count + 8
    assert plan.average_request_rate_per_second == pytest.approx(10e6 * 5 / 86_400)
    assert plan.peak_request_rate_per_second == pytest.approx(2 * plan.average_request_rate_per_second)
    assert plan.output_tokens_per_day == pytest.approx(10e6 * 5 * 200) == response.output_tokens_per_day
    assert seconds(plan.time_to_first_token_p99) <= 0.5 and seconds(plan.time_per_output_token_p99) <= 0.05
    assert plan.peak_wait_probability <= 0.01 and 0 < plan.peak_utilization < 1
    installed_replicas = response.accelerator_count / serving.tensor_parallel_size
    assert plan.average_utilization == pytest.approx(
        plan.average_request_rate_per_second / (installed_replicas * plan.replica_requests_per_second)
    )
    # Cost per user per month is the campus's amortised capex plus energy over users and months.
    annualised = next(q.value for q in response.capital_cost if q.name == "annualised")
    assert usd(plan.annual_cost) == pytest.approx(annualised + usd(response.annual_energy_cost), rel=1e-6)
    assert usd(plan.cost_per_user_per_month) == pytest.approx(usd(plan.annual_cost) / 10e6 / 12, rel=1e-6)
    assert plan.annual_energy_per_user_kwh == pytest.approx(response.annual_energy_joules / 3.6e6 / 10e6)
    rows = {a.name: a for a in response.assumptions}
    assert rows["utilization"].origin == "derived"
    assert rows["demand.requests_per_user_per_day"].origin == "default"
    assert rows["demand.peak_to_average_ratio"].origin == "default" and "demand.serving_plan" in rows


def test_energy_follows_the_average_load_not_the_nameplate():
    response = estimate_campus(national(), DEPS)
    nameplate_year = response.facility_power_watts * 365.25 * 86400
    assert response.annual_energy_joules < 0.6 * nameplate_year  # the fleet is busy ~35 % of the time


def test_doubling_users_doubles_accelerators_within_rounding():
    one = estimate_campus(national(5_000_000), DEPS)
    two = estimate_campus(national(10_000_000), DEPS)
    tp = one.demand_plan.serving_plan.tensor_parallel_size
    # Replicas scale with the peak rate up to their ceiling; nodes of 8 add at most one node each.
    assert abs(two.accelerator_count - 2 * one.accelerator_count) <= 2 * tp + 16
    assert two.demand_plan.serving_plan.replicas == pytest.approx(2 * one.demand_plan.serving_plan.replicas, abs=2)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"users": 0}, "demand.users"),
        ({"users": -5}, "demand.users"),
        ({"requests_per_user_per_day": math.nan}, "demand.requests_per_user_per_day"),
        ({"requests_per_user_per_day": 0.0}, "demand.requests_per_user_per_day"),
        ({"peak_to_average_ratio": 0.5}, "demand.peak_to_average_ratio"),
        ({"peak_to_average_ratio": math.inf}, "demand.peak_to_average_ratio"),
        ({"input_tokens": -1}, "demand.input_tokens"),
        ({"output_tokens": 10**9}, "demand.output_tokens"),
        ({"peak_wait_probability": 0.9}, "demand.peak_wait_probability"),
    ],
)
def test_bad_demand_fields_are_named(overrides, field):
    with pytest.raises(InvalidArgument) as error:
        estimate_campus(national(**overrides), DEPS)
    assert field in {v.field for v in error.value.violations}


def test_a_missing_model_and_fields_the_demand_decides_are_named():
    request = national()
    request.demand.ClearField("model")
    request.utilization = 0.5
    request.inference.model.preset_id = "llama-3.1-8b"
    with pytest.raises(InvalidArgument) as error:
        estimate_campus(request, DEPS)
    assert {"demand.model", "utilization", "inference"} <= {v.field for v in error.value.violations}


def test_bad_slos_are_named():
    request = national()
    request.demand.slo.time_to_first_token.seconds = -1
    with pytest.raises(InvalidArgument) as error:
        estimate_campus(request, DEPS)
    assert "demand.slo.time_to_first_token" in {v.field for v in error.value.violations}
    request = national()
    request.demand.slo.SetInParent()  # set, but both targets zero
    with pytest.raises(InvalidArgument) as error:
        estimate_campus(request, DEPS)
    assert "demand.slo" in {v.field for v in error.value.violations}


def test_an_slo_no_layout_meets_is_failed_precondition_with_the_best_values():
    request = national()
    request.demand.slo.time_to_first_token.FromMilliseconds(1)
    request.demand.slo.time_per_output_token.FromMicroseconds(100)
    with pytest.raises(FailedPrecondition, match="best reachable") as error:
        estimate_campus(request, DEPS)
    assert error.value.reason == "SLO_UNREACHABLE"


def test_a_model_that_fits_no_node_is_failed_precondition_naming_the_model():
    request = national(hardware="a100-40gb", input_tokens=100_000)
    request.demand.model.preset_id = "llama-3.1-405b"
    request.demand.precision = common_pb2.PRECISION_BF16
    with pytest.raises(FailedPrecondition, match="demand.model"):
        estimate_campus(request, DEPS)


def test_a_demand_past_any_campus_is_invalid_argument_naming_users():
    request = national(users=10_000_000_000, requests_per_user_per_day=86_400.0)
    with pytest.raises(InvalidArgument) as error:
        estimate_campus(request, DEPS)
    assert "demand.users" in {v.field for v in error.value.violations}


def _campus_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    campus_cli.register(parser.add_subparsers())
    return parser.parse_args(["campus", *argv])


def test_the_cli_sizes_a_population_with_documented_defaults(capsys):
    args = _campus_args("--hardware", "h100-sxm", "--users", "1e7", "--precision", "fp8")
    assert args.handler(args) == 0
    printed = capsys.readouterr().out
    assert "serving plan            TP" in printed and "cost per user per month" in printed
    assert "[default] demand.requests_per_user_per_day = 5" in printed
    request = campus_cli.build_request(_campus_args("--hardware", "h100-sxm", "--users", "1e6", "--ttft-ms", "800"))
    assert request.demand.model.preset_id == campus_cli.DEFAULT_DEMAND_MODEL
    assert seconds(request.demand.slo.time_to_first_token) == pytest.approx(0.8)


def test_demand_flags_without_users_are_one_line_errors():
    with pytest.raises(CliError, match="--peak-to-average: only with --users"):
        campus_cli.build_request(_campus_args("--hardware", "gb200", "--power-watts", "1e9", "--peak-to-average", "3"))
    with pytest.raises(CliError, match="--users"):
        campus_cli.build_request(_campus_args("--hardware", "gb200", "--users", "1.5"))
    with pytest.raises(CliError, match="--ttft-ms"):
        campus_cli.build_request(_campus_args("--hardware", "gb200", "--users", "100", "--ttft-ms", "nan"))


def test_a_scale_up_domain_wider_than_the_model_divides_is_narrowed():
    """An NVL72 rack allows groups up to 64, but Llama 3.1 8B's 32 heads divide at most 32: the
    planner tries groups up to 32 instead of refusing the request."""
    request = national(hardware="gb200")
    request.demand.model.preset_id = "llama-3.1-8b"
    response = estimate_campus(request, DEPS)
    assert response.demand_plan.serving_plan.tensor_parallel_size <= 32 and response.accelerator_count % 72 == 0
