"""`flopwatt validate --local`'s power checks: each training and decode check's `power` object
holds the measured window beside the estimator's power for the same step on both paths (profile
and datasheet), with the errors and energies per step computed from them, or `skipped` with the
reason; the text form prints one power line per check. Computed on the CPU from a stand-in
measurement with the committed H100 profile (the GPU run is tests/gpu/test_gpu_closed_loop.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from flopwatt.bench.closed_loop_model import PRESETS
from flopwatt.bench.closed_loop_power import CPU_REASON, StepPower
from flopwatt.bench.power import PowerWindow
from flopwatt.estimate.catalog.loader import get_hardware
from flopwatt.estimate.hardware import datasheet_hardware_model
from flopwatt.service.cli.validate_local import (
    LocalDevice,
    closed_loop_result,
    decode_prediction,
    register_arguments,
    training_step_prediction,
)
from flopwatt.service.cli.validate_local_output import power_line
from flopwatt.service.cli.validate_local_power import predict_power

H100_PROFILE = Path(__file__).resolve().parents[3] / "bench" / "results" / "h100-sxm-quick.json"
CONFIG = PRESETS["llama-3.2-1b-class"]
POWER_KEYS = {
    "measured_watts",
    "predicted_watts",
    "datasheet_predicted_watts",
    "error_percent",
    "datasheet_error_percent",
    "measured_joules_per_step",
    "predicted_joules_per_step",
    "datasheet_predicted_joules_per_step",
    "steps",
    "window",
}


def _h100() -> LocalDevice:
    description = {"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "hardware_id": "h100-sxm"}
    return LocalDevice("cuda", description, get_hardware("h100-sxm"))


def _window(label: str, watts: float, seconds: float, units: int, steps_per_unit: int) -> dict:
    """A measured window's dict as the closed loop records it (StepPower.as_dict)."""
    return StepPower(PowerWindow(label, seconds, watts * seconds, units, 0), steps_per_unit).as_dict()


def _measurement(with_power: bool) -> dict:
    start = CONFIG.decode_context + CONFIG.warmup_steps
    training = {"median_seconds": 0.16, "samples_seconds": [0.16]}
    decode = {
        "median_seconds": 0.007,
        "samples_seconds": [0.007],
        "batch": CONFIG.decode_batch,
        "context_start": start,
        "context_end": start + CONFIG.decode_tokens,
    }
    if with_power:
        training["power_window"] = _window("training step", 650.0, 5.2, 16, 2)
        decode["power_window"] = {**_window("decode step", 420.0, 5.1, 25, 29), "cache_positions": [start, start + 31]}
    return {"training_step": training, "decode_step": decode}


def _result(with_power: bool = True, reason: str | None = None) -> dict:
    document = json.loads(H100_PROFILE.read_text())
    return closed_loop_result(CONFIG, _measurement(with_power), "h100-quick", document, _h100(), None, reason)


def test_each_check_compares_measured_with_both_paths_predicted_power_and_energy():
    result = _result()
    for name, watts, steps in (("training_step", 650.0, 32), ("decode_step", 420.0, 725)):
        power = result[name]["power"]
        assert POWER_KEYS <= set(power), name
        assert power["measured_watts"] == pytest.approx(watts) and power["steps"] == steps
        assert power["measured_joules_per_step"] == pytest.approx(watts * power["window"]["seconds"] / steps)
        for prefix, seconds_key in (("", "predicted_seconds"), ("datasheet_", "datasheet_predicted_seconds")):
            predicted = power[f"{prefix}predicted_watts"]
            assert math.isfinite(predicted) and 100 < predicted <= 710, (name, prefix, predicted)
            assert power[f"{prefix}error_percent"] == pytest.approx((predicted - watts) / watts * 100)
            joules = power[f"{prefix}predicted_joules_per_step"]
            assert joules == pytest.approx(predicted * result[name][seconds_key])
        assert power["predicted_power_from"] == "profile power windows"
        assert power["datasheet_power_from"] == "datasheet fractions of TDP"
        assert "power_window" not in result[name]["measurement"]  # one copy: under `power`
    assert result["decode_step"]["power"]["cache_positions"] == [2051, 2082]


def test_the_predicted_watts_are_the_estimators_training_and_serving_power():
    """Training: HardwareModel.power_watts at the step's busy fraction; decode: serving_metrics'
    decode-step power (PowerLevels over the step's BoundSeconds)."""
    hw = datasheet_hardware_model(get_hardware("h100-sxm"), CONFIG.dtype)
    measured = _measurement(False)
    power = _result()
    training = float(hw.power_watts(training_step_prediction(CONFIG, hw).busy_fraction))
    decode = float(decode_prediction(CONFIG, hw, measured["decode_step"]).decode_power_watts)
    assert power["training_step"]["power"]["datasheet_predicted_watts"] == pytest.approx(training)
    assert power["decode_step"]["power"]["datasheet_predicted_watts"] == pytest.approx(decode)
    # the datasheet training load is 0.76 × TDP (700 W); decode mixes memory- and compute-bound work
    assert 0.12 * 700 < training <= 0.76 * 700 and decode < 700


def test_the_operator_table_path_draws_the_rebuilt_steps_power():
    """Training: the closed loop's operator-table step is device work alone, so busy fraction 1
    (full load). Decode: the table's parts take the bounding unit of the analytic part of the same
    name; at batch 8 the 1B-class projections are memory-bound, so a step of GEMMs alone draws
    the memory-bound level, above the analytic step's mix (its launches draw idle power)."""
    from flopwatt.estimate.operator_table import OperatorStep, OperatorTime

    hw = datasheet_hardware_model(get_hardware("h100-sxm"), CONFIG.dtype)
    measured = _measurement(False)
    seconds = {"training_step": 0.15, "decode_step": 0.006}
    gemms_only = OperatorStep()
    gemms_only.add(OperatorTime(0.006, "measured"), kind="gemm")
    from_table = predict_power(CONFIG, hw, measured, seconds, {"training_step": object(), "decode_step": gemms_only})
    analytic = predict_power(CONFIG, hw, measured, seconds)
    assert from_table["training_step"].watts == pytest.approx(float(hw.power_watts(1.0)))
    assert from_table["training_step"].watts > analytic["training_step"].watts
    assert from_table["training_step"].joules_per_step == pytest.approx(from_table["training_step"].watts * 0.15)
    memory_bound_watts = float(hw.serving_power_levels().memory_bound_watts)
    assert from_table["decode_step"].watts == pytest.approx(memory_bound_watts)
    assert analytic["decode_step"].watts < memory_bound_watts


def test_without_a_window_the_power_object_says_why_and_holds_no_number():
    result = _result(with_power=False, reason=CPU_REASON)
    for name in ("training_step", "decode_step"):
        assert result[name]["power"] == {"skipped": CPU_REASON}
    failed = _measurement(True)
    failed["decode_step"]["power_window"] = {"skipped": "NVML stopped answering the energy counter: lost"}
    document = json.loads(H100_PROFILE.read_text())
    result = closed_loop_result(CONFIG, failed, "h100-quick", document, _h100(), None, None)
    assert result["decode_step"]["power"] == {"skipped": "NVML stopped answering the energy counter: lost"}
    assert result["training_step"]["power"]["measured_watts"] == pytest.approx(650.0)


def test_without_a_profile_only_the_datasheet_path_predicts_power():
    result = closed_loop_result(CONFIG, _measurement(True), None, None, _h100(), None, None)
    power = result["training_step"]["power"]
    assert power["predicted_watts"] is None and power["error_percent"] is None
    assert power["predicted_joules_per_step"] is None and power["predicted_power_from"] is None
    assert math.isfinite(power["datasheet_error_percent"])


def test_the_text_form_prints_a_power_line_per_check():
    result = _result()
    line = power_line("decode_step", result["decode_step"]["power"])
    assert line.startswith("decode_step power: measured 420 W over 725 steps in 5.1 s; profile ")
    assert "datasheet" in line and " J" in line
    assert power_line("training_step", {"skipped": CPU_REASON}) == f"training_step power: skipped: {CPU_REASON}"


def test_no_power_is_a_closed_loop_flag():
    import argparse

    parser = argparse.ArgumentParser()
    local_only = register_arguments(parser)
    assert ("--no-power", "no_power") in local_only
    assert parser.parse_args(["--no-power"]).no_power is True and parser.parse_args([]).no_power is False
