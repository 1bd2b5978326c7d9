"""Stack calibration (issue 11 items 3 and 5): fitted compute realisations, their leave-one-source-
out cross-validation, the interval coverage on the CV folds, and the fallback an estimate takes."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from flopwatt.estimate.catalog import get_hardware, get_model_preset
from flopwatt.estimate.hardware import datasheet_hardware_model
from flopwatt.estimate.parallel_plan import ParallelPlan
from flopwatt.estimate.stack_realisation import (
    FittedRealisation,
    StackCalibration,
    attention_kernel_fraction,
    calibrated_step_options,
    choose_realisation,
    generation_step_options,
    realisation_for,
    stack_calibration,
)
from flopwatt.estimate.step_time import framework_step_options, training_step_time
from flopwatt.estimate.validation import fms_fsdp
from flopwatt.estimate.validation.scale_anchors import anchor_hardware
from flopwatt.estimate.validation.stack_calibration import (
    calibrate,
    calibration_rows,
    cross_validated_realisations,
    fit,
    interval_coverage,
    source_errors,
)


@pytest.fixture(scope="module")
def rows():
    return calibration_rows()


@pytest.fixture(scope="module")
def calibration(rows):
    return calibrate(rows)


def test_the_committed_calibration_is_what_the_fit_gives(calibration):
    """Estimates read catalog data/stack_calibration.json: it must not drift from the data."""
    committed = {(p.stack, p.generation, p.precision_class): p.value for p in stack_calibration().parameters}
    fresh = {(p.stack, p.generation, p.precision_class): round(p.value, 4) for p in calibration.parameters}
    assert committed == fresh
    assert stack_calibration().model_error_sigma_by_stack == pytest.approx(
        calibration.model_error_sigma_by_stack, abs=1e-4
    )


def test_every_parameter_cites_its_fit_data_and_no_reserved_source(calibration):
    reserved = ("torchtitan", "dgx cloud", "tpu-recipes", "maxtext", "tensorrt-llm", "nim", "lambda")
    for p in calibration.parameters:
        assert p.sources and p.rows >= 2, p  # no constant fitted to one row
        assert not any(word in source.lower() for source in p.sources for word in reserved)
        assert 0.2 <= p.value <= 1.6


def test_a_source_is_predicted_without_its_own_rows(rows):
    """Leave-one-source-out: doubling one source's published times moves its in-sample fit but
    none of the realisations its own rows are cross-validated with."""
    source = "pytorch-fsdp-blog"
    before = cross_validated_realisations(rows)
    changed = [
        dataclasses.replace(row, published_seconds=row.published_seconds * 2.0) if row.source == source else row
        for row in rows
    ]
    after = cross_validated_realisations(changed)
    for row, old, new in zip(rows, before, after):
        if row.source == source:
            assert new == old, row.name
    fitted = {(p.stack, p.generation): p.value for p in fit(rows).parameters if p.precision_class == "16-bit"}
    refitted = {(p.stack, p.generation): p.value for p in fit(changed).parameters if p.precision_class == "16-bit"}
    assert refitted[("pytorch-fsdp", "hopper")] < fitted[("pytorch-fsdp", "hopper")]


# Sources with ≥ 10 rows that miss issue 11's 12 % target, at the level reached, and why (none
# since MLPerf's Blackwell rows gave Megatron-Bridge's Blackwell rows a second source).
KNOWN_MISSES: dict[str, float] = {}


def test_cross_validated_error_meets_the_target_for_every_large_source(rows, calibration):
    """Issue 11: leave-one-source-out MAPE ≤ 12 % for every source with ≥ 10 rows (known misses
    held at their reached level)."""
    totals = [e for e in source_errors(rows, calibration) if e.hardware_id == "all"]
    large = [e for e in totals if e.rows >= 10]
    assert len(large) >= 2, "fewer than two sources with 10 rows"
    for e in large:
        assert e.cross_validated_mape_percent <= KNOWN_MISSES.get(e.source, 12.0) + 0.05, e
        assert e.in_sample_mape_percent < e.uncalibrated_mape_percent, e
    assert any(e.source == "llm-foundry" and e.cross_validated_mape_percent <= 12.0 for e in large)


def test_interval_coverage_on_the_cv_folds_is_80_to_95_percent(rows):
    assert 0.80 <= interval_coverage(rows) <= 0.95


def _calibration(*items: FittedRealisation) -> StackCalibration:
    return StackCalibration("2026-11-27", "test", tuple(items), {}, 0.1, {}, 0.2, 3)


def _item(stack, generation, precision, value):
    return FittedRealisation(stack, generation, precision, value, 5, ("a",), 1.0, 2.0)


def test_fallback_chain_of_an_unfitted_key():
    cal = _calibration(
        _item("pytorch-fsdp", "hopper", "16-bit", 0.7),
        _item("pytorch-fsdp", "ampere", "16-bit", 0.9),
        _item("megatron-core", "hopper", "fp8", 1.0),
    )
    assert choose_realisation("pytorch-fsdp", "hopper", "16-bit", cal)[0] == 0.7  # fitted
    value, basis, fitted = choose_realisation("pytorch-fsdp", "hopper", "fp8", cal)
    assert value == 0.7 and "16-bit" in basis and fitted is not None  # same generation, 16-bit
    value, basis, fitted = choose_realisation("pytorch-fsdp", "blackwell", "16-bit", cal)
    assert value == pytest.approx(math.sqrt(0.7 * 0.9)) and fitted is None  # geometric mean of the stack
    value, basis, _ = choose_realisation("jax", "tpu-v5p", "16-bit", cal)
    assert value == 1.0 and "uncalibrated" in basis
    # no wider class fitted on the generation: the nearest narrower one, before other generations
    value, basis, fitted = choose_realisation("megatron-core", "hopper", "16-bit", cal)
    assert value == 1.0 and fitted is not None and "fp8 value" in basis
    value, basis, fitted = choose_realisation("megatron-core", "hopper", "fp4", cal)
    assert value == 1.0 and "fp8 value" in basis  # wider first


def test_an_estimate_states_its_realisation_and_model_error():
    fsdp = realisation_for("pytorch-fsdp", "h100-sxm", "bf16")
    assert fsdp.fitted is not None and "llm-foundry" in fsdp.basis and fsdp.value < 1.0
    assert 0.0 < fsdp.model_error_sigma < 1.0 and "cross-validated" in fsdp.model_error_basis
    cpu = realisation_for("generic", "cpu", "fp32")
    assert cpu.value == 1.0 and "uncalibrated" in cpu.basis  # GPU stacks' values do not transfer to a host CPU
    assert math.isfinite(cpu.model_error_sigma)


def test_realisation_scales_device_work_and_leaves_communication():
    arch = get_model_preset("llama-3.1-8b").architecture
    hw = datasheet_hardware_model(get_hardware("h100-sxm"), "bf16")
    plan = ParallelPlan(
        tensor_parallel_size=8,
        pipeline_parallel_size=1,
        data_parallel_size=1,
        micro_batch_size=1,
        global_batch_size=8,
        sequence_parallel=True,
    )
    options = framework_step_options("megatron-core")
    full = training_step_time(arch, 8192.0, plan, hw, dataclasses.replace(options, compute_realisation=1.0))
    half = training_step_time(arch, 8192.0, plan, hw, dataclasses.replace(options, compute_realisation=0.5))
    assert float(half.gemm) == pytest.approx(2.0 * float(full.gemm))
    assert float(half.attention) == pytest.approx(2.0 * float(full.attention))
    assert float(half.tensor_parallel_communication) == pytest.approx(float(full.tensor_parallel_communication))


def test_sdpa_stacks_run_flashattention2_at_its_hopper_rate():
    """FlashAttention-2 sustains 35 % of an H100's peak (FlashAttention-3 paper), not the 60 % it
    reaches on A100: long-sequence attention of SDPA stacks on Hopper took 0.6/0.35 of the time."""
    assert attention_kernel_fraction("pytorch-fsdp", "h100-sxm")[0] == 0.35
    assert attention_kernel_fraction("pytorch-fsdp", "a100-80gb") is None
    assert attention_kernel_fraction("megatron-core", "h100-sxm") is None
    fsdp = generation_step_options("pytorch-fsdp", "h200")
    core = generation_step_options("megatron-core", "h200")
    assert fsdp.attention_fraction_of_peak == 0.35 and core.attention_fraction_of_peak == 0.6
    arch = get_model_preset("llama-3.1-8b").architecture
    hw = datasheet_hardware_model(get_hardware("h100-sxm"), "bf16")
    plan = ParallelPlan(
        tensor_parallel_size=1, pipeline_parallel_size=1, data_parallel_size=8, micro_batch_size=1, global_batch_size=8
    )
    same_realisation = dict(compute_realisation=1.0)
    slow = training_step_time(arch, 32768.0, plan, hw, dataclasses.replace(fsdp, **same_realisation))
    fast = training_step_time(arch, 32768.0, plan, hw, dataclasses.replace(core, **same_realisation))
    assert float(slow.attention) == pytest.approx(float(fast.attention) * 0.6 / 0.35)
    assert calibrated_step_options("pytorch-fsdp", "h100-sxm", "bf16").attention_fraction_of_peak == 0.35


def test_fms_rows_run_on_their_own_network_and_check_their_mfu():
    anchors = {a.anchor: a for a in fms_fsdp.load_fms_fsdp_anchors()}
    assert len(anchors) == 8 and sum(a.scored for a in anchors.values()) == 6
    for name, gigabits_per_node in (("fms-7b-a100-80gb", 400), ("fms-70b-h100-sxm", 800)):
        anchor = anchors[name]
        catalog = get_hardware(anchor.hardware_id)
        own = anchor_hardware(anchor).scale_out_bandwidth_bytes_per_second
        base = datasheet_hardware_model(catalog, "bf16").scale_out_bandwidth_bytes_per_second
        # the row's node bandwidth per GPU, with the catalog node's achievable share applied alike
        assert own / base == pytest.approx(
            gigabits_per_node * 1e9 / 8 / 8 / catalog.scale_out_bandwidth_bytes_per_second
        )
    text = fms_fsdp.resources.files("flopwatt.estimate.validation").joinpath("data", fms_fsdp.DATA_FILE).read_text()
    with pytest.raises(ValueError, match="published MFU"):
        fms_fsdp.load_fms_fsdp_anchors(text.replace(",3700,0.57,", ",3700,0.75,"))
    with pytest.raises(ValueError, match="global_batch_sequences"):
        fms_fsdp.load_fms_fsdp_anchors(text.replace(",128,4096,256,2,", ",128,4096,255,2,"))


def test_training_intervals_carry_the_stack_model_error():
    from flopwatt.estimate import uncertainty
    from flopwatt.estimate.model_choice import ModelChoice
    from flopwatt.estimate.scenarios import TrainingWorkload, build_training_scenario

    workload = TrainingWorkload(
        model=ModelChoice(preset_id="llama-3.1-8b"),
        training_tokens=10**12,
        sequence_length=8192,
        hardware_id="h100-sxm",
        accelerator_count=64,
        framework="pytorch-fsdp",
    )
    setup = build_training_scenario(workload)
    scenario = setup.scenario
    assert scenario.model_error_sigma == realisation_for("pytorch-fsdp", "h100-sxm", "bf16").model_error_sigma
    assert {a.name: a for a in setup.assumptions}["compute_realisation"].origin == "fitted"
    result, listed = uncertainty.training_intervals(scenario, 4000, seed=5)
    error = {a.name: a for a in listed}["uncertainty.step_model_error"]
    assert f"{scenario.model_error_sigma:.3g}" in error.value and "pytorch-fsdp" in error.source
    step = result["step_duration"]
    # the model error alone spans about exp(±1.645σ) of the step around its median
    assert step.p95 / step.p5 == pytest.approx(np.exp(2 * 1.645 * scenario.model_error_sigma), rel=0.35)
