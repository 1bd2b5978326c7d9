"""EstimateInference: validate, convert, estimate serving, explain."""

from __future__ import annotations

from flopwatt.estimate import constants as C
from flopwatt.estimate import uncertainty
from flopwatt.estimate.assumptions import Assumption
from flopwatt.estimate.catalog import engine_ids
from flopwatt.estimate.continuous import ContinuousBatching, OverloadedError, SloPlan, SloUnreachable, plan_for_slo
from flopwatt.estimate.disaggregation import DisaggregatedPlan, disaggregated_estimate
from flopwatt.estimate.inference import InferenceEstimate, InferenceScenario, estimate_serving
from flopwatt.estimate.scenarios import InferenceWorkload, SpeculationChoice, build_inference_scenario
from flopwatt.service.api import convert
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.finite import ensure_finite, int32, int64
from flopwatt.service.api.request_bounds import (
    MAX_ACCELERATOR_COUNT,
    MAX_CAMPUS_ACCELERATORS,
    MAX_SEQUENCE_LENGTH,
    Violations,
    check_facility,
    check_model_spec,
    check_slo,
    check_speculative_decoding,
    check_uncertainty,
    duration_seconds,
)
from flopwatt.service.errors import FailedPrecondition, InvalidArgument, domain_errors, echo
from flopwatt.v1 import estimator_pb2

MAX_INFERENCE_BATCH = 1_000_000
MAX_REPLICA_ACCELERATORS = 4096
MAX_CONCURRENCY = 100_000  # clients of one replica: far past any running-batch bound
MAX_REQUEST_RATE_PER_SECOND = 1e6
# Disaggregation enum → plan_for_slo's mode (unspecified: colocated, as before the option).
DISAGGREGATION_MODES = {
    estimator_pb2.DISAGGREGATION_UNSPECIFIED: "colocated",
    estimator_pb2.DISAGGREGATION_COLOCATED: "colocated",
    estimator_pb2.DISAGGREGATION_ALLOWED: "allowed",
    estimator_pb2.DISAGGREGATION_REQUIRED: "required",
}


def _validate(request: estimator_pb2.EstimateInferenceRequest) -> None:
    v = Violations()
    check_model_spec(request.model, "model", v)
    if not request.hardware_id:
        v.add("hardware_id", "required (see ListHardware)")
    v.integer(
        "accelerator_count",
        request.accelerator_count,
        maximum=min(MAX_ACCELERATOR_COUNT, MAX_REPLICA_ACCELERATORS),
        required=True,
    )
    v.integer("batch_size", request.batch_size, maximum=MAX_INFERENCE_BATCH)
    v.integer("input_tokens", request.input_tokens, maximum=MAX_SEQUENCE_LENGTH, required=True)
    v.integer("output_tokens", request.output_tokens, maximum=MAX_SEQUENCE_LENGTH, required=True)
    v.integer("expert_parallel_size", request.expert_parallel_size, maximum=MAX_REPLICA_ACCELERATORS)
    v.integer("concurrency", request.concurrency, maximum=MAX_CONCURRENCY)
    rate = request.request_rate_per_second
    if rate:
        v.real(
            "request_rate_per_second", rate, minimum=0.0, maximum=MAX_REQUEST_RATE_PER_SECOND, exclusive_minimum=True
        )
    if request.concurrency and rate:
        v.add("request_rate_per_second", "exclusive with concurrency: a closed loop or an open loop, not both")
    if request.batch_size and (request.concurrency or rate):
        v.add(
            "concurrency" if request.concurrency else "request_rate_per_second",
            "exclusive with batch_size: a fixed static batch, or continuous batching at a load",
        )
    if (request.concurrency or rate or request.HasField("slo")) and request.uncertainty.samples > 0:
        v.add("uncertainty.samples", "intervals are not modelled for continuous batching yet: 0 with a load")
    if request.HasField("slo"):
        _check_slo(request, v)
    if request.disaggregation not in DISAGGREGATION_MODES:
        v.add("disaggregation", f"unknown value {request.disaggregation}: COLOCATED, ALLOWED or REQUIRED")
    elif request.disaggregation and not request.HasField("slo"):
        v.add("disaggregation", "needs slo: the SLO planner chooses the pools")
    if request.HasField("speculative_decoding"):
        check_speculative_decoding(request.speculative_decoding, "speculative_decoding", v)
    if request.engine and request.engine not in engine_ids():
        v.add("engine", f"unknown engine {echo(request.engine)}; one of {', '.join(engine_ids())} (empty: the default)")
    check_facility(request.facility, "facility", v)
    check_uncertainty(request.uncertainty, "uncertainty", v)
    v.raise_if_any()


def _check_slo(request: estimator_pb2.EstimateInferenceRequest, v: Violations) -> None:
    check_slo(request.slo, "slo", v)
    if request.batch_size:
        v.add("batch_size", "exclusive with slo: the plan chooses the batch")
    if request.expert_parallel_size > 1:
        v.add("expert_parallel_size", "exclusive with slo: the plan considers tensor-parallel groups")


def estimate_for_slo(
    request: estimator_pb2.EstimateInferenceRequest, deps: ApiDependencies
) -> estimator_pb2.EstimateInferenceResponse:
    """The SLO planner (`continuous.plan_for_slo`): the chosen layout, and one replica at its
    share of the load."""
    scenario, assumptions = build_scenario(request, deps)
    ttft, tpot = duration_seconds(request.slo.time_to_first_token), duration_seconds(request.slo.time_per_output_token)
    mode = DISAGGREGATION_MODES[request.disaggregation]
    try:
        plan = plan_for_slo(scenario, ttft, tpot, disaggregation=mode)
        split = plan.disaggregated
        estimate = disaggregated_estimate(split) if split is not None else estimate_serving(plan.scenario)
    except SloUnreachable as error:
        raise FailedPrecondition(str(error), reason="SLO_UNREACHABLE") from None
    except OverloadedError as error:  # cannot happen: replicas are sized below capacity
        raise FailedPrecondition(str(error)) from None
    _check_fleet(request, plan)
    considered = {
        "colocated": "prefill and decode colocated (disaggregation not requested)",
        "allowed": "colocated replicas and separate prefill/decode pools weighed, the better kept",
        "required": "separate prefill and decode pools only (disaggregation REQUIRED)",
    }[mode]
    layout = (
        f"decode TP {plan.tensor_parallel_size} × {plan.replicas}, max running batch {plan.max_running_batch}; "
        f"prefill TP {split.prefill_tensor_parallel_size} × {split.prefill_instances}"
        if split is not None
        else f"TP {plan.tensor_parallel_size} × {plan.replicas} replicas, max running batch {plan.max_running_batch}"
    )
    planned = Assumption(
        "slo_plan",
        layout,
        "derived",
        f"most output tokens/s per accelerator with p99 TTFT ≤ {ttft:g} s and TPOT ≤ {tpot:g} s (0: unconstrained), "
        f"tensor-parallel groups of powers of two up to accelerator_count, replicas keeping requests out of the queue; "
        f"{considered}",
    )
    extra = disaggregated_assumptions(split) if split is not None else continuous_assumptions(request, estimate)
    response = to_response(estimate, assumptions + extra + [planned])
    response.slo_plan.tensor_parallel_size = plan.tensor_parallel_size
    response.slo_plan.max_running_batch_size = plan.max_running_batch
    response.slo_plan.replicas = plan.replicas
    response.slo_plan.accelerator_count = plan.accelerator_count
    if split is not None:
        response.slo_plan.disaggregated = True
        response.slo_plan.prefill_tensor_parallel_size = split.prefill_tensor_parallel_size
        response.slo_plan.prefill_replicas = split.prefill_instances
        response.slo_plan.kv_transfer_time.CopyFrom(convert.duration(split.transfer.seconds))
        response.slo_plan.kv_transfer_tier = split.transfer.tier
        response.slo_plan.kv_transfer_bytes = int64(split.transfer.total_bytes, "slo_plan.kv_transfer_bytes")
    if ttft > 0:
        response.slo_plan.time_to_first_token_margin.CopyFrom(convert.duration(ttft - estimate.ttft_p99))
    if tpot > 0:
        response.slo_plan.time_per_output_token_margin.CopyFrom(convert.duration(tpot - estimate.tpot_p99))
    return ensure_finite(response, "EstimateInference")


def disaggregated_assumptions(split: DisaggregatedPlan) -> list[Assumption]:
    """How a disaggregated deployment answered: pools, prefill queue, KV transfer."""
    transfer = split.transfer
    return [
        Assumption(
            "serving_model",
            "prefill/decode disaggregation",
            "derived",
            "separate prefill and decode pools, the KV cache sent between them (DistServe, Zhong et al., OSDI 2024; "
            "Splitwise, Patel et al., ISCA 2024); outputs are the whole deployment's (both pools)",
        ),
        Assumption(
            "prefill_pool",
            f"{split.prefill_instances} × TP {split.prefill_tensor_parallel_size}, "
            f"{split.prefill_seconds * 1e3:.1f} ms per prompt, utilisation "
            f"{split.request_rate * split.prefill_seconds / split.prefill_instances:.0%}",
            "derived",
            "one prompt per forward pass (compute-bound); M/D/c queue by Allen–Cunneen, the fewest instances keeping "
            "the p99 TTFT within the target",
        ),
        Assumption(
            "decode_pool",
            f"{split.decode_instances} × TP {split.decode_tensor_parallel_size}, running batch ≤ "
            f"{split.decode_running_batch}",
            "derived",
            "decode steps without prefill chunks; paged KV cache, max_num_seqs and the step budget bound the batch",
        ),
        Assumption(
            "kv_transfer",
            f"{transfer.total_bytes / 1e6:.1f} MB per prompt over {transfer.tier} in {transfer.streams} streams at "
            f"{transfer.bandwidth_bytes_per_second / 1e9:.1f} GB/s each + {transfer.latency_seconds * 1e6:.0f} µs: "
            f"{transfer.seconds * 1e3:.2f} ms",
            "derived",
            "scale-up tier when a prefill and a decode instance fit in one node / NVLink domain, else the scale-out NIC "
            "(hardware catalog bandwidths); counted in TTFT",
        ),
        Assumption(
            "time_to_first_token",
            "prefill queue + the prompt's prefill + the KV transfer",
            "derived",
            "the prefill instance returns the first token; the decode pool the rest",
        ),
    ]


def to_response(estimate: InferenceEstimate, assumptions: list[Assumption]) -> estimator_pb2.EstimateInferenceResponse:
    n = estimate.deployment_accelerators or estimate.scenario.accelerator_count
    memory = {
        "weights": estimate.weight_bytes_per_accelerator,
        "kv_cache": estimate.kv_cache_bytes_per_accelerator,
        "runtime_reserved": C.RUNTIME_RESERVED_BYTES,
    }
    response = estimator_pb2.EstimateInferenceResponse(
        time_to_first_token=convert.duration_fields(estimate.time_to_first_token_seconds),
        time_per_output_token=convert.duration_fields(estimate.time_per_output_token_seconds),
        time_to_first_token_p99=convert.duration_fields(estimate.ttft_p99),
        time_per_output_token_p99=convert.duration_fields(estimate.tpot_p99),
        running_batch_size=estimate.running_batch_size,
        queueing_delay=convert.duration_fields(estimate.queueing_delay_seconds),
        output_tokens_per_second=estimate.output_tokens_per_second,
        output_tokens_per_second_per_accelerator=estimate.output_tokens_per_second / n,
        energy_per_output_token_joules=estimate.energy_per_output_token_joules,
        cost_per_million_output_tokens=convert.money_fields(
            estimate.cost_per_million_output_tokens_usd, "cost_per_million_output_tokens"
        ),
        max_batch_size=int32(estimate.max_batch_size, "max_batch_size"),
        fits_in_memory=estimate.fits_in_memory,
        batch_size=int32(estimate.batch_size, "batch_size"),
        requests_per_second=estimate.requests_per_second,
        memory_per_accelerator_bytes=int64(estimate.memory_per_accelerator_bytes, "memory_per_accelerator_bytes"),
        kv_cache_bytes_per_token=int64(estimate.kv_cache_bytes_per_token, "kv_cache_bytes_per_token"),
        calibration=convert.calibration_to_proto(estimate.scenario.hardware),
    )
    if estimate.operator_coverage is not None:
        convert.set_operator_coverage(response.calibration, estimate.operator_coverage)
    convert.add_quantities(
        response.breakdown, {"step_time": (estimate.decode_breakdown, "seconds"), "memory": (memory, "bytes")}
    )
    convert.add_assumptions(response, assumptions)
    return response


def estimate_inference(
    request: estimator_pb2.EstimateInferenceRequest, deps: ApiDependencies
) -> estimator_pb2.EstimateInferenceResponse:
    """The EstimateInference RPC as a plain function (the servicer calls it)."""
    if request.HasField("slo"):
        return estimate_for_slo(request, deps)
    scenario, assumptions = build_scenario(request, deps)
    if scenario.continuous:
        try:
            estimate = estimate_serving(scenario)
        except OverloadedError as error:
            raise FailedPrecondition(str(error)) from None
        assumptions = assumptions + continuous_assumptions(request, estimate)
        if not estimate.fits_in_memory:
            assumptions.append(
                Assumption(
                    "fits_in_memory",
                    "false",
                    "derived",
                    "weights plus one sequence's paged KV cache exceed the memory: use more accelerators",
                )
            )
        return ensure_finite(to_response(estimate, assumptions), "EstimateInference")
    estimate = estimate_serving(scenario)
    hw = scenario.hardware
    assumptions = assumptions + [
        Assumption(
            "batch_size",
            str(estimate.batch_size),
            "request" if request.batch_size else "derived",
            "throughput-optimal batch whose KV cache fits" if not request.batch_size else "request",
        ),
        Assumption(
            "serving_memory_fraction",
            f"{C.SERVING_MEMORY_FRACTION:.0%}",
            "default",
            "vLLM gpu_memory_utilization default (2024)",
        ),
        Assumption(
            "time_to_first_token",
            "prefill of the whole batch's prompts together",
            "default",
            "static batching: an upper bound for continuous batching engines",
        ),
        Assumption(
            "decode_launch_overhead",
            f"{hw.graph_launch_overhead_seconds * 1e6:.1f} µs per kernel",
            "profile" if hw.profile_name else "default",
            "CUDA graphs, as serving engines use them",
        ),
    ]
    if not estimate.fits_in_memory:
        assumptions.append(
            Assumption(
                "fits_in_memory",
                "false",
                "derived",
                "weights plus one sequence's KV cache exceed the memory: use more accelerators",
            )
        )
    response = to_response(estimate, assumptions)
    if request.uncertainty.samples > 0:
        intervals, distributions = uncertainty.inference_intervals(
            scenario, estimate.batch_size, request.uncertainty.samples, request.uncertainty.seed
        )
        convert.set_intervals(response.intervals, intervals)
        response.assumptions.extend(convert.assumptions_to_proto(distributions))
    return ensure_finite(response, "EstimateInference")


def continuous_assumptions(
    request: estimator_pb2.EstimateInferenceRequest, estimate: InferenceEstimate
) -> list[Assumption]:
    """Which model answered (continuous batching) and its parameters, with their sources."""
    scenario = estimate.scenario
    engine = ContinuousBatching.for_scenario(scenario)
    spec = scenario.serving_engine
    origin = "derived" if request.HasField("slo") else "request"  # an SLO plan splits the load over replicas
    load = (
        Assumption("concurrency", str(scenario.concurrency), origin, "closed loop: Little's law once the batch is full")
        if scenario.concurrency > 0
        else Assumption(
            "request_rate_per_second",
            f"{scenario.request_rate_per_second:g}",
            origin,
            "open loop, Poisson arrivals: M/D/c queue (Allen–Cunneen approximation of Erlang C)",
        )
    )
    return [
        Assumption(
            "serving_model",
            "continuous batching",
            "derived",
            "requests join and leave the running batch each step (vLLM, SGLang); prefill in chunks beside decode",
        ),
        load,
        Assumption(
            "running_batch_size",
            f"{estimate.running_batch_size:.1f} (bound {estimate.max_running_batch_size})",
            "derived",
            "bounded by the paged KV cache, max_num_seqs and the step token budget",
        ),
        Assumption(
            "kv_cache_block_tokens",
            str(engine.block_tokens),
            "default",
            f"{spec.id} default ({spec.parameter('kv_block_tokens').basis}); the last block of a sequence is on average "
            f"half empty, (b − 1)/2 tokens; {spec.parameter('kv_reservation').basis}",
        ),
        Assumption(
            "max_num_batched_tokens",
            str(engine.token_budget),
            "default",
            f"{spec.id} step token budget, chunked prefill {'on' if engine.chunked_prefill else 'off (a prompt whole)'}: "
            + spec.defaults_for(scenario.hardware.hardware_id, scenario.hardware.memory_bytes).basis,
        ),
        Assumption(
            "max_num_seqs",
            str(engine.max_num_seqs or "bounded by the KV cache"),
            "default",
            f"{spec.id} default for this accelerator",
        ),
        Assumption(
            "cuda_graph_max_batch",
            str(engine.cuda_graph_max_batch),
            "default",
            f"{spec.id}: decode batches up to it replay a CUDA graph, larger ones launch each kernel",
        ),
        Assumption(
            "serving_memory_fraction",
            f"{C.SERVING_MEMORY_FRACTION:.0%}",
            "default",
            "vLLM gpu_memory_utilization default (2024)",
        ),
        Assumption(
            "time_to_first_token",
            "queueing delay + the request's prefill chunks, each beside a decode step of the running batch",
            "derived",
            "chunked prefill (vLLM docs, Optimization and Tuning); p50 and p99 across requests",
        ),
    ]


def _check_fleet(request: estimator_pb2.EstimateInferenceRequest, plan: SloPlan) -> None:
    """Refuse a load whose SLO plan needs more accelerators than any campus holds (the bound
    EstimateCampus's demand planner keeps): its replica counts overflowed ServingPlan's int32
    fields (1e6 requests/s of 100,000-token answers: 12 billion replicas, then INTERNAL)."""
    if plan.accelerator_count > MAX_CAMPUS_ACCELERATORS:
        field = "concurrency" if request.concurrency else "request_rate_per_second"
        raise InvalidArgument.field(
            field,
            f"needs {plan.accelerator_count:.3g} {request.hardware_id} ({plan.replicas:,} "
            f"{'decode ' if plan.disaggregated is not None else ''}replicas of TP {plan.tensor_parallel_size}) to meet the SLO; at most {MAX_CAMPUS_ACCELERATORS:,} accelerators: "
            "lower the load or relax the SLO",
        )


def inference_workload(request: estimator_pb2.EstimateInferenceRequest, deps: ApiDependencies) -> InferenceWorkload:
    """The validated message as the estimator's workload."""
    _validate(request)
    return InferenceWorkload(
        model=convert.model_choice(request.model),
        hardware_id=request.hardware_id,
        accelerator_count=request.accelerator_count,
        input_tokens=request.input_tokens,
        output_tokens=request.output_tokens,
        batch_size=request.batch_size,
        precision=convert.precision_name(request.precision),
        precision_set=bool(request.precision),
        kv_cache_precision=convert.precision_name(request.kv_cache_precision, "kv_cache_precision")
        if request.kv_cache_precision
        else None,
        expert_parallel_size=max(request.expert_parallel_size, 1),
        calibration=convert.measured_calibration(request.profile_id, deps),
        facility=convert.facility_choice(request.facility),
        concurrency=request.concurrency,
        request_rate_per_second=request.request_rate_per_second,
        speculation=speculation_choice(request),
        engine=request.engine,
    )


def speculation_choice(request: estimator_pb2.EstimateInferenceRequest) -> SpeculationChoice | None:
    """The request's speculative_decoding (validated) in domain terms; None when unset."""
    if not request.HasField("speculative_decoding"):
        return None
    spec = request.speculative_decoding
    return SpeculationChoice(
        spec.draft_tokens,
        spec.acceptance_rate,
        convert.model_choice(spec.draft_model) if spec.HasField("draft_model") else None,
    )


def build_scenario(
    request: estimator_pb2.EstimateInferenceRequest, deps: ApiDependencies
) -> tuple[InferenceScenario, list[Assumption]]:
    """Validated request → serving scenario and the assumptions of its inputs."""
    workload = inference_workload(request, deps)
    with domain_errors():
        return build_inference_scenario(workload)
