"""The planner: the fastest parallel plan that fits in memory.

Candidates (TP × CP × PP × DP × EP × interleaving × micro-batch × recompute × ZeRO, and the
global batch when the request leaves it unset) are built as arrays and evaluated by the same vectorised
step-time and memory model in one call; fields the request fixed are honoured. The objective is
the wall clock of the requested tokens: with a fixed batch the fastest step; with a free batch the
(plan, batch) with the fewest seconds per token over the policy's ladder (`batch_policy.py`),
preferring batches no larger than the largest published one. When no
candidate fits, the one using the least memory is returned (with fits_in_memory false) so the
caller can explain why. When a fixed batch admits no plan of the accelerators at all,
PlanConstraintError names the field.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, replace

import numpy as np

from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.batch_policy import BatchPolicy, batch_policy
from flopwatt.estimate.constants import LARGEST_PUBLISHED_GLOBAL_BATCH_TOKENS
from flopwatt.estimate.hardware import HardwareModel, check_scale_out
from flopwatt.estimate.memory import training_memory, usable_training_memory_bytes
from flopwatt.estimate.parallel_plan import RECOMPUTE_FULL, RECOMPUTE_NONE, RECOMPUTE_SELECTIVE, ParallelPlan
from flopwatt.estimate.quick_init import quick_init
from flopwatt.estimate.step_time import StepOptions, training_step_time

MICRO_BATCH_CHOICES = (1, 2, 4, 8)
INTERLEAVING_CHOICES = (1, 2, 4)
ZERO_CHOICES = (0, 1, 3)
RECOMPUTE_CHOICES = (RECOMPUTE_NONE, RECOMPUTE_SELECTIVE, RECOMPUTE_FULL)
MAX_PIPELINE_STAGES = 128
# Context parallelism is a candidate only while each rank keeps at least this many tokens of a
# sequence: published plans split 8K sequences in two (NVIDIA Megatron-Bridge Llama 3.1 405B, CP2,
# 4,096 tokens per rank) and 128K sequences in sixteen (Llama 3 §3.3.2, CP16, 8,192 per rank);
# below ~4K tokens per rank the attention chunks are too short to hide the K/V exchange. A
# bound on the search, not a fitted value: a request may set any CP that divides the sequence.
MIN_CONTEXT_PARALLEL_TOKENS_PER_RANK = 4096
MAX_CONTEXT_PARALLEL_SIZE = 64


@quick_init
@dataclass(frozen=True)
class PlanConstraints:
    """Fields fixed by the request; None = the planner chooses."""

    tensor_parallel_size: int | None = None
    context_parallel_size: int | None = None
    pipeline_parallel_size: int | None = None
    data_parallel_size: int | None = None
    expert_parallel_size: int | None = None
    pipeline_interleaving: int | None = None
    micro_batch_size: int | None = None
    global_batch_size: int | None = None
    zero_stage: int | None = None
    activation_recompute: int | None = None
    sequence_parallel: bool | None = None
    # With full recompute: the share of each stage's layers recomputed. None = all of them when
    # the request fixes full recompute, or the least that fits when the planner chooses.
    recompute_layer_fraction: float | None = None

    @property
    def complete(self) -> bool:
        # One C-level pass (map of `is not`) instead of a generator of getattr calls.
        return all(map(operator.is_not, _required_values(self), _NONES))


@quick_init
@dataclass(frozen=True)
class PlanChoice:
    plan: ParallelPlan
    step_seconds: float
    memory_bytes: float
    fits_in_memory: bool
    candidates_evaluated: int
    batch_policy: BatchPolicy | None = None  # set when the planner chose the global batch
    batch_above_published: bool = False  # the chosen batch exceeds the largest published one


_REQUIRED_CONSTRAINTS = tuple(
    name for name in PlanConstraints.__dataclass_fields__ if name != "recompute_layer_fraction"
)
_required_values = operator.attrgetter(*_REQUIRED_CONSTRAINTS)
_NONES = (None,) * len(_REQUIRED_CONSTRAINTS)


class PlanConstraintError(ValueError):
    """No plan of the requested accelerators honours a fixed field (`constraint`, a PlanConstraints
    field name); the API edge turns it into INVALID_ARGUMENT naming that field. Raised instead of
    evaluating an inconsistent plan, which would describe a different cluster than the request."""

    def __init__(self, constraint: str, description: str) -> None:
        super().__init__(f"{constraint}: {description}")
        self.constraint = constraint
        self.description = description


def _powers_of_two_up_to(limit: int) -> list[int]:
    return [2**i for i in range(int(np.log2(max(limit, 1))) + 1)]


def _odd_part(n: int) -> int:
    """n without its factors of two (1 for a power of two)."""
    n = max(int(n), 1)
    return n // (n & -n)


def pipeline_parallel_options(ranks: int, layers: int) -> list[int]:
    """PP sizes the planner tries for `ranks` accelerators left after TP × CP: powers of two, and
    powers of two times the odd factor of `ranks` (e.g. 3 × 2^k on 24,576 GPUs), up to the layer
    count and MAX_PIPELINE_STAGES. Without the latter the odd factor could only go to DP, and a
    fixed power-of-two global batch then admits no plan at all (issue 11 item 5); Megatron-LM
    accepts any PP size and places the remainder of an uneven layer split on some stages, which
    the step model charges (ceil(L/p) layers on the slowest stage)."""
    limit = min(layers, MAX_PIPELINE_STAGES)
    odd = _odd_part(ranks)
    powers = _powers_of_two_up_to(limit)
    candidates = set(powers) | ({odd * p for p in powers if odd * p <= limit} if odd > 1 else set())
    return sorted(p for p in candidates if ranks % p == 0)


_STRUCTURE = (
    "tensor_parallel_size",
    "pipeline_parallel_size",
    "data_parallel_size",
    "expert_parallel_size",
    "pipeline_interleaving",
    "micro_batch_size",
    "activation_recompute",
    "zero_stage",
    "sequence_parallel",
    "context_parallel_size",
)


def context_parallel_options(sequence_length: int, accelerator_count: int, tensor_parallel_size: int) -> list[int]:
    """CP sizes the planner tries: powers of two that split the sequence into 2·cp equal chunks
    (the causal load-balanced layout) of at least MIN_CONTEXT_PARALLEL_TOKENS_PER_RANK tokens per
    rank, and divide the accelerators left after TP."""
    limit = min(MAX_CONTEXT_PARALLEL_SIZE, max(sequence_length // MIN_CONTEXT_PARALLEL_TOKENS_PER_RANK, 1))
    return [
        c
        for c in _powers_of_two_up_to(limit)
        if sequence_length % (2 * c) == 0 or c == 1
        if (accelerator_count // max(tensor_parallel_size, 1)) % c == 0
    ]


def interleaving_without_pipeline(pipeline_parallel_size: int, interleaving: int | None) -> bool:
    """Virtual stages (interleaving > 1) asked of a one-stage pipeline: they split pipeline stages,
    and one stage has none to split (a "PP 1 × 4" schedule does not exist)."""
    return bool(interleaving) and interleaving > 1 and pipeline_parallel_size == 1


def virtual_stages_exceed_layers(pipeline_parallel_size: int, interleaving: int | None, layers: int) -> bool:
    """An interleaved pipeline with more virtual stages than layers: some would hold none."""
    return bool(interleaving) and pipeline_parallel_size > 1 and pipeline_parallel_size * interleaving > layers


def expert_parallel_fits(expert_parallel_size: int, data_parallel_size: int, context_parallel_size: int) -> bool:
    """Whether an expert-parallel group of `expert_parallel_size` ranks (stride: the TP size) lies
    within one pipeline stage's data × context parallel ranks, as Megatron-Core requires (EP
    divides DP × CP). A wider group would reach ranks the plan does not have: its all-to-all was
    priced across pods that do not exist (infinite on hardware without scale-out, then NaN)."""
    return (data_parallel_size * context_parallel_size) % expert_parallel_size == 0


def _structures(
    arch: ModelArchitecture, accelerator_count: int, sequence_length: int, hw: HardwareModel, fixed: PlanConstraints
) -> np.ndarray:
    """(10, K) plan structures in _STRUCTURE order (everything but the global batch).

    The Python loop enumerates only the outer choices (TP, CP, PP, EP, interleaving: a few hundred
    rows at most); their product with the inner ones (micro-batch × recompute × ZeRO, the same for
    every outer row) is taken in NumPy, in itertools.product order."""
    layers = int(arch.layer_count)
    heads = int(arch.attention_head_count)
    experts = max(int(arch.expert_count), 1)
    tp_options = (
        [fixed.tensor_parallel_size]
        if fixed.tensor_parallel_size
        else [
            t for t in _powers_of_two_up_to(hw.accelerators_per_node) if heads % t == 0 and accelerator_count % t == 0
        ]
    )
    mbs_options = [fixed.micro_batch_size] if fixed.micro_batch_size else list(MICRO_BATCH_CHOICES)
    rc_options = [fixed.activation_recompute] if fixed.activation_recompute is not None else list(RECOMPUTE_CHOICES)
    zero_options = [fixed.zero_stage] if fixed.zero_stage is not None else list(ZERO_CHOICES)
    outer = []  # (tp, pp, dp, ep, v, sp, cp) rows
    widest_data_parallel = 0  # of the (TP, CP, PP, DP) rows a fixed EP ruled out, the largest DP × CP
    one_stage_ruled_out = False  # a fixed interleaving > 1 ruled out a one-stage row
    for tp in tp_options or [1]:
        cp_options = (
            [fixed.context_parallel_size]
            if fixed.context_parallel_size
            else context_parallel_options(sequence_length, accelerator_count, tp)
        )
        sp = fixed.sequence_parallel if fixed.sequence_parallel is not None else tp > 1
        for cp in cp_options or [1]:
            pp_options = (
                [fixed.pipeline_parallel_size]
                if fixed.pipeline_parallel_size
                else pipeline_parallel_options(accelerator_count // (tp * cp), layers)
                if accelerator_count % (tp * cp) == 0
                else []
            )
            for pp in pp_options or [1]:
                dp = fixed.data_parallel_size or max(accelerator_count // (tp * cp * pp), 1)
                if tp * cp * pp * dp != accelerator_count:
                    continue  # a fixed DP admits only the (TP, CP, PP) that complete the count
                if virtual_stages_exceed_layers(pp, fixed.pipeline_interleaving, layers):
                    continue  # a fixed interleaving admits only the PP whose virtual stages each hold a layer
                if interleaving_without_pipeline(pp, fixed.pipeline_interleaving):
                    one_stage_ruled_out = True
                    continue  # virtual stages split pipeline stages: one stage has none to split
                if fixed.expert_parallel_size and not expert_parallel_fits(fixed.expert_parallel_size, dp, cp):
                    widest_data_parallel = max(widest_data_parallel, dp * cp)
                    continue  # a fixed EP admits only the rows whose DP × CP it divides
                ep_options = (
                    [fixed.expert_parallel_size]
                    if fixed.expert_parallel_size
                    else [e for e in _powers_of_two_up_to(min(experts, dp)) if experts % e == 0 and dp % e == 0]
                )
                v_options = (
                    [fixed.pipeline_interleaving]
                    if fixed.pipeline_interleaving
                    else [v for v in INTERLEAVING_CHOICES if pp > 1 and layers >= pp * v] or [1]
                )
                outer += [(tp, pp, dp, ep, v, sp, cp) for ep in ep_options or [1] for v in v_options]
    if not outer and widest_data_parallel:
        raise PlanConstraintError(
            "expert_parallel_size",
            f"must divide data_parallel_size × context_parallel_size (the expert-parallel group spans data-parallel "
            f"ranks); no plan of {accelerator_count} accelerators that honours the other fixed fields has a DP × CP "
            f"that {fixed.expert_parallel_size} divides (the largest DP × CP here is {widest_data_parallel})",
        )
    if not outer and one_stage_ruled_out:
        raise PlanConstraintError(
            "pipeline_interleaving",
            f"{fixed.pipeline_interleaving} virtual stages per pipeline stage need pipeline_parallel_size > 1, and no "
            f"plan of {accelerator_count} accelerators that honours the other fixed fields has a pipeline of two or "
            "more stages: leave it unset or 1, or allow a pipeline",
        )
    if not outer and fixed.data_parallel_size:
        # Evaluating the fixed fields alone described a smaller cluster than the request's (TP 8 ×
        # DP 1 of Llama 2 7B on 4,096 GPUs was answered as 8 GPUs' plan, OK).
        others = accelerator_count // fixed.data_parallel_size
        raise PlanConstraintError(
            "data_parallel_size",
            f"leaves {others} accelerators per replica, and no tensor × context × pipeline split of them honours the "
            f"other fixed fields (pipeline stages at most {min(layers, MAX_PIPELINE_STAGES)} and each holding a layer, "
            "context parallel sizes the sequence length allows): fix those sizes or another "
            "data_parallel_size",
        )
    if not outer:  # no free choice completes the count: evaluate the fixed fields and let the caller report
        outer = [
            (
                fixed.tensor_parallel_size or 1,
                fixed.pipeline_parallel_size or 1,
                fixed.data_parallel_size or 1,
                fixed.expert_parallel_size or 1,
                fixed.pipeline_interleaving or 1,
                bool(fixed.sequence_parallel),
                fixed.context_parallel_size or 1,
            )
        ]
        mbs_options, rc_options, zero_options = mbs_options[:1], rc_options[:1], zero_options[:1]
    outer_rows = np.array(outer, float).T  # (7, O)
    inner = np.array(np.meshgrid(mbs_options, rc_options, zero_options, indexing="ij"), float).reshape(3, -1)  # (3, I)
    o = np.repeat(outer_rows, inner.shape[1], axis=1)
    i = np.tile(inner, outer_rows.shape[1])
    tp, pp, dp, ep, v, sp, cp = o
    mbs, rc, zero = i
    return np.stack([tp, pp, dp, ep, v, mbs, rc, zero, sp, cp])


def _candidates(
    arch: ModelArchitecture,
    accelerator_count: int,
    sequence_length: int,
    hw: HardwareModel,
    fixed: PlanConstraints,
    policy: BatchPolicy | None,
) -> ParallelPlan:
    """Every plan structure at every batch it admits: the fixed batch, or each rung of the
    policy's ladder rounded up to whole micro-batches per replica (duplicates dropped)."""
    structures = _structures(arch, accelerator_count, sequence_length, hw, fixed)
    unit = structures[2] * structures[5]  # DP × micro-batch: sequences per micro-batch round
    if fixed.global_batch_size:
        batches = np.full((1, unit.size), float(fixed.global_batch_size))
        keep = np.fmod(batches, unit) == 0
    else:
        rungs = np.maximum(np.round(np.asarray(policy.ladder_tokens) / sequence_length), 1.0)[:, None]
        batches = np.ceil(rungs / unit) * unit
        keep = np.concatenate([np.ones((1, unit.size), bool), batches[1:] != batches[:-1]])
    structure_index, rung_index = np.nonzero(keep.T)  # structure-major: a plan's batches together
    if structure_index.size == 0:  # only a fixed batch can leave no candidate (a free one always has a rung)
        smallest = int(unit.min())
        raise PlanConstraintError(
            "global_batch_size",
            (
                f"no plan of {accelerator_count} accelerators splits {fixed.global_batch_size} sequences into whole micro-batches: "
                f"data parallel size × micro-batch size must divide the global batch, and the smallest data parallel size here is "
                f"{smallest}; a multiple of {smallest} (e.g. {int(np.ceil(fixed.global_batch_size / smallest)) * smallest}) or another "
                "accelerator count plans"
            ),
        )
    values = {name: structures[i, structure_index] for i, name in enumerate(_STRUCTURE)}
    values["sequence_parallel"] = values["sequence_parallel"].astype(bool)
    return ParallelPlan(**values, global_batch_size=batches[rung_index, structure_index])


def _partial_recompute(
    arch: ModelArchitecture, sequence_length: int, candidates: ParallelPlan, hw: HardwareModel, options: StepOptions
) -> ParallelPlan:
    """Full-recompute candidates recompute only as many whole layers per stage as they need to
    fit (Megatron-LM `--recompute-method block --recompute-num-layers k`; Korthikanti et al.
    2022 §5 recompute only what memory requires): memory is linear in the recomputed fraction, so
    the least fraction is solved for, not searched. Candidates that cannot fit even with every
    layer recomputed keep 1.0; the others never drop below one layer (no recompute at all is the
    NONE candidate)."""
    recompute = np.asarray(candidates.activation_recompute)
    if not np.any(recompute == RECOMPUTE_FULL):
        return candidates
    keep_all = training_memory(
        arch, sequence_length, replace(candidates, recompute_layer_fraction=0.0), options.flash_attention
    ).total
    recompute_all = training_memory(arch, sequence_length, candidates, options.flash_attention).total  # fraction 1.0
    saved_per_fraction = np.maximum(keep_all - recompute_all, 1.0)
    needed = np.clip((keep_all - usable_training_memory_bytes(hw.memory_bytes)) / saved_per_fraction, 0.0, 1.0)
    stage_layers = np.ceil(float(arch.layer_count) / np.asarray(candidates.pipeline_parallel_size, float))
    whole_layers = np.clip(np.ceil(needed * stage_layers - 1e-9), 1.0, stage_layers)
    fraction = np.where(recompute == RECOMPUTE_FULL, whole_layers / stage_layers, 1.0)
    return replace(candidates, recompute_layer_fraction=fraction)


def choose_plan(
    arch: ModelArchitecture,
    accelerator_count: int,
    sequence_length: int,
    hw: HardwareModel,
    fixed: PlanConstraints,
    options: StepOptions,
) -> PlanChoice:
    """Best candidate that fits (the shortest wall clock for the requested tokens: fastest step
    for a fixed batch, fewest seconds per token when the batch is free, within the largest
    published batch where possible); else the smallest-memory one."""
    check_scale_out(hw, accelerator_count)
    policy = None if fixed.global_batch_size else batch_policy(arch, float(sequence_length))
    candidates = _candidates(arch, accelerator_count, sequence_length, hw, fixed, policy)
    if fixed.activation_recompute is None:
        candidates = _partial_recompute(arch, sequence_length, candidates, hw, options)
    elif fixed.recompute_layer_fraction is not None:
        candidates = replace(candidates, recompute_layer_fraction=fixed.recompute_layer_fraction)
    step = np.broadcast_to(
        training_step_time(arch, sequence_length, candidates, hw, options).total, candidates.accelerator_count.shape
    )
    memory = np.broadcast_to(
        training_memory(arch, sequence_length, candidates, options.flash_attention).total, step.shape
    )
    fits = memory <= usable_training_memory_bytes(hw.memory_bytes)
    batch_tokens = np.broadcast_to(np.asarray(candidates.global_batch_size, float) * sequence_length, step.shape)
    if policy is None:
        objective, within = step, np.ones(step.shape, bool)
    else:
        objective = policy.wall_clock_objective(step, batch_tokens)
        within = batch_tokens <= LARGEST_PUBLISHED_GLOBAL_BATCH_TOKENS
    preferred = fits & within if (fits & within).any() else fits
    index = int(np.argmin(np.where(preferred, objective, np.inf))) if fits.any() else int(np.argmin(memory))
    return PlanChoice(
        candidates.select(index),
        float(step[index]),
        float(memory[index]),
        bool(fits[index]),
        int(step.size),
        policy,
        policy is not None and not bool(within[index]),
    )


def complete_plan(fixed: PlanConstraints) -> ParallelPlan:
    """A fully fixed plan as a ParallelPlan (all fields present)."""
    values = dict(fixed.__dict__)  # the fields, as quick_init fills them (a copy: edited below)
    if values["recompute_layer_fraction"] is None:
        values["recompute_layer_fraction"] = 1.0
    return ParallelPlan(**values)
