"""Speculative decoding / multi-token prediction (inference.Speculation): the expected tokens
per verification step, where it helps (bandwidth-bound small batches) and where it hurts
(compute-bound large batches), the draft model's cost and memory, continuous batching and the
SLO planner with it."""

import dataclasses
import itertools

import numpy as np
import pytest

from flopwatt.estimate import continuous
from flopwatt.estimate.catalog import get_hardware, get_model_preset
from flopwatt.estimate.constants import DEFAULT_PUE
from flopwatt.estimate.hardware import datasheet_hardware_model
from flopwatt.estimate.inference import (
    InferenceScenario,
    Speculation,
    estimate_serving,
    expected_tokens_per_step,
    max_batch_size,
    tokens_per_step_variance,
)
from flopwatt.estimate.run_cost import FacilityInputs

FACILITY = FacilityInputs(DEFAULT_PUE, 400.0, 0.08, 400.0, 50.0, capex_usd_per_accelerator=40000.0)
MTP = Speculation(draft_tokens=3, acceptance_rate=0.7)


def scenario(batch=0, concurrency=0, prompt=1000, output=200, tp=2, speculation=None):
    hw = datasheet_hardware_model(get_hardware("h100-sxm"), "fp8")
    arch = get_model_preset("llama-3.1-70b").architecture
    return InferenceScenario(
        arch, hw, tp, batch, prompt, output, FACILITY, concurrency=concurrency, speculation=speculation
    )


def tokens_distribution(alpha: float, k: int) -> dict[int, float]:
    """P(N = n) of the tokens one step yields, from the process itself: drafts accepted one by
    one with probability α until the first rejection (or all k), then the target's own token."""
    probabilities = {}
    for accepted in range(k + 1):
        stop = (1.0 - alpha) if accepted < k else 1.0
        probabilities[accepted + 1] = alpha**accepted * stop
    return probabilities


@pytest.mark.parametrize(("alpha", "k"), list(itertools.product([0.0, 0.3, 0.7, 0.9, 0.99], [1, 2, 3, 5, 8, 16])))
def test_expected_tokens_per_step_is_leviathans_formula(alpha, k):
    distribution = tokens_distribution(alpha, k)
    assert sum(distribution.values()) == pytest.approx(1.0)
    mean = sum(n * p for n, p in distribution.items())
    assert float(expected_tokens_per_step(alpha, k)) == pytest.approx(mean, rel=1e-12)
    assert float(expected_tokens_per_step(alpha, k)) == pytest.approx((1 - alpha ** (k + 1)) / (1 - alpha), rel=1e-12)
    variance = sum(n * n * p for n, p in distribution.items()) - mean * mean
    assert tokens_per_step_variance(alpha, k) == pytest.approx(variance, abs=1e-12)


def test_a_worked_value_of_the_expectation():
    # k = 3, α = 0.7: 1 + 0.7 + 0.49 + 0.343 tokens per step.
    assert MTP.expected_tokens == pytest.approx(2.533, abs=1e-12)
    assert MTP.query_tokens == 4


def test_tpot_falls_at_batch_one_and_the_gain_reverses_at_a_large_batch():
    ratios = {}
    for batch in (1, 8, 64, 256):
        plain = estimate_serving(scenario(batch=batch))
        fast = estimate_serving(scenario(batch=batch, speculation=MTP))
        ratios[batch] = fast.time_per_output_token_seconds / plain.time_per_output_token_seconds
    # Batch 1 is bandwidth-bound: verifying 4 positions costs about one step, so TPOT falls by
    # nearly the expected tokens per step.
    assert ratios[1] < 1.1 / MTP.expected_tokens
    # The gain shrinks as the batch grows (the k + 1 rows turn the GEMMs compute-bound) ...
    assert ratios[1] < ratios[8] < ratios[64] < ratios[256]
    # ... and reverses once the verification step is compute-bound.
    assert ratios[256] > 1.0


def test_the_verification_step_sees_k_plus_one_rows_but_reads_the_kv_cache_once():
    plain = estimate_serving(scenario(batch=64))
    fast = estimate_serving(scenario(batch=64, speculation=MTP))
    per_step = MTP.expected_tokens
    # Per output token the KV read is the same bytes ÷ the tokens per step (bandwidth-bound here).
    assert fast.decode_breakdown["kv_cache_and_attention"] * per_step == pytest.approx(
        plain.decode_breakdown["kv_cache_and_attention"], rel=0.02
    )
    # The GEMMs of the step do more work than one decode step's.
    assert fast.decode_breakdown["weights_and_gemm"] * per_step > plain.decode_breakdown["weights_and_gemm"]
    assert fast.time_per_output_token_seconds == pytest.approx(sum(fast.decode_breakdown.values()), rel=1e-12)


def test_a_draft_model_costs_time_and_memory_and_mtp_does_not():
    draft = get_model_preset("llama-3.1-8b").architecture
    with_draft = Speculation(3, 0.7, draft)
    mtp = estimate_serving(scenario(batch=1, speculation=MTP))
    drafted = estimate_serving(scenario(batch=1, speculation=with_draft))
    assert "speculative_draft" not in mtp.decode_breakdown
    assert drafted.decode_breakdown["speculative_draft"] > 0
    assert drafted.time_per_output_token_seconds > mtp.time_per_output_token_seconds
    assert drafted.time_to_first_token_seconds > mtp.time_to_first_token_seconds  # the draft prefills too
    s = scenario()
    args = (s.arch, s.hardware, 2, 1200, s.kv_cache_bytes_per_element)
    plain_limit, plain_weights, _ = max_batch_size(*args)
    draft_limit, draft_weights, _ = max_batch_size(*args, speculation=with_draft)
    assert draft_weights > plain_weights and draft_limit < plain_limit
    assert max_batch_size(*args, speculation=MTP) == max_batch_size(*args)


def test_acceptance_zero_only_adds_verification_work():
    plain = estimate_serving(scenario(batch=64))
    useless = estimate_serving(scenario(batch=64, speculation=Speculation(3, 0.0)))
    assert useless.time_per_output_token_seconds >= plain.time_per_output_token_seconds


def test_continuous_batching_counts_the_verified_tokens_in_the_step_budget():
    plain = continuous.load_curve(scenario(concurrency=1, prompt=5000, output=500, tp=8))
    fast = continuous.load_curve(scenario(concurrency=1, prompt=5000, output=500, tp=8, speculation=MTP))
    # B·((k + 1) + E·P/O) ≤ the step budget: each sequence takes k + 1 tokens, and requests end E
    # times sooner in steps, so their replacements' prefill takes E times more per step.
    budget = continuous.ContinuousBatching.for_hardware(scenario().hardware).token_budget
    assert fast.bound == min(plain.kv_bound, int(budget // (MTP.query_tokens + MTP.expected_tokens * 10)))
    assert fast.bound < plain.bound
    assert fast.tpot[0] < plain.tpot[0]
    # The request's own step count varies: p99 above p50 even at batch 1 (no prefill chunks).
    assert fast.tpot_p99[0] > fast.tpot[0] and plain.tpot_p99[0] == pytest.approx(plain.tpot[0])
    assert np.all(np.isfinite(fast.ttft)) and np.all(fast.ttft > 0)


def test_the_slo_planner_plans_with_speculation():
    base = scenario(concurrency=1)
    best_plain = continuous.load_curve(base).tpot_p99[0]
    target = 0.8 * best_plain  # out of reach of plain decoding on these two accelerators
    with pytest.raises(continuous.SloUnreachable):
        continuous.plan_for_slo(base, 0.0, target)
    plan = continuous.plan_for_slo(dataclasses.replace(base, speculation=MTP), 0.0, target)
    assert plan.scenario.speculation == MTP
    estimate = estimate_serving(plan.scenario)
    assert estimate.tpot_p99 <= target
