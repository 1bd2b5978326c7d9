"""The architecture-only factors of the step-time and activation-memory formulas, once per architecture.

Why: `_layer_times` (step_time.py) and `activation_bytes_per_layer` (memory.py) start by turning
the architecture's fields into numbers (hidden size, head width, head counts, the dense MLP
width, the elementwise and activation bytes per FFN element...): ~30 helper calls and a NumPy
`where` on two integers per fixed-plan estimate (issue 14 item 23), each time with the same
result, since these depend on the (frozen) architecture alone, never on the plan, sequence or
hardware. `architecture_terms` computes them with the same expressions, so every value and type
is what the inline code produced, and memoises them per architecture like
`accounting.parameter_counts`: an architecture whose fields are arrays (a vectorised sweep, Monte
Carlo) is not hashable and gets its terms computed afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from flopwatt.estimate.accounting import head_dim, mlp_matrix_count
from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.constants import (
    ACTIVATION_DROPOUT_MASK_BYTES_PER_HIDDEN,
    ACTIVATION_REPLICATED_BYTES_PER_HIDDEN,
    ELEMENTWISE_ELEMENTS_PER_FFN_GELU,
    ELEMENTWISE_ELEMENTS_PER_FFN_SWIGLU,
)
from flopwatt.estimate.memo import memoised_when_hashable
from flopwatt.estimate.numeric import as_bool, as_float, where

ArrayLike = Any


@dataclass(frozen=True)
class ArchitectureTerms:
    """Numbers derived from one architecture (arrays when its fields are)."""

    hidden: ArrayLike  # hidden size
    head_dim: ArrayLike
    heads: ArrayLike  # attention (query) heads
    kv_heads: ArrayLike
    mlp_matrices: ArrayLike  # 3 gated, 2 plain
    dense_ffn: ArrayLike  # inner width of a dense layer's MLP
    elementwise_per_ffn_element: ArrayLike  # elementwise passes per FFN activation (SwiGLU or GELU)
    # Activation memory (Korthikanti et al. 2022, generalised in memory.activation_bytes_per_layer)
    activation_ffn_bytes: ArrayLike  # per token: the MLP tensors, over its routed and shared experts
    activation_attention_bytes: ArrayLike  # per token: Q, projection input, K, V
    activation_replicated_bytes_per_hidden: ArrayLike  # per token and hidden element, dropout masks included or not


def _scalar_if_0d(value: ArrayLike) -> ArrayLike:
    return value[()] if isinstance(value, np.ndarray) and value.ndim == 0 else value


@memoised_when_hashable(1024)
def architecture_terms(arch: ModelArchitecture) -> ArchitectureTerms:
    """The terms of `arch`, memoised when its fields are numbers (hashable)."""
    is_moe = as_float(arch.expert_count) > 1
    ffn_tokens = where(is_moe, as_float(arch.experts_per_token) + arch.shared_expert_count, 1.0)
    heads, kv, d = as_float(arch.attention_head_count), as_float(arch.kv_head_count), head_dim(arch)
    # np.where of two integers is a 0-d array: kept as its (immutable) scalar, the same number,
    # since the memo shares it between estimates
    dense_ffn = _scalar_if_0d(
        as_float(where(as_float(arch.dense_ffn_hidden_size) > 0, arch.dense_ffn_hidden_size, arch.ffn_hidden_size))
    )
    return ArchitectureTerms(
        hidden=as_float(arch.hidden_size),
        head_dim=d,
        heads=heads,
        kv_heads=kv,
        mlp_matrices=mlp_matrix_count(arch),
        dense_ffn=dense_ffn,
        elementwise_per_ffn_element=where(
            as_bool(arch.gated_mlp), ELEMENTWISE_ELEMENTS_PER_FFN_SWIGLU, ELEMENTWISE_ELEMENTS_PER_FFN_GELU
        ),
        activation_ffn_bytes=where(as_bool(arch.gated_mlp), 6.0, 4.0) * as_float(arch.ffn_hidden_size) * ffn_tokens,
        activation_attention_bytes=4.0 * heads * d + 4.0 * kv * d,  # 2 bytes each, ×2 tensors
        activation_replicated_bytes_per_hidden=ACTIVATION_REPLICATED_BYTES_PER_HIDDEN
        - where(as_bool(arch.dropout), 0.0, ACTIVATION_DROPOUT_MASK_BYTES_PER_HIDDEN),
    )
