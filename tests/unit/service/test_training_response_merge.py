"""EstimateTrainingResponse built in one merge (calibration, breakdown and assumptions as wire
bytes) equals the one built by copying the calibration and adding the elements, byte for byte."""

import dataclasses

import pytest

from flopwatt.estimate.catalog import get_hardware
from flopwatt.estimate.hardware import shared_datasheet_hardware_model
from flopwatt.estimate.training import estimate_training_run
from flopwatt.service.api import convert
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.training import build_scenario, to_response
from flopwatt.v1 import estimator_pb2
from tests.unit.service.test_api_operator_table import _profile as operator_table_profile
from tests.unit.service.test_api_operator_table import _request as operator_table_request

R = estimator_pb2.EstimateTrainingResponse
NUMBER = R.DESCRIPTOR.fields_by_name["calibration"].number


def test_calibration_element_is_the_copied_message():
    datasheet = shared_datasheet_hardware_model(get_hardware("h100-sxm"), "bf16")
    profiled = dataclasses.replace(datasheet, calibration_kind="measured_profile", profile_name="p1")
    for hw in (datasheet, profiled, datasheet):  # the datasheet bytes again, from the memo
        merged = R()
        merged.MergeFromString(convert.calibration_element(NUMBER, hw))
        assert merged.SerializeToString() == R(calibration=convert.calibration_to_proto(hw)).SerializeToString()


@pytest.mark.parametrize("profiled", [False, True])
def test_to_response_equals_the_element_by_element_build(profiled):
    """A datasheet model, and a workload profile's (its own calibration and operator coverage)."""
    request = operator_table_request("w1" if profiled else "")
    document = operator_table_profile(1e-11)
    scenario, assumptions, _ = build_scenario(request, ApiDependencies(profile_document=lambda name: document))
    estimate = estimate_training_run(scenario)
    response = to_response(estimate, assumptions)
    assert response.calibration.HasField("operator_table") == profiled
    expected = R()
    expected.CopyFrom(response)
    for field in ("calibration", "breakdown", "assumptions"):
        expected.ClearField(field)
    expected.calibration.CopyFrom(convert.calibration_to_proto(scenario.hardware))
    if estimate.operator_coverage is not None:
        convert.set_operator_coverage(expected.calibration, estimate.operator_coverage)
    for group in ("step_time", "memory", "energy", "cost", "wall_clock"):
        for q in getattr(response.breakdown, group):
            getattr(expected.breakdown, group).add(name=q.name, value=q.value, unit=q.unit)
    expected.assumptions.extend(convert.assumptions_to_proto(assumptions))
    assert response.SerializeToString(deterministic=True) == expected.SerializeToString(deterministic=True)
