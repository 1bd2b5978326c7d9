"""The planner: the fastest parallel plan that fits in memory.

Candidates (TP × PP × DP × EP × interleaving × micro-batch × recompute × ZeRO) are built as
arrays and evaluated by the same vectorised step-time and memory model in one call; fields the
request fixed are honoured. When no candidate fits, the one using the least memory is returned
(with fits_in_memory false) so the caller can explain why.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np

from flopwatt.service.model.architecture import ModelArchitecture
from flopwatt.service.model.constants import DEFAULT_GLOBAL_BATCH_TOKENS
from flopwatt.service.model.hardware import HardwareModel
from flopwatt.service.model.memory import training_memory
from flopwatt.service.model.plan import RECOMPUTE_FULL, RECOMPUTE_NONE, RECOMPUTE_SELECTIVE, ParallelPlan
from flopwatt.service.model.step_time import StepOptions, training_step_time

MICRO_BATCH_CHOICES = (1, 2, 4, 8)
INTERLEAVING_CHOICES = (1, 2, 4)
ZERO_CHOICES = (0, 1, 3)
RECOMPUTE_CHOICES = (RECOMPUTE_NONE, RECOMPUTE_SELECTIVE, RECOMPUTE_FULL)
MAX_PIPELINE_STAGES = 128


@dataclass(frozen=True)
class PlanConstraints:
    """Fields fixed by the request; None = the planner chooses."""

    tensor_parallel_size: int | None = None
    pipeline_parallel_size: int | None = None
    data_parallel_size: int | None = None
    expert_parallel_size: int | None = None
    pipeline_interleaving: int | None = None
    micro_batch_size: int | None = None
    global_batch_size: int | None = None
    zero_stage: int | None = None
    activation_recompute: int | None = None
    sequence_parallel: bool | None = None

    @property
    def complete(self) -> bool:
        return all(getattr(self, name) is not None for name in self.__dataclass_fields__)


@dataclass(frozen=True)
class PlanChoice:
    plan: ParallelPlan
    step_seconds: float
    memory_bytes: float
    fits_in_memory: bool
    candidates_evaluated: int


def _powers_of_two_up_to(limit: int) -> list[int]:
    return [2**i for i in range(int(np.log2(max(limit, 1))) + 1)]


def default_global_batch_size(sequence_length: int, data_parallel_size: int, micro_batch_size: int) -> int:
    """About DEFAULT_GLOBAL_BATCH_TOKENS per step, rounded up to whole micro-batches per replica."""
    sequences = max(1, round(DEFAULT_GLOBAL_BATCH_TOKENS / sequence_length))
    unit = data_parallel_size * micro_batch_size
    return int(-(-sequences // unit) * unit)


def _candidates(arch: ModelArchitecture, accelerator_count: int, sequence_length: int, hw: HardwareModel, fixed: PlanConstraints) -> ParallelPlan:
    layers = int(arch.layer_count)
    heads = int(arch.attention_head_count)
    experts = max(int(arch.expert_count), 1)
    tp_options = [fixed.tensor_parallel_size] if fixed.tensor_parallel_size else [
        t for t in _powers_of_two_up_to(hw.accelerators_per_node) if heads % t == 0 and accelerator_count % t == 0]
    rows = []
    for tp in tp_options or [1]:
        pp_options = [fixed.pipeline_parallel_size] if fixed.pipeline_parallel_size else [
            p for p in _powers_of_two_up_to(min(layers, MAX_PIPELINE_STAGES)) if accelerator_count % (tp * p) == 0]
        for pp in pp_options or [1]:
            dp = fixed.data_parallel_size or max(accelerator_count // (tp * pp), 1)
            ep_options = [fixed.expert_parallel_size] if fixed.expert_parallel_size else [
                e for e in _powers_of_two_up_to(min(experts, dp)) if experts % e == 0 and dp % e == 0]
            v_options = [fixed.pipeline_interleaving] if fixed.pipeline_interleaving else [
                v for v in INTERLEAVING_CHOICES if pp > 1 and layers >= pp * v] or [1]
            mbs_options = [fixed.micro_batch_size] if fixed.micro_batch_size else list(MICRO_BATCH_CHOICES)
            rc_options = [fixed.activation_recompute] if fixed.activation_recompute is not None else list(RECOMPUTE_CHOICES)
            zero_options = [fixed.zero_stage] if fixed.zero_stage is not None else list(ZERO_CHOICES)
            sp = fixed.sequence_parallel if fixed.sequence_parallel is not None else tp > 1
            for ep, v, mbs, rc, zero in itertools.product(ep_options or [1], v_options, mbs_options, rc_options, zero_options):
                gbs = fixed.global_batch_size or default_global_batch_size(sequence_length, dp, mbs)
                if gbs % (dp * mbs):
                    continue
                rows.append((tp, pp, dp, ep, v, mbs, gbs, zero, rc, sp))
    if not rows:
        # The fixed fields admit no consistent plan: evaluate them as given and let the caller report.
        rows = [(fixed.tensor_parallel_size or 1, fixed.pipeline_parallel_size or 1, fixed.data_parallel_size or 1,
                 fixed.expert_parallel_size or 1, fixed.pipeline_interleaving or 1, fixed.micro_batch_size or 1,
                 fixed.global_batch_size or 1, fixed.zero_stage or 0, fixed.activation_recompute or 0, bool(fixed.sequence_parallel))]
    columns = np.array(rows, dtype=float).T
    names = ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "expert_parallel_size",
             "pipeline_interleaving", "micro_batch_size", "global_batch_size", "zero_stage", "activation_recompute")
    values = {name: columns[i] for i, name in enumerate(names)}
    return ParallelPlan(**values, sequence_parallel=columns[9].astype(bool))


def choose_plan(arch: ModelArchitecture, accelerator_count: int, sequence_length: int, hw: HardwareModel, fixed: PlanConstraints, options: StepOptions) -> PlanChoice:
    """Fastest candidate that fits; else the smallest-memory one."""
    candidates = _candidates(arch, accelerator_count, sequence_length, hw, fixed)
    step = np.broadcast_to(training_step_time(arch, sequence_length, candidates, hw, options).total, candidates.accelerator_count.shape)
    memory = np.broadcast_to(training_memory(arch, sequence_length, candidates, options.flash_attention).total, step.shape)
    fits = memory <= hw.memory_bytes
    index = int(np.argmin(np.where(fits, step, np.inf))) if fits.any() else int(np.argmin(memory))
    return PlanChoice(candidates.select(index), float(step[index]), float(memory[index]), bool(fits[index]), int(step.size))


def complete_plan(fixed: PlanConstraints) -> ParallelPlan:
    """A fully fixed plan as a ParallelPlan (all fields present)."""
    return replace(ParallelPlan(), **{name: getattr(fixed, name) for name in fixed.__dataclass_fields__})
