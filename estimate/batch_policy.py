"""The global batch the planner picks when the request leaves it unset.

Why a policy and not one constant: a fixed 4M-token batch starves a large cluster (at 16,384
GPUs and 8,192-token sequences it allows at most 512 data-parallel replicas, forcing deep
TP × PP and a 30 % MFU), while an ever larger batch wastes data. Practice grows the batch with
the cluster (GPT-3 3.2M tokens; Llama 2 4M; Llama 3 405B 4M → 8M → 16M on 16k GPUs; DeepSeek-V3
up to 63M on 2,048 GPUs) but keeps it near the critical batch size, beyond which more data
parallelism buys little (McCandlish et al. 2018, arXiv 1812.06162).

The rule: the estimate trains on the request's tokens (convergence is not modelled, and the
response says so), so the planner minimises what it reports, the wall clock of those tokens:
seconds per token, step / (B·s) (issue 11 item 7: minimising the time to a given loss instead,
seconds per token × (1 + B/B_crit) after McCandlish et al., let a larger cluster print a longer
wall clock, 70B on 5,632 → 6,144 H100: 28.9 → 33.1 days). What keeps the batch sane is the
ladder: beyond the critical batch the same loss needs E = E_min·(1 + B/B_crit) tokens
(McCandlish et al.), so the requested tokens would no longer buy the same model. The ladder
therefore doubles from the conventional 4M tokens (or B_crit when smaller) only up to B_crit
(never above the largest published batch); each rung is rounded up so every data-parallel
replica gets whole micro-batches, which is how a large cluster still gets a batch above B_crit
when its data parallelism needs one. B_crit is DeepSeek LLM's compute-optimal batch at the
model's compute-optimal budget (constants).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from flopwatt.estimate.accounting import flops_per_token, parameter_counts
from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.constants import (
    COMPUTE_OPTIMAL_TOKENS_PER_PARAMETER,
    DEFAULT_GLOBAL_BATCH_TOKENS,
    LARGEST_PUBLISHED_GLOBAL_BATCH_TOKENS,
    OPTIMAL_BATCH_COEFFICIENT_TOKENS,
    OPTIMAL_BATCH_COMPUTE_EXPONENT,
)

ArrayLike = Any


@dataclass(frozen=True)
class BatchPolicy:
    """The batches the planner tries and the critical batch that prices them (tokens)."""

    critical_batch_tokens: float
    ladder_tokens: tuple[float, ...]
    reference_compute_flops: float  # the compute-optimal budget B_crit was taken at

    def sequences(self, sequence_length: float, replica_unit: int) -> list[int]:
        """Distinct global batches (sequences) of the ladder for one plan: each rung rounded up
        to a multiple of `replica_unit` = data-parallel size × micro-batch."""
        out: list[int] = []
        for tokens in self.ladder_tokens:
            sequences = max(1, round(tokens / sequence_length))
            batch = int(-(-sequences // replica_unit) * replica_unit)
            if batch not in out:
                out.append(batch)
        return out

    @staticmethod
    def wall_clock_objective(step_seconds: ArrayLike, batch_tokens: ArrayLike) -> ArrayLike:
        """Seconds per token: the wall clock of any fixed number of training tokens, up to the
        constant factor tokens / goodput (so the plan does not depend on the tokens requested)."""
        return np.asarray(step_seconds, float) / np.asarray(batch_tokens, float)

    def description(self) -> str:
        rungs = ", ".join(f"{t / 2**20:.3g}" for t in self.ladder_tokens)
        return (
            f"chosen with the plan from {{{rungs}}} M tokens per step (each rounded up to whole micro-batches per data-parallel "
            f"replica) to minimise the wall clock of the requested tokens; the ladder stops at the critical batch B_crit = "
            f"{self.critical_batch_tokens / 2**20:.1f} M tokens = 0.292·C^0.3271 (DeepSeek LLM, arXiv 2401.02954) at this model's "
            f"compute-optimal budget C = {self.reference_compute_flops:.2g} FLOPs ({COMPUTE_OPTIMAL_TOKENS_PER_PARAMETER:g} tokens "
            f"per parameter, Hoffmann et al. 2022), beyond which the same loss needs more tokens (McCandlish et al. 2018, "
            f"arXiv 1812.06162). The batch changes convergence, which this estimate does not model: training_tokens is taken "
            f"as given; fix parallelism.global_batch_size to choose another"
        )


def critical_batch_tokens(compute_flops: ArrayLike) -> ArrayLike:
    """DeepSeek LLM's near-optimal batch (tokens) for a training budget of `compute_flops`."""
    return OPTIMAL_BATCH_COEFFICIENT_TOKENS * np.asarray(compute_flops, float) ** OPTIMAL_BATCH_COMPUTE_EXPONENT


def batch_policy(arch: ModelArchitecture, sequence_length: float) -> BatchPolicy:
    """The ladder of batches for this model and sequence length (no dependence on the cluster:
    the planner rounds each rung to the plan's data parallelism)."""
    counts = parameter_counts(arch)
    tokens = COMPUTE_OPTIMAL_TOKENS_PER_PARAMETER * float(counts.active)
    compute = float(flops_per_token(arch, sequence_length, counts).training_model) * tokens
    critical = float(critical_batch_tokens(compute))
    start = min(DEFAULT_GLOBAL_BATCH_TOKENS, critical)
    top = min(LARGEST_PUBLISHED_GLOBAL_BATCH_TOKENS, max(critical, start))
    rungs = int(np.floor(np.log2(max(top / start, 1.0)) + 1e-9)) + 1
    return BatchPolicy(critical, tuple(start * 2.0**k for k in range(rungs)), compute)
