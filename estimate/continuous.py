"""Continuous batching: a serving engine (vLLM, SGLang) at a given load, not one static batch.

Requests join and leave the running batch step by step. The model, per replica:

- The engine's parameters are the serving engine's documented defaults for the accelerator
  (`ContinuousBatching.for_engine`: catalog/data/engines.json, `engine` input; vLLM by default).
- The running batch is bounded by the paged KV cache, by max_num_seqs, and by the step's token
  budget. The cache: a sequence holds its mean context P + O/2 (an engine that reserves blocks to
  completion, TensorRT-LLM's GUARANTEED_NO_EVICT, holds P + O) plus the partly empty last block
  of its blocks of b tokens, (b − 1)/2 tokens on average (lengths uniform modulo b). Each step carries
  the B decode tokens plus, on average, the prefill of the B/O requests that replace those that
  finished (B·P/O tokens), so B·(1 + P/O) ≤ max_num_batched_tokens.
- A decode step costs the existing roofline (`serving_metrics`: weights + KV read, compute where
  it dominates) at the running batch; batches above the engine's largest CUDA-graph capture run
  eagerly (a launch per kernel). Without chunked prefill (TensorRT-LLM's default) the chunk is the
  whole prompt. Chunked prefill: a request's prompt is prefilled in chunks of c tokens
  (c = min(P, budget − B)). The others' replacements bring D = (B − 1)·P/O prefill tokens a step
  (their prefill; a request's own comes before its decode). A step that carries prefill holds
  c' = max(c, D) tokens (one prompt's chunk, or every replacement's prompt once more than one
  request finishes a step; D ≤ budget − B by the bound), adding their share of the prompt's prefill
  time; a fraction f = D / c' of steps carry prefill, so a step carries D tokens on average. TPOT p50 is the mean per-request TPOT (an average over
  O steps concentrates), p99 adds 2.33 binomial standard deviations of the chunk-carrying steps.
- TTFT without a queue: ceil(P / c) steps, each a decode step plus one chunk, after half a step
  (p50) or a whole chunk-carrying step (p99) waiting for the step in flight to end (none when
  the request has the replica to itself). It is no longer the whole
  batch's prefill: a request's prefill runs beside the others' decode.
- A request's time in service S(B) = TTFT + (O − 1)·TPOT; throughput B / S(B) requests/s.
- Queueing once the running batch is full. Closed loop (C clients, each sending its next request
  when the last ends): below the bound B = C; above, throughput stays at its bound X and by
  Little's law a request spends C / X in the system, so it waits C / X − S (a fixed round in a
  closed loop: p99 ≈ p50). Open loop (Poisson arrivals at λ): the running batch is the Little's
  law fixed point B = λ·S(B); the wait is M/D/c with c = the running-batch bound and service
  S(B), by the Allen–Cunneen approximation: M/M/c's Erlang-C wait scaled by (1 + Cs²)/2 = 1/2
  for deterministic service, its tail P(W > t) = P_wait·exp(−(cμ − λ)t) scaled alike.
- Speculative decoding (`inference.Speculation`): a step verifies k + 1 positions per sequence
  and yields E = (1 − α^(k+1))/(1 − α) tokens on average, so each sequence takes k + 1 tokens of
  the step budget, requests finish E times sooner in steps (E·B·P/O prefill tokens per step),
  and a chunk's time is shared by E tokens. TPOT p99 adds the spread of the step count: by
  renewal, the O/E steps of a request have variance O·Var(N)/E³.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from flopwatt.estimate.accelerator_power import BoundSeconds, total_seconds
from flopwatt.estimate.catalog import EngineSpec
from flopwatt.estimate.constants import (
    CHUNKED_PREFILL_TOKEN_BUDGET,
    CONTINUOUS_MAX_NUM_SEQS,
    LARGE_GPU_MEMORY_BYTES,
    PAGED_KV_BLOCK_TOKENS,
    RUNTIME_RESERVED_BYTES,
    SERVING_MEMORY_FRACTION,
    SMALL_GPU_CHUNKED_PREFILL_TOKEN_BUDGET,
    SMALL_GPU_MAX_NUM_SEQS,
    Z_P99,
)
from flopwatt.estimate.inference import (
    InferenceEstimate,
    InferenceScenario,
    check_expert_parallel_size,
    draft_memory,
    max_batch_size,
    prompt_prefill_work,
    scenario_serving_metrics,
)
from flopwatt.estimate.memory import kv_cache_bytes_per_token, kv_cache_bytes_per_token_per_device
from flopwatt.estimate.run_cost import RunCost, run_cost


class OverloadedError(ValueError):
    """The arrival rate reaches the replica's capacity: the queue grows without bound."""

    def __init__(self, rate: float, capacity: float):
        super().__init__(
            f"request_rate_per_second {rate:.6g} reaches the replica's capacity of {capacity:.6g} requests/s: "
            "the queue grows without bound; lower the rate or add replicas"
        )
        self.rate = rate
        self.capacity = capacity


# No max_num_seqs (SGLang's max_running_requests unset): the KV cache alone bounds the batch.
UNCAPPED_SEQUENCES = 1 << 30


@dataclass(frozen=True)
class ContinuousBatching:
    """The engine's parameters (defaults: vLLM's, constants.py with sources; `for_engine` reads
    an engine of the catalog)."""

    block_tokens: int = PAGED_KV_BLOCK_TOKENS
    token_budget: int = CHUNKED_PREFILL_TOKEN_BUDGET
    max_num_seqs: int = CONTINUOUS_MAX_NUM_SEQS  # 0: bounded by the KV cache only
    chunked_prefill: bool = True  # False: a prompt is prefilled whole in one step
    cuda_graph_max_batch: int = 0  # largest decode batch in a CUDA graph; 0: every batch
    full_sequence_reservation: bool = False  # blocks reserved to completion (P + O), not on demand

    @property
    def sequence_cap(self) -> int:
        return self.max_num_seqs or UNCAPPED_SEQUENCES

    def step_budget(self, prompt: int, query: float = 1.0) -> int:
        """Tokens one step may carry. Without chunked prefill a whole prompt (and a decode token
        per other sequence) must fit: the engine is taken as configured for the prompt."""
        return self.token_budget if self.chunked_prefill else max(self.token_budget, int(prompt + query))

    def sequence_tokens(self, prompt: int, output: int) -> float:
        """KV tokens one sequence holds on average: its context (mean P + O/2, or P + O when
        reserved to completion) and the empty part of its last block, (b − 1)/2."""
        context = prompt + (output if self.full_sequence_reservation else output / 2.0)
        return context + (self.block_tokens - 1) / 2.0

    @classmethod
    def for_hardware(cls, hw) -> ContinuousBatching:
        """vLLM's defaults as it picks them for the accelerator: the large budget on GPUs of
        70 GiB or more except the A100 (constants.CHUNKED_PREFILL_TOKEN_BUDGET)."""
        if hw.memory_bytes >= LARGE_GPU_MEMORY_BYTES and "a100" not in hw.hardware_id.lower():
            return cls()
        return cls(token_budget=SMALL_GPU_CHUNKED_PREFILL_TOKEN_BUDGET, max_num_seqs=SMALL_GPU_MAX_NUM_SEQS)

    @classmethod
    def for_engine(cls, spec: EngineSpec, hw, tensor_parallel_size: int) -> ContinuousBatching:
        """The engine's documented defaults (catalog/data/engines.json) on this accelerator."""
        tier = spec.defaults_for(hw.hardware_id, hw.memory_bytes)
        return cls(
            block_tokens=spec.kv_block_tokens,
            token_budget=tier.token_budget,
            max_num_seqs=tier.max_num_seqs,
            chunked_prefill=spec.chunked_prefill,
            cuda_graph_max_batch=tier.graph_max_batch(tensor_parallel_size),
            full_sequence_reservation=spec.kv_reservation == "full-sequence",
        )

    @classmethod
    def for_scenario(cls, scenario: InferenceScenario) -> ContinuousBatching:
        """The scenario's engine (the catalog's default when it names none) on its accelerator."""
        return cls.for_engine(scenario.serving_engine, scenario.hardware, scenario.accelerator_count)


@dataclass(frozen=True)
class LoadCurve:
    """Per running batch B = 1..bound (arrays indexed B − 1)."""

    batches: np.ndarray
    decode_step: np.ndarray  # seconds of one decode (verification) step, without a prefill chunk
    chunk_tokens: np.ndarray  # prefill tokens one request gets per step
    chunk_seconds: np.ndarray  # seconds the prefill adds to a step that carries some
    chunk_fraction: np.ndarray  # share of steps carrying a chunk
    tpot: np.ndarray  # p50 (mean)
    tpot_p99: np.ndarray
    ttft: np.ndarray  # p50 without a queue
    ttft_p99: np.ndarray
    service: np.ndarray  # seconds a request spends in the running batch
    kv_bound: int  # sequences the paged KV cache holds
    bound: int  # the running batch's bound (KV, max_num_seqs, token budget)
    metrics: object  # serving_metrics at the batches
    power_watts: np.ndarray  # mean accelerator power of a step: the decode step and its share of a prefill chunk


def _kv_bytes_per_token_per_device(scenario: InferenceScenario) -> float:
    """The device's cache per token: the target's (and a draft model's, `draft_memory`)."""
    arch, tp, ep = scenario.arch, scenario.accelerator_count, scenario.expert_parallel_size
    per_token = float(
        kv_cache_bytes_per_token_per_device(arch, 1 if ep > 1 else tp, scenario.kv_cache_bytes_per_element)
    )
    return per_token + draft_memory(scenario.speculation, scenario.hardware, tp, scenario.kv_cache_bytes_per_element)[1]


def kv_bound(scenario: InferenceScenario, engine: ContinuousBatching) -> int:
    """Sequences whose paged KV cache fits (`ContinuousBatching.sequence_tokens` each)."""
    arch, hw, tp, ep = scenario.arch, scenario.hardware, scenario.accelerator_count, scenario.expert_parallel_size
    _, weights, _ = max_batch_size(
        arch,
        hw,
        tp,
        scenario.input_tokens + scenario.output_tokens,
        scenario.kv_cache_bytes_per_element,
        ep,
        scenario.speculation,
    )
    tokens = engine.sequence_tokens(scenario.input_tokens, scenario.output_tokens)
    per_token = _kv_bytes_per_token_per_device(scenario)
    free = hw.memory_bytes * SERVING_MEMORY_FRACTION - weights - RUNTIME_RESERVED_BYTES
    return max(int(free // (per_token * tokens)), 0) * ep


def load_curve(scenario: InferenceScenario, engine: ContinuousBatching | None = None) -> LoadCurve:
    """Step, TTFT and TPOT at every running batch up to the bound (module docstring)."""
    engine = engine or ContinuousBatching.for_scenario(scenario)
    hw, tp = scenario.hardware, scenario.accelerator_count
    prompt, output = scenario.input_tokens, scenario.output_tokens
    kv = kv_bound(scenario, engine)
    spec = scenario.speculation
    per_step = spec.expected_tokens if spec is not None else 1.0  # tokens a sequence gains per step
    query = float(spec.query_tokens) if spec is not None else 1.0  # budget tokens a sequence takes per step
    budget = engine.step_budget(prompt, query)
    budget_bound = int(budget // (query + per_step * prompt / output))
    bound = max(1, min(kv, engine.sequence_cap, budget_bound))
    batches = np.arange(1, bound + 1, dtype=float)
    metrics = scenario_serving_metrics(scenario, batches, cuda_graph_max_batch=engine.cuda_graph_max_batch)
    decode = np.broadcast_to(np.asarray(metrics.time_per_output_token_seconds, dtype=float), batches.shape)
    step = decode * per_step  # one decode (verification) step's seconds
    # One prompt's prefill, spread over its tokens: a chunk of c tokens costs c/P of it (the mean
    # attention context of the prompt's tokens; compute-bound like the whole prefill).
    prefill_work = prompt_prefill_work(scenario, tp)
    prefill_one = float(prefill_work.seconds)
    per_token = prefill_one / prompt
    room = np.maximum(budget - batches * query, 1.0)  # a step's budget left beside the decode tokens
    if engine.chunked_prefill:
        chunk = np.minimum(float(prompt), room)
    else:  # the whole prompt in one step
        chunk = np.full(batches.shape, float(prompt))
    # The other B − 1 sequences are replaced at (B − 1)·E/O requests per step (E tokens per step),
    # each bringing P prefill tokens; a request's own prefill comes before its decode (in its TTFT).
    demand = (batches - 1.0) * per_step * prompt / output
    # A step that carries prefill holds one request's chunk, or, once more than one request
    # finishes a step, every replacement's prompt (the bound keeps B·(E·P/O + query) within the
    # step budget): the prefill a step carries on average is the demand, never less.
    carried = np.maximum(chunk, np.minimum(demand, room))
    chunk_seconds = carried * per_token
    fraction = np.minimum(1.0, demand / carried)
    tpot = decode + fraction * chunk_seconds / per_step
    spread = np.minimum(1.0, fraction + Z_P99 * np.sqrt(fraction * (1.0 - fraction) / max(output - 1, 1)))
    # The request's own step count: O/E steps with variance O·Var(N)/E³ (renewal); 0 without speculation.
    steps = output / per_step
    step_spread = Z_P99 * math.sqrt(output * spec.tokens_variance / per_step**3) / steps if spec is not None else 0.0
    tpot_p99 = (decode + spread * chunk_seconds / per_step) * (1.0 + step_spread)
    chunks = np.ceil(prompt / chunk)
    prefill = chunks * (step + chunk_seconds)
    # Arriving while the others' step runs (none with the batch to itself: the engine idles):
    # half a step until the next one starts (p50), or a whole step carrying a chunk (p99).
    others = batches > 1
    in_flight_p99 = step + np.where(fraction >= 0.01, chunk_seconds, 0.0)
    ttft = prefill + np.where(others, 0.5 * (step + fraction * chunk_seconds), 0.0)
    ttft_p99 = prefill + np.where(others, in_flight_p99, 0.0)
    service = ttft + (output - 1) * tpot
    power = step_power_watts(hw, metrics.decode_work, prefill_work, fraction * carried / prompt / per_step)
    return LoadCurve(
        batches,
        step,
        chunk,
        chunk_seconds,
        fraction,
        tpot,
        tpot_p99,
        ttft,
        ttft_p99,
        service,
        kv,
        bound,
        metrics,
        np.broadcast_to(np.asarray(power, dtype=float), batches.shape),
    )


def step_power_watts(
    hw, decode_work: dict[str, BoundSeconds], prefill_work: BoundSeconds, prompts_per_token: np.ndarray
) -> np.ndarray:
    """Mean accelerator power of the running batch's steps, per output token: the decode step's
    seconds plus the prefill chunks' (`prompts_per_token` prompts' prefill per output token: the
    chunk-carrying share of steps × the chunk's share of a prompt ÷ tokens per step), each second
    at the power of the unit bounding it (accelerator_power.py). The chunks are compute-bound
    prefill, so power rises with the running batch as they take a larger share of the step."""
    step = total_seconds(decode_work) + prefill_work.scaled(prompts_per_token)
    return hw.serving_power_watts(step)


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits in M/M/c (Erlang B recursion, then C; stable for large c)."""
    b = 1.0
    for k in range(1, servers + 1):
        b = offered * b / (k + offered * b)
    return servers * b / (servers - offered * (1.0 - b))


def open_loop_wait(servers: int, service_seconds: float, rate: float) -> tuple[float, float]:
    """(p50, p99) queueing delay of M/D/c by Allen–Cunneen: M/M/c's wait distribution
    P(W > t) = P_wait·exp(−(cμ − λ)t), times (1 + Cs²)/2 = 1/2 for deterministic service."""
    offered = rate * service_seconds
    p_wait = erlang_c(servers, offered)
    drain = servers / service_seconds - rate

    def quantile(q: float) -> float:
        tail = 1.0 - q
        return 0.5 * max(0.0, math.log(p_wait / tail)) / drain if p_wait > tail else 0.0

    return quantile(0.5), quantile(0.99)


def estimate_continuous(scenario: InferenceScenario, engine: ContinuousBatching | None = None) -> InferenceEstimate:
    """Serving at `scenario.concurrency` clients or `scenario.request_rate_per_second` arrivals.
    Raises OverloadedError when the rate reaches the replica's capacity."""
    check_expert_parallel_size(scenario.arch, scenario.accelerator_count, scenario.expert_parallel_size)
    engine = engine or ContinuousBatching.for_scenario(scenario)
    curve = load_curve(scenario, engine)
    output = scenario.output_tokens
    capacity = curve.bound / float(curve.service[-1])  # requests/s at the full running batch
    if scenario.concurrency > 0:
        running = float(min(scenario.concurrency, curve.bound))
        index = int(running) - 1
        if scenario.concurrency > curve.bound:
            wait = scenario.concurrency / capacity - float(curve.service[-1])  # Little's law
            rate = capacity
        else:
            wait = 0.0
            rate = running / float(curve.service[index])
        wait_p99 = wait
    else:
        rate = scenario.request_rate_per_second
        if rate >= capacity:
            raise OverloadedError(rate, capacity)
        # The Little's law fixed point: the smallest batch that holds the requests in service.
        index = int(np.argmax(curve.batches >= rate * curve.service))
        running = rate * float(curve.service[index])
        wait, wait_p99 = open_loop_wait(curve.bound, float(curve.service[index]), rate)
    metrics = curve.metrics
    breakdown = {
        name: float(np.broadcast_to(value, curve.batches.shape)[index])
        for name, value in metrics.decode_breakdown.items()
    }
    breakdown["prefill_chunks"] = float(curve.chunk_fraction[index] * curve.chunk_seconds[index])
    power = float(curve.power_watts[index])
    service = float(curve.service[index])
    tokens_per_second = rate * output
    cost = run_cost(scenario.accelerator_count, service, power, scenario.facility)
    tokens = tokens_per_second * service
    arch, tp, ep = scenario.arch, scenario.accelerator_count, scenario.expert_parallel_size
    _, weights, _ = max_batch_size(
        arch,
        scenario.hardware,
        tp,
        scenario.input_tokens + output,
        scenario.kv_cache_bytes_per_element,
        ep,
        scenario.speculation,
    )
    per_token = _kv_bytes_per_token_per_device(scenario)
    kv_bytes = per_token * engine.sequence_tokens(scenario.input_tokens, output) * math.ceil(running / ep)
    return InferenceEstimate(
        scenario=scenario,
        # The running batch whose step the TPOT, power and breakdown describe (the mean `running`
        # rounded was 0 at a light load: a served request "in a batch of 0 sequences").
        batch_size=int(curve.batches[index]),
        max_batch_size=curve.kv_bound,
        fits_in_memory=curve.kv_bound >= 1,
        time_to_first_token_seconds=float(curve.ttft[index]) + wait,
        time_per_output_token_seconds=float(curve.tpot[index]),
        output_tokens_per_second=tokens_per_second,
        requests_per_second=rate,
        weight_bytes_per_accelerator=weights,
        kv_cache_bytes_per_accelerator=kv_bytes,
        memory_per_accelerator_bytes=weights + kv_bytes + RUNTIME_RESERVED_BYTES,
        kv_cache_bytes_per_token=float(kv_cache_bytes_per_token(arch, scenario.kv_cache_bytes_per_element)),
        decode_breakdown=breakdown,
        accelerator_power_watts=power,
        energy_per_output_token_joules=float(cost.facility_energy_joules) / tokens,
        cost_per_million_output_tokens_usd=float(cost.cost_usd) / tokens * 1e6,
        cost=RunCost(**{name: float(getattr(cost, name)) for name in RunCost.__dataclass_fields__}),
        serving_model="continuous",
        running_batch_size=running,
        queueing_delay_seconds=wait,
        time_to_first_token_p99_seconds=float(curve.ttft_p99[index]) + wait_p99,
        time_per_output_token_p99_seconds=float(curve.tpot_p99[index]),
        max_running_batch_size=curve.bound,
    )


class SloUnreachable(ValueError):
    """No layout meets the SLO; carries the best p99 TTFT and TPOT any layout reaches (batch 1)."""

    def __init__(self, best_ttft_seconds: float, best_tpot_seconds: float):
        if math.isfinite(best_ttft_seconds) and math.isfinite(best_tpot_seconds):
            message = (
                f"no deployment meets the SLO: the best reachable p99 are time_to_first_token "
                f"{best_ttft_seconds:.4g} s and time_per_output_token {best_tpot_seconds:.4g} s (each at batch 1)"
            )
        else:
            message = (
                "no deployment meets the SLO: no tensor-parallel group up to accelerator_count holds the weights and "
                "one request's KV cache"
            )
        super().__init__(message)
        self.best_ttft_seconds = best_ttft_seconds
        self.best_tpot_seconds = best_tpot_seconds


@dataclass(frozen=True)
class SloPlan:
    """The layout that meets the SLO with the most output tokens/s per accelerator. Disaggregated
    (`disaggregated` set): tensor_parallel_size, max_running_batch and replicas are the decode
    pool's, and the prefill pool is in `disaggregated`."""

    tensor_parallel_size: int
    max_running_batch: int  # per replica: the largest running batch whose p99s meet the SLO
    replicas: int  # to carry the scenario's load at that batch (1 without a load)
    output_tokens_per_second_per_accelerator: float
    scenario: InferenceScenario  # one replica at its share of the load (concurrency = its batch without one)
    disaggregated: object = None  # disaggregation.DisaggregatedPlan, or None: prefill and decode colocated

    @property
    def accelerator_count(self) -> int:
        if self.disaggregated is not None:
            return self.disaggregated.accelerator_count
        return self.tensor_parallel_size * self.replicas


# plan_for_slo's `disaggregation`: colocated only (the default), the better of both, or
# disaggregated only.
DISAGGREGATION_MODES = ("colocated", "allowed", "required")


def plan_for_slo(
    scenario: InferenceScenario,
    ttft_seconds: float,
    tpot_seconds: float,
    engine: ContinuousBatching | None = None,
    disaggregation: str = "colocated",
) -> SloPlan:
    """Choose the tensor-parallel group (powers of two up to `scenario.accelerator_count`) and the
    running batch (max_num_seqs, the engine's knob) maximising output tokens/s per accelerator with
    p99 TTFT ≤ `ttft_seconds` and p99 TPOT ≤ `tpot_seconds` (0: unconstrained) without a queue,
    then the replicas that carry the scenario's concurrency or rate at that batch. Why p99 and no
    queue: an SLO is a tail promise, and a queue's wait grows without bound past the batch, so
    the planner sizes replicas to keep requests out of it. `disaggregation` "allowed" also weighs
    separate prefill and decode pools (`disaggregation.plan_disaggregated`) and keeps the better;
    "required" plans only those. Raises SloUnreachable otherwise."""
    if disaggregation not in DISAGGREGATION_MODES:
        raise ValueError(f"disaggregation must be one of {DISAGGREGATION_MODES}, not {disaggregation!r}")
    engine = engine or ContinuousBatching.for_scenario(scenario)
    best: SloPlan | None = None
    best_ttft = best_tpot = math.inf
    tp = 1
    while tp <= scenario.accelerator_count and disaggregation != "required":
        candidate = dataclasses.replace(
            scenario,
            accelerator_count=tp,
            expert_parallel_size=1,
            batch_size=0,
            concurrency=1,
            request_rate_per_second=0.0,
        )
        tp *= 2
        try:
            if kv_bound(candidate, engine) < 1:
                continue
            curve = load_curve(candidate, engine)
        except ValueError:
            continue
        best_ttft = min(best_ttft, float(curve.ttft_p99[0]))
        best_tpot = min(best_tpot, float(curve.tpot_p99[0]))
        ok = np.ones(curve.batches.shape, dtype=bool)
        if ttft_seconds > 0:
            ok &= curve.ttft_p99 <= ttft_seconds
        if tpot_seconds > 0:
            ok &= curve.tpot_p99 <= tpot_seconds
        if not ok.any():
            continue
        per_accelerator = (
            np.where(ok, curve.batches / curve.service * candidate.output_tokens, 0.0) / candidate.accelerator_count
        )
        index = int(np.argmax(per_accelerator))
        batch = int(curve.batches[index])
        if best is not None and per_accelerator[index] <= best.output_tokens_per_second_per_accelerator:
            continue
        rate_per_replica = batch / float(curve.service[index])
        if scenario.concurrency > 0:
            replicas = math.ceil(scenario.concurrency / batch)
            share = dataclasses.replace(candidate, concurrency=math.ceil(scenario.concurrency / replicas))
        elif scenario.request_rate_per_second > 0:
            replicas = math.ceil(scenario.request_rate_per_second / rate_per_replica)
            share = dataclasses.replace(
                candidate, concurrency=0, request_rate_per_second=scenario.request_rate_per_second / replicas
            )
        else:
            replicas = 1
            share = dataclasses.replace(candidate, concurrency=batch)
        best = SloPlan(candidate.accelerator_count, batch, replicas, float(per_accelerator[index]), share)
    if disaggregation != "colocated":
        from flopwatt.estimate.disaggregation import plan_disaggregated

        split, split_ttft, split_tpot = plan_disaggregated(scenario, ttft_seconds, tpot_seconds, engine)
        best_ttft, best_tpot = min(best_ttft, split_ttft), min(best_tpot, split_tpot)
        if split is not None and (
            best is None
            or split.output_tokens_per_second_per_accelerator > best.output_tokens_per_second_per_accelerator
        ):
            best = SloPlan(
                split.decode_tensor_parallel_size,
                split.decode_running_batch,
                split.decode_instances,
                split.output_tokens_per_second_per_accelerator,
                split.decode_scenario,
                disaggregated=split,
            )
    if best is None:
        raise SloUnreachable(best_ttft, best_tpot)
    return best
