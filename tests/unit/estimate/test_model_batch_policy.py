"""The default global batch: chosen with the plan, grows with the cluster, bounded, explained."""

import numpy as np
import pytest

from flopwatt.estimate import constants as C
from flopwatt.estimate.batch_policy import batch_policy, critical_batch_tokens
from flopwatt.estimate.catalog import get_hardware, get_model_preset
from flopwatt.estimate.hardware import datasheet_hardware_model
from flopwatt.estimate.planner import PlanConstraints, choose_plan
from flopwatt.estimate.step_time import StepOptions
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.training import estimate_training
from flopwatt.v1 import common_pb2, estimator_pb2

DEPS = ApiDependencies()
LLAMA_405B_PUBLISHED_H100_HOURS = 30.84e6  # Llama 3.1 model card (2024-07)


def _request(
    preset: str, accelerators: int, sequence: int, tokens: float, **parallelism
) -> estimator_pb2.EstimateTrainingRequest:
    return estimator_pb2.EstimateTrainingRequest(
        model=common_pb2.ModelSpec(preset_id=preset),
        training_tokens=int(tokens),
        sequence_length=sequence,
        hardware_id="h100-sxm",
        accelerator_count=accelerators,
        parallelism=common_pb2.Parallelism(**parallelism),
    )


def test_llama_405b_without_a_batch_gets_a_cluster_sized_one():
    response = estimate_training(_request("llama-3.1-405b", 16384, 8192, 15.6e12), DEPS)
    p = response.parallelism
    tokens_per_step = p.global_batch_size * 8192
    # Llama 3 §3.4.1 ran 16M tokens per step on 16k GPUs; the old fixed 4M default forced DP ≤ 512 and 31 % MFU.
    assert 8 * 2**20 <= tokens_per_step <= 32 * 2**20
    assert p.global_batch_size % (p.data_parallel_size * p.micro_batch_size) == 0  # whole micro-batches per replica
    assert response.model_flops_utilization > 0.4
    assert 0.75 * LLAMA_405B_PUBLISHED_H100_HOURS < response.accelerator_hours < 1.15 * LLAMA_405B_PUBLISHED_H100_HOURS
    batch = {a.name: a for a in response.assumptions}["global_batch_size"]
    assert batch.origin == "derived" and "B_crit" in batch.source and "convergence" in batch.source


def test_a_requested_batch_is_always_honoured():
    response = estimate_training(_request("llama-3.1-405b", 16384, 8192, 15.6e12, global_batch_size=512), DEPS)
    assert response.parallelism.global_batch_size == 512
    assert "global_batch_size" not in {a.name for a in response.assumptions}


def test_the_batch_grows_with_the_cluster():
    arch = get_model_preset("llama-3.1-70b").architecture
    hw = datasheet_hardware_model(get_hardware("h100-sxm"), "bf16")
    # Context parallelism lets the planner hold a 512-sequence batch up to 8,192 GPUs (one
    # sequence per TP4 × CP2 × PP2 replica); past that only a larger batch keeps them busy.
    batches = [
        choose_plan(arch, n, 8192, hw, PlanConstraints(), StepOptions()).plan.global_batch_size
        for n in (64, 1024, 8192, 16384)
    ]
    assert batches == sorted(batches) and batches[-1] > batches[0]
    without_cp = [
        choose_plan(arch, n, 8192, hw, PlanConstraints(context_parallel_size=1), StepOptions()).plan.global_batch_size
        for n in (64, 1024, 8192)
    ]
    assert without_cp == sorted(without_cp) and without_cp[-1] > without_cp[0]


def test_free_batch_is_never_slower_for_the_requested_tokens_than_the_conventional_one():
    arch = get_model_preset("llama-3.1-405b").architecture
    hw = datasheet_hardware_model(get_hardware("h100-sxm"), "bf16")
    free = choose_plan(arch, 16384, 8192, hw, PlanConstraints(), StepOptions())
    conventional = choose_plan(arch, 16384, 8192, hw, PlanConstraints(global_batch_size=512), StepOptions())
    seconds_per_token = lambda c: free.batch_policy.wall_clock_objective(
        c.step_seconds, c.plan.global_batch_size * 8192.0
    )  # noqa: E731
    assert seconds_per_token(free) <= seconds_per_token(conventional)
    assert conventional.batch_policy is None


@pytest.mark.parametrize(
    "preset, counts",
    [("llama-3.1-70b", (4096, 4608, 5632, 6144, 12288, 16384)), ("llama-3.1-8b", (512, 768, 1024, 1536))],
)
def test_more_accelerators_never_lengthen_the_wall_clock(preset, counts):
    """Issue 11 item 7: the planner minimised the time to a given loss while the answer prints
    the wall clock of the requested tokens, so 70B on 5,632 → 6,144 H100 printed 28.9 → 33.1
    days (and 4,096 → 4,608: 39.2 → 41.8 before other fixes). The objective is now the wall clock."""
    walls = [
        estimate_training(_request(preset, n, 8192, 15e12), DEPS).wall_clock_duration.ToTimedelta().total_seconds()
        for n in counts
    ]
    assert all(later <= earlier for earlier, later in zip(walls, walls[1:])), walls


def test_policy_follows_its_published_laws_and_bounds():
    # DeepSeek LLM (arXiv 2401.02954): B_opt = 0.292 · C^0.3271 tokens; e.g. C = 1e24 → ~23 M tokens.
    assert critical_batch_tokens(1e24) == pytest.approx(0.292 * 1e24**0.3271)
    for preset in ("llama-2-7b", "llama-3.1-405b", "gpt-3-175b"):
        policy = batch_policy(get_model_preset(preset).architecture, 4096.0)
        ladder = np.asarray(policy.ladder_tokens)
        assert ladder[0] == pytest.approx(min(C.DEFAULT_GLOBAL_BATCH_TOKENS, policy.critical_batch_tokens))
        assert np.all(ladder <= C.LARGEST_PUBLISHED_GLOBAL_BATCH_TOKENS) and np.allclose(ladder[1:] / ladder[:-1], 2.0)
        # beyond the critical batch the requested tokens no longer buy the same loss (McCandlish et al. 2018)
        assert np.all(ladder <= max(policy.critical_batch_tokens, ladder[0]))
    small = batch_policy(get_model_preset("llama-2-7b").architecture, 4096.0).critical_batch_tokens
    large = batch_policy(get_model_preset("llama-3.1-405b").architecture, 4096.0).critical_batch_tokens
    assert small < large


def test_plan_does_not_depend_on_training_tokens():
    # Sweeps treat training_tokens as run-level (one plan per structural combination).
    a = estimate_training(_request("llama-2-7b", 256, 4096, 1e11), DEPS).parallelism
    b = estimate_training(_request("llama-2-7b", 256, 4096, 3e12), DEPS).parallelism
    assert a == b
