"""Prefill/decode disaggregation (estimate/disaggregation.py): when the SLO planner separates the
pools, what the KV transfer costs, and how the pools are sized."""

import dataclasses
import math

import pytest

from flopwatt.estimate import continuous, disaggregation
from flopwatt.estimate.catalog import get_hardware, get_model_preset
from flopwatt.estimate.constants import (
    DEFAULT_PUE,
    INTRA_NODE_COLLECTIVE_LATENCY_SECONDS,
    SCALE_OUT_COLLECTIVE_LATENCY_SECONDS,
)
from flopwatt.estimate.hardware import datasheet_hardware_model
from flopwatt.estimate.inference import InferenceScenario, Speculation, estimate_serving
from flopwatt.estimate.memory import kv_cache_bytes_per_token
from flopwatt.estimate.run_cost import FacilityInputs

FACILITY = FacilityInputs(DEFAULT_PUE, 400.0, 0.08, 400.0, 50.0, capex_usd_per_accelerator=40000.0)


def scenario(prompt, output, accelerators=8, rate=0.0, concurrency=0):
    hw = datasheet_hardware_model(get_hardware("h100-sxm"), "fp8")
    arch = get_model_preset("llama-3.1-70b").architecture
    return InferenceScenario(
        arch, hw, accelerators, 0, prompt, output, FACILITY, concurrency=concurrency, request_rate_per_second=rate
    )


def engine(s):
    return continuous.ContinuousBatching.for_hardware(s.hardware)


def test_long_prompts_under_a_tight_tpot_choose_disaggregation_and_decode_undisturbed():
    s = scenario(8000, 200)
    colocated = continuous.plan_for_slo(s, 2.0, 0.030)
    chosen = continuous.plan_for_slo(s, 2.0, 0.030, disaggregation="allowed")
    split = chosen.disaggregated
    assert colocated.disaggregated is None and split is not None
    assert chosen.output_tokens_per_second_per_accelerator > 1.5 * colocated.output_tokens_per_second_per_accelerator
    assert split.ttft_p99_seconds <= 2.0 and split.tpot_p99_seconds <= 0.030
    # At the colocated plan's own running batch and group, the decode pool's p99 TPOT (no prefill
    # chunk in any step) leaves a wider margin to the target than the colocated replica's.
    colocated_estimate = estimate_serving(colocated.scenario)
    pool = disaggregation.decode_pool(
        dataclasses.replace(colocated.scenario, concurrency=0), engine(colocated.scenario)
    )
    batch = colocated.max_running_batch
    assert 0.030 - pool.tpot_p99[batch - 1] > 0.030 - colocated_estimate.tpot_p99
    assert pool.tpot_p99[batch - 1] < 0.8 * colocated_estimate.tpot_p99
    # The TTFT: prefill queue + the prompt's prefill + the KV transfer.
    assert split.ttft_p99_seconds == pytest.approx(
        split.prefill_wait_p99_seconds + split.prefill_seconds + split.transfer.seconds
    )


def test_short_prompts_stay_colocated():
    s = scenario(128, 512)
    chosen = continuous.plan_for_slo(s, 0.5, 0.100, disaggregation="allowed")
    assert chosen.disaggregated is None
    forced = continuous.plan_for_slo(s, 0.5, 0.100, disaggregation="required")
    assert forced.disaggregated is not None
    assert forced.output_tokens_per_second_per_accelerator < chosen.output_tokens_per_second_per_accelerator


@pytest.mark.parametrize(
    ("prefill_tp", "decode_tp", "tier"), [(1, 2, "scale_up"), (4, 4, "scale_up"), (2, 8, "scale_out")]
)
def test_kv_transfer_is_the_prompts_cache_over_the_chosen_tiers_bandwidth(prefill_tp, decode_tp, tier):
    s = scenario(8000, 200)
    hw = s.hardware
    transfer = disaggregation.kv_transfer(s, prefill_tp, decode_tp)
    total = float(kv_cache_bytes_per_token(s.arch, s.kv_cache_bytes_per_element)) * 8000
    assert transfer.total_bytes == pytest.approx(total)
    assert total == pytest.approx(2 * 80 * 8 * 128 * 1 * 8000)  # K and V, 80 layers, 8 KV heads of 128, FP8
    assert transfer.tier == tier
    bandwidth = (
        hw.intra_node_bus_bandwidth_bytes_per_second if tier == "scale_up" else hw.scale_out_bandwidth_bytes_per_second
    )
    latency = INTRA_NODE_COLLECTIVE_LATENCY_SECONDS if tier == "scale_up" else SCALE_OUT_COLLECTIVE_LATENCY_SECONDS
    streams = min(prefill_tp, decode_tp)
    assert transfer.bandwidth_bytes_per_second == bandwidth
    assert transfer.seconds == pytest.approx(total / streams / bandwidth + latency, rel=1e-12)


def test_a_draft_models_cache_moves_too():
    s = scenario(8000, 200)
    draft = get_model_preset("llama-3.1-8b").architecture
    with_draft = dataclasses.replace(s, speculation=Speculation(3, 0.7, draft))
    extra = float(kv_cache_bytes_per_token(draft, s.kv_cache_bytes_per_element)) * 8000
    assert disaggregation.kv_transfer(with_draft, 2, 2).total_bytes == pytest.approx(
        disaggregation.kv_transfer(s, 2, 2).total_bytes + extra
    )


def test_pools_are_sized_for_an_open_loop_load():
    s = scenario(8000, 200, rate=10.0)
    plan = continuous.plan_for_slo(s, 2.0, 0.030, disaggregation="required")
    split = plan.disaggregated
    assert split.request_rate == 10.0
    # Decode instances carry the rate at their batch; the prefill pool is stable and meets TTFT.
    per_decode_instance = split.decode_running_batch / float(split.decode.service[split.batch_index])
    assert split.decode_instances == math.ceil(10.0 / per_decode_instance)
    assert 10.0 * split.prefill_seconds < split.prefill_instances
    assert split.ttft_p99_seconds <= 2.0
    # One fewer prefill instance would miss the TTFT target (or be unstable).
    fewer = split.prefill_instances - 1
    if fewer > 10.0 * split.prefill_seconds:
        wait_p99 = disaggregation._wait(fewer, split.prefill_seconds, 10.0)[1]
        assert wait_p99 + split.prefill_seconds + split.transfer.seconds > 2.0
    assert plan.accelerator_count == (
        split.prefill_instances * split.prefill_tensor_parallel_size
        + split.decode_instances * split.decode_tensor_parallel_size
    )
    estimate = disaggregation.disaggregated_estimate(split)
    assert estimate.output_tokens_per_second == pytest.approx(10.0 * 200)
    assert estimate.deployment_accelerators == plan.accelerator_count
    assert math.isfinite(estimate.energy_per_output_token_joules) and estimate.energy_per_output_token_joules > 0


def test_an_unreachable_ttft_is_refused_with_the_best_values():
    s = scenario(8000, 200)
    with pytest.raises(continuous.SloUnreachable) as error:
        continuous.plan_for_slo(s, 0.05, 0.030, disaggregation="required")
    assert error.value.best_ttft_seconds > 0.05 and math.isfinite(error.value.best_tpot_seconds)


def test_the_large_pool_erlang_c_matches_the_recursion():
    for servers, offered in [(2500, 2400.0), (2001, 1999.5), (3000, 1000.0)]:
        assert disaggregation._erlang_c(servers, offered) == pytest.approx(
            continuous.erlang_c(servers, offered), rel=1e-9, abs=1e-15
        )
