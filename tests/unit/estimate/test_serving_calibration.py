"""Serving calibration (issue 12 item 4, 'a few parameters fitted on public data with leave-one-
source-out CV'): the public serving table and its loader checks, the fitted decode realisation and
engine host seconds per running sequence per step per engine, their LOSO cross-validation, the
fallback an estimate takes, and the targets held at the level reached."""

from __future__ import annotations

import dataclasses
import math
from importlib import resources

import numpy as np
import pytest

from flopwatt.estimate.continuous import ContinuousBatching, estimate_continuous
from flopwatt.estimate.inference import scenario_serving_metrics, serving_metrics
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
    CLOSED_LOOP_METRICS,
    DATA_FILE,
    ServingDataError,
    calibrate,
    calibration_rows,
    cross_validated_parameters,
    fit,
    load_serving_rows,
    one_wave_bound,
    predicted_metric,
    row_scenario,
    run_engine,
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
    committed = {p.engine: (p.value, p.per_sequence_step_seconds) for p in serving_calibration().parameters}
    fresh = {p.engine: (round(p.value, 4), float(f"{p.per_sequence_step_seconds:.4g}")) for p in calibration.parameters}
    assert committed == fresh and committed


def test_every_parameter_cites_its_fit_data_and_no_reserved_source(calibration):
    reserved = ("tensorrt-llm", "perf-overview", "nim", "lambda")
    for p in calibration.parameters:
        assert p.sources and p.rows >= 2, p  # no constant fitted to one row
        assert 0.3 <= p.value <= 1.5
        assert 0.0 <= p.per_sequence_step_seconds <= 256e-6
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
        "gpustack-performance-lab",
        "sglang-cookbook",
    }
    # the online rows are GPUStack's and SGLang's cookbook (a benchmark client against a server);
    # every other source ran the engine offline
    assert {row.source for row in loaded if row.interface == "online"} == {
        "gpustack-performance-lab",
        "sglang-cookbook",
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
        (
            ",0,3200,0,3200,0,default,offline,128,2048",
            ",0,3200,0,3000,0,default,offline,128,2048",
            "num prompts ≤ max num seqs",
        ),
        (",3000,131072,off,offline,128,128,", ",3000,131072,maybe,offline,128,128,", "chunked prefill"),
        (
            ",8,0,0,0,0,default,offline,32,128,0.833421,seconds",
            ",8,0,0,0,0,default,offline,32,128,0.833421,tokens_per_second_total",
            "metric",
        ),
        (",0,default,offline,32,128,0.833421", ",0,default,offline,32,64,0.833421", "output 64 not in the published"),
        (",0,default,offline,32,128,0.833421", ",0,default,sideways,32,128,0.833421", "interface"),
        (",0,default,online,233,221,0.06026,", ",0,default,offline,233,221,0.06026,", "an online run"),
        (",0,default,online,233,221,0.06026,", ",0,default,online,234,221,0.06026,", "Total input tokens / requests"),
        (",0,default,online,233,221,0.06026,", ",0,default,online,233,221,0.06126,", "ms of the published text"),
        (
            ",100,4,1024,0,default,online,233,221,0.06026,",
            ",100,200,1024,0,default,online,233,221,0.06026,",
            "concurrency",
        ),
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
        elif row.metric in CLOSED_LOOP_METRICS:
            assert 0 < row.published_value < 1.0 and row.concurrency <= row.num_prompts, row.name  # ms-scale medians
        else:  # max_num_seqs 0: capped by the KV cache only (SGLang)
            assert row.num_prompts <= (row.max_num_seqs or row.num_prompts) and row.unit == "tokens_per_second_output"


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
    """Leave-one-source-out: scaling one source's published values moves the in-sample fit of both
    parameters but neither the realisation nor the host seconds its own rows are cross-validated
    with. Throughput halved and latency doubled (the engine slower) moves each parameter's fit."""
    for source in ("amd-rocm-performance-results", "azure-ai-benchmarking-guide", "vllm-ci-performance-benchmark"):
        before = cross_validated_parameters(rows)
        factor = {"throughput": 0.5, "batch_latency": 2.0}
        changed = [
            dataclasses.replace(row, published=row.published * factor[row.metric]) if row.source == source else row
            for row in rows
        ]
        after = cross_validated_parameters(changed)
        for row, old, new in zip(rows, before, after):
            if row.source == source:
                assert new == old, row.name
        fitted = {p.engine: (p.value, p.per_sequence_step_seconds) for p in fit(rows).parameters}
        refitted = {p.engine: (p.value, p.per_sequence_step_seconds) for p in fit(changed).parameters}
        assert refitted != fitted


def test_each_row_responds_to_the_parameters_as_the_estimator_does(rows):
    """The fit's grid is exact arithmetic on each row's affine response (fixed + accelerator /
    realisation + sequence-steps × host seconds): it matches the estimator run at other points, and
    host seconds move a max-throughput row (1,000+ sequences per step) far more than a batch-8 one."""
    published = {row.name: row for row in load_serving_rows()}
    for name in (
        "azure-ai-benchmarking-guide/70b-fp8-128-2048",
        "vllm-ci-performance-benchmark/latency_llama8B_tp1-h100",
    ):
        row = next(r for r in rows if r.name == name)
        for realisation, host in ((0.45, 0.0), (1.2, 3e-6), (0.8, 150e-6)):
            direct = predicted_metric(published[name], realisation, host)
            assert row.predicted_at(realisation, host) == pytest.approx(direct, rel=1e-9)
    throughput = next(r for r in rows if r.name == "azure-ai-benchmarking-guide/70b-fp8-128-2048")
    latency = next(r for r in rows if r.name == "vllm-ci-performance-benchmark/latency_llama8B_tp1-h100")
    # relative time a 20 µs host cost adds: ≈ 1,000 sequences × 20 µs on a ~50 ms step vs 8 × 20 µs on ~6 ms
    slow_throughput = throughput.predicted_at(1.0) / throughput.predicted_at(1.0, 20e-6) - 1.0
    slow_latency = latency.predicted_at(1.0, 20e-6) / latency.predicted_at(1.0) - 1.0
    assert slow_throughput > 0.2 and slow_latency < 0.05


def test_one_engine_value_serves_every_generation(calibration):
    """The parameters are shared by generations (hardware differences live in the hardware model), so
    every source's rows are predicted out of sample by the other sources' rows of the same engine."""
    (vllm,) = calibration.parameters
    assert vllm.engine == "vllm" and set(vllm.generations) == {"ampere", "cdna3", "hopper"}
    assert len(vllm.sources) == 3 and math.isfinite(vllm.cross_validated_mape_percent)


# LOSO MAPE reached per source and metric; held at the reached level, never tuned to pass. With one
# realisation alone (30.7 % throughput, 30.9 % latency over all sources) the max-throughput rows
# (1,000-3,200 sequences) wanted ≈ 0.6 and the batch-1-8 latency rows ≈ 0.8; the engine's host time
# per running sequence per step (≈ 20 µs) carried the difference (13.5 % / 17.8 %). Since the
# prefill a continuous step carries is conserved (every replacement's prompt, not at most one), an
# offline run whose prompts all fit to their last token is one static wave, and the prefill has its
# own realisation (0.64), the throughput sources meet the target (AMD 16.1 → 12.8 %, Azure 12.3 →
# 7.3 %, all 13.5 → 9.0 %); vLLM CI's NVIDIA latency misses it further (21.0 → 26.2 %: left out,
# the MI300X rows alone fit decode realisation 0.66, 16-38 % slow on NVIDIA batch-8 latency), so
# the latency rows over all sources went from 17.8 to 21.7 %.
REACHED_LOSO_PERCENT = {
    ("amd-rocm-performance-results", "batch_latency"): 8.1,
    ("amd-rocm-performance-results", "throughput"): 12.8,
    ("azure-ai-benchmarking-guide", "throughput"): 7.3,
    ("vllm-ci-performance-benchmark", "batch_latency"): 26.2,
}
REACHED_ALL_PERCENT = {"throughput": 9.0, "batch_latency": 21.7}
TARGETS = {"throughput": 15.0, "batch_latency": 20.0}


def test_cross_validated_error_held_at_the_level_reached(rows, calibration):
    online = {row.source for row in rows if not row.fitted}
    totals = [
        e
        for e in source_errors(rows, calibration)
        if e.hardware_id == "all" and not e.source.startswith("all") and e.source not in online
    ]
    assert {(e.source, e.metric) for e in totals} == set(REACHED_LOSO_PERCENT)
    for e in totals:
        assert (
            e.cross_validated_mape_percent <= max(TARGETS[e.metric], REACHED_LOSO_PERCENT[(e.source, e.metric)]) + 0.1
        )
    # over every source, the fitted engine triple improves on the physics for each metric, and out
    # of sample holds the level reached (throughput within issue 12's 15 %, latency not: above)
    for e in source_errors(rows, calibration):
        if e.source == "all":
            assert e.in_sample_mape_percent < e.physics_mape_percent, e.metric
            assert e.cross_validated_mape_percent <= REACHED_ALL_PERCENT[e.metric] + 0.1, e.metric
            if e.metric == "throughput":  # issue 12's 15 % over every offline throughput source
                assert e.cross_validated_mape_percent <= TARGETS["throughput"]


# Online runs (GPUStack: vllm bench serve against vLLM v0.11.0, SGLang and TensorRT-LLM servers on
# one H100), scored out of sample and never fitted, held at the level reached: the median TPOT of
# 1-8 clients within the 20 % target; the median TTFT 34 % short (vLLM 36-44 %: ~33 ms of front
# end before the first step that the step model does not describe; SGLang 3.6 %); throughput with
# every prompt at once 28 % (vLLM +3 … +30 %; SGLang and TensorRT-LLM, no fit, +26 … +128 %).
# Before the prefill fixes and the prefill realisation: TTFT 44.1 %, throughput 85.2 % (vLLM's
# prefill-heavy random 2K-32K runs +54 … +101 %).
# SGLang's cookbook (DeepSeek-R1-0528 on 8x B200, SGLang at default flags, no fit: the physics
# alone) is about twice as slow as the model: TPOT 48 %, TTFT 76 % (MoE and MLA decode at 1-100
# clients; the physics' batch-1 step, 3.9 ms, is mostly launches and TP all-reduces, the measured
# 9.2 ms).
REACHED_ONLINE_PERCENT = {
    ("gpustack-performance-lab", "tpot_median"): 13.1,
    ("gpustack-performance-lab", "ttft_median"): 34.2,
    ("gpustack-performance-lab", "throughput"): 27.7,
    ("sglang-cookbook", "tpot_median"): 48.2,
    ("sglang-cookbook", "ttft_median"): 75.9,
}


def test_online_rows_are_scored_and_held_at_the_level_reached(rows, calibration):
    online = {row.source for row in rows if not row.fitted}
    errors = {
        (e.source, e.metric): e
        for e in source_errors(rows, calibration)
        if e.source in online and e.hardware_id == "all"
    }
    assert set(errors) == set(REACHED_ONLINE_PERCENT)
    for key, reached in REACHED_ONLINE_PERCENT.items():
        # never fitted: the in-sample parameters predict them out of sample already
        assert errors[key].in_sample_mape_percent == errors[key].cross_validated_mape_percent
        assert errors[key].cross_validated_mape_percent <= reached + 0.1, key
    # issue 12: TTFT/TPOT below saturation, where an engine is fitted
    assert errors[("gpustack-performance-lab", "tpot_median")].cross_validated_mape_percent <= 20.0


def test_online_rows_never_move_the_fit(rows):
    """An online row's front end (HTTP, tokenization, streaming) is not in the step model: weighing
    it would pull the decode realisation down to absorb it. Scaling every online row's published
    value leaves both fitted parameters and every offline row's cross-validated pair unchanged."""
    scaled = [row if row.fitted else dataclasses.replace(row, published=row.published * 3.0) for row in rows]

    def fitted(rows_):
        return [(p.engine, p.value, p.per_sequence_step_seconds, p.rows, p.sources) for p in fit(rows_).parameters]

    assert fitted(scaled) == fitted(rows)
    assert cross_validated_parameters(scaled) == cross_validated_parameters(rows)
    assert any(not row.fitted for row in rows) and any(row.fitted for row in rows)


def test_closed_loop_rows_are_the_continuous_batching_model_at_their_concurrency(rows):
    """A closed loop of c clients: the estimator's continuous batching at concurrency c (median TTFT
    and TPOT, p50). More clients share each step: TPOT grows with c, and TTFT waits for the others'
    step once c > 1."""
    published = {row.name: row for row in load_serving_rows()}
    tpot = {c: published[f"gpustack-performance-lab/8b-vllm-sharegpt-c{c}-tpot"] for c in (1, 2, 4, 8)}
    ttft = {c: published[f"gpustack-performance-lab/8b-vllm-sharegpt-c{c}-ttft"] for c in (1, 8)}
    at = {c: predicted_metric(row, 1.0, 0.0) for c, row in tpot.items()}
    assert at[1] < at[2] < at[4] < at[8]
    assert predicted_metric(ttft[1], 1.0, 0.0) < predicted_metric(ttft[8], 1.0, 0.0)
    # the row's own scenario (Qwen3 8B BF16 on one H100, vLLM, 233 / 221 tokens) at 8 clients
    scenario = dataclasses.replace(
        row_scenario(tpot[8], 0, 8), decode_realisation=0.7, per_sequence_step_seconds=9e-6, prefill_realisation=0.6
    )
    assert (scenario.arch.layer_count, scenario.input_tokens, scenario.concurrency) == (36, 233, 8)
    direct = estimate_continuous(scenario)
    assert predicted_metric(tpot[8], 0.7, 9e-6, 0.6) == pytest.approx(direct.time_per_output_token_seconds, rel=1e-9)
    assert predicted_metric(ttft[8], 0.7, 9e-6, 0.6) == pytest.approx(direct.time_to_first_token_seconds, rel=1e-9)


def test_an_offline_run_whose_prompts_all_fit_is_one_static_wave():
    """vLLM's benchmark_throughput submits every prompt at once, of equal lengths: when the running
    batch holds them all to their last token (KV at P + O each, max_num_seqs, the step budget) no
    request is replaced while the others decode, so the run is one static batch (prefill, then O
    decode steps), not continuous batching's steady state of replacements. Past that bound the
    steady state scores it."""
    published = {row.name: row for row in load_serving_rows()}
    wave = published["azure-ai-benchmarking-guide/70b-fp8-128-128"]
    steady = published["amd-rocm-performance-results/405b-fp8-128-4096"]
    for row, one_wave in ((wave, True), (steady, False)):
        scenario = dataclasses.replace(
            row_scenario(row, 0, row.num_prompts), decode_realisation=0.8, per_sequence_step_seconds=2e-5
        )
        engine = run_engine(row, ContinuousBatching.for_scenario(scenario))
        assert (row.num_prompts <= one_wave_bound(scenario, engine)) is one_wave
        if one_wave:
            metrics = scenario_serving_metrics(scenario, float(row.num_prompts))
            seconds = metrics.time_to_first_token_seconds + row.output_tokens * metrics.time_per_output_token_seconds
            expected = row.num_prompts * row.output_tokens / float(seconds)
        else:
            expected = estimate_continuous(scenario, engine).output_tokens_per_second
        assert predicted_metric(row, 0.8, 2e-5) == pytest.approx(expected, rel=1e-9), row.name


def _calibration(*items: FittedDecodeRealisation) -> ServingCalibration:
    return ServingCalibration("2026-11-27", "test", tuple(items))


def _item(engine, value, cv_percent=2.0, per_sequence=5e-6):
    return FittedDecodeRealisation(engine, ("ampere", "hopper"), value, 5, ("a",), 1.0, cv_percent, per_sequence)


def test_the_engine_value_and_its_fallbacks():
    cal = _calibration(_item("vllm", 0.8))
    chosen = choose_decode_realisation("vllm", "hopper", cal)  # fitted on Hopper rows
    assert (chosen.value, chosen.per_sequence_step_seconds) == (0.8, 5e-6)
    chosen = choose_decode_realisation("vllm", "blackwell", cal)
    assert chosen.value == 0.8 and chosen.fitted is not None and "carried to blackwell" in chosen.basis
    chosen = choose_decode_realisation("sglang", "hopper", cal)
    assert (chosen.value, chosen.per_sequence_step_seconds) == (1.0, 0.0) and "physics alone" in chosen.basis
    cpu = choose_decode_realisation("vllm", "cpu", cal)  # a host CPU takes no GPU engine's values
    assert (cpu.value, cpu.per_sequence_step_seconds) == (1.0, 0.0)


def test_a_value_that_fails_out_of_sample_is_reported_not_applied():
    cal = _calibration(_item("vllm", 0.6, cv_percent=35.0))  # LOSO 35 % > 20 %
    chosen = choose_decode_realisation("vllm", "hopper", cal)
    assert (chosen.value, chosen.per_sequence_step_seconds, chosen.fitted) == (1.0, 0.0, None)
    assert "not applied" in chosen.basis and "0.600" in chosen.basis and "5.00 µs" in chosen.basis
    scored = choose_decode_realisation("vllm", "hopper", cal, validated_only=False)  # what CV scores
    assert (scored.value, scored.per_sequence_step_seconds) == (0.6, 5e-6)


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
    assert scenario.per_sequence_step_seconds == used.per_sequence_step_seconds
    stated = next(a for a in assumptions if a.name == "decode_realisation")
    host = next(a for a in assumptions if a.name == "per_sequence_step_seconds")
    assert "vllm-ci-performance-benchmark" in stated.source and "vLLM blog" in host.source
    # vLLM's pair holds 14.8 % out of sample (≤ 20 %, serving_realisation.APPLY_MAX_CROSS_VALIDATED_MAPE_PERCENT):
    # applied, as fitted
    assert used.fitted is not None and stated.origin == host.origin == "fitted"
    assert 0.3 <= used.value < 1.0 and used.per_sequence_step_seconds > 0
    prefill = next(a for a in assumptions if a.name == "prefill_realisation")
    assert scenario.prefill_realisation == used.prefill_realisation and prefill.origin == "fitted"
    assert 0.3 <= used.prefill_realisation < 1.0 and f"{used.prefill_realisation:.3f}" == prefill.value
    sglang, assumptions = build_inference_scenario(dataclasses.replace(workload, engine="sglang"))
    assert (sglang.decode_realisation, sglang.per_sequence_step_seconds) == (1.0, 0.0)
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


def _llama_8b(batch: int, accelerators: int = 1):
    workload = InferenceWorkload(
        model=ModelChoice(preset_id="llama-3.1-8b"),
        hardware_id="h100-sxm",
        accelerator_count=accelerators,
        input_tokens=512,
        output_tokens=128,
        batch_size=batch,
    )
    scenario, _ = build_inference_scenario(workload)
    return dataclasses.replace(scenario, decode_realisation=1.0, per_sequence_step_seconds=0.0)


def test_the_decode_step_samples_every_sequence_over_the_whole_vocabulary():
    """Physics the decode step left out: the sampler (float32 cast, temperature, softmax, noise,
    divide, argmax over 128,256 entries: 46 B per entry, vLLM V1's Sampler) per sequence, on the
    whole vocabulary after the logits are gathered, not divided by tensor parallelism."""
    small, large = _llama_8b(8), _llama_8b(1024)
    hw = large.hardware
    per_row = 128256 * 46.0 / hw.memory_bandwidth_bytes_per_second
    for scenario, batch in ((small, 8), (large, 1024)):
        metrics = scenario_serving_metrics(scenario, float(batch))
        launches = 7 * hw.launch_overhead_seconds
        assert float(metrics.decode_breakdown["sampling"]) == pytest.approx(batch * per_row + launches)
    # 1,024 sequences: ≈ 2 ms a step on an H100, beside the 16 GB of weights it streams
    assert 1.5e-3 < 1024 * per_row < 2.5e-3
    tp8 = scenario_serving_metrics(_llama_8b(1024, 8), 1024.0)
    gathered = float(tp8.decode_breakdown["sampling"]) - 1024 * per_row
    assert gathered > 7 * hw.launch_overhead_seconds  # the gather over 8 devices, and the sampler undivided


def test_engine_host_time_adds_batch_times_seconds_per_step_and_is_not_accelerator_work():
    scenario = _llama_8b(256)
    base = scenario_serving_metrics(scenario, 256.0)
    host = scenario_serving_metrics(dataclasses.replace(scenario, per_sequence_step_seconds=20e-6), 256.0)
    slower = scenario_serving_metrics(
        dataclasses.replace(scenario, per_sequence_step_seconds=20e-6, decode_realisation=0.5), 256.0
    )
    assert float(host.time_per_output_token_seconds - base.time_per_output_token_seconds) == pytest.approx(256 * 20e-6)
    assert float(host.decode_breakdown["engine_host"]) == pytest.approx(256 * 20e-6)
    assert float(slower.decode_breakdown["engine_host"]) == pytest.approx(256 * 20e-6)  # not ÷ the realisation
    assert float(host.accelerator_power_watts) < float(base.accelerator_power_watts)  # the GPU waits
    assert float(host.energy_per_output_token_joules) > float(base.energy_per_output_token_joules)
