"""Context parallelism: each sequence split over CP ranks, in memory, step time, planner and API."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from flopwatt.estimate.catalog import get_hardware, get_model_preset
from flopwatt.estimate.hardware import datasheet_hardware_model
from flopwatt.estimate.memory import activation_bytes_per_layer, training_memory
from flopwatt.estimate.parallel_plan import RECOMPUTE_NONE, ParallelPlan
from flopwatt.estimate.planner import (
    MIN_CONTEXT_PARALLEL_TOKENS_PER_RANK,
    PlanConstraints,
    choose_plan,
    context_parallel_options,
)
from flopwatt.estimate.step_time import StepOptions, training_step_time
from flopwatt.service.api import sweep as sweep_api
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.training import estimate_training
from flopwatt.service.errors import InvalidArgument
from flopwatt.v1 import common_pb2, estimator_pb2

DEPS = ApiDependencies()
LLAMA_405B = get_model_preset("llama-3.1-405b").architecture
H100 = datasheet_hardware_model(get_hardware("h100-sxm"), "bf16")
SEQUENCE = 131072
# Llama 3 Table 4's long-context plan: TP8 CP16 PP16 DP8 on 16,384 H100 (16M-token batch).
META_131K = ParallelPlan(
    tensor_parallel_size=8,
    pipeline_parallel_size=16,
    data_parallel_size=8,
    pipeline_interleaving=4,
    micro_batch_size=1,
    global_batch_size=128,
    zero_stage=1,
    activation_recompute=RECOMPUTE_NONE,
    sequence_parallel=True,
    context_parallel_size=16,
)


def test_the_plan_counts_cp_ranks_and_reduces_gradients_over_dp_times_cp():
    assert META_131K.accelerator_count == 16384
    assert META_131K.gradient_reduction_size == 128
    assert META_131K.micro_batch_count == 16  # per DP replica, as without CP


def test_activations_per_rank_shrink_with_cp_and_the_weights_do_not():
    same_replicas = replace(META_131K, context_parallel_size=1)  # DP8: the same micro-batches in flight
    per_layer_cp = activation_bytes_per_layer(LLAMA_405B, SEQUENCE, META_131K)
    assert per_layer_cp == pytest.approx(
        activation_bytes_per_layer(LLAMA_405B, SEQUENCE, same_replicas) / 16, rel=1e-12
    )
    with_cp, without = (
        training_memory(LLAMA_405B, SEQUENCE, META_131K),
        training_memory(LLAMA_405B, SEQUENCE, same_replicas),
    )
    assert with_cp.activations == pytest.approx(without.activations / 16, rel=1e-12)
    assert with_cp.weights == pytest.approx(without.weights)
    same_sharding = replace(
        META_131K, context_parallel_size=1, data_parallel_size=128
    )  # ZeRO-1 over 128 ranks both ways
    assert with_cp.optimizer_states == pytest.approx(
        training_memory(LLAMA_405B, SEQUENCE, same_sharding).optimizer_states
    )


def test_zero_shards_over_dp_times_cp():
    sharded = training_memory(LLAMA_405B, SEQUENCE, META_131K)
    unsharded = training_memory(LLAMA_405B, SEQUENCE, replace(META_131K, zero_stage=0))
    assert sharded.optimizer_states == pytest.approx(unsharded.optimizer_states / 128, rel=1e-12)


def test_cp_splits_the_work_of_a_step_and_pays_for_the_kv_exchange():
    one_rank = replace(META_131K, context_parallel_size=1)  # same DP: 1/16 of the GPUs, same work per replica
    split = training_step_time(LLAMA_405B, SEQUENCE, META_131K, H100)
    whole = training_step_time(LLAMA_405B, SEQUENCE, one_rank, H100)
    assert whole.context_parallel_communication == 0.0
    assert split.context_parallel_communication > 0.0
    # Each rank's GEMMs and attention are 1/16 of the sequence's (GEMMs a little slower per FLOP
    # at the smaller shapes; attention exactly 1/16 of the score FLOPs at a shorter tile length).
    assert whole.gemm / 16 < split.gemm < whole.gemm / 16 * 1.1
    assert whole.attention / 16 < split.attention < whole.attention / 16 * 1.1
    # The K/V all-gather spans nodes (TP8 × CP16 ranks): well below the attention it feeds.
    assert split.context_parallel_communication < 0.25 * split.attention


def test_planner_candidates_respect_the_sequence_and_the_count():
    assert context_parallel_options(4096, 1024, 8) == [1]
    assert context_parallel_options(8192, 1024, 8) == [1, 2]
    assert context_parallel_options(SEQUENCE, 16384, 8) == [1, 2, 4, 8, 16, 32]
    assert all(
        SEQUENCE // c >= MIN_CONTEXT_PARALLEL_TOKENS_PER_RANK for c in context_parallel_options(SEQUENCE, 16384, 8)
    )
    assert context_parallel_options(SEQUENCE, 24, 8) == [1]  # 3 ranks left after TP: no power of two but 1


def test_long_context_needs_cp_to_run_well():
    fixed = PlanConstraints(global_batch_size=128)
    free = choose_plan(LLAMA_405B, 16384, SEQUENCE, H100, fixed, StepOptions())
    no_cp = choose_plan(LLAMA_405B, 16384, SEQUENCE, H100, replace(fixed, context_parallel_size=1), StepOptions())
    assert free.fits_in_memory and free.plan.context_parallel_size > 1
    assert int(free.plan.accelerator_count) == 16384
    assert (
        free.step_seconds < 0.5 * no_cp.step_seconds
    )  # without CP: one sequence per replica, a long bubble or recompute


def test_a_fixed_dp_admits_only_plans_that_complete_the_count():
    choice = choose_plan(
        LLAMA_405B, 16384, 8192, H100, PlanConstraints(data_parallel_size=128, global_batch_size=2048), StepOptions()
    )
    assert int(choice.plan.accelerator_count) == 16384 and choice.plan.data_parallel_size == 128


def _request(**parallelism) -> estimator_pb2.EstimateTrainingRequest:
    return estimator_pb2.EstimateTrainingRequest(
        model=common_pb2.ModelSpec(preset_id="llama-3.1-405b"),
        training_tokens=800_000_000_000,
        sequence_length=SEQUENCE,
        hardware_id="h100-sxm",
        accelerator_count=16384,
        parallelism=common_pb2.Parallelism(**parallelism),
    )


def test_the_api_honours_reports_and_explains_cp():
    response = estimate_training(
        _request(
            tensor_parallel_size=8,
            context_parallel_size=16,
            pipeline_parallel_size=16,
            data_parallel_size=8,
            global_batch_size=128,
        ),
        DEPS,
    )
    assert response.parallelism.context_parallel_size == 16
    assumptions = {a.name: a.value for a in response.assumptions}
    assert "CP 16" in assumptions["parallelism"] and "exposed" in assumptions["context_parallel"]
    parts = {q.name: q.value for q in response.breakdown.step_time}
    assert parts["context_parallel_communication"] > 0


def test_a_request_fixing_tp_pp_dp_without_cp_means_no_cp():
    response = estimate_training(
        _request(tensor_parallel_size=8, pipeline_parallel_size=16, data_parallel_size=128, global_batch_size=256), DEPS
    )
    assert response.parallelism.context_parallel_size == 1
    assert "context_parallel" not in {a.name for a in response.assumptions}


@pytest.mark.parametrize(
    ("parallelism", "field"),
    [
        ({"context_parallel_size": 3}, "parallelism.context_parallel_size"),  # 6 does not divide 131,072
        (
            {
                "tensor_parallel_size": 8,
                "context_parallel_size": 4,
                "pipeline_parallel_size": 16,
                "data_parallel_size": 128,
            },
            "parallelism",
        ),
        ({"context_parallel_size": -2}, "parallelism.context_parallel_size"),
        (
            {"tensor_parallel_size": 8, "context_parallel_size": 4096},
            "parallelism",
        ),  # 32,768 ranks for 16,384 accelerators
    ],
)
def test_bad_cp_names_the_field(parallelism, field):
    with pytest.raises(InvalidArgument) as error:
        estimate_training(_request(**parallelism), DEPS)
    assert field in {v.field for v in error.value.violations}


def test_cp_is_a_sweep_axis_and_each_point_equals_the_scalar_estimate():
    base = _request(tensor_parallel_size=8, pipeline_parallel_size=16, global_batch_size=128)
    axis = estimator_pb2.SweepAxis(field="parallelism.context_parallel_size", values=[2, 4, 16])
    request = estimator_pb2.SweepTrainingRequest(base=base, axes=[axis])

    async def collect():
        return [point async for chunk in sweep_api.sweep_training(request, DEPS) for point in chunk.points]

    points = asyncio.run(collect())
    assert len(points) == 3
    for point, cp in zip(points, (2, 4, 16)):
        single = estimator_pb2.EstimateTrainingRequest()
        single.CopyFrom(base)
        single.parallelism.context_parallel_size = cp
        scalar = estimate_training(single, DEPS)
        assert point.accelerator_hours == pytest.approx(scalar.accelerator_hours, rel=1e-9)
        assert point.model_flops_utilization == pytest.approx(scalar.model_flops_utilization, rel=1e-9)
