"""EstimateInference: validate, convert, estimate serving, explain."""

from __future__ import annotations

from flopwatt.estimate import constants as C
from flopwatt.estimate import uncertainty
from flopwatt.estimate.assumptions import Assumption
from flopwatt.estimate.inference import InferenceEstimate, InferenceScenario, estimate_serving
from flopwatt.estimate.scenarios import InferenceWorkload, build_inference_scenario
from flopwatt.service.api import convert
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.finite import ensure_finite, int64
from flopwatt.service.api.request_bounds import (
    MAX_ACCELERATOR_COUNT,
    MAX_SEQUENCE_LENGTH,
    Violations,
    check_facility,
    check_model_spec,
    check_uncertainty,
)
from flopwatt.service.errors import domain_errors
from flopwatt.v1 import estimator_pb2

MAX_INFERENCE_BATCH = 1_000_000
MAX_REPLICA_ACCELERATORS = 4096


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
    check_facility(request.facility, "facility", v)
    check_uncertainty(request.uncertainty, "uncertainty", v)
    v.raise_if_any()


def to_response(estimate: InferenceEstimate, assumptions: list[Assumption]) -> estimator_pb2.EstimateInferenceResponse:
    n = estimate.scenario.accelerator_count
    memory = {
        "weights": estimate.weight_bytes_per_accelerator,
        "kv_cache": estimate.kv_cache_bytes_per_accelerator,
        "runtime_reserved": C.RUNTIME_RESERVED_BYTES,
    }
    response = estimator_pb2.EstimateInferenceResponse(
        time_to_first_token=convert.duration(estimate.time_to_first_token_seconds),
        time_per_output_token=convert.duration(estimate.time_per_output_token_seconds),
        output_tokens_per_second=estimate.output_tokens_per_second,
        output_tokens_per_second_per_accelerator=estimate.output_tokens_per_second / n,
        energy_per_output_token_joules=estimate.energy_per_output_token_joules,
        cost_per_million_output_tokens=convert.money(
            estimate.cost_per_million_output_tokens_usd, "cost_per_million_output_tokens"
        ),
        max_batch_size=estimate.max_batch_size,
        fits_in_memory=estimate.fits_in_memory,
        batch_size=estimate.batch_size,
        requests_per_second=estimate.requests_per_second,
        memory_per_accelerator_bytes=int64(estimate.memory_per_accelerator_bytes, "memory_per_accelerator_bytes"),
        kv_cache_bytes_per_token=int64(estimate.kv_cache_bytes_per_token, "kv_cache_bytes_per_token"),
        calibration=convert.calibration_to_proto(estimate.scenario.hardware),
    )
    convert.add_quantities(response.breakdown.step_time, estimate.decode_breakdown, "seconds")
    convert.add_quantities(response.breakdown.memory, memory, "bytes")
    convert.add_assumptions(response.assumptions, assumptions)
    return response


def estimate_inference(
    request: estimator_pb2.EstimateInferenceRequest, deps: ApiDependencies
) -> estimator_pb2.EstimateInferenceResponse:
    """The EstimateInference RPC as a plain function (the servicer calls it)."""
    scenario, assumptions = build_scenario(request, deps)
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
    )


def build_scenario(
    request: estimator_pb2.EstimateInferenceRequest, deps: ApiDependencies
) -> tuple[InferenceScenario, list[Assumption]]:
    """Validated request → serving scenario and the assumptions of its inputs."""
    workload = inference_workload(request, deps)
    with domain_errors():
        return build_inference_scenario(workload)
