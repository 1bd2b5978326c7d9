"""Memory per accelerator: training state, activations (Korthikanti et al. 2022) and KV cache.

Vectorised like the rest of the numeric core: every input may be a NumPy array.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from flopwatt.estimate.accounting import ParameterCounts, head_dim, parameter_counts
from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.architecture_terms import architecture_terms
from flopwatt.estimate.constants import (
    ACTIVATION_ATTENTION_SCORE_BYTES_PER_HEAD_TOKEN,
    ACTIVATION_FULL_RECOMPUTE_BYTES_PER_HIDDEN,
    GRADIENT_BYTES_PER_PARAMETER,
    LOGIT_BYTES_PER_VOCAB_ENTRY,
    OPTIMIZER_STATE_BYTES_PER_PARAMETER,
    RUNTIME_RESERVED_BYTES,
    TRAINING_MEMORY_HEADROOM_FRACTION,
    WEIGHT_BYTES_PER_PARAMETER_TRAINING,
)
from flopwatt.estimate.numeric import as_array, as_bool, as_float, clip, maximum, minimum, where
from flopwatt.estimate.parallel_plan import RECOMPUTE_FULL, RECOMPUTE_SELECTIVE, ParallelPlan
from flopwatt.estimate.quick_init import quick_init

ArrayLike = Any


def usable_training_memory_bytes(accelerator_memory_bytes: ArrayLike) -> ArrayLike:
    """Memory a training plan may fill: the accelerator's memory less the headroom no run packs
    (TRAINING_MEMORY_HEADROOM_FRACTION: allocator fragmentation and unmodelled peaks). Every fit
    test of a training plan (planner, estimate, partial recompute) compares against this."""
    return as_float(accelerator_memory_bytes) * (1.0 - TRAINING_MEMORY_HEADROOM_FRACTION)


@quick_init
@dataclass(frozen=True)
class TrainingMemory:
    """Bytes on the most loaded accelerator (arrays when inputs are)."""

    weights: ArrayLike
    gradients: ArrayLike
    optimizer_states: ArrayLike
    activations: ArrayLike
    logits: ArrayLike
    runtime_reserved: ArrayLike
    total: ArrayLike

    def as_dict(self) -> dict[str, ArrayLike]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@quick_init
@dataclass(frozen=True)
class LocalParameters:
    """Parameters one accelerator holds before ZeRO sharding, split by the data-parallel group
    that shares them: routed experts are replicated only over the expert-data-parallel group
    (dp / ep ranks, Megatron-Core `expert_data_parallel`; DeepSpeed-MoE), everything else over
    all dp ranks. ZeRO shards each part, and the gradient reduction runs, over its own group."""

    dense: ArrayLike  # attention, norms, dense and shared-expert MLPs, router, embeddings
    expert: ArrayLike  # this rank's routed experts

    @property
    def total(self) -> ArrayLike:
        return self.dense + self.expert


def expert_data_parallel_size(plan: ParallelPlan) -> ArrayLike:
    """Ranks that hold the same routed experts: dp·cp / ep (EP groups are carved out of the
    DP × CP ranks, Megatron-Core `expert_data_parallel` = world / (tp·ep·pp))."""
    return maximum(as_float(plan.gradient_reduction_size) / as_float(plan.expert_parallel_size), 1.0)


def tokens_per_rank(plan: ParallelPlan, sequence_length: ArrayLike) -> ArrayLike:
    """Tokens of one micro-batch on one rank: micro-batch × sequence ÷ context-parallel size."""
    return as_float(plan.micro_batch_size) * sequence_length / as_float(plan.context_parallel_size)


def local_parameters(
    arch: ModelArchitecture, plan: ParallelPlan, counts: ParameterCounts | None = None
) -> LocalParameters:
    """Parameters held by one accelerator before ZeRO sharding: its 1/p of the layers split t
    ways (routed experts also split over EP), plus the embedding and LM head (÷t): both on a single
    stage, the larger one on the first/last stage of a pipeline. `counts`: parameter_counts(arch)
    when the caller has them already."""
    counts = parameter_counts(arch) if counts is None else counts
    tp = as_float(plan.tensor_parallel_size)
    pp = as_float(plan.pipeline_parallel_size)
    ep = as_float(plan.expert_parallel_size)
    experts = maximum(as_float(arch.expert_count), 1.0)
    routed = where(counts.moe_layer_count > 0, experts * counts.expert_per_layer, 0.0)
    moe_layer_dense = counts.attention_per_layer + counts.norm_per_layer + counts.moe_mlp_total_per_layer - routed
    dense_layer = counts.attention_per_layer + counts.norm_per_layer + counts.dense_mlp_per_layer
    dense = (
        counts.dense_layer_count * dense_layer + counts.moe_layer_count * moe_layer_dense
    ) / pp / tp + _embedding_parameters(counts, pp) / tp
    expert = counts.moe_layer_count * routed / ep / pp / tp
    return LocalParameters(dense=dense, expert=expert)


def local_parameter_count(
    arch: ModelArchitecture, plan: ParallelPlan, counts: ParameterCounts | None = None
) -> ArrayLike:
    """All parameters one accelerator holds before ZeRO sharding (`local_parameters(...).total`)."""
    return local_parameters(arch, plan, counts).total


def _embedding_parameters(counts, pp: ArrayLike) -> ArrayLike:
    return where(as_float(pp) > 1, maximum(counts.embedding, counts.lm_head), counts.embedding + counts.lm_head)


def activation_bytes_per_layer(
    arch: ModelArchitecture, sequence_length: ArrayLike, plan: ParallelPlan, flash_attention: ArrayLike = True
) -> ArrayLike:
    """Korthikanti et al. 2022 eqs. 1-2, generalised to GQA and gated MLPs, 16-bit activations:
    s·b·(10h [8h without dropout] [/t with SP] + (attention + MLP tensors)/t + 5·a·s/t [not
    stored with selective recompute or flash attention]); full recompute keeps only the layer
    input 2·s·b·h [/t with SP] — on the plan's `recompute_layer_fraction` of the layers, the
    others store everything (block-wise partial recompute), averaged per layer. With context
    parallelism a rank stores its s/cp tokens (its scores, when kept, span all s keys)."""
    tp = as_float(plan.tensor_parallel_size)
    sp = as_bool(plan.sequence_parallel)
    tokens = tokens_per_rank(plan, sequence_length)
    terms = architecture_terms(arch)  # the architecture-only factors, once per architecture
    h, heads = terms.hidden, terms.heads
    ffn_bytes = terms.activation_ffn_bytes  # MLP tensors of its routed and shared experts
    attention_bytes = terms.activation_attention_bytes  # Q, projection input; K, V
    replicated = terms.activation_replicated_bytes_per_hidden * h / where(sp, tp, 1.0)
    scores = ACTIVATION_ATTENTION_SCORE_BYTES_PER_HEAD_TOKEN * heads * sequence_length / tp
    recompute = as_array(plan.activation_recompute)
    keep_scores = (recompute != RECOMPUTE_SELECTIVE) & ~as_bool(flash_attention)
    stored = replicated + (attention_bytes + ffn_bytes) / tp + where(keep_scores, scores, 0.0)
    full = ACTIVATION_FULL_RECOMPUTE_BYTES_PER_HIDDEN * h / where(sp, tp, 1.0)
    fraction = clip(as_float(plan.recompute_layer_fraction), 0.0, 1.0)
    return tokens * where(recompute == RECOMPUTE_FULL, fraction * full + (1.0 - fraction) * stored, stored)


def training_memory(
    arch: ModelArchitecture,
    sequence_length: ArrayLike,
    plan: ParallelPlan,
    flash_attention: ArrayLike = True,
    counts: ParameterCounts | None = None,
    local: LocalParameters | None = None,
) -> TrainingMemory:
    """Peak bytes on the first pipeline stage (it holds the most micro-batches in flight).
    `counts` and `local`: parameter_counts(arch) and local_parameters(arch, plan, counts) when
    the caller has them already.

    ZeRO (Rajbhandari et al. 2020): stage 1 shards optimizer states over DP (× CP), 2 also gradients,
    3 also weights (plus one layer gathered at a time). 1F1B keeps min(m, p) micro-batches of
    activations on the first stage, × (1 + (p−1)/(p·v)) when interleaved (Korthikanti §4.2.3).
    """
    counts = parameter_counts(arch) if counts is None else counts
    split = local_parameters(arch, plan, counts) if local is None else local
    local = split.total
    dp = as_float(plan.gradient_reduction_size)  # ZeRO shards over DP × CP
    edp = expert_data_parallel_size(plan)
    zero = as_float(plan.zero_stage)
    pp = as_float(plan.pipeline_parallel_size)
    v = maximum(as_float(plan.pipeline_interleaving), 1.0)

    def sharded(from_stage: float) -> ArrayLike:
        """Parameters per rank of a state ZeRO shards from `from_stage` on (experts over dp/ep)."""
        return split.dense / where(zero >= from_stage, dp, 1.0) + split.expert / where(zero >= from_stage, edp, 1.0)

    weights = sharded(3) * WEIGHT_BYTES_PER_PARAMETER_TRAINING
    gradients = sharded(2) * GRADIENT_BYTES_PER_PARAMETER
    optimizer = sharded(1) * OPTIMIZER_STATE_BYTES_PER_PARAMETER
    # ZeRO-3 gathers one layer's full weights at a time.
    layer_params = (local - _embedding_parameters(counts, pp) / as_float(plan.tensor_parallel_size)) / (
        as_float(arch.layer_count) / pp
    )
    weights = weights + where(zero >= 3, layer_params * WEIGHT_BYTES_PER_PARAMETER_TRAINING, 0.0)
    in_flight = minimum(plan.micro_batch_count, pp) * where(pp > 1, 1.0 + (pp - 1.0) / (pp * v), 1.0)
    layers_per_stage = as_float(arch.layer_count) / pp
    activations = (
        activation_bytes_per_layer(arch, sequence_length, plan, flash_attention) * layers_per_stage * in_flight
    )
    tokens = tokens_per_rank(plan, sequence_length)
    logits = where(
        pp > 1,
        0.0,
        tokens * as_float(arch.vocab_size) / as_float(plan.tensor_parallel_size) * LOGIT_BYTES_PER_VOCAB_ENTRY,
    )
    reserved = RUNTIME_RESERVED_BYTES + 0.0 * local
    total = weights + gradients + optimizer + activations + logits + reserved
    return TrainingMemory(weights, gradients, optimizer, activations, logits, reserved, total)


def kv_cache_bytes_per_token(arch: ModelArchitecture, kv_bytes_per_element: ArrayLike) -> ArrayLike:
    """The cache of one token in every layer, one copy (whole model): 2·L·kv_heads·head_dim·bytes
    (keys and values), or L·(kv_lora_rank + qk_rope_head_dim)·bytes for MLA's latent."""
    return (
        kv_cache_elements_per_token_per_layer(arch, as_float(arch.kv_head_count))
        * as_float(arch.layer_count)
        * kv_bytes_per_element
    )


def kv_cache_bytes_per_token_per_device(
    arch: ModelArchitecture, tensor_parallel_size: ArrayLike, kv_bytes_per_element: ArrayLike
) -> ArrayLike:
    """The cache of one token in every layer on one device of a TP group: its KV heads
    (`kv_heads_per_device`), or MLA's whole latent, which every TP rank keeps (each rank's heads
    score against all of it: vLLM and SGLang replicate the MLA cache over TP ranks, 2025)."""
    return (
        kv_cache_elements_per_token_per_layer(arch, kv_heads_per_device(arch, tensor_parallel_size))
        * as_float(arch.layer_count)
        * kv_bytes_per_element
    )


def kv_cache_elements_per_token_per_layer(arch: ModelArchitecture, kv_heads: ArrayLike) -> ArrayLike:
    """Cached elements per token and layer: MLA's latent + RoPE key, else 2·kv_heads·head_dim."""
    latent = as_float(arch.kv_lora_rank) + as_float(arch.qk_rope_head_dim)
    return where(as_float(arch.kv_lora_rank) > 0, latent, 2.0 * as_float(kv_heads) * head_dim(arch))


def kv_heads_per_device(arch: ModelArchitecture, tensor_parallel_size: ArrayLike) -> ArrayLike:
    """KV heads on one device: split by TP, replicated when there are fewer heads than ranks."""
    return np.ceil(as_float(arch.kv_head_count) / tensor_parallel_size)
