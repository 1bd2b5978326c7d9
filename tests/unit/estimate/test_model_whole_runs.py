"""Whole-run validation: published training runs' accelerator-hours, held at the level reached.

Reached on 2026-11-23 with nothing fitted on this table (datasheet mode, the published batch,
parallelism and framework, the planner for the rest): median |error| 33.9 % over the 7 scored rows
(37.3 % before partial recompute and BLOOM's Jean Zay cluster;
39.7 % over all 8 before that; Llama 3.1 8B is now shown but not scored, its card total being more
than one pre-training run, see the row's reason) against the DESIGN §7 target of 15 %. Llama 3.1
405B is +4.5 % (it was +32 % when the planner could only recompute every layer to fit the
published plan in 80 GB) and DeepSeek-V3 +17.7 % (+4.9 % before the 5 % memory headroom and the per-NIC all-to-all); the A100 runs imply ~40-46 % MFU where the model predicts 53-75 %. This
test holds the level so regressions fail; it is not a pass of the target.

2026-11-27: the stack calibration made the 405B run +19.5 %, and every plan field a run's own
publications state is now fixed (BLOOM's full recompute, micro-batch 2 and ZeRO-1 from the
BigScience tr11 README and slurm script: -33.9 % → -18.4 %; DeepSeek-V3's EP64 and ZeRO-1 from
§3.2: +15.7 % → +93.3 %, because neither its node-limited routing nor DualPipe's overlap of the
all-to-all is modelled). Median 30.5 % over the 7 scored rows, unchanged. With DeepSeek-V3 on its
published framework, HAI-LLM (the `hai-llm` stack: per-node FP8 dispatch, node-limited routing,
DualPipe overlap, 20 SMs for communication; nothing fitted), the row is +0.2 % and the median
22.6 %. Llama 3.1 405B takes Meta's published "> 90 %" effective training time as its goodput
(+19.5 → +14.7 %); the median stays 22.6 %.
"""

import math

import numpy as np
import pytest

from flopwatt.estimate.parallel_plan import RECOMPUTE_FULL, RECOMPUTE_SELECTIVE
from flopwatt.estimate.validation.whole_runs import (
    _optional_recompute,
    load_published_runs,
    median_absolute_energy_error,
    median_absolute_hours_error,
    run_whole_runs,
)

REACHED_MEDIAN_ABSOLUTE_HOURS_ERROR = 0.226
MARGIN = 0.02


@pytest.fixture(scope="module")
def results():
    return run_whole_runs()


def test_every_row_is_sourced_and_complete():
    runs = load_published_runs()
    assert {r.run for r in runs} >= {
        "llama-3.1-405b",
        "llama-3.1-70b",
        "llama-3.1-8b",
        "llama-2-7b",
        "llama-2-13b",
        "llama-2-70b",
        "bloom-176b",
        "deepseek-v3",
    }
    for r in runs:
        assert r.source and r.source_date[:2] == "20" and r.hours_scope and r.accelerator_count_source, r.run
        assert r.energy_kind in ("nameplate", "metered", "none"), r.run
        assert r.published_accelerator_hours > 0 and r.training_tokens > 0, r.run


def test_published_figures_are_the_cited_ones():
    runs = {r.run: r for r in load_published_runs()}
    assert runs["llama-3.1-405b"].published_accelerator_hours == 30.84e6  # Llama 3.1 model card
    assert runs["llama-2-70b"].published_accelerator_hours == 1_720_320  # Llama 2 Table 2
    assert runs["bloom-176b"].published_accelerator_hours == 1_082_990  # Luccioni et al. 2022
    # BLOOM's 433 MWh is GPU-hours × 400 W TDP: a nameplate figure, so it is shown but not scored.
    assert runs["bloom-176b"].published_energy_joules == pytest.approx(1_082_990 * 0.4 * 3.6e6, rel=1e-3)
    assert runs["bloom-176b"].energy_kind == "nameplate"


def test_hours_error_stays_at_the_reached_level(results):
    assert all(math.isfinite(r.predicted_accelerator_hours) and r.fits_in_memory for r in results)
    assert median_absolute_hours_error(results) <= REACHED_MEDIAN_ABSOLUTE_HOURS_ERROR + MARGIN
    by_run = {r.run.run: r for r in results}
    # Partial (block) recompute of two layers in eight fits Meta's published plan with ZeRO-1: +8.0 %
    # (was +32 % with every layer recomputed; +4.5 % with ZeRO-3 before its per-micro-batch
    # all-gathers were counted); DeepSeek-V3 +17.7 %: +4.9 % with one layer in four recomputed,
    # +12.7 % with two since plans leave 5 % of the memory free (issue 11 item 4), +17.7 % since
    # off-node all-to-all bytes cross each GPU's own NIC (item 2), so the planner keeps EP on
    # one node (EP8; EP128 before) and DeepSeek's DualPipe overlap of the all-to-all is not modelled.
    # Since stacks carry a fitted compute realisation (issue 11 item 3), the 405B run is +19.5 %:
    # megatron-core on Hopper at 16-bit realises 0.894, fitted on the Llama 3 paper's step rows
    # (where the physics alone was 5-9 % fast), so the run's step is slower and what the run spent
    # beyond the steps (the modelled goodput) now overshoots; nothing is fitted to the hours.
    assert abs(by_run["llama-3.1-405b"].hours_error) < 0.17
    assert by_run["llama-3.1-405b"].goodput == pytest.approx(0.90)  # the published figure, an input
    # DeepSeek-V3 at its published EP64 over 8 nodes on its published stack (hai-llm): errors
    # that partly cancel (half the layers recomputed by the planner, DualPipe's PP overlap and
    # smaller bubble not modelled, realisation unfitted), see docs/estimation.md.
    assert "EP64" in by_run["deepseek-v3"].plan and abs(by_run["deepseek-v3"].hours_error) < 0.20
    assert abs(by_run["bloom-176b"].hours_error) < 0.25
    plan = by_run["llama-3.1-405b"].plan
    assert "rc0" in plan or float(plan.split("rc2(")[1].rstrip(")")) <= 0.25


def test_published_plan_fields_are_fixed(results):
    """Each plan field a run's own publications state is a fixed input, whichever way it moves the
    row (honouring only the helpful ones would be fitting by selection); the rest is planned."""
    runs = {r.run: r for r in load_published_runs()}
    bloom = runs["bloom-176b"]  # BigScience tr11-176B-ml: MBS=2, --checkpoint-activations, BF16 ZeRO-1
    assert (bloom.micro_batch_size, bloom.zero_stage, bloom.activation_recompute) == (2, 1, RECOMPUTE_FULL)
    deepseek = runs["deepseek-v3"]  # §3.2: PP16, EP64 over 8 nodes, ZeRO-1 DP
    assert (deepseek.expert_parallel_size, deepseek.zero_stage) == (64, 1)
    assert deepseek.activation_recompute is None  # RMSNorm/MLA up-projection recompute: no category
    assert runs["llama-2-7b"].activation_recompute is None and runs["llama-2-7b"].micro_batch_size is None
    plans = {r.run.run: r.plan for r in results}
    assert plans["bloom-176b"].endswith("mb2 ZeRO1 rc2")  # full recompute of every layer, as run
    assert "EP64" in plans["deepseek-v3"] and "ZeRO1" in plans["deepseek-v3"]


def test_an_unknown_recompute_name_is_refused():
    with pytest.raises(ValueError, match="activation_recompute 'partial'"):
        _optional_recompute("partial")
    assert _optional_recompute(" ") is None and _optional_recompute("selective") == RECOMPUTE_SELECTIVE


def test_excluded_rows_say_why_and_published_frameworks_are_used():
    runs = {r.run: r for r in load_published_runs()}
    assert not runs["llama-3.1-8b"].scored and "MFU" in runs["llama-3.1-8b"].exclusion_reason
    assert sum(r.scored for r in runs.values()) == 7
    assert runs["bloom-176b"].framework == "megatron-deepspeed"  # BigScience trained with Megatron-DeepSpeed
    assert runs["deepseek-v3"].framework == "hai-llm"  # "trained on the HAI-LLM framework" (§3.2)
    # Jean Zay: 4 × 100 Gb/s Omni-Path per 8-GPU node (BigScience 2022 §3.4); others: catalog node.
    assert runs["bloom-176b"].scale_out_bytes_per_second == pytest.approx(6.25e9)
    assert math.isnan(runs["llama-2-70b"].scale_out_bytes_per_second)
    assert not runs["llama-3.1-405b"].arch.dropout  # the Llama family trains without dropout


def test_no_metered_energy_is_scored_and_nameplate_rows_read_low(results):
    assert math.isnan(median_absolute_energy_error(results))  # no run publishes a metered figure
    nameplate = [r.energy_error for r in results if r.run.energy_kind == "nameplate"]
    # our power model draws ≤ 76 % of TDP, and the hours themselves differ: never above nameplate
    assert nameplate and np.all(np.asarray(nameplate) < 0)
