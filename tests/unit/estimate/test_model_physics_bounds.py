"""Physics bounds the estimate must respect wherever it is used, even far from the validation
data (issue 11, "Training estimates that hold where the model was not built")."""

from dataclasses import replace

import pytest

from flopwatt.estimate.accounting import flops_per_token
from flopwatt.estimate.catalog import get_hardware, get_model_preset
from flopwatt.estimate.constants import (
    BACKWARD_FLOPS_PER_FORWARD_FLOP,
    CAUSAL_WORK_FRACTION,
    DEFAULT_PUE,
    TRAINING_MEMORY_HEADROOM_FRACTION,
)
from flopwatt.estimate.hardware import datasheet_hardware_model
from flopwatt.estimate.parallel_plan import RECOMPUTE_FULL, RECOMPUTE_NONE, ParallelPlan
from flopwatt.estimate.planner import PlanConstraints, choose_plan
from flopwatt.estimate.run_cost import FacilityInputs
from flopwatt.estimate.step_time import StepOptions, StepTime, training_step_time
from flopwatt.estimate.training import TrainingScenario, estimate_training_run

H100_BF16 = datasheet_hardware_model(get_hardware("h100-sxm"), "bf16")
LLAMA_405B = get_model_preset("llama-3.1-405b").architecture
LLAMA_70B = get_model_preset("llama-3.1-70b").architecture
OVERLAP = 0.8


def _compute_seconds(step: StepTime) -> float:
    return float(step.gemm + step.attention + step.elementwise + step.recompute)


def _exposed_and_full(arch, plan: ParallelPlan, seq: int) -> tuple[StepTime, float]:
    hidden = training_step_time(arch, seq, plan, H100_BF16, StepOptions(data_parallel_overlap_fraction=OVERLAP))
    full = training_step_time(arch, seq, plan, H100_BF16, StepOptions(data_parallel_overlap_fraction=0.0))
    return hidden, float(full.data_parallel_communication)


def test_zero3_gradient_traffic_hides_only_behind_the_compute_it_overlaps():
    """Llama 3.1 405B on 16,384 H100 at TP4 CP2 DP2048 ZeRO-3 (the plan the planner chose before
    the bound): 6.8 s of DP traffic cannot hide 80 % behind 3.9 s of compute."""
    plan = ParallelPlan(
        tensor_parallel_size=4,
        data_parallel_size=2048,
        context_parallel_size=2,
        global_batch_size=2048,
        zero_stage=3,
        sequence_parallel=True,
    )
    step, full = _exposed_and_full(LLAMA_405B, plan, 8192)
    compute = _compute_seconds(step)
    assert full > compute  # the case the flat fraction got wrong
    exposed = float(step.data_parallel_communication)
    assert exposed >= full - OVERLAP * compute - 1e-9
    assert exposed >= full - compute
    assert float(step.total) >= full


def test_bucketed_gradient_reduction_hides_behind_the_last_micro_batch_backward_only():
    """Without ZeRO-3 the gradients are reduced once, during the last micro-batch's backward:
    with many micro-batches per step the whole step's compute is not available to hide it."""
    plan = ParallelPlan(
        tensor_parallel_size=8, data_parallel_size=128, global_batch_size=128 * 32, zero_stage=1, sequence_parallel=True
    )
    step, full = _exposed_and_full(LLAMA_70B, plan, 8192)
    micro_batches = 32
    backward_one_micro_batch = (
        _compute_seconds(step) / micro_batches
    )  # fwd + bwd of one: an upper bound on its backward
    assert float(step.data_parallel_communication) >= full - OVERLAP * backward_one_micro_batch - 1e-9
    # and never more than the whole reduction
    assert float(step.data_parallel_communication) <= full + 1e-12


@pytest.mark.parametrize("overlap", [0.0, 0.5, 1.0])
def test_exposed_gradient_reduction_is_within_its_bounds(overlap):
    plan = ParallelPlan(
        tensor_parallel_size=4, data_parallel_size=256, global_batch_size=1024, zero_stage=3, sequence_parallel=True
    )
    options = StepOptions(data_parallel_overlap_fraction=overlap)
    step = training_step_time(LLAMA_70B, 4096, plan, H100_BF16, options)
    full = float(
        training_step_time(
            LLAMA_70B, 4096, plan, H100_BF16, replace(options, data_parallel_overlap_fraction=0.0)
        ).data_parallel_communication
    )
    exposed = float(step.data_parallel_communication)
    assert full * (1.0 - overlap) - 1e-12 <= exposed <= full + 1e-12
    assert exposed >= full - _compute_seconds(step) - 1e-12


def _long_context_estimate(options: StepOptions, recompute: int = RECOMPUTE_NONE):
    """Llama 3.1 8B at 128K tokens on 64 H100 (CP8 DP8): attention is ~80 % of the model FLOPs."""
    arch = get_model_preset("llama-3.1-8b").architecture
    plan = ParallelPlan(
        data_parallel_size=8, context_parallel_size=8, global_batch_size=8, zero_stage=3, activation_recompute=recompute
    )
    scenario = TrainingScenario(
        arch, 1e12, 131072, H100_BF16, plan, FacilityInputs(DEFAULT_PUE, 400.0, 0.08, 400.0, 50.0), options
    )
    return arch, estimate_training_run(scenario)


def test_hfu_counts_the_causal_half_of_the_scores_a_fused_kernel_executes():
    """Issue 11 item 3: at 128K the step runs causal kernels, so HFU (executed work) is well
    below MFU (full-attention convention); HFU = MFU only where attention is unfused."""
    arch, fused = _long_context_estimate(StepOptions(flash_attention=True))
    per_token = flops_per_token(arch, 131072)
    executed = (per_token.forward - CAUSAL_WORK_FRACTION * per_token.attention_forward) * (
        1.0 + BACKWARD_FLOPS_PER_FORWARD_FLOP
    )
    assert float(fused.hardware_flops_per_token) == pytest.approx(executed, rel=1e-12)
    assert float(fused.hardware_flops_utilization) == pytest.approx(
        float(fused.model_flops_utilization) * executed / per_token.training_model, rel=1e-12
    )
    assert float(fused.hardware_flops_utilization) < 0.7 * float(fused.model_flops_utilization)
    _, unfused = _long_context_estimate(StepOptions(flash_attention=False))
    assert float(unfused.hardware_flops_utilization) == pytest.approx(float(unfused.model_flops_utilization), rel=1e-12)


def test_full_recompute_adds_the_executed_forward_to_hfu():
    arch, rc = _long_context_estimate(StepOptions(flash_attention=True), RECOMPUTE_FULL)
    per_token = flops_per_token(arch, 131072)
    executed_forward = per_token.forward - CAUSAL_WORK_FRACTION * per_token.attention_forward
    assert float(rc.hardware_flops_per_token) == pytest.approx(
        executed_forward * (2.0 + BACKWARD_FLOPS_PER_FORWARD_FLOP), rel=1e-12
    )


def test_planned_memory_leaves_the_allocator_headroom():
    """Issue 11 item 4: Llama 3.1 70B on 1,024 H100 was planned at 79.5 GiB of 80.0; no run packs
    memory to the byte. The plan must leave TRAINING_MEMORY_HEADROOM_FRACTION of it free."""
    choice = choose_plan(LLAMA_70B, 1024, 8192, H100_BF16, PlanConstraints(), StepOptions())
    assert choice.fits_in_memory
    assert choice.memory_bytes <= (1.0 - TRAINING_MEMORY_HEADROOM_FRACTION) * H100_BF16.memory_bytes
    assert 0.03 <= TRAINING_MEMORY_HEADROOM_FRACTION <= 0.10  # the range seen in practice (constants.py)


def test_a_plan_inside_the_headroom_does_not_fit():
    """A plan needing 97 % of the accelerator's memory is reported as not fitting."""
    plan = ParallelPlan(
        tensor_parallel_size=1,
        data_parallel_size=1024,
        global_batch_size=1024,
        zero_stage=3,
        activation_recompute=RECOMPUTE_FULL,
        recompute_layer_fraction=0.625,
    )  # 97 % of 80 GB
    scenario = TrainingScenario(
        LLAMA_70B, 1e12, 8192, H100_BF16, plan, FacilityInputs(DEFAULT_PUE, 400.0, 0.08, 400.0, 50.0)
    )
    estimate = estimate_training_run(scenario)
    share = float(estimate.memory.total) / H100_BF16.memory_bytes
    assert 1.0 - TRAINING_MEMORY_HEADROOM_FRACTION < share <= 1.0, share  # the case under test
    assert not bool(estimate.fits_in_memory)


DISPATCH_BYTES = 4096 * 8 * 7168 * 2.0  # DeepSeek-V3: 4,096 tokens × 8 routed experts × h 7,168 × bf16 ≈ 470 MB


@pytest.mark.parametrize("ep", [16, 64, 256])
def test_all_to_all_off_node_bytes_cross_this_accelerators_own_nic(ep):
    """Issue 11 item 2: every off-node byte of an all-to-all leaves through the GPU's own NIC;
    the ring bus bandwidth (min(NVLink × 0.77, 8 × NIC) = 346 GB/s on H100) overstated it 8-fold."""
    spec = get_hardware("h100-sxm")
    per_node = spec.accelerators_per_node
    off_node = DISPATCH_BYTES * (ep - per_node) / ep
    floor = off_node / spec.scale_out_bandwidth_bytes_per_second  # datasheet NIC rate: a lower bound on the time
    assert float(H100_BF16.all_to_all_seconds(DISPATCH_BYTES, ep, 1.0)) >= floor
    if ep == 256:
        assert floor >= 9.0e-3  # the issue's ≥ 9.1 ms at 50 GB/s


def test_all_to_all_inside_a_node_runs_over_the_scale_up_links():
    on_node = float(H100_BF16.all_to_all_seconds(DISPATCH_BYTES, 8, 1.0))
    assert on_node == pytest.approx(
        DISPATCH_BYTES * 7 / 8 / H100_BF16.intra_node_bus_bandwidth_bytes_per_second, rel=0.05
    )
    # a TP stride of 2 leaves 4 of the group's ranks per node: an EP8 group then spans two nodes
    spanning = float(H100_BF16.all_to_all_seconds(DISPATCH_BYTES, 8, 2.0))
    assert spanning >= DISPATCH_BYTES * 4 / 8 / H100_BF16.scale_out_bandwidth_bytes_per_second
