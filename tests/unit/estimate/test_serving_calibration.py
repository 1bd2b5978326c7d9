"""Serving calibration (issue 12 item 4, 'a few parameters fitted on public data with leave-one-
source-out CV'): the public serving table and its loader checks, the fitted decode realisation per
engine × generation, its LOSO cross-validation, the fallback an estimate takes, and the targets
held at the level reached."""

from __future__ import annotations

import dataclasses
import math
from importlib import resources

import numpy as np
import pytest

from flopwatt.estimate.inference import serving_metrics
from flopwatt.estimate.model_choice import ModelChoice
from flopwatt.estimate.scenarios import InferenceWorkload, build_inference_scenario
from flopwatt.estimate.serving_realisation import (
    FittedDecodeRealisation,
    ServingCalibration,
    choose_decode_realisation,
    decode_realisation_for,
    serving_calibration,
)
from flopwatt.estimate.validation.serving_calibration import (
    DATA_FILE,
    ServingDataError,
    calibrate,
    calibration_rows,
    cross_validated_realisations,
    fit,
    load_serving_rows,
    source_errors,
)


@pytest.fixture(scope="module")
def rows():
    return calibration_rows()


@pytest.fixture(scope="module")
def calibration(rows):
    return calibrate(rows)


def test_the_committed_calibration_is_what_the_fit_gives(calibration):
    """Estimates read catalog data/serving_calibration.json: it must not drift from the data."""
    committed = {p.engine: p.value for p in serving_calibration().parameters}
    fresh = {p.engine: round(p.value, 4) for p in calibration.parameters}
    assert committed == fresh and committed


def test_every_parameter_cites_its_fit_data_and_no_reserved_source(calibration):
    reserved = ("tensorrt-llm", "perf-overview", "nim", "lambda")
    for p in calibration.parameters:
        assert p.sources and p.rows >= 2, p  # no constant fitted to one row
        assert 0.3 <= p.value <= 1.5
    for row in load_serving_rows():
        assert not any(word in row.url.lower() for word in reserved), row.name
        assert row.url.startswith("https://") and row.source_date and row.published and row.assumed


def test_the_table_has_its_sources_and_rows():
    loaded = load_serving_rows()
    assert len(loaded) >= 20
    assert {row.source for row in loaded} == {
        "amd-rocm-performance-results",
        "azure-ai-benchmarking-guide",
        "vllm-ci-performance-benchmark",
    }
    assert {row.hardware_id for row in loaded} >= {"mi300x", "a100-80gb", "h100-sxm", "h200"}
    # every source is a LOSO unit with at least two rows, and MI300X is measured by two of them
    assert len({row.source for row in loaded if row.hardware_id == "mi300x"}) == 2


def _text() -> str:
    return resources.files("flopwatt.estimate.validation").joinpath("data", DATA_FILE).read_text()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (",vllm,h200,1,llama-3.1-8b", ",nosuchengine,h200,1,llama-3.1-8b", "unknown engine"),
        (",0.833421,seconds", ",0.9,seconds", "ms of the published text"),  # not the published 833.421 ms
        (",13279.6,tokens_per_second_output", ",13279.7,tokens_per_second_output", "not in the published text"),
        (",0,3200,3200,0,default,128,2048", ",0,3200,3000,0,default,128,2048", "num prompts ≤ max num seqs"),
        (",3000,131072,off,128,128,", ",3000,131072,maybe,128,128,", "chunked prefill"),
        (
            ",8,0,0,0,default,32,128,0.833421,seconds",
            ",8,0,0,0,default,32,128,0.833421,tokens_per_second_total",
            "metric",
        ),
        (",0,default,32,128,0.833421", ",0,default,32,64,0.833421", "output 64 not in the published text"),
    ],
)
def test_the_loader_checks_each_row(old, new, message):
    text = _text()
    assert old in text
    with pytest.raises(ServingDataError, match=message):
        load_serving_rows(text.replace(old, new, 1))


def test_the_arithmetic_of_the_published_rows():
    """vLLM's CI tables publish milliseconds (the loader converts and checks against the text);
    a static batch's latency covers at least its output tokens at a positive TPOT; the
    throughput rows ran every prompt at once (num prompts ≤ max num seqs) and publish output tokens/s."""
    for row in load_serving_rows():
        if row.metric == "batch_latency":
            assert 0 < row.published_value / row.output_tokens < 0.2, row.name  # s per output token
        else:
            assert row.num_prompts <= row.max_num_seqs and row.unit == "tokens_per_second_output"


def test_amd_and_microsoft_publish_the_same_quantity():
    """The cause of most of AMD's MI300X gap in issue 12 (178.7 % physics error): its throughput
    column was read as prompt + output tokens/s. Microsoft's harness provably keeps vLLM's output
    tokens/s; both ran vLLM benchmark_throughput of the same FP8-KV checkpoints on 8× MI300X, and at
    2048/2048 (where total = 2 × output) they agree within 5 %: the same quantity, output tokens/s."""
    by_name = {row.name: row for row in load_serving_rows()}
    for size in ("70b", "405b"):
        amd = by_name[f"amd-rocm-performance-results/{size}-fp8-2048-2048"]
        azure = by_name[f"azure-ai-benchmarking-guide/{size}-fp8-2048-2048"]
        assert amd.unit == azure.unit == "tokens_per_second_output"
        assert abs(amd.published_value / azure.published_value - 1.0) < 0.2  # not a factor 2
        assert "output tokens/s" in azure.published_basis


def test_a_source_is_predicted_without_its_own_rows(rows):
    """Leave-one-source-out: doubling one source's published values moves its in-sample fit but
    none of the realisations its own rows are cross-validated with."""
    for source in ("amd-rocm-performance-results", "azure-ai-benchmarking-guide", "vllm-ci-performance-benchmark"):
        before = cross_validated_realisations(rows)
        changed = [
            dataclasses.replace(row, published=row.published * 2.0) if row.source == source else row for row in rows
        ]
        after = cross_validated_realisations(changed)
        for row, old, new in zip(rows, before, after):
            if row.source == source:
                assert new == old, row.name
        fitted = {p.engine: p.value for p in fit(rows).parameters}
        refitted = {p.engine: p.value for p in fit(changed).parameters}
        assert refitted != fitted


def test_one_engine_value_serves_every_generation(calibration):
    """The parameter is shared by generations (hardware differences live in the hardware model), so
    every source's rows are predicted out of sample by the other sources' rows of the same engine."""
    (vllm,) = calibration.parameters
    assert vllm.engine == "vllm" and set(vllm.generations) == {"ampere", "cdna3", "hopper"}
    assert len(vllm.sources) == 3 and math.isfinite(vllm.cross_validated_mape_percent)


# LOSO MAPE reached per source and metric, and why the targets (throughput ≤ 15 %, latency below
# saturation ≤ 20 %) are missed; held at the reached level, never tuned to pass:
# - after the MI300X fixes (output tokens/s; its own fp8 GEMM, HBM and all-reduce fractions) the
#   physics is 1.4-2× optimistic on the max-throughput rows (1,000-3,200 sequences) and 0.8×
#   pessimistic-to-right on the batch-1-8 latency rows: one engine number cannot serve both regimes,
#   so leaving out the latency-only vLLM CI source fits ≈ 0.6 and overstates its latencies, and
#   leaving out one MI300X throughput source leaves the other's and the latency rows' compromise.
REACHED_LOSO_PERCENT = {
    ("amd-rocm-performance-results", "batch_latency"): 7.7,
    ("amd-rocm-performance-results", "throughput"): 32.8,
    ("azure-ai-benchmarking-guide", "throughput"): 29.8,
    ("vllm-ci-performance-benchmark", "batch_latency"): 38.7,
}
TARGETS = {"throughput": 15.0, "batch_latency": 20.0}


def test_cross_validated_error_held_at_the_level_reached(rows, calibration):
    totals = [e for e in source_errors(rows, calibration) if e.hardware_id == "all" and e.source != "all"]
    assert {(e.source, e.metric) for e in totals} == set(REACHED_LOSO_PERCENT)
    for e in totals:
        assert (
            e.cross_validated_mape_percent <= max(TARGETS[e.metric], REACHED_LOSO_PERCENT[(e.source, e.metric)]) + 0.1
        )
    # over every source, the one fitted engine value improves on the physics for each metric
    for e in source_errors(rows, calibration):
        if e.source == "all":
            assert e.in_sample_mape_percent < e.physics_mape_percent, e.metric


def _calibration(*items: FittedDecodeRealisation) -> ServingCalibration:
    return ServingCalibration("2026-11-27", "test", tuple(items))


def _item(engine, value, cv_percent=2.0):
    return FittedDecodeRealisation(engine, ("ampere", "hopper"), value, 5, ("a",), 1.0, cv_percent)


def test_the_engine_value_and_its_fallbacks():
    cal = _calibration(_item("vllm", 0.8))
    assert choose_decode_realisation("vllm", "hopper", cal)[0] == 0.8  # fitted on Hopper rows
    value, basis, fitted = choose_decode_realisation("vllm", "blackwell", cal)
    assert value == 0.8 and fitted is not None and "carried to blackwell" in basis  # an engine property
    value, basis, _ = choose_decode_realisation("sglang", "hopper", cal)
    assert value == 1.0 and "physics alone" in basis
    assert choose_decode_realisation("vllm", "cpu", cal)[0] == 1.0  # a host CPU takes no GPU engine's value


def test_a_value_that_fails_out_of_sample_is_reported_not_applied():
    cal = _calibration(_item("vllm", 0.6, cv_percent=35.0))  # LOSO 35 % > 20 %
    value, basis, fitted = choose_decode_realisation("vllm", "hopper", cal)
    assert value == 1.0 and fitted is None and "not applied" in basis and "0.600" in basis
    assert choose_decode_realisation("vllm", "hopper", cal, validated_only=False)[0] == 0.6  # what CV scores


def test_an_estimate_states_its_decode_realisation():
    workload = InferenceWorkload(
        model=ModelChoice(preset_id="llama-3.1-8b"),
        hardware_id="h100-sxm",
        accelerator_count=1,
        input_tokens=128,
        output_tokens=128,
        batch_size=8,
    )
    scenario, assumptions = build_inference_scenario(workload)
    used = decode_realisation_for("vllm", "h100-sxm")
    assert scenario.decode_realisation == used.value
    stated = next(a for a in assumptions if a.name == "decode_realisation")
    assert "vllm-ci-performance-benchmark" in stated.source  # what was fitted, applied or not
    # vLLM was fitted (0.68 in sample) but holds 31 % out of sample: not applied
    # (serving_realisation.APPLY_MAX_CROSS_VALIDATED_MAPE_PERCENT)
    assert used.value == 1.0 and "not applied" in stated.source
    sglang, assumptions = build_inference_scenario(dataclasses.replace(workload, engine="sglang"))
    assert sglang.decode_realisation == 1.0
    assert next(a for a in assumptions if a.name == "decode_realisation").origin == "default"


def test_decode_realisation_divides_the_decode_step_and_leaves_prefill():
    workload = InferenceWorkload(
        model=ModelChoice(preset_id="llama-3.1-8b"),
        hardware_id="h100-sxm",
        accelerator_count=1,
        input_tokens=512,
        output_tokens=128,
        batch_size=4,
    )
    scenario, _ = build_inference_scenario(workload)
    common = dict(kv_bytes_per_element=scenario.kv_cache_bytes_per_element)
    physics = serving_metrics(scenario.arch, scenario.hardware, 1, 4.0, 512, 128, scenario.facility, **common)
    grid = serving_metrics(
        scenario.arch,
        scenario.hardware,
        1,
        4.0,
        512,
        128,
        scenario.facility,
        decode_realisation=np.array([0.5, 1.0]),
        **common,
    )
    assert grid.time_per_output_token_seconds == pytest.approx(physics.time_per_output_token_seconds * np.array([2, 1]))
    assert float(grid.time_to_first_token_seconds) == pytest.approx(float(physics.time_to_first_token_seconds))
