"""Transformer accounting: parameter counts and FLOPs per token, from the architecture alone.

Written so every numeric field of the architecture may be a NumPy array (broadcasting): the
planner, sweeps and Monte Carlo evaluate many models in one call. No Python branching on values.

Conventions (stated in every response's assumptions):
- matmul FLOPs are 2·m·n·k; the forward pass of a token costs 2·N_active_matmul (Kaplan et al.
  2020) where N_active_matmul includes the LM head but not the embedding lookup;
- attention scores and the weighted sum cost 2·2·s·(heads·head_dim) per token per layer, over
  the *whole* s×s matrix (PaLM, Chowdhery et al. 2022, appendix B; Megatron-LM's MFU formula):
  causal kernels that skip the masked half are faster, but model FLOPs keep this convention;
- training = forward + backward = 3 × forward (Narayanan et al. 2021).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.constants import BACKWARD_FLOPS_PER_FORWARD_FLOP
from flopwatt.estimate.memo import memoised_when_hashable
from flopwatt.estimate.numeric import as_bool, as_float, maximum, where
from flopwatt.estimate.quick_init import quick_init

ArrayLike = Any  # float | np.ndarray


def head_dim(arch: ModelArchitecture) -> ArrayLike:
    """Width of one attention head: explicit, else hidden_size / heads."""
    explicit = as_float(arch.head_dim)
    return where(explicit > 0, explicit, as_float(arch.hidden_size) / arch.attention_head_count)


def mlp_matrix_count(arch: ModelArchitecture) -> ArrayLike:
    """3 for a gated MLP (SwiGLU: gate, up, down), 2 for a plain one (up, down)."""
    return where(as_bool(arch.gated_mlp), 3.0, 2.0)


def _moe_layer_count(arch: ModelArchitecture) -> ArrayLike:
    is_moe = as_float(arch.expert_count) > 1
    return where(is_moe, as_float(arch.layer_count) - arch.dense_layer_count, 0.0)


def _dense_ffn(arch: ModelArchitecture) -> ArrayLike:
    explicit = as_float(arch.dense_ffn_hidden_size)
    return where(explicit > 0, explicit, as_float(arch.ffn_hidden_size))


@dataclass(frozen=True)
class ParameterCounts:
    """Parameters of a model by role (counts; arrays when the architecture is)."""

    embedding: ArrayLike  # input token embedding
    lm_head: ArrayLike  # output projection (0 when tied to the embedding)
    attention_per_layer: ArrayLike
    dense_mlp_per_layer: ArrayLike  # MLP of a dense layer
    moe_mlp_total_per_layer: ArrayLike  # all experts + shared experts + router of one MoE layer
    moe_mlp_active_per_layer: ArrayLike  # what one token uses in an MoE layer
    expert_per_layer: ArrayLike  # parameters of one routed expert
    norm_per_layer: ArrayLike
    dense_layer_count: ArrayLike
    moe_layer_count: ArrayLike
    total: ArrayLike
    active: ArrayLike

    @property
    def active_matmul(self) -> ArrayLike:
        """Parameters that a token multiplies by (active ones incl. LM head, no embedding lookup)."""
        untied_head = where(self.lm_head > 0, self.lm_head, self.embedding)
        return self.active - self.embedding - self.lm_head + untied_head


@memoised_when_hashable(1024)
def parameter_counts(arch: ModelArchitecture) -> ParameterCounts:
    """Counts every weight matrix of the architecture (biases and positional tables ignored:
    < 0.1 % of a modern LLM).

    A pure function of the architecture, needed several times per estimate (FLOPs, memory, step
    time, planner): scalar architectures are memoised; one whose fields are arrays (a vectorised
    sweep) is not hashable and is counted afresh."""
    h = as_float(arch.hidden_size)
    d = head_dim(arch)
    heads = as_float(arch.attention_head_count)
    kv = as_float(arch.kv_head_count)
    ffn = as_float(arch.ffn_hidden_size)
    vocab = as_float(arch.vocab_size)
    matrices = mlp_matrix_count(arch)
    experts = maximum(as_float(arch.expert_count), 1.0)
    per_token = as_float(arch.experts_per_token)
    shared = as_float(arch.shared_expert_count)

    attention = h * heads * d * 2.0 + h * kv * d * 2.0  # Q and O; K and V (GQA/MQA: kv < heads)
    dense_mlp = matrices * h * _dense_ffn(arch)
    expert = matrices * h * ffn
    router = h * experts
    moe_total = (experts + shared) * expert + router
    moe_active = (per_token + shared) * expert + router
    norms = 2.0 * h
    moe_layers = _moe_layer_count(arch)
    dense_layers = as_float(arch.layer_count) - moe_layers
    embedding = vocab * h
    lm_head = where(as_bool(arch.tied_embeddings), 0.0, vocab * h)
    shared_part = embedding + lm_head + h  # + final norm
    total = shared_part + dense_layers * (attention + dense_mlp + norms) + moe_layers * (attention + moe_total + norms)
    active = (
        shared_part + dense_layers * (attention + dense_mlp + norms) + moe_layers * (attention + moe_active + norms)
    )
    return ParameterCounts(
        embedding=embedding,
        lm_head=lm_head,
        attention_per_layer=attention,
        dense_mlp_per_layer=dense_mlp,
        moe_mlp_total_per_layer=moe_total,
        moe_mlp_active_per_layer=moe_active,
        expert_per_layer=expert,
        norm_per_layer=norms,
        dense_layer_count=dense_layers,
        moe_layer_count=moe_layers,
        total=total,
        active=active,
    )


def attention_flops_per_token_forward(arch: ModelArchitecture, sequence_length: ArrayLike) -> ArrayLike:
    """Scores (QK^T) and weighted sum (AV) over the full s×s matrix: 2·2·s·heads·head_dim per
    layer (non-causal accounting, PaLM appendix B)."""
    return 4.0 * as_float(arch.layer_count) * sequence_length * arch.attention_head_count * head_dim(arch)


@quick_init
@dataclass(frozen=True)
class FlopsPerToken:
    """FLOPs per token (arrays when inputs are)."""

    forward: ArrayLike  # matmuls + attention, one forward pass
    training_model: ArrayLike  # forward + backward: what MFU counts
    attention_forward: ArrayLike  # the attention-score part of `forward`


def flops_per_token(
    arch: ModelArchitecture, sequence_length: ArrayLike, counts: ParameterCounts | None = None
) -> FlopsPerToken:
    """Model FLOPs per token of a forward pass and of a training step (`counts`: the architecture's
    parameter_counts when the caller has them already — one estimate computes them once)."""
    counts = parameter_counts(arch) if counts is None else counts
    attention = attention_flops_per_token_forward(arch, sequence_length)
    forward = 2.0 * counts.active_matmul + attention
    return FlopsPerToken(
        forward=forward,
        training_model=forward * (1.0 + BACKWARD_FLOPS_PER_FORWARD_FLOP),
        attention_forward=attention,
    )


def training_flops_from_parameter_count(active_parameter_count: ArrayLike, tokens: ArrayLike) -> ArrayLike:
    """The 6·N·D approximation (Kaplan et al. 2020, eq. 2.1) for when only a count is known."""
    return 6.0 * as_float(active_parameter_count) * tokens
