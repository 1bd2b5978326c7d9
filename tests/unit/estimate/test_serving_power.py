"""Serving accelerator power from measured work (accelerator_power.py, issue 12): each second of a
step draws the measured power of the unit that bounds it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from flopwatt.estimate import constants as C
from flopwatt.estimate import continuous, disaggregation
from flopwatt.estimate.accelerator_power import BoundSeconds, PowerLevels, total_seconds
from flopwatt.estimate.catalog import get_hardware, get_model_preset
from flopwatt.estimate.continuous import step_power_watts
from flopwatt.estimate.hardware import datasheet_hardware_model, memory_bound_dynamic_share, profiled_hardware_model
from flopwatt.estimate.inference import InferenceScenario, classify_like, scenario_serving_metrics
from flopwatt.estimate.measured_profile import read_profile
from flopwatt.estimate.model_choice import ModelChoice
from flopwatt.estimate.run_cost import FacilityInputs
from flopwatt.estimate.scenarios import InferenceWorkload, build_inference_scenario, serving_power_assumptions

RESULTS = Path(__file__).resolve().parents[3] / "bench" / "results"
FULL_PROFILE = RESULTS / "h100-sxm-full-2026-11-28.json"


def _document(path: Path = FULL_PROFILE) -> dict:
    return json.loads(path.read_text())


def _h100_8b(batch: int = 8, input_tokens: int = 256):
    """Llama 3.1 8B on one datasheet H100, the physics alone (no host time, realisation 1)."""
    workload = InferenceWorkload(
        model=ModelChoice(preset_id="llama-3.1-8b"),
        hardware_id="h100-sxm",
        accelerator_count=1,
        input_tokens=input_tokens,
        output_tokens=256,
        batch_size=batch,
    )
    scenario, assumptions = build_inference_scenario(workload)
    return dataclasses.replace(scenario, per_sequence_step_seconds=0.0, decode_realisation=1.0), assumptions


def test_power_levels_weight_each_unit_by_its_share_of_the_time():
    levels = PowerLevels(idle_watts=100.0, compute_bound_watts=700.0, memory_bound_watts=500.0)
    work = BoundSeconds(compute_bound_seconds=1.0, memory_bound_seconds=2.0, idle_seconds=1.0)
    assert levels.power_watts(work) == pytest.approx(100.0 + 600.0 * 0.25 + 400.0 * 0.5)
    assert levels.power_watts(BoundSeconds()) == 100.0  # no time: idle
    assert levels.busy_for(BoundSeconds.compute_bound(1.0), 0.5) == pytest.approx(400.0)


def test_roofline_puts_a_kernel_in_the_unit_that_sets_its_time():
    memory = BoundSeconds.roofline(np.array([1.0, 3.0]), np.array([2.0, 2.0]))
    np.testing.assert_array_equal(memory.compute_bound_seconds, [0.0, 3.0])
    np.testing.assert_array_equal(memory.memory_bound_seconds, [2.0, 0.0])
    np.testing.assert_array_equal(memory.seconds, [2.0, 3.0])


def test_datasheet_fractions_are_the_cited_h100_measurement():
    """constants.SERVING_*_POWER_FRACTION_OF_TDP are the full profile's windows over its 700 W limit."""
    document = _document()
    power = document["power"]
    limit = document["environment"]["power_limit_watts"]
    assert limit == C.SERVING_POWER_MEASUREMENT_TDP_WATTS == get_hardware("h100-sxm").tdp_watts
    assert C.SERVING_IDLE_POWER_FRACTION_OF_TDP == pytest.approx(power["idle_watts"] / limit, rel=1e-4)
    assert C.SERVING_COMPUTE_BOUND_POWER_FRACTION_OF_TDP == pytest.approx(
        power["load_watts"]["gemm_bf16"] / limit, rel=1e-4
    )
    assert C.SERVING_MEMORY_BOUND_POWER_FRACTION_OF_TDP == pytest.approx(
        power["load_watts"][power["memory_bound_window"]] / limit, rel=1e-4
    )


@pytest.mark.parametrize("hardware_id", ["h100-sxm", "b200", "mi300x"])
def test_datasheet_path_applies_the_fractions_to_the_accelerators_tdp(hardware_id):
    spec = get_hardware(hardware_id)
    hw = datasheet_hardware_model(spec, "bf16")
    levels = hw.serving_power_levels()
    assert levels.idle_watts == pytest.approx(spec.tdp_watts * C.SERVING_IDLE_POWER_FRACTION_OF_TDP)
    assert levels.compute_bound_watts == pytest.approx(spec.tdp_watts * C.SERVING_COMPUTE_BOUND_POWER_FRACTION_OF_TDP)
    assert levels.memory_bound_watts == pytest.approx(spec.tdp_watts * C.SERVING_MEMORY_BOUND_POWER_FRACTION_OF_TDP)
    (stated,) = serving_power_assumptions(hw)
    assert stated.name == "accelerator_power" and "h100-sxm-full-2026-11-28.json" in stated.source
    assert f"{spec.tdp_watts:.0f} W" in stated.source


def test_a_profile_uses_its_own_idle_gemm_and_memory_bound_windows():
    profile = read_profile(_document())
    assert profile.memory_bound_window == "triad_fp64"
    hw = profiled_hardware_model(get_hardware("h100-sxm"), "bf16", profile, "full")
    levels = hw.serving_power_levels()
    power = _document()["power"]
    assert (levels.idle_watts, levels.compute_bound_watts, levels.memory_bound_watts) == (
        power["idle_watts"],
        power["load_watts"]["gemm_bf16"],
        power["load_watts"]["triad_fp64"],
    )
    assert {v.name for v in hw.calibration_values} >= {"idle_watts", "load_watts", "memory_bound_watts"}
    assert serving_power_assumptions(hw) == []
    fp8 = profiled_hardware_model(get_hardware("h100-sxm"), "fp8", profile, "full").serving_power_levels()
    assert fp8.compute_bound_watts == power["load_watts"]["gemm_fp8"]


def test_a_profile_without_a_memory_bound_window_states_the_h100_share():
    document = _document()
    del document["power"]["memory_bound_window"]
    profile = read_profile(document)
    assert profile.memory_bound_window is None and profile.memory_bound_watts is None
    hw = profiled_hardware_model(get_hardware("h100-sxm"), "bf16", profile, "no window")
    levels = hw.serving_power_levels()
    idle, gemm = document["power"]["idle_watts"], document["power"]["load_watts"]["gemm_bf16"]
    assert levels.memory_bound_watts == pytest.approx(idle + (gemm - idle) * memory_bound_dynamic_share())
    # On the H100 measurement itself the share gives back the measured memory-bound window.
    assert levels.memory_bound_watts == pytest.approx(document["power"]["load_watts"]["triad_fp64"], rel=2e-3)
    (stated,) = serving_power_assumptions(hw)
    assert "no memory-bound power window" in stated.source


def test_a_memory_window_name_without_watts_is_not_read():
    document = _document()
    document["power"]["memory_bound_window"] = "copy_fp32"  # not among load_watts
    assert read_profile(document).memory_bound_window is None


def test_a_batch_1_decode_step_streams_memory_at_the_memory_bound_power():
    scenario, _ = _h100_8b(batch=1)
    metrics = scenario_serving_metrics(scenario, 1.0)
    work = total_seconds(metrics.decode_work)
    assert float(work.compute_bound_seconds) == 0.0  # every GEMV below the ridge point
    assert float(work.seconds) == pytest.approx(float(metrics.time_per_output_token_seconds))
    levels = scenario.hardware.serving_power_levels()
    memory_share = float(work.memory_bound_seconds / work.seconds)
    assert memory_share > 0.7  # weights, KV cache, sampler; the rest launches
    expected = levels.idle_watts + (levels.memory_bound_watts - levels.idle_watts) * memory_share
    assert float(metrics.decode_power_watts) == pytest.approx(expected)


def test_power_rises_with_the_batch_from_memory_bound_toward_compute_bound():
    """The old busy-fraction model could not exceed 0.76 × TDP (532 W on an H100) nor tell memory
    from compute; the decode step now crosses the memory-bound power once its projections cross
    the roofline's ridge."""
    scenario, _ = _h100_8b()
    batches = np.array([1.0, 8.0, 64.0, 128.0, 256.0, 512.0])
    metrics = scenario_serving_metrics(scenario, batches)
    memory_bound = scenario.hardware.serving_power_levels().memory_bound_watts
    decode = np.asarray(metrics.decode_power_watts)
    assert np.all(np.diff(decode) > 0)
    assert decode[0] < memory_bound < decode[-1]
    gemm = metrics.decode_work["weights_and_gemm"]
    assert gemm.compute_bound_seconds[0] == 0.0 and gemm.memory_bound_seconds[-1] == 0.0
    assert np.all(np.diff(np.asarray(metrics.accelerator_power_watts)) > 0)


def test_a_static_batch_counts_its_compute_bound_prefill():
    scenario, _ = _h100_8b(batch=8, input_tokens=4096)
    metrics = scenario_serving_metrics(scenario, 8.0)
    prefill = metrics.prefill_work
    assert float(prefill.compute_bound_seconds) > 0.8 * float(prefill.seconds)
    assert float(prefill.seconds) == pytest.approx(float(metrics.time_to_first_token_seconds))
    assert float(metrics.accelerator_power_watts) > float(metrics.decode_power_watts)


def test_host_time_and_launches_draw_idle_power():
    scenario, _ = _h100_8b(batch=256)
    base = scenario_serving_metrics(scenario, 256.0)
    host = scenario_serving_metrics(dataclasses.replace(scenario, per_sequence_step_seconds=20e-6), 256.0)
    assert float(host.decode_work["engine_host"].idle_seconds) == pytest.approx(256 * 20e-6)
    assert float(base.decode_work["kernel_launch"].idle_seconds) == float(base.decode_breakdown["kernel_launch"])
    assert float(host.decode_power_watts) < float(base.decode_power_watts)


def test_continuous_steps_add_their_prefill_chunks_at_compute_bound_power():
    scenario, _ = _h100_8b(batch=8)
    metrics = scenario_serving_metrics(scenario, 8.0)
    prefill = BoundSeconds.compute_bound(1e-3)
    alone = step_power_watts(scenario.hardware, metrics.decode_work, prefill, 0.0)
    with_chunks = step_power_watts(scenario.hardware, metrics.decode_work, prefill, 20.0)
    assert float(alone) == pytest.approx(float(metrics.decode_power_watts))
    assert float(alone) < float(with_chunks) < scenario.hardware.serving_power_levels().compute_bound_watts


def test_a_part_timed_by_the_operator_table_keeps_the_roofline_unit():
    analytic = {"weights_and_gemm": BoundSeconds(compute_bound_seconds=1.0, memory_bound_seconds=3.0)}
    classified = classify_like(analytic, {"weights_and_gemm": 8.0, "elementwise": 1.0})
    assert classified["weights_and_gemm"] == BoundSeconds(2.0, 6.0, 0.0)
    assert classified["elementwise"] == BoundSeconds.memory_bound(1.0)


def test_training_keeps_its_busy_fraction_power_model():
    hw = datasheet_hardware_model(get_hardware("h100-sxm"), "bf16")
    assert hw.power_watts(1.0) == pytest.approx(700.0 * C.TRAINING_POWER_FRACTION_OF_TDP)
    assert hw.power_watts(0.0) == pytest.approx(700.0 * C.IDLE_POWER_FRACTION_OF_TDP)


def test_disaggregated_pools_draw_decode_step_and_prefill_power_at_their_utilisation():
    hw = datasheet_hardware_model(get_hardware("h100-sxm"), "fp8")
    facility = FacilityInputs(C.DEFAULT_PUE, 400.0, 0.08, 400.0, 50.0, capex_usd_per_accelerator=40000.0)
    arch = get_model_preset("llama-3.1-70b").architecture
    base = InferenceScenario(arch, hw, 8, 0, 8000, 200, facility, request_rate_per_second=10.0)
    split = continuous.plan_for_slo(base, 2.0, 0.030, disaggregation="required").disaggregated
    estimate = disaggregation.disaggregated_estimate(split)
    levels = hw.serving_power_levels()
    decode = float(
        np.broadcast_to(split.decode.metrics.decode_power_watts, split.decode.batches.shape)[split.batch_index]
    )
    rho = split.request_rate * split.prefill_seconds / split.prefill_instances
    prefill_work = disaggregation.prefill_instance_work(split.decode_scenario, split.prefill_tensor_parallel_size)
    assert float(prefill_work.seconds) == pytest.approx(split.prefill_seconds)
    prefill = levels.idle_watts + (levels.power_watts(prefill_work) - levels.idle_watts) * rho
    decode_count = split.decode_instances * split.decode_tensor_parallel_size
    prefill_count = split.prefill_instances * split.prefill_tensor_parallel_size
    assert estimate.accelerator_power_watts == pytest.approx(
        (decode * decode_count + prefill * prefill_count) / split.accelerator_count
    )
    assert levels.power_watts(prefill_work) > levels.memory_bound_watts  # an 8,000-token prefill is compute-bound
