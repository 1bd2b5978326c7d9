"""Property tests of the vectorised core (hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from flopwatt.estimate.accounting import flops_per_token
from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.catalog.entries import HardwareSpec
from flopwatt.estimate.constants import DEFAULT_PUE
from flopwatt.estimate.hardware import datasheet_hardware_model
from flopwatt.estimate.inference import InferenceScenario, estimate_serving
from flopwatt.estimate.parallel_plan import ParallelPlan
from flopwatt.estimate.run_cost import FacilityInputs
from flopwatt.estimate.training import TrainingScenario, estimate_training_run

SPEC = HardwareSpec("test-gpu", "Test GPU", "Test", {"bf16": 1e15}, 80 * 2**30, 3e12, 450e9, 50e9, 700.0, 8)
HW = datasheet_hardware_model(SPEC, "bf16")
FACILITY = FacilityInputs(DEFAULT_PUE, 400.0, 0.08, 400.0, 50.0, capex_usd_per_accelerator=40000.0)

architectures = st.builds(
    lambda layers, heads, head_dim, kv_div, ffn_mult, vocab, gated, experts: ModelArchitecture(
        layers,
        heads * head_dim,
        heads,
        max(heads // kv_div, 1) if heads % kv_div == 0 else heads,
        int(heads * head_dim * ffn_mult),
        vocab,
        gated_mlp=gated,
        expert_count=experts,
        experts_per_token=min(2, experts),
    ),
    st.integers(1, 128),
    st.sampled_from([8, 16, 32, 64]),
    st.sampled_from([64, 128]),
    st.sampled_from([1, 2, 8]),
    st.sampled_from([2.0, 2.6875, 4.0]),
    st.integers(1000, 256000),
    st.booleans(),
    st.sampled_from([1, 8, 16]),
)


@settings(max_examples=60, deadline=None)
@given(
    arch=architectures,
    seq=st.sampled_from([512, 2048, 8192]),
    dp=st.sampled_from([1, 2, 8, 64]),
    tp=st.sampled_from([1, 2, 8]),
    pp=st.sampled_from([1, 2, 4]),
    mbs=st.sampled_from([1, 2, 4]),
    recompute=st.sampled_from([0, 1, 2]),
    zero=st.sampled_from([0, 1, 3]),
)
def test_training_estimates_are_finite_and_positive(arch, seq, dp, tp, pp, mbs, recompute, zero):
    plan = ParallelPlan(tp, pp, dp, 1, 1, mbs, dp * mbs * 4, zero, recompute, tp > 1)
    estimate = estimate_training_run(TrainingScenario(arch, 1e12, seq, HW, plan, FACILITY))
    for value in (
        estimate.step_seconds,
        estimate.wall_clock_seconds,
        estimate.memory.total,
        estimate.cost.cost_usd,
        estimate.cost.facility_energy_joules,
        estimate.model_flops_utilization,
        estimate.goodput,
    ):
        assert np.all(np.isfinite(value)) and np.all(np.asarray(value) > 0)
    assert 0 < float(estimate.goodput) <= 1


@settings(max_examples=40, deadline=None)
@given(
    arch=architectures,
    seq=st.sampled_from([1024, 4096]),
    tp=st.sampled_from([1, 2, 4, 8]),
    pp=st.sampled_from([1, 2, 4]),
)
def test_more_accelerators_never_increase_flops_per_device(arch, seq, tp, pp):
    """Step FLOPs per device = model FLOPs of a fixed global batch / accelerator count."""
    counts = np.array([1, 2, 4, 8, 16, 64])  # data-parallel replicas
    plan = ParallelPlan(tp, pp, counts, 1, 1, 1, 64 * 8, 0, 0, False)
    per_device = flops_per_token(arch, seq).training_model * 64 * 8 * seq / plan.accelerator_count
    assert np.all(np.diff(per_device) <= 0)
    step = estimate_training_run(TrainingScenario(arch, 1e12, seq, HW, plan, FACILITY)).step
    assert np.all(np.diff(step.gemm) <= 1e-12)


@settings(max_examples=30, deadline=None)
@given(
    arch=architectures,
    tp=st.sampled_from([1, 2, 8]),
    batch=st.sampled_from([0, 1, 16]),
    prompt=st.integers(1, 8192),
    out=st.integers(1, 4096),
)
def test_inference_estimates_are_finite_and_positive(arch, tp, batch, prompt, out):
    e = estimate_serving(InferenceScenario(arch, HW, tp, batch, prompt, out, FACILITY))
    for value in (
        e.time_to_first_token_seconds,
        e.time_per_output_token_seconds,
        e.output_tokens_per_second,
        e.energy_per_output_token_joules,
    ):
        assert np.isfinite(value) and value > 0
    assert e.batch_size >= 1


def test_planner_evaluates_vectorised_plans_like_single_ones():
    arch = ModelArchitecture(32, 4096, 32, 8, 14336, 32000)
    plans = ParallelPlan(
        np.array([1, 2, 4, 8]), 1, np.array([8, 4, 2, 1]), 1, 1, 1, 64, 0, 0, np.array([False, True, True, True])
    )
    batch = estimate_training_run(TrainingScenario(arch, 1e12, 4096, HW, plans, FACILITY)).step_seconds
    for i in range(4):
        single = estimate_training_run(TrainingScenario(arch, 1e12, 4096, HW, plans.select(i), FACILITY)).step_seconds
        assert float(single) == float(batch[i])
