"""A parallel plan: how one training step is split over accelerators.

Fields may be NumPy arrays (one candidate plan per element) so the planner and sweeps evaluate
many plans in one call. Recomputation is encoded as a number so it vectorises too.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from flopwatt.estimate.numeric import as_array, as_float
from flopwatt.estimate.quick_init import quick_init

ArrayLike = Any

RECOMPUTE_NONE = 0
RECOMPUTE_SELECTIVE = 1
RECOMPUTE_FULL = 2
_FLOAT_FIELDS = ("recompute_layer_fraction",)
RECOMPUTE_NAMES = {RECOMPUTE_NONE: "none", RECOMPUTE_SELECTIVE: "selective", RECOMPUTE_FULL: "full"}
RECOMPUTE_BY_NAME = {name: code for code, name in RECOMPUTE_NAMES.items()}  # as data files spell them


@quick_init
@dataclass(frozen=True)
class ParallelPlan:
    """Degrees of parallelism and memory-saving options (Megatron-Core rank order tp-cp-ep-dp-pp:
    TP innermost, then CP, then DP, then PP; EP groups are carved out of the DP ranks).

    Context parallelism (CP) splits every sequence over `context_parallel_size` ranks (Megatron-
    Core / Transformer Engine, 2024; Llama 3 §3.3.2): each holds s/cp of the tokens of every
    micro-batch, keeps the full weights like a DP replica, and gradients are reduced over DP × CP.
    The global batch and the micro-batch count are per DP replica, as without CP."""

    tensor_parallel_size: ArrayLike = 1
    pipeline_parallel_size: ArrayLike = 1
    data_parallel_size: ArrayLike = 1
    expert_parallel_size: ArrayLike = 1
    pipeline_interleaving: ArrayLike = 1
    micro_batch_size: ArrayLike = 1
    global_batch_size: ArrayLike = 1  # sequences per optimizer step
    zero_stage: ArrayLike = 0
    activation_recompute: ArrayLike = RECOMPUTE_NONE
    sequence_parallel: ArrayLike = False
    # With full recomputation: the fraction of each stage's layers recomputed (Megatron-LM
    # `--recompute-method block --recompute-num-layers k`: the first k layers of a stage
    # recompute, the rest keep their activations). 1.0 = every layer (classic full recompute).
    recompute_layer_fraction: ArrayLike = 1.0
    # Ranks each sequence is split over (context parallelism); last so positional use stays valid.
    context_parallel_size: ArrayLike = 1

    @property
    def accelerator_count(self) -> ArrayLike:
        return (
            as_array(self.tensor_parallel_size)
            * self.context_parallel_size
            * self.pipeline_parallel_size
            * self.data_parallel_size
        )

    @property
    def gradient_reduction_size(self) -> ArrayLike:
        """Ranks that hold the same (dense) weights and reduce their gradients together: DP × CP
        (Megatron-Core's data-parallel-with-context-parallel group; ZeRO shards over it too)."""
        return as_float(self.data_parallel_size) * as_float(self.context_parallel_size)

    @property
    def micro_batch_count(self) -> ArrayLike:
        """Micro-batches per replica per step (gradient-accumulation steps). `as_float` is
        `np.asarray(x, float)` with a scalar fast path (the same np.float64 result for numbers)."""
        return as_float(self.global_batch_size) / (as_float(self.data_parallel_size) * self.micro_batch_size)

    def select(self, index: int) -> "ParallelPlan":
        """The plan at one position of a vectorised candidate set, as plain Python numbers."""
        values = {}
        for f in fields(self):
            value = np.broadcast_to(np.asarray(getattr(self, f.name)), np.shape(self.accelerator_count))
            item = value.reshape(-1)[index].item() if value.ndim else value.item()
            values[f.name] = (
                bool(item) if f.name == "sequence_parallel" else float(item) if f.name in _FLOAT_FIELDS else int(item)
            )
        return ParallelPlan(**values)
