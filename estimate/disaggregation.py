"""Prefill/decode disaggregation: separate prefill and decode pools (DistServe, Zhong et al.,
OSDI 2024, arXiv 2401.09670; Splitwise, Patel et al., ISCA 2024, arXiv 2311.18677; as vLLM's
and SGLang's disaggregated serving and NVIDIA Dynamo run it).

The model, for one deployment of a prefill pool and a decode pool:

- Prefill instance (tp_p accelerators): one prompt per forward pass, T_p = the prompt's prefill
  (`inference._prefill_seconds`, compute-bound; a draft model's prefill added). The pool is an
  M/D/c queue of c = prefill instances at the arrival rate λ, its wait by Allen–Cunneen
  (`continuous.open_loop_wait`): TTFT = prefill queue + T_p + KV transfer.
- KV transfer: the prompt's cache (the replica's unique bytes, `kv_cache_bytes_per_token` × P;
  a draft model's too) moves from the prefill ranks to the decode ranks in min(tp_p, tp_d)
  parallel streams, each over one accelerator's link: the scale-up tier (NVLink) when both
  instances fit in one node / NVLink domain (tp_p + tp_d ≤ accelerators_per_node), else the
  scale-out NIC (`HardwareModel.point_to_point_seconds`: bytes ÷ bandwidth + that tier's latency).
- Decode instance (tp_d accelerators): the decode roofline at its running batch B
  (`serving_metrics`), with no prefill chunk in any step: TPOT p50 = p99 (but for speculation's
  step-count spread). Its running batch is bounded by the paged KV cache, max_num_seqs and the
  step budget (B·(k + 1) verified tokens); a request stays (O − 1)·TPOT (its first token came
  from the prefill pool), so a decode instance serves B / ((O − 1)·TPOT) requests/s.
- Pools sized for the load: decode instances ⌈C / B⌉ (closed loop of C clients) or ⌈λ / its
  rate⌉ (open loop), one without a load (the prefill pool then sized for that instance's rate);
  prefill instances: the fewest that keep the queue stable (ρ < 1) and the p99 TTFT within the
  SLO. Output tokens/s per accelerator counts both pools.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import numpy as np

from flopwatt.estimate.accelerator_power import BoundSeconds
from flopwatt.estimate.constants import (
    INTRA_NODE_COLLECTIVE_LATENCY_SECONDS,
    RUNTIME_RESERVED_BYTES,
    SCALE_OUT_COLLECTIVE_LATENCY_SECONDS,
    Z_P99,
)
from flopwatt.estimate.continuous import erlang_c, kv_bound
from flopwatt.estimate.inference import (
    InferenceEstimate,
    InferenceScenario,
    max_batch_size,
    prompt_prefill_work,
    scenario_serving_metrics,
)
from flopwatt.estimate.memory import kv_cache_bytes_per_token
from flopwatt.estimate.run_cost import RunCost, run_cost

# Prefill instances tried above the fewest that keep the queue stable, looking for the fewest
# that meet the TTFT target: max(64, 10·√(fewest)) (square-root staffing: past a few √ the
# M/D/c wait is already near zero).
MIN_EXTRA_PREFILL_INSTANCES = 64
# Above this many servers the Erlang B recursion runs as one NumPy product (same value).
ERLANG_RECURSION_MAX_SERVERS = 2000


@dataclass(frozen=True)
class KvTransfer:
    """One prompt's KV cache moving from a prefill instance to a decode instance."""

    total_bytes: float  # the prompt's unique cache (all layers, the whole replica)
    streams: int  # parallel rank-to-rank streams, min(tp_p, tp_d)
    bytes_per_stream: float
    tier: str  # "scale_up" (NVLink domain) or "scale_out" (NIC)
    bandwidth_bytes_per_second: float  # one stream's link
    latency_seconds: float
    seconds: float  # bytes_per_stream ÷ bandwidth + latency


def kv_transfer(scenario: InferenceScenario, prefill_tp: int, decode_tp: int) -> KvTransfer:
    """The transfer of one prompt's KV cache (module docstring)."""
    hw = scenario.hardware
    per_token = float(kv_cache_bytes_per_token(scenario.arch, scenario.kv_cache_bytes_per_element))
    spec = scenario.speculation
    if spec is not None and spec.draft_arch is not None:
        per_token += float(kv_cache_bytes_per_token(spec.draft_arch, scenario.kv_cache_bytes_per_element))
    total = per_token * scenario.input_tokens
    streams = min(prefill_tp, decode_tp)
    crosses = prefill_tp + decode_tp > hw.accelerators_per_node
    per_stream = total / streams
    return KvTransfer(
        total_bytes=total,
        streams=streams,
        bytes_per_stream=per_stream,
        tier="scale_out" if crosses else "scale_up",
        bandwidth_bytes_per_second=hw.scale_out_bandwidth_bytes_per_second
        if crosses
        else hw.intra_node_bus_bandwidth_bytes_per_second,
        latency_seconds=SCALE_OUT_COLLECTIVE_LATENCY_SECONDS if crosses else INTRA_NODE_COLLECTIVE_LATENCY_SECONDS,
        seconds=float(hw.point_to_point_seconds(per_stream, crosses)),
    )


def prefill_instance_seconds(scenario: InferenceScenario, prefill_tp: int) -> float:
    """One prompt's prefill on a prefill instance of `prefill_tp` accelerators (and the draft's)."""
    return float(prefill_instance_work(scenario, prefill_tp).seconds)


def prefill_instance_work(scenario: InferenceScenario, prefill_tp: int) -> BoundSeconds:
    """`prefill_instance_seconds` by the unit bounding each second (accelerator_power.py)."""
    return prompt_prefill_work(scenario, prefill_tp)


def prefill_fits(scenario: InferenceScenario, prefill_tp: int) -> bool:
    """Whether a prefill instance holds the weights (a draft's too) and one prompt's KV cache."""
    fits, _, _ = max_batch_size(
        scenario.arch,
        scenario.hardware,
        prefill_tp,
        scenario.input_tokens,
        scenario.kv_cache_bytes_per_element,
        1,
        scenario.speculation,
    )
    return fits >= 1


@dataclass(frozen=True)
class DecodePool:
    """A decode instance's curve at running batches 1..bound (no prefill chunks)."""

    batches: np.ndarray
    tpot: np.ndarray
    tpot_p99: np.ndarray
    service: np.ndarray  # seconds a request spends in the decode instance, (O − 1)·TPOT
    kv_bound: int
    bound: int
    metrics: object


def decode_pool(scenario: InferenceScenario, engine) -> DecodePool:
    """The decode instance of `scenario.accelerator_count` accelerators at every running batch."""
    spec = scenario.speculation
    query = spec.query_tokens if spec is not None else 1
    kv = kv_bound(scenario, engine)
    bound = max(1, min(kv, engine.sequence_cap, engine.token_budget // query))
    batches = np.arange(1, bound + 1, dtype=float)
    metrics = scenario_serving_metrics(
        scenario, batches, expert_parallel_size=1, cuda_graph_max_batch=engine.cuda_graph_max_batch
    )
    tpot = np.broadcast_to(np.asarray(metrics.time_per_output_token_seconds, dtype=float), batches.shape)
    output = scenario.output_tokens
    if spec is not None:
        steps = output / spec.expected_tokens
        tpot_p99 = tpot * (1.0 + Z_P99 * math.sqrt(output * spec.tokens_variance / spec.expected_tokens**3) / steps)
    else:
        tpot_p99 = tpot
    service = max(output - 1, 1) * tpot
    return DecodePool(batches, tpot, tpot_p99, service, kv, bound, metrics)


@dataclass(frozen=True)
class DisaggregatedPlan:
    """A prefill pool and a decode pool meeting the SLO, and how they answer."""

    prefill_tensor_parallel_size: int
    prefill_instances: int
    decode_tensor_parallel_size: int
    decode_instances: int
    decode_running_batch: int  # the decode instance's max running batch (max_num_seqs)
    request_rate: float  # λ, requests/s over the deployment
    prefill_seconds: float  # T_p
    prefill_wait_p50_seconds: float
    prefill_wait_p99_seconds: float
    transfer: KvTransfer
    ttft_seconds: float
    ttft_p99_seconds: float
    tpot_seconds: float
    tpot_p99_seconds: float
    decode_scenario: InferenceScenario  # one decode instance
    decode: DecodePool
    batch_index: int

    @property
    def accelerator_count(self) -> int:
        return (
            self.prefill_instances * self.prefill_tensor_parallel_size
            + self.decode_instances * self.decode_tensor_parallel_size
        )

    @property
    def output_tokens_per_second_per_accelerator(self) -> float:
        return self.request_rate * self.decode_scenario.output_tokens / self.accelerator_count


def _erlang_c(servers: int, offered: float) -> float:
    """continuous.erlang_c; for many servers 1/B = Σ_j Π_{i<j} (c − i)/a as one NumPy product
    (terms past the float range mean B = 0, its limit)."""
    if servers <= ERLANG_RECURSION_MAX_SERVERS:
        return erlang_c(servers, offered)
    with np.errstate(over="ignore", invalid="ignore"):
        terms = np.cumprod((servers - np.arange(servers, dtype=float)) / offered)
        inverse = 1.0 + float(np.sum(terms))
    b = 0.0 if not math.isfinite(inverse) else 1.0 / inverse
    return servers * b / (servers - offered * (1.0 - b))


def _wait(servers: int, service_seconds: float, rate: float) -> tuple[float, float]:
    """(p50, p99) wait of M/D/c: continuous.open_loop_wait with `_erlang_c`."""
    p_wait = _erlang_c(servers, rate * service_seconds)
    drain = servers / service_seconds - rate

    def quantile(q: float) -> float:
        tail = 1.0 - q
        return 0.5 * max(0.0, math.log(p_wait / tail)) / drain if p_wait > tail else 0.0

    return quantile(0.5), quantile(0.99)


@functools.lru_cache(maxsize=4096)
def _prefill_pool(rate: float, prefill: float, transfer: float, ttft_seconds: float) -> tuple[int, float, float] | None:
    """(instances, wait p50, wait p99): the fewest prefill instances with ρ < 1 and p99 TTFT ≤ the
    target (0: unconstrained), by bisection (the wait falls with every instance added); None
    when no count meets it."""
    if ttft_seconds > 0 and prefill + transfer > ttft_seconds:
        return None
    fewest = math.floor(rate * prefill) + 1

    def meets(instances: int) -> bool:
        return ttft_seconds <= 0 or _wait(instances, prefill, rate)[1] + prefill + transfer <= ttft_seconds

    low, high = fewest, fewest + max(MIN_EXTRA_PREFILL_INSTANCES, math.ceil(10.0 * math.sqrt(fewest)))
    if not meets(high):
        return None
    while low < high:
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle + 1
    return (low, *_wait(low, prefill, rate))


def _candidate_batches(feasible: np.ndarray) -> list[int]:
    """Indices tried for a decode instance: the largest feasible batch and the powers of two
    below it (the pools' whole-instance counts make the best one not always the largest)."""
    indices = np.flatnonzero(feasible)
    if indices.size == 0:
        return []
    largest = int(indices[-1])
    tried = {largest}
    power = 1
    while power - 1 < largest:
        if feasible[power - 1]:
            tried.add(power - 1)
        power *= 2
    return sorted(tried)


def plan_disaggregated(
    scenario: InferenceScenario, ttft_seconds: float, tpot_seconds: float, engine
) -> tuple[DisaggregatedPlan | None, float, float]:
    """The disaggregated deployment with the most output tokens/s per accelerator meeting the p99
    targets (0: unconstrained): prefill and decode tensor-parallel sizes each a power of two up to
    `scenario.accelerator_count`. Returns (plan or None, best p99 TTFT, best p99 TPOT reached)."""
    best: DisaggregatedPlan | None = None
    best_ttft = best_tpot = math.inf
    sizes = []
    tp = 1
    while tp <= scenario.accelerator_count:
        sizes.append(tp)
        tp *= 2
    for decode_tp in sizes:
        decode_scenario = dataclasses.replace(
            scenario,
            accelerator_count=decode_tp,
            expert_parallel_size=1,
            batch_size=0,
            concurrency=0,
            request_rate_per_second=0.0,
        )
        if scenario.arch.attention_head_count % decode_tp:
            continue
        if kv_bound(decode_scenario, engine) < 1:
            continue
        pool = decode_pool(decode_scenario, engine)
        best_tpot = min(best_tpot, float(pool.tpot_p99[0]))
        feasible = pool.tpot_p99 <= tpot_seconds if tpot_seconds > 0 else np.ones(pool.batches.shape, dtype=bool)
        for prefill_tp in sizes:
            if scenario.arch.attention_head_count % prefill_tp or not prefill_fits(scenario, prefill_tp):
                continue
            prefill = prefill_instance_seconds(scenario, prefill_tp)
            transfer = kv_transfer(scenario, prefill_tp, decode_tp)
            best_ttft = min(best_ttft, prefill + transfer.seconds)
            for index in _candidate_batches(feasible):
                batch = int(pool.batches[index])
                per_instance_rate = batch / float(pool.service[index])
                if scenario.concurrency > 0:
                    instances = math.ceil(scenario.concurrency / batch)
                    rate = scenario.concurrency / (prefill + transfer.seconds + float(pool.service[index]))
                elif scenario.request_rate_per_second > 0:
                    rate = scenario.request_rate_per_second
                    instances = math.ceil(rate / per_instance_rate)
                else:
                    instances, rate = 1, per_instance_rate
                sized = _prefill_pool(rate, prefill, transfer.seconds, ttft_seconds)
                if sized is None:
                    continue
                prefill_instances, wait, wait_p99 = sized
                candidate = DisaggregatedPlan(
                    prefill_tensor_parallel_size=prefill_tp,
                    prefill_instances=prefill_instances,
                    decode_tensor_parallel_size=decode_tp,
                    decode_instances=instances,
                    decode_running_batch=batch,
                    request_rate=rate,
                    prefill_seconds=prefill,
                    prefill_wait_p50_seconds=wait,
                    prefill_wait_p99_seconds=wait_p99,
                    transfer=transfer,
                    ttft_seconds=wait + prefill + transfer.seconds,
                    ttft_p99_seconds=wait_p99 + prefill + transfer.seconds,
                    tpot_seconds=float(pool.tpot[index]),
                    tpot_p99_seconds=float(pool.tpot_p99[index]),
                    decode_scenario=decode_scenario,
                    decode=pool,
                    batch_index=index,
                )
                if (
                    best is None
                    or candidate.output_tokens_per_second_per_accelerator
                    > best.output_tokens_per_second_per_accelerator
                ):
                    best = candidate
    return best, best_ttft, best_tpot


def disaggregated_estimate(plan: DisaggregatedPlan) -> InferenceEstimate:
    """The whole deployment (both pools) as an InferenceEstimate: tokens/s, energy and cost over
    all its accelerators; memory and breakdown of a decode instance."""
    scenario = plan.decode_scenario
    hw, facility, index = scenario.hardware, scenario.facility, plan.batch_index
    metrics = plan.decode.metrics
    shape = plan.decode.batches.shape
    decode_power = float(np.broadcast_to(metrics.decode_power_watts, shape)[index])  # no prefill in its steps
    # Prefill instances run prompts the share ρ = λ·T_p / instances of the time and idle the rest.
    utilisation = plan.request_rate * plan.prefill_seconds / plan.prefill_instances
    prefill_work = prefill_instance_work(scenario, plan.prefill_tensor_parallel_size)
    prefill_power = float(hw.serving_power_levels().busy_for(prefill_work, utilisation))
    decode_count = plan.decode_instances * plan.decode_tensor_parallel_size
    prefill_count = plan.prefill_instances * plan.prefill_tensor_parallel_size
    decode_cost = run_cost(decode_count, 1.0, decode_power, facility)
    prefill_cost = run_cost(prefill_count, 1.0, prefill_power, facility)
    cost = RunCost(
        **{
            name: float(getattr(decode_cost, name)) + float(getattr(prefill_cost, name))
            for name in RunCost.__dataclass_fields__
        }
    )
    tokens_per_second = plan.request_rate * scenario.output_tokens
    breakdown = {name: float(np.broadcast_to(value, shape)[index]) for name, value in metrics.decode_breakdown.items()}
    running = plan.request_rate / plan.decode_instances * float(plan.decode.service[index])
    _, weights, per_sequence = max_batch_size(
        scenario.arch,
        hw,
        scenario.accelerator_count,
        scenario.input_tokens + scenario.output_tokens,
        scenario.kv_cache_bytes_per_element,
        1,
        scenario.speculation,
    )
    in_memory = math.ceil(running)  # sequences whose KV cache an instance holds (running > 0: a rate is served)
    kv_bytes = per_sequence * in_memory
    return InferenceEstimate(
        scenario=scenario,
        batch_size=in_memory,  # the mean rounded was 0 at a light load: requests served "in a batch of 0"
        max_batch_size=plan.decode.kv_bound,
        fits_in_memory=True,
        time_to_first_token_seconds=plan.ttft_seconds,
        time_per_output_token_seconds=plan.tpot_seconds,
        output_tokens_per_second=tokens_per_second,
        requests_per_second=plan.request_rate,
        weight_bytes_per_accelerator=weights,
        kv_cache_bytes_per_accelerator=kv_bytes,
        memory_per_accelerator_bytes=weights + kv_bytes + RUNTIME_RESERVED_BYTES,
        kv_cache_bytes_per_token=float(kv_cache_bytes_per_token(scenario.arch, scenario.kv_cache_bytes_per_element)),
        decode_breakdown=breakdown,
        accelerator_power_watts=(decode_power * decode_count + prefill_power * prefill_count) / plan.accelerator_count,
        energy_per_output_token_joules=cost.facility_energy_joules / tokens_per_second,
        cost_per_million_output_tokens_usd=cost.cost_usd / tokens_per_second * 1e6,
        cost=cost,
        serving_model="disaggregated",
        running_batch_size=running,
        queueing_delay_seconds=plan.prefill_wait_p50_seconds,
        time_to_first_token_p99_seconds=plan.ttft_p99_seconds,
        time_per_output_token_p99_seconds=plan.tpot_p99_seconds,
        max_running_batch_size=plan.decode.bound,
        deployment_accelerators=plan.accelerator_count,
    )
