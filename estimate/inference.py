"""Serving one model replica on a tensor-parallel group: prefill, decode, batch, energy, cost.

Decode is bandwidth-bound at small batch: every step reads the weights (÷TP) and each sequence's
KV cache (at its own precision; MLA's latent whole on every TP rank); the skinny decode GEMMs run
at the roofline (`HardwareModel.decode_gemm_seconds`: the training size curve without its m
factor), so the model moves to compute-bound as the batch grows. Each layer also pays its TP
all-reduces and kernel launches (CUDA graphs, as serving engines use). TTFT is the prefill of the
batch's prompts together (static batching); at a load (concurrency or request rate) continuous
batching answers instead (`continuous.py`: paged KV cache, chunked prefill, queueing).

Speculative decoding / multi-token prediction (`Speculation`): a draft (a small draft model, or
MTP heads / n-gram lookup at negligible cost) proposes k tokens; the target verifies the k + 1
positions in one forward, a decode step whose GEMMs see batch·(k + 1) rows and whose KV read is
the same context; with a per-token acceptance rate α a verification step yields
(1 − α^(k+1)) / (1 − α) tokens on average (Leviathan, Kalman & Matias 2023, "Fast Inference
from Transformers via Speculative Decoding", ICML, eq. 1). TPOT = (k draft steps + the
verification step) ÷ that expectation: a gain while the step is bandwidth-bound (small batch),
a loss once the (k + 1)-fold GEMM rows make it compute-bound (large batch).

`serving_metrics` is the vectorised numeric core (arrays of batch sizes, or hardware and facility
numbers holding Monte Carlo samples); `estimate_serving` searches the batch and reports floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from flopwatt.estimate.accelerator_power import BoundSeconds, total_seconds
from flopwatt.estimate.accounting import head_dim, mlp_matrix_count, parameter_counts
from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.catalog import EngineSpec, default_engine
from flopwatt.estimate.constants import (
    BYTES_PER_ELEMENT_BY_PRECISION,
    DEFAULT_KV_CACHE_PRECISION,
    EXPERT_PARALLEL_LOAD_IMBALANCE,
    KERNELS_PER_LAYER_FORWARD,
    KV_CACHE_PRECISIONS_FOLLOWING_WEIGHTS,
    MIN_ACTIVATION_BYTES_PER_ELEMENT,
    RUNTIME_RESERVED_BYTES,
    SAMPLER_BYTES_PER_VOCAB_ENTRY,
    SAMPLER_KERNELS_PER_STEP,
    SERVING_MAX_BATCH_SIZE,
    SERVING_MEMORY_FRACTION,
)
from flopwatt.estimate.hardware import HardwareModel
from flopwatt.estimate.memory import (
    kv_cache_bytes_per_token,
    kv_cache_bytes_per_token_per_device,
    local_parameter_count,
)
from flopwatt.estimate.numeric import as_float, maximum, where
from flopwatt.estimate.parallel_plan import ParallelPlan
from flopwatt.estimate.run_cost import FacilityInputs, RunCost, run_cost

ArrayLike = Any


def check_expert_parallel_size(arch: ModelArchitecture, tp: int, ep: int) -> None:
    """Expert parallelism is modelled over the whole replica (ep = its accelerators, attention
    data-parallel, as DeepSeek-V3's decode and SGLang/vLLM's DP attention + EP run it) for an
    MoE model whose routed experts split evenly; ep = 1 is tensor parallelism throughout."""
    if ep == 1:
        return
    if ep != tp:
        raise ValueError(f"expert parallelism is modelled over the whole replica: {tp} accelerators, not {ep}")
    if not arch.is_moe or arch.expert_count % ep:
        raise ValueError(
            f"expert parallelism over {ep} accelerators needs an MoE model whose routed experts they divide"
        )


def expected_tokens_per_step(acceptance_rate: ArrayLike, draft_tokens: ArrayLike) -> ArrayLike:
    """Tokens one verification step yields on average, k drafted at per-token acceptance α:
    (1 − α^(k+1)) / (1 − α) (Leviathan et al. 2023, eq. 1; the accepted prefix plus the target's
    own token at the first rejection or after the last draft). α = 0 gives 1, α → 1 gives k + 1."""
    alpha = as_float(acceptance_rate)
    k = as_float(draft_tokens)
    return (1.0 - alpha ** (k + 1.0)) / (1.0 - alpha)


def tokens_per_step_variance(acceptance_rate: float, draft_tokens: int) -> float:
    """Variance of the tokens N one verification step yields: P(N ≥ j) = α^(j−1) for
    j = 1..k+1, so E[N²] = Σ (2j − 1)·α^(j−1)."""
    alpha = float(acceptance_rate)
    second = sum((2 * j - 1) * alpha ** (j - 1) for j in range(1, draft_tokens + 2))
    mean = float(expected_tokens_per_step(alpha, draft_tokens))
    return max(second - mean * mean, 0.0)


@dataclass(frozen=True)
class Speculation:
    """Speculative decoding: `draft_tokens` (k) proposed per step, each accepted with
    probability `acceptance_rate` (α, in [0, 1)); `draft_arch` the draft model (run at the
    target's tensor-parallel size, its weights and KV cache beside the target's), or None for
    multi-token-prediction heads or n-gram drafting, whose cost is taken as negligible."""

    draft_tokens: int
    acceptance_rate: float
    draft_arch: ModelArchitecture | None = None

    @property
    def expected_tokens(self) -> float:
        return float(expected_tokens_per_step(self.acceptance_rate, self.draft_tokens))

    @property
    def tokens_variance(self) -> float:
        return tokens_per_step_variance(self.acceptance_rate, self.draft_tokens)

    @property
    def query_tokens(self) -> int:
        """Positions the target verifies per sequence and step: the k drafts and one more."""
        return self.draft_tokens + 1


def draft_memory(
    speculation: Speculation | None, hw: HardwareModel, tp: int, kv_bytes_per_element: float
) -> tuple[float, float]:
    """(draft weight bytes per device, draft KV bytes per token per device): zero without a draft model."""
    if speculation is None or speculation.draft_arch is None:
        return 0.0, 0.0
    draft = speculation.draft_arch
    return (
        float(parameter_counts(draft).total) * hw.bytes_per_element / tp,
        float(kv_cache_bytes_per_token_per_device(draft, tp, kv_bytes_per_element)),
    )


def default_kv_cache_precision(weight_precision: str, engine: EngineSpec | None = None) -> str:
    """The KV cache precision an engine uses with weights at `weight_precision` when the request
    names none. Rule "checkpoint" (vLLM, TensorRT-LLM: the checkpoint's KV quantisation): FP8 for
    FP8 checkpoints, BF16 otherwise (constants.DEFAULT_KV_CACHE_PRECISION, with its sources).
    Rule "model-dtype" (SGLang's 'auto'): the activation dtype, BF16. None: the default engine."""
    rule = (engine or default_engine()).kv_cache_precision_rule
    if rule == "checkpoint" and weight_precision in KV_CACHE_PRECISIONS_FOLLOWING_WEIGHTS:
        return weight_precision
    return DEFAULT_KV_CACHE_PRECISION


@dataclass(frozen=True)
class InferenceScenario:
    arch: ModelArchitecture
    hardware: HardwareModel
    accelerator_count: int  # tensor-parallel group serving one replica
    batch_size: int  # 0: throughput-optimal batch that fits
    input_tokens: int
    output_tokens: int
    facility: FacilityInputs
    kv_cache_precision: str = ""  # "": default_kv_cache_precision(hardware.precision)
    # 1: experts tensor-parallel like the rest; accelerator_count: expert parallelism with
    # data-parallel attention (`_layer_decode_seconds`).
    expert_parallel_size: int = 1
    # Continuous batching (estimate/continuous.py) when either is set and batch_size is 0:
    # a closed loop of `concurrency` clients, or an open loop of Poisson arrivals at this rate.
    concurrency: int = 0
    request_rate_per_second: float = 0.0
    speculation: Speculation | None = None  # speculative decoding / MTP (None: one token per step)
    engine: EngineSpec | None = None  # the serving engine (catalog); None: the default engine (vLLM)
    # A workload profile's operator table: the chosen batch's decode step is timed from it
    # (estimate/operator_table.py) when the scenario is one it covers (static batch, no EP).
    operator_table: Any = None
    # Fraction of the modelled decode step rate the engine sustains on this hardware generation
    # (estimate/serving_realisation.py, fitted on public serving tables); 1 = the physics alone.
    decode_realisation: float = 1.0
    # Seconds the engine's host spends per running sequence per step while the accelerator waits
    # (scheduling, input preparation, output processing; serving_realisation.py, fitted with the
    # realisation); 0 = none.
    per_sequence_step_seconds: float = 0.0
    # Fraction of the modelled prefill rate the engine sustains (serving_realisation.py, fitted
    # with the two above); 1 = the physics alone.
    prefill_realisation: float = 1.0

    @property
    def serving_engine(self) -> EngineSpec:
        return self.engine or default_engine()

    @property
    def cuda_graph_max_batch(self) -> int:
        """The engine's largest decode batch captured in a CUDA graph on this accelerator and TP."""
        tier = self.serving_engine.defaults_for(self.hardware.hardware_id, self.hardware.memory_bytes)
        return tier.graph_max_batch(self.accelerator_count)

    @property
    def continuous(self) -> bool:
        return self.batch_size == 0 and (self.concurrency > 0 or self.request_rate_per_second > 0)

    @property
    def resolved_kv_cache_precision(self) -> str:
        return self.kv_cache_precision or default_kv_cache_precision(self.hardware.precision, self.serving_engine)

    @property
    def kv_cache_bytes_per_element(self) -> float:
        """Bytes of one stored key or value element: the KV cache's own precision (FP8 = 1 B)."""
        return BYTES_PER_ELEMENT_BY_PRECISION[self.resolved_kv_cache_precision]


@dataclass(frozen=True)
class InferenceEstimate:
    scenario: InferenceScenario
    batch_size: int
    max_batch_size: int
    fits_in_memory: bool
    time_to_first_token_seconds: float
    time_per_output_token_seconds: float
    output_tokens_per_second: float
    requests_per_second: float
    weight_bytes_per_accelerator: float
    kv_cache_bytes_per_accelerator: float
    memory_per_accelerator_bytes: float
    kv_cache_bytes_per_token: float  # whole replica
    decode_breakdown: dict[str, float]  # seconds per decode step
    accelerator_power_watts: float
    energy_per_output_token_joules: float
    cost_per_million_output_tokens_usd: float
    cost: RunCost  # of one batch (continuous batching: of one request's time in service)
    # Continuous batching (static batch: the batch, no queue, p99 = p50 since every sequence of
    # the batch sees the same steps).
    serving_model: str = "static"
    running_batch_size: float = 0.0  # mean sequences in the running batch
    queueing_delay_seconds: float = 0.0  # p50
    time_to_first_token_p99_seconds: float = 0.0
    time_per_output_token_p99_seconds: float = 0.0
    max_running_batch_size: int = 0  # continuous batching: the bound of the running batch
    # A disaggregated deployment's accelerators (prefill and decode pools), over which its
    # throughput, energy and cost are counted; 0: the scenario's accelerator_count (one replica).
    deployment_accelerators: int = 0
    operator_coverage: Any = None  # OperatorStep when the decode step came from an operator table

    @property
    def ttft_p99(self) -> float:
        return self.time_to_first_token_p99_seconds or self.time_to_first_token_seconds

    @property
    def tpot_p99(self) -> float:
        return self.time_per_output_token_p99_seconds or self.time_per_output_token_seconds


def _shape(arch: ModelArchitecture, hw: HardwareModel) -> tuple[float, float, float, float, float, float]:
    """(hidden, head dim, heads, KV heads, MLP matrices, activation bytes) as floats."""
    act_bytes = max(hw.bytes_per_element, MIN_ACTIVATION_BYTES_PER_ELEMENT)
    return (
        float(arch.hidden_size),
        float(head_dim(arch)),
        float(arch.attention_head_count),
        float(arch.kv_head_count),
        float(mlp_matrix_count(arch)),
        act_bytes,
    )


def _captured(batch: ArrayLike, graph_max_batch: int) -> ArrayLike:
    """Whether a decode step of `batch` sequences (on the busiest device) replays a CUDA graph:
    every batch when graph_max_batch is 0, else those up to the engine's largest capture."""
    if graph_max_batch <= 0:
        return True
    return as_float(batch) <= graph_max_batch


def _in_graph_seconds(hw: HardwareModel, eager_collective_seconds: ArrayLike, group_size: ArrayLike) -> ArrayLike:
    """A collective inside the decode step's CUDA graph. The collective latency constant is the
    small-message time of nccl-tests, whose operations are launched one by one from the host;
    captured in a graph that launch costs the graph launch overhead instead, so the difference
    (eager − graph launch overhead) comes off, never below zero."""
    saved = where(as_float(group_size) > 1, hw.launch_overhead_seconds - hw.graph_launch_overhead_seconds, 0.0)
    return maximum(eager_collective_seconds - saved, 0.0)


def _decode_attention_flops_per_head_and_token(arch: ModelArchitecture) -> float:
    """FLOPs one query head spends on one cached token in decode: 2·head_dim for the score and
    2·head_dim for the weighted value; with MLA absorbed (DeepSeek-V2 §2.1.2: W_UK folded into
    the query, W_UV into the output), the score runs against the latent and the RoPE key,
    2·(kv_lora_rank + qk_rope_head_dim), and the weighted sum over the latent, 2·kv_lora_rank."""
    if arch.is_mla:
        return 2.0 * (arch.kv_lora_rank + arch.qk_rope_head_dim) + 2.0 * arch.kv_lora_rank
    return 4.0 * float(head_dim(arch))


def _layer_decode_work(
    arch,
    hw: HardwareModel,
    batch,
    context,
    tp,
    kv_bytes_per_element: float,
    ep: int = 1,
    query_tokens: float = 1.0,
    graph_max_batch: int = 0,
) -> dict[str, BoundSeconds]:
    """Seconds of one decode step of one layer, by part and by the unit bounding each (GEMMs and
    attention by their roofline; collectives and launches at idle power), at `batch` sequences with `context` tokens of history, the
    KV cache stored at `kv_bytes_per_element`, on the busiest device. `query_tokens` positions
    per sequence (speculative verification: k + 1): the GEMMs, attention FLOPs and collectives
    see batch·query_tokens rows, the KV cache is read once per sequence.

    ep = 1: everything tensor-parallel over the tp devices, two all-reduces per layer.
    ep = tp > 1: expert parallelism with data-parallel attention (`expert_parallel_layout`):
    each device runs batch/ep sequences through the whole attention and shared experts, holds
    E/ep whole routed experts, and tokens reach their experts by an all-to-all dispatch and come
    back by an all-to-all combine; the busiest device's routed-expert work is
    EXPERT_PARALLEL_LOAD_IMBALANCE × the mean.

    CUDA graphs: a step whose batch the engine captured (≤ `graph_max_batch`; 0 = every batch)
    pays the graph launch overhead per kernel and runs its collectives inside the graph; a larger
    batch runs eagerly, a host launch per kernel and per collective."""
    h, d, heads, kv, matrices, act_bytes = _shape(arch, hw)
    batch = as_float(batch)
    expert_parallel = ep > 1
    attention_tp = 1.0 if expert_parallel else float(tp)  # attention and shared experts
    local = np.ceil(batch / ep) if expert_parallel else batch  # sequences the busiest device runs attention for
    rows = local * query_tokens  # GEMM rows of the busiest device
    tokens = batch * query_tokens
    expert_tp = float(tp) / ep  # devices one routed expert is split over
    projections = hw.decode_gemm_work(rows, (heads + 2 * kv) * d / attention_tp, h) + hw.decode_gemm_work(
        rows, h, heads * d / attention_tp
    )
    experts = max(float(arch.expert_count), 1.0)
    routed = float(arch.experts_per_token) if experts > 1 else 1.0
    # Distinct experts a batch touches: E·(1 − (1 − k/E)^B); each gets B·k/touched tokens.
    touched = where(experts > 1, experts * (1.0 - (1.0 - routed / experts) ** tokens), 1.0)
    tokens_per_expert = tokens * routed / touched
    width = float(arch.ffn_hidden_size if experts > 1 else (arch.dense_ffn_hidden_size or arch.ffn_hidden_size))
    touched_here = touched / ep  # experts of this device the batch touches
    mlp = hw.decode_gemm_work(
        tokens_per_expert, (matrices - 1) * width / expert_tp, h, touched_here
    ) + hw.decode_gemm_work(tokens_per_expert, h, width / expert_tp, touched_here)
    if expert_parallel:
        mlp = mlp.scaled(EXPERT_PARALLEL_LOAD_IMBALANCE)
    shared = float(arch.shared_expert_count)
    if shared > 0:
        mlp = (
            mlp
            + hw.decode_gemm_work(rows, (matrices - 1) * shared * width / attention_tp, h)
            + hw.decode_gemm_work(rows, h, shared * width / attention_tp)
        )
    kv_bytes = (
        local
        * context
        * float(kv_cache_bytes_per_token_per_device(arch, attention_tp, kv_bytes_per_element))
        / float(arch.layer_count)
    )
    attention_flops = rows * heads / attention_tp * context * _decode_attention_flops_per_head_and_token(arch)
    attention = BoundSeconds.roofline(attention_flops / hw.sustained_gemm_flops_per_second, hw.memory_seconds(kv_bytes))
    captured = _captured(local, graph_max_batch)
    launch = KERNELS_PER_LAYER_FORWARD * where(
        captured, hw.graph_launch_overhead_seconds, hw.launch_overhead_seconds
    ) + 0.0 * as_float(batch)
    work = {"weights_and_gemm": projections + mlp, "kv_cache_and_attention": attention}
    if expert_parallel:
        # Dispatch and combine: each device sends its sequences' k routed copies of h.
        all_to_all = hw.all_to_all_seconds(rows * routed * h * act_bytes, ep, 1.0)
        work["expert_parallel_communication"] = BoundSeconds.idle(
            2.0 * where(captured, _in_graph_seconds(hw, all_to_all, ep), all_to_all)
        )
    else:
        all_reduce = hw.all_reduce_seconds(tokens * h * act_bytes, tp, 1.0)
        work["tensor_parallel_communication"] = BoundSeconds.idle(
            2.0 * where(captured, _in_graph_seconds(hw, all_reduce, tp), all_reduce)
        )
    work["kernel_launch"] = BoundSeconds.idle(launch)
    return work


def sampling_seconds(arch: ModelArchitecture, hw: HardwareModel, sequences: ArrayLike, tp: int) -> ArrayLike:
    """Seconds of the engine's sampler in one decode step (`sampling_work`)."""
    return sampling_work(arch, hw, sequences, tp).seconds


def sampling_work(arch: ModelArchitecture, hw: HardwareModel, sequences: ArrayLike, tp: int) -> BoundSeconds:
    """The engine's sampler in one decode step for `sequences` rows of logits on the busiest
    device: the logits gathered over the tensor-parallel group (at the activation precision), then
    SAMPLER_BYTES_PER_VOCAB_ENTRY of memory traffic per row and vocabulary entry over the whole
    vocabulary (float32 cast, temperature, softmax, exponential noise, divide, argmax: constants.py,
    counted from vLLM's V1 sampler), and its SAMPLER_KERNELS_PER_STEP kernels launched from the host
    outside the step's CUDA graph. The LM head GEMM before it is in `serving_metrics`; the sampler
    is what it left out: per-sequence work that grows with the running batch, not divided by TP.
    Its traffic is memory-bound; the gather and the launches draw idle power."""
    rows = as_float(sequences)
    vocab = float(arch.vocab_size)
    act_bytes = max(hw.bytes_per_element, MIN_ACTIVATION_BYTES_PER_ELEMENT)
    gather = hw.all_gather_seconds(rows * vocab * act_bytes, tp, 1.0)
    return BoundSeconds(
        memory_bound_seconds=hw.memory_seconds(rows * vocab * SAMPLER_BYTES_PER_VOCAB_ENTRY),
        idle_seconds=gather + SAMPLER_KERNELS_PER_STEP * hw.launch_overhead_seconds,
    )


def _prefill_seconds(arch, hw: HardwareModel, batch, prompt, tp, ep: int = 1) -> ArrayLike:
    """Seconds of the forward pass over the batch's prompts (`_prefill_work`)."""
    return _prefill_work(arch, hw, batch, prompt, tp, ep).seconds


def _prefill_work(arch, hw: HardwareModel, batch, prompt, tp, ep: int = 1) -> BoundSeconds:
    """Forward pass over the batch's prompts (compute-bound: GEMMs by their roofline, attention
    at the attention rate; collectives and launches at idle power), causal flash attention. With
    expert parallelism (ep = tp > 1) each device runs its batch/ep prompts with data-parallel
    attention and its share of the routed tokens (the same FLOPs as one device serving batch/ep
    alone), plus a dispatch and a combine all-to-all per layer."""
    if ep > 1:
        h, _, _, _, _, act_bytes = _shape(arch, hw)
        local = np.ceil(as_float(batch) / ep)  # the busiest device's prompts
        all_to_all = hw.all_to_all_seconds(local * prompt * float(arch.experts_per_token) * h * act_bytes, ep, 1.0)
        return _prefill_work(arch, hw, local, prompt, 1) + BoundSeconds.idle(float(arch.layer_count) * 2.0 * all_to_all)
    h, d, heads, kv, matrices, act_bytes = _shape(arch, hw)
    tokens = as_float(batch) * prompt
    experts = max(float(arch.expert_count), 1.0)
    routed = float(arch.experts_per_token) if experts > 1 else 1.0
    width = float(arch.ffn_hidden_size if experts > 1 else (arch.dense_ffn_hidden_size or arch.ffn_hidden_size))
    active = routed + float(arch.shared_expert_count)
    gemm = (
        hw.gemm_work(tokens, (heads + 2 * kv) * d / tp, h)
        + hw.gemm_work(tokens, h, heads * d / tp)
        + hw.gemm_work(tokens * active, (matrices - 1) * width / tp, h)
        + hw.gemm_work(tokens * active, h, width / tp)
    )
    attention = hw.attention_seconds(2.0 * as_float(batch) * heads / tp * prompt * prompt * d, prompt, d)
    communication = 2.0 * hw.all_reduce_seconds(tokens * h * act_bytes, tp, 1.0)
    launch = KERNELS_PER_LAYER_FORWARD * hw.launch_overhead_seconds
    layer = gemm + BoundSeconds(compute_bound_seconds=attention, idle_seconds=communication + launch)
    head = hw.decode_gemm_work(as_float(batch), float(arch.vocab_size) / tp, h)  # logits of the last position: skinny
    return layer.scaled(float(arch.layer_count)) + head


def max_batch_size(
    arch: ModelArchitecture,
    hw: HardwareModel,
    tp: int,
    context_tokens: int,
    kv_bytes_per_element: float,
    ep: int = 1,
    speculation: Speculation | None = None,
) -> tuple[int, float, float]:
    """(largest batch whose KV cache fits, weight bytes per device, KV bytes per sequence per
    device that caches it). ep = tp > 1: each device holds the dense weights whole and 1/ep of the
    routed experts, and caches only its own sequences (data-parallel attention). A draft model
    adds its weights (÷ tp) and its KV cache per token (`draft_memory`)."""
    if ep > 1:
        weights = (
            float(local_parameter_count(arch, ParallelPlan(tensor_parallel_size=1, expert_parallel_size=ep)))
            * hw.bytes_per_element
        )
        per_token = float(kv_cache_bytes_per_token_per_device(arch, 1, kv_bytes_per_element))
    else:
        weights = float(parameter_counts(arch).total) * hw.bytes_per_element / tp
        per_token = float(kv_cache_bytes_per_token_per_device(arch, tp, kv_bytes_per_element))
    draft_weights, draft_per_token = draft_memory(speculation, hw, tp, kv_bytes_per_element)
    weights += draft_weights
    per_token += draft_per_token
    per_sequence = per_token * context_tokens
    free = hw.memory_bytes * SERVING_MEMORY_FRACTION - weights - RUNTIME_RESERVED_BYTES
    return max(int(free // per_sequence), 0) * ep, weights, per_sequence


@dataclass(frozen=True)
class ServingMetrics:
    """Outputs of serving at given batch sizes (arrays: one element per batch size, or per Monte
    Carlo sample of the hardware and facility; nothing here branches on their values)."""

    time_to_first_token_seconds: ArrayLike
    time_per_output_token_seconds: ArrayLike
    output_tokens_per_second: ArrayLike
    decode_breakdown: dict[str, ArrayLike]  # seconds per decode step, whole model
    accelerator_power_watts: ArrayLike  # mean over the batch: its prefill, then its decode steps
    energy_per_output_token_joules: ArrayLike
    cost_per_million_output_tokens_usd: ArrayLike
    cost: RunCost  # of one batch
    # The breakdown's seconds by the unit bounding them (accelerator_power.py), the prefill's
    # (TTFT: the batch's prompts and the host's per-sequence work), and the decode step's power
    # alone (a disaggregated decode instance, or a continuous batch that adds its prefill chunks).
    decode_work: dict[str, BoundSeconds]
    prefill_work: BoundSeconds
    decode_power_watts: ArrayLike


def scenario_serving_metrics(
    scenario: InferenceScenario,
    batch: ArrayLike,
    *,
    hardware: HardwareModel | None = None,
    facility: FacilityInputs | None = None,
    expert_parallel_size: int | None = None,
    cuda_graph_max_batch: int | None = None,
) -> ServingMetrics:
    """`serving_metrics` for a scenario at `batch` sequences: its model, replica size, lengths, KV
    precision, speculation, engine graph limit and decode realisation, so every caller (static
    batch, continuous batching, disaggregation, the Monte Carlo, the serving calibration) hands
    the core the same scenario. The keywords replace one of them (drawn hardware or facility, an
    engine's own graph limit, a pool without expert parallelism)."""
    return serving_metrics(
        scenario.arch,
        scenario.hardware if hardware is None else hardware,
        scenario.accelerator_count,
        batch,
        scenario.input_tokens,
        scenario.output_tokens,
        scenario.facility if facility is None else facility,
        kv_bytes_per_element=scenario.kv_cache_bytes_per_element,
        expert_parallel_size=scenario.expert_parallel_size if expert_parallel_size is None else expert_parallel_size,
        speculation=scenario.speculation,
        cuda_graph_max_batch=scenario.cuda_graph_max_batch if cuda_graph_max_batch is None else cuda_graph_max_batch,
        decode_realisation=scenario.decode_realisation,
        per_sequence_step_seconds=scenario.per_sequence_step_seconds,
        prefill_realisation=scenario.prefill_realisation,
    )


def prompt_prefill_work(scenario: InferenceScenario, tp: int) -> BoundSeconds:
    """One prompt's prefill on `tp` accelerators (a draft model's too) at the engine's prefill
    realisation: what continuous batching spreads over its chunks and a disaggregated prefill
    instance runs."""
    arch, hw, prompt = scenario.arch, scenario.hardware, scenario.input_tokens
    work = _prefill_work(arch, hw, 1.0, prompt, tp, 1)
    spec = scenario.speculation
    if spec is not None and spec.draft_arch is not None:
        work = work + _prefill_work(spec.draft_arch, hw, 1.0, prompt, tp, 1)
    return work.per(scenario.prefill_realisation)


def serving_metrics(
    arch: ModelArchitecture,
    hw: HardwareModel,
    tp: int,
    batch: ArrayLike,
    input_tokens: int,
    output_tokens: int,
    facility: FacilityInputs,
    *,
    kv_bytes_per_element: float,
    expert_parallel_size: int = 1,
    speculation: Speculation | None = None,
    cuda_graph_max_batch: int = 0,
    decode_realisation: ArrayLike = 1.0,
    per_sequence_step_seconds: ArrayLike = 0.0,
    prefill_realisation: ArrayLike = 1.0,
) -> ServingMetrics:
    """The vectorised numeric core: TTFT, TPOT, throughput, power, energy and cost per token at
    `batch` sequences (array allowed), for hardware and facility numbers that may be arrays, the
    KV cache stored at `kv_bytes_per_element` (`InferenceScenario.kv_cache_bytes_per_element`).
    With `speculation` the decode breakdown is per output token: the verification step (and the
    draft's k steps, `speculative_draft`) divided by the expected tokens per step.
    `cuda_graph_max_batch`: the engine's largest decode batch in a CUDA graph (0: every batch).
    `decode_realisation`: the fraction of the modelled decode step rate the engine sustains (every
    part of the decode step is divided by it); `prefill_realisation` likewise divides the prefill
    (the host's per-sequence work excepted); arrays evaluate a grid.
    The decode step also samples each sequence's next token (`sampling_seconds`) and, per
    `per_sequence_step_seconds`, waits for the engine's host work on each running sequence
    (`engine_host`: not accelerator work, so neither divided by the realisation nor drawing more
    than idle power); the prefill step pays that host work once per sequence too.
    Power: each second of the batch (its prefill, then its decode steps) at the power of the unit
    bounding it, `HardwareModel.serving_power_levels` (accelerator_power.py)."""
    batches = as_float(batch)
    context = input_tokens + output_tokens / 2.0  # mean history over the generation
    layers = float(arch.layer_count)
    ep = expert_parallel_size
    query = float(speculation.query_tokens) if speculation is not None else 1.0
    layer = _layer_decode_work(arch, hw, batches, context, tp, kv_bytes_per_element, ep, query, cuda_graph_max_batch)
    if ep > 1:  # data-parallel attention: each device its sequences' logits over the whole vocabulary
        head = hw.decode_gemm_work(np.ceil(batches / ep) * query, float(arch.vocab_size), float(arch.hidden_size))
        sampling = sampling_work(arch, hw, np.ceil(batches / ep) * query, 1)
    else:
        head = hw.decode_gemm_work(batches * query, float(arch.vocab_size) / tp, float(arch.hidden_size))
        sampling = sampling_work(arch, hw, batches * query, tp)
    realisation = as_float(decode_realisation)
    work = {name: part.scaled(layers).per(realisation) for name, part in layer.items()}
    work["lm_head"] = head.per(realisation)
    work["sampling"] = sampling.per(realisation)
    host = BoundSeconds.idle(batches * as_float(per_sequence_step_seconds))
    work["engine_host"] = host
    prefill = _prefill_work(arch, hw, batches, input_tokens, tp, ep).per(as_float(prefill_realisation)) + host
    if speculation is not None:
        per_step = speculation.expected_tokens
        work = {name: part.per(per_step) for name, part in work.items()}
        if speculation.draft_arch is not None:
            draft = serving_metrics(
                speculation.draft_arch,
                hw,
                tp,
                batches,
                input_tokens,
                output_tokens,
                facility,
                kv_bytes_per_element=kv_bytes_per_element,
                cuda_graph_max_batch=cuda_graph_max_batch,
                decode_realisation=decode_realisation,
                prefill_realisation=prefill_realisation,
            )
            draft_step = total_seconds(draft.decode_work)
            work["speculative_draft"] = draft_step.scaled(speculation.draft_tokens).per(per_step)
            prefill = prefill + draft.prefill_work  # the draft prefills the prompt too
    breakdown = {name: part.seconds for name, part in work.items()}
    ttft = prefill.seconds
    tpot = sum(breakdown.values())
    batch_seconds = ttft + output_tokens * tpot
    levels = hw.serving_power_levels()
    decode_step = total_seconds(work)
    power = levels.power_watts(prefill + decode_step.scaled(output_tokens))
    cost = run_cost(tp, batch_seconds, power, facility)
    tokens = batches * output_tokens
    return ServingMetrics(
        time_to_first_token_seconds=ttft,
        time_per_output_token_seconds=tpot,
        output_tokens_per_second=tokens / batch_seconds,
        decode_breakdown=breakdown,
        accelerator_power_watts=power,
        energy_per_output_token_joules=cost.facility_energy_joules / tokens,
        cost_per_million_output_tokens_usd=cost.cost_usd / tokens * 1e6,
        cost=cost,
        decode_work=work,
        prefill_work=prefill,
        decode_power_watts=levels.power_watts(decode_step),
    )


def _at(value: ArrayLike, index: int, shape: tuple[int, ...]) -> float:
    """Element `index` of an output broadcast to `shape`; the value itself for a scalar batch."""
    if not shape:
        return float(value)
    return float(np.broadcast_to(as_float(value), shape)[index])


def _work_at(work: BoundSeconds, index: int, shape: tuple[int, ...]) -> BoundSeconds:
    """`_at` of each unit's seconds."""
    return BoundSeconds(
        _at(work.compute_bound_seconds, index, shape),
        _at(work.memory_bound_seconds, index, shape),
        _at(work.idle_seconds, index, shape),
    )


def classify_like(analytic: dict[str, BoundSeconds], breakdown: dict[str, float]) -> dict[str, BoundSeconds]:
    """A breakdown timed another way (the operator table) by bounding unit: each part keeps the
    shares the analytic roofline gave the same part; a part the analytic step has no counterpart
    for (the table's norms, adds, activations, rotary) is elementwise, so memory-bound."""
    return {
        name: analytic[name].rescaled_to(seconds) if name in analytic else BoundSeconds.memory_bound(seconds)
        for name, seconds in breakdown.items()
    }


def estimate_serving(scenario: InferenceScenario) -> InferenceEstimate:
    """Serving at the requested batch, or at the throughput-optimal one whose KV cache fits.
    Raises ValueError for an expert-parallel layout the model does not cover. A concurrency or
    request rate without a batch is continuous batching (`continuous.estimate_continuous`)."""
    if scenario.continuous:
        from flopwatt.estimate.continuous import estimate_continuous

        return estimate_continuous(scenario)
    arch, hw, tp = scenario.arch, scenario.hardware, scenario.accelerator_count
    check_expert_parallel_size(arch, tp, scenario.expert_parallel_size)
    prompt, output = scenario.input_tokens, scenario.output_tokens
    kv_bytes_per_element = scenario.kv_cache_bytes_per_element
    ep = scenario.expert_parallel_size
    limit, weights, per_sequence = max_batch_size(
        arch, hw, tp, prompt + output, kv_bytes_per_element, ep, scenario.speculation
    )
    if scenario.batch_size > 0:
        # One batch: the scalar path of the core (same IEEE arithmetic as a 1-element array,
        # without NumPy's per-call array overhead).
        batches = as_float(scenario.batch_size)
    else:
        batches = np.arange(1, max(min(limit, SERVING_MAX_BATCH_SIZE), 1) + 1, dtype=float)
    metrics = scenario_serving_metrics(scenario, batches)
    shape = np.shape(batches)
    best = int(np.argmax(np.broadcast_to(metrics.output_tokens_per_second, shape))) if shape else 0
    batch = int(batches[best]) if shape else int(batches)
    cost = RunCost(**{name: _at(getattr(metrics.cost, name), best, shape) for name in RunCost.__dataclass_fields__})
    kv_bytes = per_sequence * -(-batch // ep)  # the busiest device's sequences
    throughput = _at(metrics.output_tokens_per_second, best, shape)
    decode_breakdown = {name: _at(value, best, shape) for name, value in metrics.decode_breakdown.items()}
    tpot = _at(metrics.time_per_output_token_seconds, best, shape)
    ttft = _at(metrics.time_to_first_token_seconds, best, shape)
    power = _at(metrics.accelerator_power_watts, best, shape)
    energy = _at(metrics.energy_per_output_token_joules, best, shape)
    cost_per_million = _at(metrics.cost_per_million_output_tokens_usd, best, shape)
    decode_work = {name: _work_at(part, best, shape) for name, part in metrics.decode_work.items()}
    prefill_work = _work_at(metrics.prefill_work, best, shape)
    coverage = None
    # The table holds one-token decode steps: a speculative verify step (batch × (k+1) rows, a
    # draft model) is not among its shapes, so speculation keeps the analytic step.
    if scenario.operator_table is not None and ep == 1 and scenario.speculation is None:
        from flopwatt.estimate.operator_table import decode_step_from_operators

        context = int(prompt + output / 2.0)  # the mean history, as serving_metrics uses
        rebuilt = decode_step_from_operators(arch, hw, tp, batch, context, decode_breakdown, scenario.operator_table)
        if rebuilt is not None:
            decode_breakdown, coverage = rebuilt
            tpot = sum(decode_breakdown.values())
            batch_seconds = ttft + output * tpot
            measured = total_seconds(classify_like(decode_work, decode_breakdown))
            power = float(hw.serving_power_watts(prefill_work + measured.scaled(output)))
            cost = run_cost(tp, batch_seconds, power, scenario.facility)
            cost = RunCost(**{name: float(getattr(cost, name)) for name in RunCost.__dataclass_fields__})
            tokens = batch * output
            throughput = tokens / batch_seconds
            energy = cost.facility_energy_joules / tokens
            cost_per_million = cost.cost_usd / tokens * 1e6
    return InferenceEstimate(
        scenario=scenario,
        batch_size=batch,
        max_batch_size=limit,
        fits_in_memory=limit >= batch,
        time_to_first_token_seconds=ttft,
        time_per_output_token_seconds=tpot,
        output_tokens_per_second=throughput,
        requests_per_second=throughput / output,
        weight_bytes_per_accelerator=weights,
        kv_cache_bytes_per_accelerator=kv_bytes,
        memory_per_accelerator_bytes=weights + kv_bytes + RUNTIME_RESERVED_BYTES,
        kv_cache_bytes_per_token=float(kv_cache_bytes_per_token(arch, kv_bytes_per_element)),
        decode_breakdown=decode_breakdown,
        accelerator_power_watts=power,
        energy_per_output_token_joules=energy,
        cost_per_million_output_tokens_usd=cost_per_million,
        cost=cost,
        running_batch_size=float(batch),
        max_running_batch_size=limit,
        operator_coverage=coverage,
    )
