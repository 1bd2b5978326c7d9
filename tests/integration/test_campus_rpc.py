"""EstimateCampus through a real server: the 1.2 GW GB200 site and the named-field errors."""

from __future__ import annotations

import grpc
import pytest

from flopwatt.v1 import common_pb2, estimator_pb2, estimator_pb2_grpc
from tests.conftest import field_violations


def test_a_gigawatt_gb200_campus(server):
    request = estimator_pb2.EstimateCampusRequest(
        facility_power_watts=1.2e9,
        hardware_id="gb200",
        buildout=estimator_pb2.Buildout(ramp_months=12),
        uncertainty=common_pb2.Uncertainty(samples=1000, seed=1),
    )
    with server.channel() as channel:
        response = estimator_pb2_grpc.EstimatorServiceStub(channel).EstimateCampus(request, timeout=30)
    assert 300_000 < response.accelerator_count < 600_000 and response.accelerator_count % 72 == 0
    assert response.facility_power_watts <= 1.2e9
    assert {q.name for q in response.power_per_accelerator} >= {
        "accelerator",
        "host",
        "network",
        "cooling_and_power_delivery",
    }
    assert response.total_capital_cost.units > 10**10
    assert len(response.buildout) == 8 and response.intervals["annual_energy_joules"].p5 > 0


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"facility_power_watts": -1.0}, "facility_power_watts"),
        ({"facility_power_watts": 1e9, "facility": common_pb2.Facility(pue=0.8)}, "facility.pue"),
    ],
)
def test_bad_campus_input_is_invalid_argument_naming_the_field(server, request_fields, field):
    with server.channel() as channel:
        stub = estimator_pb2_grpc.EstimatorServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.EstimateCampus(estimator_pb2.EstimateCampusRequest(hardware_id="gb200", **request_fields), timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(raised.value)


def test_a_national_assistant_sized_from_its_users(server):
    """The README's national example through a real server: 10 M users of Llama 3.1 70B FP8."""
    request = estimator_pb2.EstimateCampusRequest(
        hardware_id="h100-sxm",
        demand=estimator_pb2.CampusDemand(
            users=10_000_000,
            model=common_pb2.ModelSpec(preset_id="llama-3.1-70b"),
            precision=common_pb2.PRECISION_FP8,
        ),
    )
    with server.channel() as channel:
        response = estimator_pb2_grpc.EstimatorServiceStub(channel).EstimateCampus(request, timeout=30)
    plan = response.demand_plan
    assert plan.serving_plan.accelerator_count <= response.accelerator_count
    assert plan.serving_plan.replicas > 1 and plan.cost_per_user_per_month.currency_code == "USD"
    assert response.facility_power_watts > 0 and response.annual_energy_joules > 0


@pytest.mark.parametrize(
    ("demand", "code", "field"),
    [
        ({"users": 0}, grpc.StatusCode.INVALID_ARGUMENT, "demand.users"),
        (
            {"users": 1000, "peak_to_average_ratio": 0.5},
            grpc.StatusCode.INVALID_ARGUMENT,
            "demand.peak_to_average_ratio",
        ),
        (
            {"users": 1000, "slo": estimator_pb2.ServingSlo(time_per_output_token={"nanos": 1000})},
            grpc.StatusCode.FAILED_PRECONDITION,
            None,
        ),
    ],
)
def test_bad_demands_get_deliberate_statuses(server, demand, code, field):
    request = estimator_pb2.EstimateCampusRequest(
        hardware_id="h100-sxm",
        demand=estimator_pb2.CampusDemand(model=common_pb2.ModelSpec(preset_id="llama-3.1-70b"), **demand),
    )
    with server.channel() as channel:
        with pytest.raises(grpc.RpcError) as raised:
            estimator_pb2_grpc.EstimatorServiceStub(channel).EstimateCampus(request, timeout=30)
    assert raised.value.code() == code
    if field:
        assert field in field_violations(raised.value)
    else:
        assert "best reachable" in raised.value.details()
