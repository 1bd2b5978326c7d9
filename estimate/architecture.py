"""The architecture of a decoder-only transformer: the one description every estimate starts from.

Kept free of protobuf and of the catalog so that the estimation model stays pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelArchitecture:
    """Shape of a decoder-only transformer (dense, GQA/MQA, SwiGLU, MoE).

    Field names match the API's `ModelSpec` so that conversion at the edge is mechanical.
    `ffn_hidden_size` is per expert for MoE models; `dense_layer_count` leading layers use
    `dense_ffn_hidden_size` instead (DeepSeek-V3 style).
    """

    layer_count: int
    hidden_size: int
    attention_head_count: int
    kv_head_count: int
    ffn_hidden_size: int
    vocab_size: int
    head_dim: int = 0  # 0: hidden_size // attention_head_count
    gated_mlp: bool = True  # SwiGLU: three matrices; False: two (GELU)
    tied_embeddings: bool = False
    expert_count: int = 1  # routed experts per MoE layer; 1 = dense
    experts_per_token: int = 1
    shared_expert_count: int = 0
    dense_layer_count: int = 0
    dense_ffn_hidden_size: int = 0
    # Trained with dropout (attention and hidden): Megatron stores a 1-byte mask per element of
    # each dropout (Korthikanti et al. 2022 eq. 1, 2·s·b·h per layer). Models trained without
    # dropout (the Llama family: Touvron et al. 2023 §2.2, Dubey et al. 2024) store none: PyTorch
    # returns the input unchanged for p = 0. Default True: the conservative, published formula.
    dropout: bool = True
    # Multi-head Latent Attention (DeepSeek-V2/V3, arXiv 2405.04434 §2.1): keys and values are
    # up-projected from a compressed latent of `kv_lora_rank` elements per token and layer, shared
    # by all heads, beside one decoupled RoPE key of `qk_rope_head_dim`. Serving engines cache
    # that latent (not per-head keys and values) and score queries against it directly (the
    # up-projections absorbed into the query and output projections). 0: no MLA, the cache holds
    # kv_head_count keys and values of head_dim. The attention weights stay mapped onto GQA
    # (kv_head_count, head_dim) for parameter counts and projection GEMMs.
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    # Node-limited routing (DeepSeek-V3, arXiv 2412.19437 §2.1.2 and §4.2: M = 4): the router picks
    # a token's experts from at most this many nodes, which bounds how many nodes its dispatch
    # reaches when the stack sends one copy per node (StepOptions.expert_dispatch_per_node).
    # 0: no limit.
    max_routed_nodes_per_token: int = 0

    @property
    def effective_head_dim(self) -> int:
        """Width of one attention head; defaults to hidden_size / heads."""
        return self.head_dim or self.hidden_size // self.attention_head_count

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def is_moe(self) -> bool:
        return self.expert_count > 1
