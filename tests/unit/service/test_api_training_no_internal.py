"""Issue 11: no EstimateTraining request yields INTERNAL or NaN.

Any preset on any catalog accelerator, at any accelerator count the API admits (1 … 200,000,
odd factors included), any global batch (0 = the planner's choice, odd and not dividing the
data parallelism) and any sequence length (1 … 131,072), is answered with a finite response or
refused with a deliberate status (INVALID_ARGUMENT naming the field, FAILED_PRECONDITION saying
why, NOT_FOUND): never another exception (the servicer would answer INTERNAL) and never the
"ESTIMATE_NOT_FINITE" refusal, which is the net under a missing input bound, not an answer.

The hypothesis test explores the space (bounded examples, derandomised so a run is repeatable);
HARD_CASES pins the combinations that once failed or sit on an edge, each with the outcome it
must have.
"""

from __future__ import annotations

import math

import pytest
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flopwatt.estimate import catalog
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.request_bounds import MAX_TRAINING_TOKENS
from flopwatt.service.api.training import estimate_training
from flopwatt.service.errors import FailedPrecondition, InvalidArgument, NotFound, ServiceError
from flopwatt.v1 import common_pb2, estimator_pb2

DEPS = ApiDependencies()
PRESETS = [p.id for p in catalog.list_model_presets()]
HARDWARE = [h.id for h in catalog.list_hardware()]
COUNTS = [1, 3, 7, 8, 1000, 3000, 10_752, 24_576, 100_000, 200_000]
BATCHES = [0, 1, 3, 2048, 3000]
SEQUENCES = [1, 4096, 131_072]
TOKENS = 1_000_000_000_000
DELIBERATE = (InvalidArgument, FailedPrecondition, NotFound)


def _request(
    preset: str, hardware: str, count: int, batch: int, sequence: int, tokens: int = TOKENS
) -> estimator_pb2.EstimateTrainingRequest:
    return estimator_pb2.EstimateTrainingRequest(
        model=common_pb2.ModelSpec(preset_id=preset),
        training_tokens=tokens,
        sequence_length=sequence,
        hardware_id=hardware,
        accelerator_count=count,
        parallelism=common_pb2.Parallelism(global_batch_size=batch),
    )


def _floats(message: Message, prefix: str = "") -> list[tuple[str, float]]:
    """Every float in the message with its path (a walk independent of service/api/finite.py)."""
    found = []
    for field, value in message.ListFields():
        path = prefix + field.name
        values = value if field.is_repeated else [value]
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            values = list(value.values())
        for item in values:
            if isinstance(item, Message):
                found += _floats(item, path + ".")
            elif isinstance(item, float):
                found.append((path, item))
    return found


def outcome(preset: str, hardware: str, count: int, batch: int, sequence: int, tokens: int = TOKENS) -> str:
    """ "ok" (a finite response) or the deliberate error's class name; anything else fails the test."""
    try:
        response = estimate_training(_request(preset, hardware, count, batch, sequence, tokens), DEPS)
    except DELIBERATE as error:
        assert error.reason != "ESTIMATE_NOT_FINITE", f"an input bound is missing: {error}"
        assert str(error), "a deliberate status says why"
        return type(error).__name__
    except ServiceError as error:  # pragma: no cover - reported with its type
        pytest.fail(f"unexpected service error {type(error).__name__}: {error}")
    nonfinite = [path for path, value in _floats(response) if not math.isfinite(value)]
    assert not nonfinite, nonfinite
    assert response.wall_clock_duration.seconds > 0 or response.wall_clock_duration.nanos > 0
    # The wall clock is the one the hours were computed from (not clamped to Duration's range).
    wall = response.wall_clock_duration.seconds + response.wall_clock_duration.nanos / 1e9
    assert wall * count / 3600 == pytest.approx(response.accelerator_hours, rel=1e-6)
    return "ok"


# (preset, hardware, accelerators, global batch, sequence length) → outcome. The first row is
# issue 11's reproducer (the planner's IndexError on an empty candidate set, once INTERNAL).
HARD_CASES = [
    (("llama-2-7b", "h200", 1000, 3, 1), "InvalidArgument"),
    (("llama-2-7b", "h200", 1000, 0, 1), "ok"),
    (("llama-2-7b", "h200", 1, 1, 1), "ok"),
    (("llama-2-7b", "h200", 3, 3, 4096), "ok"),
    (("llama-2-7b", "h200", 7, 0, 131_072), "ok"),
    (("llama-3.1-405b", "h100-sxm", 24_576, 0, 131_072), "ok"),
    (("llama-3.1-405b", "h100-sxm", 10_752, 3000, 4096), "InvalidArgument"),
    (("llama-3.1-405b", "h100-sxm", 200_000, 1, 1), "InvalidArgument"),
    (("deepseek-v3", "h800", 3000, 0, 4096), "ok"),
    (("mixtral-8x7b", "b200", 100_000, 2048, 1), "InvalidArgument"),
    (("megatron-1t", "a100-80gb", 1, 0, 131_072), "FailedPrecondition"),
    (("gpt-3-2.7b", "cpu", 1, 1, 1), "FailedPrecondition"),
    (("llama-2-7b", "h200", 1, 1, 1, 1), "ok"),  # one token: one step, start-up dominates
    (("llama-2-7b", "h200", 200_000, 0, 131_072, MAX_TRAINING_TOKENS), "ok"),
    # 93,576 years: once answered as Duration's clamped 10,000 years beside the true hours
    (("gpt-3-2.7b", "h200", 1, 0, 4096, MAX_TRAINING_TOKENS), "FailedPrecondition"),
]


@pytest.mark.parametrize(("case", "expected"), HARD_CASES, ids=["-".join(map(str, c)) for c, _ in HARD_CASES])
def test_hard_cases_are_answered_or_refused_deliberately(case, expected):
    assert outcome(*case) == expected


@settings(
    max_examples=1000,
    deadline=5000,  # ms per example: the largest plans (200,000 accelerators, free batch) take ~1 s
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    preset=st.sampled_from(PRESETS),
    hardware=st.sampled_from(HARDWARE),
    count=st.sampled_from(COUNTS) | st.integers(1, 200_000),
    batch=st.sampled_from(BATCHES) | st.integers(1, 100_000),
    sequence=st.sampled_from(SEQUENCES) | st.integers(1, 131_072),
    tokens=st.sampled_from([1, 10**9, TOKENS, 15_600_000_000_000, MAX_TRAINING_TOKENS]),
)
def test_no_request_yields_internal_or_nan(preset, hardware, count, batch, sequence, tokens):
    outcome(preset, hardware, count, batch, sequence, tokens)


def _request_with_parallelism(
    preset: str, hardware: str, count: int, **parallelism
) -> estimator_pb2.EstimateTrainingRequest:
    request = _request(preset, hardware, count, 0, 4096)
    request.parallelism.CopyFrom(common_pb2.Parallelism(**parallelism))
    return request


# A fixed expert_parallel_size was never checked: an EP group wider than the plan's DP × CP was
# priced across pods that do not exist (MI325X has no scale-out: infinite all-to-all, NaN step,
# INTERNAL "cannot convert float NaN to integer"); elsewhere it was answered OK with a plan no
# cluster runs (EP 16 over Mixtral's 8 experts, EP 64 on a dense model).
BAD_EXPERT_PARALLEL = [
    (("mixtral-8x7b", "mi325x", 8), {"expert_parallel_size": 2, "tensor_parallel_size": 8, "global_batch_size": 64}),
    (
        ("mixtral-8x7b", "h100-sxm", 64),
        {"expert_parallel_size": 8, "tensor_parallel_size": 8, "pipeline_parallel_size": 8},
    ),
    (
        ("mixtral-8x7b", "h100-sxm", 64),
        {"expert_parallel_size": 8, "tensor_parallel_size": 8, "pipeline_parallel_size": 4, "data_parallel_size": 2},
    ),
    (("mixtral-8x7b", "h100-sxm", 64), {"expert_parallel_size": 16}),
    (("deepseek-v3", "h800", 2048), {"expert_parallel_size": 1000}),
    (("llama-2-7b", "h100-sxm", 8), {"expert_parallel_size": 64}),
]


@pytest.mark.parametrize(("case", "parallelism"), BAD_EXPERT_PARALLEL, ids=lambda x: str(x))
def test_a_fixed_expert_parallel_size_the_plan_cannot_hold_is_refused_naming_it(case, parallelism):
    with pytest.raises(InvalidArgument) as error:
        estimate_training(_request_with_parallelism(*case, **parallelism), DEPS)
    assert [v.field for v in error.value.violations] == ["parallelism.expert_parallel_size"]


def test_a_fixed_expert_parallel_size_steers_the_planner_to_plans_that_hold_it():
    response = estimate_training(
        _request_with_parallelism("mixtral-8x7b", "h100-sxm", 64, expert_parallel_size=8), DEPS
    )
    plan = response.parallelism
    assert plan.expert_parallel_size == 8
    assert (plan.data_parallel_size * plan.context_parallel_size) % 8 == 0


# Fixed pipelines with stages (or interleaved virtual stages) that hold no layer were answered
# OK: PP 1,024 of Llama 2 7B's 32 layers at 0.5 % MFU, PP 4 × 100 virtual stages with a bubble
# a hundredfold smaller than any real schedule's.
EMPTY_PIPELINE_STAGES = [
    (1024, {"pipeline_parallel_size": 1024}, "parallelism.pipeline_parallel_size"),
    (64, {"pipeline_parallel_size": 64}, "parallelism.pipeline_parallel_size"),
    (64, {"pipeline_parallel_size": 4, "pipeline_interleaving": 100}, "parallelism.pipeline_interleaving"),
    # interleaving splits pipeline stages: with one stage it was echoed back as "PP 1 × 4"
    (64, {"pipeline_parallel_size": 1, "pipeline_interleaving": 4}, "parallelism.pipeline_interleaving"),
    (1, {"pipeline_interleaving": 2}, "parallelism.pipeline_interleaving"),
]


@pytest.mark.parametrize(("count", "parallelism", "field"), EMPTY_PIPELINE_STAGES)
def test_a_fixed_pipeline_with_empty_stages_is_refused_naming_it(count, parallelism, field):
    with pytest.raises(InvalidArgument) as error:
        estimate_training(_request_with_parallelism("llama-2-7b", "h100-sxm", count, **parallelism), DEPS)
    assert [v.field for v in error.value.violations] == [field]


# Fixed sizes the planner cannot complete were evaluated alone, a plan of fewer accelerators than
# the request's: TP 8 × DP 1 of Llama 2 7B on 4,096 GPUs was answered OK as an 8-GPU plan; with
# interleaving 16 and DP 8 on 256 GPUs the planner chose PP 4 × 16 virtual stages over 32 layers.
UNPLANNABLE_DATA_PARALLEL = [
    (4096, {"tensor_parallel_size": 8, "data_parallel_size": 1}),
    (256, {"tensor_parallel_size": 8, "data_parallel_size": 8, "pipeline_interleaving": 16}),
]


@pytest.mark.parametrize(("count", "parallelism"), UNPLANNABLE_DATA_PARALLEL)
def test_fixed_sizes_no_plan_of_the_count_completes_are_refused_naming_data_parallel_size(count, parallelism):
    with pytest.raises(InvalidArgument) as error:
        estimate_training(_request_with_parallelism("llama-2-7b", "h100-sxm", count, **parallelism), DEPS)
    assert [v.field for v in error.value.violations] == ["parallelism.data_parallel_size"]


def test_a_fixed_interleaving_steers_the_planner_to_a_pipeline_it_can_split():
    """Only interleaving fixed (PP left to the planner): a plan of PP ≥ 2 whose virtual stages
    each hold a layer, where the planner used to answer PP 1 × 2."""
    response = estimate_training(_request_with_parallelism("llama-2-7b", "h100-sxm", 8, pipeline_interleaving=2), DEPS)
    plan = response.parallelism
    assert plan.pipeline_interleaving == 2 and plan.pipeline_parallel_size >= 2
    assert plan.pipeline_parallel_size * plan.pipeline_interleaving <= 32
