"""Activation memory: Korthikanti et al. 2022's per-layer formula, dropout, and block-wise
partial recomputation as a planner option (the fix that lets Llama 3's published 405B plan fit
without recomputing every layer, while clearly infeasible plans are still refused)."""

from dataclasses import replace

import numpy as np
import pytest

from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.catalog import get_hardware, get_model_preset
from flopwatt.estimate.hardware import datasheet_hardware_model
from flopwatt.estimate.memory import activation_bytes_per_layer, training_memory
from flopwatt.estimate.parallel_plan import RECOMPUTE_FULL, RECOMPUTE_NONE, RECOMPUTE_SELECTIVE, ParallelPlan
from flopwatt.estimate.planner import PlanConstraints, choose_plan
from flopwatt.estimate.step_time import framework_step_options, training_step_time

GPT3 = ModelArchitecture(96, 12288, 96, 96, 4 * 12288, 50257, gated_mlp=False, tied_embeddings=True)
SP_TP8 = dict(tensor_parallel_size=8, sequence_parallel=True, micro_batch_size=1, global_batch_size=1)


def test_selective_recompute_with_sequence_parallelism_is_34_sbh_over_t():
    # Korthikanti et al. 2022 eq. 5 (selective + SP): 34·s·b·h/t bytes per layer.
    s, h, t = 2048, 12288, 8
    per_layer = activation_bytes_per_layer(
        GPT3, s, ParallelPlan(**SP_TP8, activation_recompute=RECOMPUTE_SELECTIVE), flash_attention=False
    )
    assert float(per_layer) == pytest.approx(34 * s * h / t, rel=1e-9)


def test_no_dropout_masks_without_dropout():
    s, h, t = 2048, 12288, 8
    plan = ParallelPlan(**SP_TP8, activation_recompute=RECOMPUTE_SELECTIVE)
    per_layer = activation_bytes_per_layer(replace(GPT3, dropout=False), s, plan, flash_attention=False)
    assert float(per_layer) == pytest.approx(32 * s * h / t, rel=1e-9)  # two 1-byte masks of h fewer


def test_partial_recompute_interpolates_memory_and_time_linearly():
    llama = get_model_preset("llama-3.1-405b").architecture
    hw = datasheet_hardware_model(get_hardware("h100-sxm"), "bf16")
    options = framework_step_options("megatron-lm")
    plan = ParallelPlan(
        tensor_parallel_size=8,
        pipeline_parallel_size=16,
        data_parallel_size=128,
        pipeline_interleaving=4,
        micro_batch_size=1,
        global_batch_size=2048,
        zero_stage=1,
        sequence_parallel=True,
        activation_recompute=RECOMPUTE_FULL,
        recompute_layer_fraction=np.array([0.0, 0.5, 1.0]),
    )
    memory = training_memory(llama, 8192, plan).activations
    step = training_step_time(llama, 8192, plan, hw, options).total
    none = training_memory(
        llama, 8192, replace(plan, activation_recompute=RECOMPUTE_NONE, recompute_layer_fraction=1.0)
    ).activations
    assert memory[0] == pytest.approx(float(none)) and memory[1] == pytest.approx((memory[0] + memory[2]) / 2)
    assert step[0] < step[1] < step[2] and step[1] == pytest.approx((step[0] + step[2]) / 2, rel=1e-9)


def test_published_llama3_plan_fits_with_a_few_recomputed_layers():
    llama = replace(get_model_preset("llama-3.1-405b").architecture, dropout=False)
    hw = datasheet_hardware_model(get_hardware("h100-sxm"), "bf16")
    fixed = PlanConstraints(tensor_parallel_size=8, pipeline_parallel_size=16, global_batch_size=2048)
    choice = choose_plan(llama, 16384, 8192, hw, fixed, framework_step_options("megatron-lm"))
    assert choice.fits_in_memory and choice.memory_bytes <= hw.memory_bytes
    p = choice.plan
    assert p.activation_recompute == RECOMPUTE_NONE or p.recompute_layer_fraction <= 0.25


def test_clearly_infeasible_plans_are_still_refused():
    # 405B on 64 H100 (TP8 PP8): 16 B/param of state alone is ~100 GB per GPU.
    llama = get_model_preset("llama-3.1-405b").architecture
    hw = datasheet_hardware_model(get_hardware("h100-sxm"), "bf16")
    fixed = PlanConstraints(tensor_parallel_size=8, pipeline_parallel_size=8, global_batch_size=64, zero_stage=0)
    choice = choose_plan(llama, 64, 8192, hw, fixed, framework_step_options("megatron-lm"))
    assert not choice.fits_in_memory
    # and a fixed no-recompute plan at 16k sequences that needs ~4× the memory is not made to fit
    plan = ParallelPlan(
        tensor_parallel_size=8,
        pipeline_parallel_size=16,
        data_parallel_size=128,
        pipeline_interleaving=4,
        micro_batch_size=1,
        global_batch_size=2048,
        zero_stage=1,
        sequence_parallel=True,
    )
    assert float(training_memory(llama, 32768, plan).total) > 2 * hw.memory_bytes
