"""The closed loop's model (issue 13 item 3): its shape as plain numbers, its presets, the
PyTorch module built from them, and the memory its training step needs.

A Llama-like decoder-only transformer: token embedding, pre-norm RMSNorm blocks with causal
attention (multi-head, or grouped-query when `kv_head_count` < `attention_head_count`: each key
/ value head serves heads ÷ kv heads query heads, through SDPA's `enable_gqa`, the same call the
workload suite's KV-cache read times) and a SwiGLU MLP, final RMSNorm, untied LM head; no rotary
embedding, no dropout, no biases. Nothing here imports the estimator (bench imports only the
kernels); the validate command maps the numbers onto its ModelArchitecture.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

DTYPES = ("fp32", "bf16")
DEVICES = ("cpu", "cuda")
SEED = 20261127
BYTES_PER_ELEMENT = {"fp32": 4, "bf16": 2}
# The loss's peak bytes per logit in `measure_training`'s eager step: the logits in the model
# dtype (the step holds them to its end), their fp32 upcast and log-softmax (forward), and in the
# backward the fp32 gradients of both and the gradient cast back to the model dtype. An upper
# count: the upcast is freed once the log-softmax has run.
LOSS_BYTES_PER_LOGIT_BF16 = 2 + 4 + 4 + 4 + 2
# Share of the device's memory the fitted training step may fill: the caching allocator's
# fragmentation, cuBLAS / cuDNN workspaces and the CUDA context take the rest.
FIT_MEMORY_FRACTION = 0.85


@dataclass(frozen=True)
class ClosedLoopModel:
    """The model and the workload, as plain numbers (the validate command maps them onto
    the estimator's ModelArchitecture, ParallelPlan and serving scenario)."""

    layer_count: int = 4
    hidden_size: int = 512
    attention_head_count: int = 8
    ffn_hidden_size: int = 1408  # SwiGLU width ≈ 8/3 · hidden, rounded to a multiple of 64
    vocab_size: int = 8192
    sequence_length: int = 512
    micro_batch_size: int = 1  # sequences per rank and step
    dtype: str = "fp32"
    warmup_steps: int = 2
    timed_steps: int = 5
    decode_batch: int = 4
    decode_context: int = 512  # prompt tokens in the cache before the timed decode steps
    decode_tokens: int = 16  # timed decode steps (one token per sequence each)
    ddp_world_size: int = 2
    kv_head_count: int = 0  # key/value heads; 0: as many as attention heads (multi-head attention)

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype: expected one of {DTYPES}, got {self.dtype!r}")
        for name in ("layer_count", "hidden_size", "attention_head_count", "ffn_hidden_size", "vocab_size"):
            _check_at_least(name, getattr(self, name), 1)
        for name in (
            "sequence_length",
            "micro_batch_size",
            "timed_steps",
            "decode_batch",
            "decode_context",
            "decode_tokens",
        ):
            _check_at_least(name, getattr(self, name), 1)
        for name in ("warmup_steps", "kv_head_count"):
            _check_at_least(name, getattr(self, name), 0)
        _check_at_least("ddp_world_size", self.ddp_world_size, 2, "DDP needs at least 2 ranks")
        if self.hidden_size % self.attention_head_count:
            raise ValueError(
                f"hidden_size: must be a multiple of attention_head_count ({self.attention_head_count}), "
                f"got {self.hidden_size}"
            )
        if self.attention_head_count % self.key_value_heads:
            raise ValueError(
                f"kv_head_count: must divide attention_head_count ({self.attention_head_count}), "
                f"got {self.kv_head_count}"
            )

    @property
    def key_value_heads(self) -> int:
        """Key/value heads in effect (`kv_head_count`, or the attention heads when it is 0)."""
        return self.kv_head_count or self.attention_head_count

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.attention_head_count

    @property
    def qkv_width(self) -> int:
        """Output width of the fused query/key/value projection."""
        return (self.attention_head_count + 2 * self.key_value_heads) * self.head_dim

    def as_dict(self) -> dict:
        return asdict(self)


def _check_at_least(name: str, value: object, least: int, why: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{name}: {why + ', ' if why else ''}must be an integer ≥ {least}, got {value!r}")


# Presets: `small` is the CPU default (the model the CPU closed loop was measured with);
# `llama-3.2-1b-class` is the CUDA default: the Llama-3.2-1B shape (16 layers, hidden 2048, 32
# heads with 8 key/value heads, head dim 64, SwiGLU 8192, vocabulary 128256, as issue 13 states it
# and meta-llama/Llama-3.2-1B's config.json publishes it; the catalog has no llama-3.2-1b preset)
# at sequence 2048, with this model's untied LM head (Llama-3.2-1B ties it: 1.50 B parameters here
# against its 1.24 B). Micro-batch 4 fits an 80 GB card (about 41 GB by `training_memory_bytes`;
# 71 GB at 8, too close to 80 GB for a count that leaves out a few tensors); `fit_micro_batch`
# halves it on smaller cards. `llama-3.1-8b-layers` is Llama-3.1-8B's layer shape (catalog
# `llama-3.1-8b`) at TP 1, 8 of its 32 layers (about 37 GB at micro-batch 2).
# What the GPU presets run: sequence 2048 in bf16, decode batch 8 after a 2048-token prefill.
_GPU_WORKLOAD = dict(
    sequence_length=2048,
    dtype="bf16",
    warmup_steps=3,
    timed_steps=10,
    decode_batch=8,
    decode_context=2048,
    decode_tokens=32,
)
PRESETS: dict[str, ClosedLoopModel] = {
    "small": ClosedLoopModel(),
    "llama-3.2-1b-class": ClosedLoopModel(
        layer_count=16,
        hidden_size=2048,
        attention_head_count=32,
        kv_head_count=8,
        ffn_hidden_size=8192,
        vocab_size=128256,
        micro_batch_size=4,
        **_GPU_WORKLOAD,
    ),
    "llama-3.1-8b-layers": ClosedLoopModel(
        layer_count=8,
        hidden_size=4096,
        attention_head_count=32,
        kv_head_count=8,
        ffn_hidden_size=14336,
        vocab_size=128256,
        micro_batch_size=2,
        **_GPU_WORKLOAD,
    ),
}
DEFAULT_PRESET = {"cpu": "small", "cuda": "llama-3.2-1b-class"}
DEFAULT_DTYPE = {"cpu": "fp32", "cuda": "bf16"}


def parameter_count(config: ClosedLoopModel) -> int:
    """Parameters of `build_model(config)`: per layer the qkv, out, gate/up and down projections
    and two norm weights; the embedding, the untied LM head and the final norm."""
    h, f = config.hidden_size, config.ffn_hidden_size
    per_layer = h * config.qkv_width + h * h + 3 * h * f + 2 * h
    return config.layer_count * per_layer + 2 * config.vocab_size * h + h


def activation_bytes_per_token(config: ClosedLoopModel) -> int:
    """Bytes autograd keeps per token for the backward of `build_model`'s forward, counted from
    its code: per layer the block input, both norm outputs, the residual in between, the
    attention output and its reshaped copy (6 × hidden), the qkv projection's output (q, k and v
    are views of it), the gate/up output (2 × ffn), the SiLU output and the product (2 × ffn);
    and the final norm's input and output. Small per-token statistics (RMSNorm's reciprocal
    root, attention's log-sum-exp) are left out."""
    h, f = config.hidden_size, config.ffn_hidden_size
    per_layer = 6 * h + config.qkv_width + 4 * f
    return (config.layer_count * per_layer + 2 * h) * BYTES_PER_ELEMENT[config.dtype]


def training_memory_bytes(config: ClosedLoopModel) -> int:
    """Peak bytes of one `measure_training` step: parameters, gradients and AdamW's two moments
    in the model dtype (no fp32 master copy: the model runs in its dtype), the saved activations
    of `micro_batch_size` × `sequence_length` tokens, and the loss's logits."""
    tokens = config.micro_batch_size * config.sequence_length
    state = 4 * parameter_count(config) * BYTES_PER_ELEMENT[config.dtype]
    loss_bytes_per_logit = LOSS_BYTES_PER_LOGIT_BF16 + (4 if config.dtype == "fp32" else 0)
    return state + tokens * (activation_bytes_per_token(config) + config.vocab_size * loss_bytes_per_logit)


def fit_micro_batch(config: ClosedLoopModel, memory_bytes: int) -> ClosedLoopModel:
    """`config` with its micro-batch halved until `training_memory_bytes` fits in
    FIT_MEMORY_FRACTION of `memory_bytes`; ValueError naming the field when one sequence does not."""
    from dataclasses import replace

    budget = FIT_MEMORY_FRACTION * memory_bytes
    fitted = config
    while training_memory_bytes(fitted) > budget and fitted.micro_batch_size > 1:
        fitted = replace(fitted, micro_batch_size=fitted.micro_batch_size // 2)
    if training_memory_bytes(fitted) > budget:
        raise ValueError(
            f"micro_batch_size: even 1 sequence of {config.sequence_length} tokens needs "
            f"{training_memory_bytes(fitted) / 1e9:.1f} GB, more than {FIT_MEMORY_FRACTION:.0%} of the "
            f"device's {memory_bytes / 1e9:.1f} GB (lower --layer-count or --sequence-length)"
        )
    return fitted


def decode_warmup_steps(config: ClosedLoopModel) -> int:
    """Untimed decode steps before the timed ones: the harness warms up at least once."""
    return max(1, config.warmup_steps)


def decode_mid_context(config: ClosedLoopModel) -> int:
    """The cache length in the middle of the timed decode steps."""
    return config.decode_context + decode_warmup_steps(config) + config.decode_tokens // 2


def torch_dtype(name: str):
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16}[name]


def build_model(config: ClosedLoopModel, device: str = "cpu"):
    """A randomly initialised decoder-only transformer (torch.nn.Module) of `config`'s shape,
    created on `device` (initialising a billion parameters on the host first would take longer
    than the measurement)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    h, heads, kv_heads, d = config.hidden_size, config.attention_head_count, config.key_value_heads, config.head_dim
    widths = (heads * d, kv_heads * d, kv_heads * d)
    grouped = {"enable_gqa": True} if kv_heads != heads else {}

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attention_norm = nn.RMSNorm(h)
            self.qkv = nn.Linear(h, config.qkv_width, bias=False)
            self.out = nn.Linear(h, h, bias=False)
            self.mlp_norm = nn.RMSNorm(h)
            self.gate_up = nn.Linear(h, 2 * config.ffn_hidden_size, bias=False)
            self.down = nn.Linear(config.ffn_hidden_size, h, bias=False)

        def forward(self, x, cache=None, position: int = 0):
            b, s, _ = x.shape
            q, k, v = self.qkv(self.attention_norm(x)).split(widths, dim=-1)
            q = q.view(b, s, heads, d).transpose(1, 2)
            k = k.view(b, s, kv_heads, d).transpose(1, 2)
            v = v.view(b, s, kv_heads, d).transpose(1, 2)
            if cache is None:
                a = F.scaled_dot_product_attention(q, k, v, is_causal=True, **grouped)
            else:
                keys, values = cache
                keys[:, :, position : position + s] = k
                values[:, :, position : position + s] = v
                k, v = keys[:, :, : position + s], values[:, :, : position + s]
                # a prefill (s > 1 from position 0) is causal; one new token sees the whole cache
                a = F.scaled_dot_product_attention(q, k, v, is_causal=s > 1, **grouped)
            x = x + self.out(a.transpose(1, 2).reshape(b, s, h))
            gate, up = self.gate_up(self.mlp_norm(x)).chunk(2, dim=-1)
            return x + self.down(F.silu(gate) * up)

    class Decoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(config.vocab_size, h)
            self.blocks = nn.ModuleList(Block() for _ in range(config.layer_count))
            self.norm = nn.RMSNorm(h)
            self.head = nn.Linear(h, config.vocab_size, bias=False)

        def forward(self, tokens, caches=None, position: int = 0):
            x = self.embedding(tokens)
            for i, block in enumerate(self.blocks):
                x = block(x, None if caches is None else caches[i], position)
            return self.head(self.norm(x))

    torch.manual_seed(SEED)
    with torch.device(device):
        model = Decoder()
    return model.to(torch_dtype(config.dtype))


def kv_caches(config: ClosedLoopModel, batch: int, capacity: int, device: str, fill=None) -> list:
    """One (keys, values) pair per layer, each batch × kv heads × `capacity` × head dim, zeros
    (or `fill(shape)`'s tensors)."""
    import torch

    shape = (batch, config.key_value_heads, capacity, config.head_dim)
    dtype = torch_dtype(config.dtype)

    def make():
        return torch.zeros(shape, dtype=dtype, device=device) if fill is None else fill(shape).to(device, dtype)

    return [(make(), make()) for _ in range(config.layer_count)]
