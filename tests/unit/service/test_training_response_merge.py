"""EstimateTrainingResponse built in one merge (calibration, breakdown and assumptions as wire
bytes) equals the one built by copying the calibration and adding the elements, byte for byte."""

import dataclasses

from flopwatt.estimate.catalog import get_hardware
from flopwatt.estimate.hardware import shared_datasheet_hardware_model
from flopwatt.estimate.training import estimate_training_run
from flopwatt.service.api import convert
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.training import build_scenario, to_response
from flopwatt.v1 import common_pb2, estimator_pb2

R = estimator_pb2.EstimateTrainingResponse
NUMBER = R.DESCRIPTOR.fields_by_name["calibration"].number


def test_calibration_element_is_the_copied_message():
    datasheet = shared_datasheet_hardware_model(get_hardware("h100-sxm"), "bf16")
    profiled = dataclasses.replace(datasheet, calibration_kind="measured_profile", profile_name="p1")
    for hw in (datasheet, profiled, datasheet):  # the datasheet bytes again, from the memo
        merged = R()
        merged.MergeFromString(convert.calibration_element(NUMBER, hw))
        assert merged.SerializeToString() == R(calibration=convert.calibration_to_proto(hw)).SerializeToString()


def test_to_response_equals_the_element_by_element_build():
    request = estimator_pb2.EstimateTrainingRequest(
        model=common_pb2.ModelSpec(preset_id="llama-3.1-8b"),
        training_tokens=10**12,
        sequence_length=8192,
        hardware_id="h100-sxm",
        accelerator_count=64,
        goodput=0.9,
        parallelism=common_pb2.Parallelism(
            tensor_parallel_size=2,
            pipeline_parallel_size=1,
            data_parallel_size=32,
            micro_batch_size=1,
            global_batch_size=256,
        ),
    )
    scenario, assumptions, _ = build_scenario(request, ApiDependencies())
    response = to_response(estimate_training_run(scenario), assumptions)
    expected = R()
    expected.CopyFrom(response)
    for field in ("calibration", "breakdown", "assumptions"):
        expected.ClearField(field)
    expected.calibration.CopyFrom(convert.calibration_to_proto(scenario.hardware))
    for group in ("step_time", "memory", "energy", "cost", "wall_clock"):
        for q in getattr(response.breakdown, group):
            getattr(expected.breakdown, group).add(name=q.name, value=q.value, unit=q.unit)
    expected.assumptions.extend(convert.assumptions_to_proto(assumptions))
    assert response.SerializeToString(deterministic=True) == expected.SerializeToString(deterministic=True)
