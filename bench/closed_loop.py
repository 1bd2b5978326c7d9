"""Closed loop (issue 13 item 3): run a real, randomly initialised decoder-only model and time it.

A small Llama-like transformer in plain PyTorch (token embedding, pre-norm RMSNorm blocks with
causal multi-head attention and a SwiGLU MLP, final RMSNorm, untied LM head; no rotary embedding,
no dropout, no biases) is built from plain numbers (`ClosedLoopModel`), so this module needs
nothing from the estimator. Three measurements, each a median over timed repeats after untimed
warm-up:

- `measure_training`: one optimizer step (forward, cross-entropy loss, backward, AdamW step,
  zero_grad) in one process.
- `measure_ddp_training`: the same step under DistributedDataParallel on `world_size` gloo ranks
  spawned on this host (rendezvous on 127.0.0.1); the time is the slowest rank's median.
- `measure_decode`: greedy decoding with a preallocated KV cache: a prefill of `decode_context`
  tokens per sequence, then `decode_tokens` single-token steps at `decode_batch` sequences;
  the time is seconds per decode step (one token for every sequence in the batch).

The caller (flopwatt validate --local) predicts the same steps with the estimator and compares.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from flopwatt.bench.local_ranks import run_local_ranks

DTYPES = ("fp32", "bf16")
SEED = 20261127


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

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype: expected one of {DTYPES}, got {self.dtype!r}")
        if self.hidden_size % self.attention_head_count:
            raise ValueError("hidden_size must be a multiple of attention_head_count")
        for name in ("layer_count", "hidden_size", "ffn_hidden_size", "vocab_size", "sequence_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be ≥ 1")
        if self.timed_steps < 1 or self.warmup_steps < 0 or self.decode_tokens < 1 or self.decode_batch < 1:
            raise ValueError("timed_steps, decode_tokens and decode_batch must be ≥ 1, warmup_steps ≥ 0")
        if self.ddp_world_size < 2:
            raise ValueError(f"ddp_world_size: DDP needs at least 2 ranks, got {self.ddp_world_size}")

    def as_dict(self) -> dict:
        return asdict(self)


def _torch_dtype(name: str):
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16}[name]


def build_model(config: ClosedLoopModel):
    """A randomly initialised decoder-only transformer (torch.nn.Module) of `config`'s shape."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    h, heads, d = config.hidden_size, config.attention_head_count, config.hidden_size // config.attention_head_count

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attention_norm = nn.RMSNorm(h)
            self.qkv = nn.Linear(h, 3 * h, bias=False)
            self.out = nn.Linear(h, h, bias=False)
            self.mlp_norm = nn.RMSNorm(h)
            self.gate_up = nn.Linear(h, 2 * config.ffn_hidden_size, bias=False)
            self.down = nn.Linear(config.ffn_hidden_size, h, bias=False)

        def forward(self, x, cache=None, position: int = 0):
            b, s, _ = x.shape
            q, k, v = self.qkv(self.attention_norm(x)).view(b, s, 3, heads, d).permute(2, 0, 3, 1, 4)
            if cache is None:
                a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                keys, values = cache
                keys[:, :, position : position + s] = k
                values[:, :, position : position + s] = v
                k, v = keys[:, :, : position + s], values[:, :, : position + s]
                # a prefill (s > 1 from position 0) is causal; one new token sees the whole cache
                a = F.scaled_dot_product_attention(q, k, v, is_causal=s > 1)
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
    return Decoder().to(_torch_dtype(config.dtype))


def _batch(config: ClosedLoopModel, rank: int = 0):
    import torch

    generator = torch.Generator().manual_seed(SEED + rank)
    shape = (config.micro_batch_size, config.sequence_length + 1)
    tokens = torch.randint(0, config.vocab_size, shape, generator=generator)
    return tokens[:, :-1], tokens[:, 1:]


def _train_step_seconds(model, optimizer, inputs, targets, config: ClosedLoopModel) -> list[float]:
    """Run warm-up then timed optimizer steps; the timed steps' seconds."""
    import torch.nn.functional as F

    seconds = []
    for step in range(config.warmup_steps + config.timed_steps):
        started = time.perf_counter()
        logits = model(inputs)
        loss = F.cross_entropy(logits.float().reshape(-1, config.vocab_size), targets.reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step >= config.warmup_steps:
            seconds.append(time.perf_counter() - started)
    return seconds


def _summary(seconds: list[float], **extra) -> dict:
    return {"median_seconds": statistics.median(seconds), "samples_seconds": seconds, **extra}


def measure_training(config: ClosedLoopModel) -> dict:
    """Median seconds of one optimizer step (forward, backward, AdamW) in this process."""
    import torch

    model = build_model(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    inputs, targets = _batch(config)
    seconds = _train_step_seconds(model, optimizer, inputs, targets, config)
    return _summary(seconds, threads=torch.get_num_threads(), parameters=sum(p.numel() for p in model.parameters()))


def _ddp_steps(rank: int, output: str, config: ClosedLoopModel, threads: int) -> None:
    """The timed DDP steps of one rank (a `run_local_ranks` body); rank 0 writes the result."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(threads)
    world_size = config.ddp_world_size
    model = DistributedDataParallel(build_model(config))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    inputs, targets = _batch(config, rank)
    dist.barrier()
    seconds = _train_step_seconds(model, optimizer, inputs, targets, config)
    median = torch.tensor([statistics.median(seconds)], dtype=torch.float64)
    dist.all_reduce(median, op=dist.ReduceOp.MAX)  # the step ends when the slowest rank's does
    # every rank must hold the same weights after the steps: DDP averaged the gradients
    with torch.no_grad():
        checksum = torch.tensor([float(sum(p.double().sum() for p in model.parameters()))], dtype=torch.float64)
    gathered = [torch.zeros_like(checksum) for _ in range(world_size)]
    dist.all_gather(gathered, checksum)
    if rank == 0:
        Path(output).write_text(
            json.dumps(
                {
                    "median_seconds": float(median.item()),
                    "samples_seconds": seconds,
                    "world_size": world_size,
                    "backend": "gloo",
                    "threads_per_rank": threads,
                    "replicas_identical": len({float(g.item()) for g in gathered}) == 1,
                }
            )
        )


def ddp_threads_per_rank(world_size: int) -> int:
    """The host's cores split between the ranks (at least one each): they share one CPU."""
    import torch

    return max(1, torch.get_num_threads() // world_size)


def measure_ddp_training(config: ClosedLoopModel) -> dict:
    """Median seconds of one DDP optimizer step over `ddp_world_size` gloo ranks on this host
    (each rank `micro_batch_size` sequences, the host's threads split between the ranks)."""
    threads = ddp_threads_per_rank(config.ddp_world_size)
    return json.loads(run_local_ranks(config.ddp_world_size, "gloo", _ddp_steps, config, threads))


def measure_decode(config: ClosedLoopModel) -> dict:
    """Seconds per decode step (one new token for each of `decode_batch` sequences) with a KV
    cache holding `decode_context` prompt tokens plus the tokens generated so far."""
    import torch

    model = build_model(config).eval()
    b, heads = config.decode_batch, config.attention_head_count
    d = config.hidden_size // heads
    capacity = config.decode_context + config.warmup_steps + config.decode_tokens
    dtype = _torch_dtype(config.dtype)
    generator = torch.Generator().manual_seed(SEED)
    prompt = torch.randint(0, config.vocab_size, (b, config.decode_context), generator=generator)
    with torch.inference_mode():
        caches = [
            (torch.zeros(b, heads, capacity, d, dtype=dtype), torch.zeros(b, heads, capacity, d, dtype=dtype))
            for _ in range(config.layer_count)
        ]
        started = time.perf_counter()
        token = model(prompt, caches, 0)[:, -1:].argmax(-1)
        prefill = time.perf_counter() - started
        position, seconds = config.decode_context, []
        for step in range(config.warmup_steps + config.decode_tokens):
            started = time.perf_counter()
            token = model(token, caches, position)[:, -1:].argmax(-1)
            elapsed = time.perf_counter() - started
            position += 1
            if step >= config.warmup_steps:
                seconds.append(elapsed)
    return _summary(
        seconds,
        batch=b,
        context_start=config.decode_context + config.warmup_steps,
        context_end=position,
        prefill_seconds=prefill,
    )


GEMM_OPS = frozenset({"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"})
ATTENTION_MARK = "scaled_dot_product"
LOSS_OPS = frozenset(
    {
        "aten::cross_entropy_loss",
        "aten::log_softmax",
        "aten::_log_softmax",
        "aten::_log_softmax_backward_data",
        "aten::nll_loss",
        "aten::nll_loss_forward",
        "aten::nll_loss_nd",
        "aten::nll_loss_backward",
    }
)
OPTIMIZER_MARK = "Optimizer.step#"
OPERATOR_GROUPS = ("gemm", "lm_head", "attention", "loss", "optimizer", "other")


def _operator_group(event, vocab_size: int) -> str:
    """The chart's group of one profiled op: what it runs under (the optimizer step, the loss)
    or what it is (a GEMM, with the LM head's told apart by the vocabulary dimension; SDPA)."""
    parent = event
    while parent is not None:
        if parent.name.startswith(OPTIMIZER_MARK):
            return "optimizer"
        if parent.name in LOSS_OPS:
            return "loss"
        parent = parent.cpu_parent
    if event.name in GEMM_OPS:
        shapes = [tuple(shape) for shape in (event.input_shapes or []) if shape]
        return "lm_head" if any(vocab_size in shape for shape in shapes) else "gemm"
    if ATTENTION_MARK in event.name:
        return "attention"
    return "other"


def profile_step(step, vocab_size: int, repeats: int = 2) -> dict:
    """One step's time by operator group under torch.profiler (CPU ops' self time, averaged over
    `repeats` steps after one untimed): `seconds` by group, with the step's wall time not inside
    any op (Python, dispatch) counted as `other`, and `wall_seconds` of the profiled steps. The
    profiler adds a little to each op: compare shares, or scale to the unprofiled median."""
    from torch.profiler import ProfilerActivity, profile

    step()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as profiler:
        started = time.perf_counter()
        for _ in range(repeats):
            step()
        wall = (time.perf_counter() - started) / repeats
    seconds = {group: 0.0 for group in OPERATOR_GROUPS}
    for event in profiler.events():
        seconds[_operator_group(event, vocab_size)] += event.self_cpu_time_total * 1e-6 / repeats
    inside = sum(seconds.values())
    seconds["other"] += max(0.0, wall - inside)
    return {"seconds": seconds, "wall_seconds": wall}


def profile_training(config: ClosedLoopModel) -> dict:
    """`profile_step` of the training step (`measure_training`'s model, batch and optimizer)."""
    import torch

    model = build_model(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    inputs, targets = _batch(config)
    one = ClosedLoopModel(**{**config.as_dict(), "warmup_steps": 0, "timed_steps": 1})
    return profile_step(lambda: _train_step_seconds(model, optimizer, inputs, targets, one), config.vocab_size)


def profile_decode(config: ClosedLoopModel) -> dict:
    """`profile_step` of one decode step at the timed steps' cache length (`measure_decode`)."""
    import torch

    model = build_model(config).eval()
    b, heads = config.decode_batch, config.attention_head_count
    d = config.hidden_size // heads
    dtype = _torch_dtype(config.dtype)
    position = config.decode_context + config.warmup_steps + config.decode_tokens // 2
    with torch.inference_mode():
        caches = [
            (torch.randn(b, heads, position + 1, d, dtype=dtype), torch.randn(b, heads, position + 1, d, dtype=dtype))
            for _ in range(config.layer_count)
        ]
        token = torch.randint(0, config.vocab_size, (b, 1), generator=torch.Generator().manual_seed(SEED))
        return profile_step(lambda: model(token, caches, position)[:, -1:].argmax(-1), config.vocab_size)


def run_closed_loop(
    config: ClosedLoopModel, checks: tuple[str, ...] = ("training_step", "ddp_training_step", "decode_step")
) -> dict:
    """Every requested measurement, keyed by check name."""
    runners = {
        "training_step": measure_training,
        "ddp_training_step": measure_ddp_training,
        "decode_step": measure_decode,
    }
    unknown = set(checks) - set(runners)
    if unknown:
        raise ValueError(f"checks: unknown {sorted(unknown)}; expected some of {sorted(runners)}")
    return {name: runners[name](config) for name in checks}


def profile_closed_loop(config: ClosedLoopModel, checks: tuple[str, ...]) -> dict:
    """Per-operator-group breakdowns (`profile_step`) of the training and decode steps among
    `checks` (the DDP step is not profiled: its ranks are other processes)."""
    profilers = {"training_step": profile_training, "decode_step": profile_decode}
    return {name: profilers[name](config) for name in checks if name in profilers}


def best_of_rounds(rounds: list[dict]) -> dict:
    """The closed loop's checks over several interleaved rounds: each check keeps the round with
    the smallest median (its samples and details) and lists every round's median in
    `round_medians_seconds` (why the minimum: bench.workload_suite.best_of_rounds)."""
    if not rounds:
        raise ValueError("rounds: need at least one closed-loop result")
    merged = {}
    for name in rounds[0]:
        results = [r[name] for r in rounds if name in r]
        best = dict(min(results, key=lambda result: result["median_seconds"]))
        best["round_medians_seconds"] = [result["median_seconds"] for result in results]
        merged[name] = best
    return merged
