"""Continuous batching (estimate/continuous.py): the shape of a load sweep, the bounds of the
running batch, chunked prefill and the queues."""

import dataclasses
import math

import numpy as np
import pytest

from flopwatt.estimate import continuous
from flopwatt.estimate.catalog import get_hardware, get_model_preset
from flopwatt.estimate.constants import DEFAULT_PUE
from flopwatt.estimate.hardware import datasheet_hardware_model
from flopwatt.estimate.inference import InferenceScenario, estimate_serving
from flopwatt.estimate.run_cost import FacilityInputs

FACILITY = FacilityInputs(DEFAULT_PUE, 400.0, 0.08, 400.0, 50.0, capex_usd_per_accelerator=40000.0)
SWEEP = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]


def scenario(concurrency=0, rate=0.0, batch=0, prompt=5000, output=500, tp=2, precision="fp8"):
    hw = datasheet_hardware_model(get_hardware("h100-sxm"), precision)
    arch = get_model_preset("llama-3.1-70b").architecture
    return InferenceScenario(
        arch, hw, tp, batch, prompt, output, FACILITY, concurrency=concurrency, request_rate_per_second=rate
    )


def test_a_concurrency_sweep_saturates_tpot_and_throughput_and_ttft_grows_with_the_queue():
    estimates = [estimate_serving(scenario(concurrency=c)) for c in SWEEP]
    bound = estimates[0].max_running_batch_size
    assert 1 < bound < 512
    ttft = np.array([e.time_to_first_token_seconds for e in estimates])
    tpot = np.array([e.time_per_output_token_seconds for e in estimates])
    throughput = np.array([e.output_tokens_per_second for e in estimates])
    assert np.all(np.diff(ttft) >= 0) and np.all(np.diff(tpot) >= 0) and np.all(np.diff(throughput) >= -1e-9)
    saturated = [i for i, c in enumerate(SWEEP) if c >= bound]
    assert len(saturated) >= 2
    # Past saturation: throughput and TPOT plateau, TTFT grows by the queue (Little's law: linear).
    plateau = throughput[saturated]
    assert plateau.max() == pytest.approx(plateau.min(), rel=1e-9)
    assert tpot[saturated].max() == pytest.approx(tpot[saturated].min(), rel=1e-9)
    assert np.all(np.diff(ttft[saturated]) > 0)
    waits = np.array([estimates[i].queueing_delay_seconds for i in saturated])
    extra = np.array([SWEEP[i] for i in saturated]) - bound
    assert waits == pytest.approx(extra / estimates[saturated[0]].requests_per_second, rel=1e-6)
    # Below saturation there is no queue, and throughput grows well past batch 1's.
    assert all(e.queueing_delay_seconds == 0 for e in estimates if e.scenario.concurrency < bound)
    assert throughput[-1] > 10 * throughput[0]


def test_ttft_is_the_requests_own_prefill_not_the_whole_batchs():
    static = estimate_serving(scenario(batch=64))
    running = estimate_serving(scenario(concurrency=64))
    assert running.serving_model == "continuous" and static.serving_model == "static"
    assert running.time_to_first_token_seconds < static.time_to_first_token_seconds / 10
    alone = estimate_serving(scenario(concurrency=1))
    # Alone, TTFT is one prefill of the prompt (one chunk: 5000 < 8192 tokens) and a decode step.
    assert alone.time_to_first_token_seconds == alone.ttft_p99
    assert running.time_to_first_token_seconds > alone.time_to_first_token_seconds


def test_the_running_batch_is_bounded_by_the_paged_kv_cache_and_the_token_budget():
    s = scenario(concurrency=1)
    engine = continuous.ContinuousBatching()
    kv = continuous.kv_bound(s, engine)
    # Blocks of 16 tokens: the mean context 5250 tokens is 329 blocks (5264 tokens) per sequence.
    per_sequence_tokens = math.ceil(5250 / 16) * 16
    assert per_sequence_tokens == 5264
    bigger_blocks = continuous.kv_bound(s, continuous.ContinuousBatching(block_tokens=4096))
    assert bigger_blocks < kv  # coarser blocks waste more
    curve = continuous.load_curve(s, continuous.ContinuousBatching(token_budget=512))
    assert curve.bound == 512 // 11 < kv  # B·(1 + P/O) ≤ budget
    assert continuous.load_curve(s).bound == min(kv, 1024, 8192 // 11)


def test_the_engine_defaults_follow_vllms_choice_by_accelerator():
    h100 = datasheet_hardware_model(get_hardware("h100-sxm"), "bf16")
    a100 = datasheet_hardware_model(get_hardware("a100-80gb"), "bf16")
    assert continuous.ContinuousBatching.for_hardware(h100) == continuous.ContinuousBatching(16, 8192, 1024)
    assert continuous.ContinuousBatching.for_hardware(a100) == continuous.ContinuousBatching(16, 2048, 256)


def test_chunked_prefill_splits_a_prompt_longer_than_the_budget():
    s = scenario(concurrency=1, prompt=20000, output=200)
    curve = continuous.load_curve(s)
    assert curve.chunk_tokens[0] == 8191  # budget less the one decode token
    one_pass = curve.chunk_seconds[0] * 20000 / 8191
    # Three chunks, each beside a decode step.
    assert curve.ttft[0] == pytest.approx(one_pass * 3 * 8191 / 20000 + 3 * curve.decode_step[0])


def test_tpot_p99_is_above_p50_once_other_prefills_interleave():
    e = estimate_serving(scenario(concurrency=32))
    assert e.time_per_output_token_p99_seconds > e.time_per_output_token_seconds
    assert e.ttft_p99 > e.time_to_first_token_seconds


def test_open_loop_below_capacity_queues_little_and_refuses_the_capacity():
    light = estimate_serving(scenario(rate=0.5))
    assert light.requests_per_second == 0.5 and light.output_tokens_per_second == pytest.approx(250.0)
    assert light.queueing_delay_seconds == 0.0
    curve = continuous.load_curve(scenario(rate=0.5))
    capacity = curve.bound / curve.service[-1]
    heavy = estimate_serving(scenario(rate=0.999 * capacity))
    assert heavy.time_to_first_token_seconds > light.time_to_first_token_seconds
    assert heavy.running_batch_size <= curve.bound
    with pytest.raises(continuous.OverloadedError) as raised:
        estimate_serving(scenario(rate=capacity))
    assert raised.value.capacity == pytest.approx(capacity)


def test_m_d_c_wait_is_half_the_m_m_c_wait():
    # M/M/1 at ρ = 0.5: P_wait = 0.5, P(W > t) = 0.5·exp(−(μ − λ)t): median 0, p99 ln(50)/(μ − λ).
    p50, p99 = continuous.open_loop_wait(1, 1.0, 0.5)
    assert p50 == 0.0 and p99 == pytest.approx(0.5 * math.log(50) / 0.5)
    assert continuous.erlang_c(1, 0.5) == pytest.approx(0.5)
    # Erlang C for c = 2, a = 1: 1/3.
    assert continuous.erlang_c(2, 1.0) == pytest.approx(1 / 3)


def test_the_slo_plan_meets_its_targets_with_the_most_tokens_per_accelerator():
    base = scenario(concurrency=100, tp=8)
    plan = continuous.plan_for_slo(base, 2.0, 0.05)
    assert plan.tensor_parallel_size in (1, 2, 4, 8)
    curve = continuous.load_curve(plan.scenario)
    index = plan.max_running_batch - 1
    assert curve.ttft_p99[index] <= 2.0 and curve.tpot_p99[index] <= 0.05
    assert plan.replicas * plan.max_running_batch >= 100
    # No other group does better under the same targets.
    for tp in (1, 2, 4, 8):
        try:
            other = continuous.plan_for_slo(scenario(tp=tp), 2.0, 0.05)
        except continuous.SloUnreachable:
            continue
        assert other.output_tokens_per_second_per_accelerator <= plan.output_tokens_per_second_per_accelerator + 1e-9
    # A looser TPOT target allows a larger batch and more tokens per accelerator.
    loose = continuous.plan_for_slo(base, 2.0, 0.2)
    assert loose.output_tokens_per_second_per_accelerator >= plan.output_tokens_per_second_per_accelerator


def test_an_unreachable_slo_names_the_best_reachable_values():
    with pytest.raises(continuous.SloUnreachable) as raised:
        continuous.plan_for_slo(scenario(tp=8), 0.01, 0.001)
    assert raised.value.best_ttft_seconds > 0.01 and raised.value.best_tpot_seconds > 0.001


def test_a_step_carries_every_replacements_prefill_when_more_than_one_request_finishes_a_step():
    """Conservation: at a running batch B, (B − 1)·P/O prefill tokens arrive per step (the others'
    replacements). A step once carried at most one prompt's chunk, so with short outputs (B/O > 1
    requests finishing a step) the rest of the prefill was dropped: at 2,000 / 100 tokens and 135
    running sequences a third of it. Every step now carries the demand, on average."""
    short = scenario(prompt=2000, output=100, tp=8)
    curve = continuous.load_curve(short)
    prefill_one = float(continuous.prompt_prefill_work(short, short.accelerator_count).seconds)
    batches = curve.batches
    demand_tokens = (batches - 1.0) * 2000 / 100
    carried_tokens = curve.chunk_fraction * curve.chunk_seconds / (prefill_one / 2000)
    assert carried_tokens == pytest.approx(demand_tokens, rel=1e-9)
    assert np.any(demand_tokens > 2000)  # several prompts a step at the larger batches
    # and the step time counts them: TPOT grows with the prefill each step carries
    heavy = batches > 101
    assert np.all(curve.tpot[heavy] >= curve.decode_step[heavy] + demand_tokens[heavy] * prefill_one / 2000 - 1e-12)


def test_the_prefill_realisation_divides_every_prefill_and_no_decode():
    """An engine's prefill runs below the roofline (serving_realisation: fitted with the decode
    realisation); it divides TTFT's prefill and the chunks a continuous step carries, never the
    decode step itself."""
    base = scenario(concurrency=16)
    slow = dataclasses.replace(base, prefill_realisation=0.5)
    a, b = continuous.load_curve(base), continuous.load_curve(slow)
    assert b.decode_step == pytest.approx(a.decode_step, rel=1e-12)
    assert b.chunk_seconds == pytest.approx(2.0 * a.chunk_seconds, rel=1e-12)
    alone_a = estimate_serving(scenario(concurrency=1))
    alone_b = estimate_serving(dataclasses.replace(scenario(concurrency=1), prefill_realisation=0.5))
    assert alone_b.time_per_output_token_seconds == pytest.approx(alone_a.time_per_output_token_seconds, rel=1e-12)
    assert alone_b.time_to_first_token_seconds > 1.5 * alone_a.time_to_first_token_seconds
