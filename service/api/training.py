"""EstimateTraining: validate, convert, plan, estimate, explain."""

from __future__ import annotations

import functools
import math

import numpy as np

from flopwatt.service.api import convert
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.request_bounds import (
    MAX_ACCELERATOR_COUNT,
    MAX_BATCH_SEQUENCES,
    MAX_SEQUENCE_LENGTH,
    MAX_TRAINING_TOKENS,
    Violations,
    check_facility,
    check_model_spec,
    check_uncertainty,
)
from flopwatt.service.errors import FailedPrecondition, InvalidArgument
from flopwatt.estimate import constants as C
from flopwatt.estimate import fitted_constants, uncertainty
from flopwatt.estimate.assumptions import Assumption
from flopwatt.estimate.hardware import ScaleOutUnavailableError, check_scale_out
from flopwatt.estimate.memory import usable_training_memory_bytes
from flopwatt.estimate.planner import PlanChoice, PlanConstraintError, choose_plan, complete_plan
from flopwatt.estimate.step_time import FRAMEWORK_GENERIC, FRAMEWORK_STEP_OPTIONS, framework_step_options
from flopwatt.estimate.training import TrainingEstimate, TrainingScenario, estimate_training_run
from flopwatt.v1 import common_pb2, estimator_pb2

MAX_PARALLEL_DEGREE = 1_000_000
# ErrorInfo reason of a training estimate whose plan does not fit the accelerator's memory.
MEMORY_EXCEEDED_REASON = "ACCELERATOR_MEMORY_EXCEEDED"
_REQUEST_FIELDS = frozenset(estimator_pb2.EstimateTrainingRequest.DESCRIPTOR.fields_by_name)


# Assumptions that depend only on module constants, formatted once at import rather than per request.
CONTEXT_PARALLEL = Assumption(
    "context_parallel", "K/V all-gathered per layer (forward and backward), gradients reduce-scattered, exposed", "default",
    "each rank holds sequence/CP tokens and 1/CP of the causal scores; the K/V exchange is not hidden behind attention "
    "(Llama 3 §3.3.2, all-gather CP; Megatron-Core's ring overlaps it, so this errs slow); gradients reduced and ZeRO "
    "sharded over DP × CP")
FLOP_CONVENTION = Assumption(
    "flop_convention", "MFU: 6·N per token + 12·L·s·d_attn (full, non-causal attention); HFU: executed FLOPs", "default",
    "MFU counts the full score matrix, the PaLM (appendix B) / Megatron convention (Kaplan 2020 for 6·N); HFU counts the work "
    "the step executes: a fused causal kernel computes about half the score matrix (FlashAttention-2), unfused attention all "
    "of it, and recomputation adds its forward (Korthikanti 2022). At long context HFU is therefore below MFU")
MEMORY_HEADROOM = Assumption(
    "memory_headroom", f"{C.TRAINING_MEMORY_HEADROOM_FRACTION:.0%} of accelerator memory left free", "default",
    "plans fit within the rest: allocator fragmentation and unmodelled peaks (constants.TRAINING_MEMORY_HEADROOM_FRACTION)")
FITTED_CONSTANTS = Assumption("fitted_constants", f"GEMM half-efficiency dim {fitted_constants.GEMM_HALF_EFFICIENCY_DIMENSION:.0f}, "
                              f"host {fitted_constants.HOST_SECONDS_PER_KERNEL * 1e6:.0f} µs/kernel", "fitted", fitted_constants.FIT_PROVENANCE)
MODELLED_GOODPUT = (
    Assumption("failures_per_accelerator_hour", f"{C.FAILURES_PER_ACCELERATOR_HOUR:.3g}", "default",
               "Llama 3 (arXiv 2407.21783 §3.3.4, 2024): 419 unexpected interruptions in 54 days on 16,384 H100"),
    Assumption("checkpoint_and_restart", f"checkpoint {C.CHECKPOINT_WRITE_SECONDS:g} s, restart {C.RESTART_SECONDS:g} s, start-up {C.RUN_STARTUP_SECONDS:g} s",
               "default", "Young/Daly optimal checkpoint interval; assumed durations"),
)


@functools.lru_cache(maxsize=len(FRAMEWORK_STEP_OPTIONS) + 1)
def _framework_assumptions(framework: str) -> tuple[Assumption, ...]:
    """The software stack's assumptions: a pure function of its name ("" = generic), which is
    one of FRAMEWORK_STEP_OPTIONS (so the cache holds them all)."""
    options = framework_step_options(framework)
    return (
        Assumption("framework", framework or FRAMEWORK_GENERIC, "request" if framework else "default",
                   "software stack: sets the attention kernel and the DP overlap (step_time.FRAMEWORK_STEP_OPTIONS)"),
        Assumption("attention_kernel", "fused causal flash attention" if options.flash_attention else "fused softmax, unfused attention GEMMs",
                   "derived", "FlashAttention-2 (Dao 2023): 60 % of peak in datasheet mode; else Megatron's batched QKᵀ/AV GEMMs"),
        Assumption("data_parallel_overlap", f"{options.data_parallel_overlap_fraction:.0%}", "derived",
                   "share of the gradient reduction hidden behind compute (framework behaviour), never more than that share of "
                   "the compute beside it: the last micro-batch's backward, or the whole step's compute with ZeRO-3"),
    )


def _validate(request: estimator_pb2.EstimateTrainingRequest) -> None:
    v = Violations()
    check_model_spec(request.model, "model", v)
    v.integer("training_tokens", request.training_tokens, maximum=MAX_TRAINING_TOKENS, required=True)
    v.integer("sequence_length", request.sequence_length, maximum=MAX_SEQUENCE_LENGTH, required=True)
    v.integer("accelerator_count", request.accelerator_count, maximum=MAX_ACCELERATOR_COUNT, required=True)
    if not request.hardware_id:
        v.add("hardware_id", "required (see ListHardware)")
    p = request.parallelism
    for name in ("tensor_parallel_size", "context_parallel_size", "pipeline_parallel_size", "data_parallel_size", "expert_parallel_size",
                 "pipeline_interleaving", "micro_batch_size"):
        v.integer(f"parallelism.{name}", getattr(p, name), maximum=MAX_PARALLEL_DEGREE)
    v.integer("parallelism.global_batch_size", p.global_batch_size, maximum=MAX_BATCH_SEQUENCES)
    if p.HasField("zero_stage") and not 0 <= p.zero_stage <= 3:
        v.add("parallelism.zero_stage", "must be 0, 1, 2 or 3")
    fraction = p.activation_recompute_layer_fraction
    v.real("parallelism.activation_recompute_layer_fraction", fraction, minimum=0.0, maximum=1.0)
    if fraction > 0 and p.activation_recompute != common_pb2.ACTIVATION_RECOMPUTE_FULL:
        v.add("parallelism.activation_recompute_layer_fraction", "applies only with activation_recompute ACTIVATION_RECOMPUTE_FULL")
    degrees = [getattr(p, n) for n in ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size")]
    context = p.context_parallel_size
    if all(d > 0 for d in degrees) and request.accelerator_count > 0 and math.prod(degrees) * max(context, 1) != request.accelerator_count:
        v.add("parallelism", f"tensor × context × pipeline × data parallel sizes = {math.prod(degrees) * max(context, 1)}, "
                             f"not accelerator_count {request.accelerator_count} (context_parallel_size unset counts as 1)")
    elif request.accelerator_count > 0 and request.accelerator_count % math.prod(d for d in [*degrees, context] if d > 0):
        v.add("parallelism", "the product of the set tensor, context, pipeline and data parallel sizes must divide accelerator_count")
    if context > 1 and request.sequence_length > 0 and request.sequence_length % (2 * context):
        v.add("parallelism.context_parallel_size", f"2 × context_parallel_size must divide sequence_length {request.sequence_length} "
                                                   "(each rank takes two balanced chunks of every causal sequence)")
    if p.global_batch_size and p.micro_batch_size and p.data_parallel_size and p.global_batch_size % (p.micro_batch_size * p.data_parallel_size):
        v.add("parallelism.global_batch_size", "must be a multiple of micro_batch_size × data_parallel_size")
    if request.HasField("goodput"):
        v.real("goodput", request.goodput, minimum=0.0, maximum=1.0, exclusive_minimum=True)
    check_facility(request.facility, "facility", v)
    check_uncertainty(request.uncertainty, "uncertainty", v)
    v.raise_if_any()


def request_framework(request: estimator_pb2.EstimateTrainingRequest) -> str:
    """The request's software stack ("" = generic).

    Read from `framework` once the proto carries it (proposed: `string framework = 12;` in
    EstimateTrainingRequest); until then every request is generic. Unknown names are refused
    with the field named."""
    if "framework" not in _REQUEST_FIELDS:
        return ""
    framework = request.framework.strip().lower()
    if framework and framework not in FRAMEWORK_STEP_OPTIONS:
        raise InvalidArgument.field("framework", f"unknown framework {request.framework!r}; one of {', '.join(sorted(FRAMEWORK_STEP_OPTIONS))}")
    return framework


def build_scenario(request: estimator_pb2.EstimateTrainingRequest, deps: ApiDependencies) -> tuple[TrainingScenario, list[Assumption], int]:
    """Validated request → scenario with a chosen plan, its assumptions, candidates evaluated."""
    _validate(request)
    precision = convert.precision_name(request.precision)
    arch, active_override, assumptions = convert.model_from_spec(request.model, "model")
    hw, hw_assumptions = convert.hardware_model(request.hardware_id, request.profile_id, precision, deps)
    facility, facility_assumptions = convert.facility_inputs(request.facility, request.hardware_id)
    framework = request_framework(request)
    options = framework_step_options(framework)
    try:
        check_scale_out(hw, request.accelerator_count)
    except ScaleOutUnavailableError as error:
        raise InvalidArgument.field("accelerator_count", str(error)) from None
    constraints = convert.plan_constraints(request.parallelism)
    if constraints.tensor_parallel_size and arch.attention_head_count % constraints.tensor_parallel_size:
        raise InvalidArgument.field("parallelism.tensor_parallel_size", f"must divide the {arch.attention_head_count} attention heads")
    if constraints.complete:  # nothing to search: the request's plan is evaluated once, below
        choice = PlanChoice(complete_plan(constraints), math.nan, math.nan, True, 1)
    else:
        try:
            choice = choose_plan(arch, request.accelerator_count, request.sequence_length, hw, constraints, options)
        except PlanConstraintError as error:
            raise InvalidArgument.field(f"parallelism.{error.constraint}", error.description) from None
    chosen_by = "request" if constraints.complete else "derived"
    assumptions = assumptions + hw_assumptions + facility_assumptions + [
        Assumption("precision", precision, "request" if request.precision else "default", "unspecified precision means bf16"),
        Assumption("parallelism", convert.plan_description(choice.plan), chosen_by,
                   f"planner: of {choice.candidates_evaluated} candidate plans that fit memory, the shortest wall clock for the "
                   f"requested tokens{' (with the batch free: the fewest seconds per token)' if choice.batch_policy else ' (the fastest step)'}"
                   "; fixed fields honoured"),
        FLOP_CONVENTION,
        MEMORY_HEADROOM,
        *_framework_assumptions(framework),
        FITTED_CONSTANTS,
    ]
    if choice.batch_policy is not None:
        batch_tokens = choice.plan.global_batch_size * request.sequence_length
        above = (f"; above the largest published batch ({C.LARGEST_PUBLISHED_GLOBAL_BATCH_TOKENS / 2**20:.0f} M tokens, DeepSeek-V3 2024) "
                 "because every plan's data parallelism needs it: fewer accelerators per job would train closer to it") if choice.batch_above_published else ""
        assumptions.append(Assumption("global_batch_size", f"{choice.plan.global_batch_size} sequences ({batch_tokens / 2**20:.1f} M tokens)",
                                      "derived", choice.batch_policy.description() + above))
    if int(choice.plan.context_parallel_size) > 1:
        assumptions.append(CONTEXT_PARALLEL)
    if request.HasField("goodput"):
        assumptions.append(Assumption("goodput", f"{request.goodput:g}", "request", "request"))
    else:
        assumptions += MODELLED_GOODPUT
    assumptions += convert.accelerator_power_assumptions(hw)
    scenario = TrainingScenario(
        arch=arch, training_tokens=float(request.training_tokens), sequence_length=float(request.sequence_length), hardware=hw,
        plan=choice.plan, facility=facility, options=options,
        goodput_override=request.goodput if request.HasField("goodput") else math.nan,
        active_parameter_count_override=active_override,
    )
    return scenario, assumptions, choice.candidates_evaluated


def constraints_complete(request: estimator_pb2.EstimateTrainingRequest) -> bool:
    """Whether the request fixed the whole plan (the planner chose nothing)."""
    return convert.plan_constraints(request.parallelism).complete


def _f(value) -> float:
    """The first element of a scalar or array output as a float (scalars take the fast path:
    the fixed-plan estimate converts ~50 of them and must stay under 1 ms)."""
    if isinstance(value, (float, int, np.floating, np.integer)):
        return float(value)
    return float(np.asarray(value).reshape(-1)[0])


def to_response(estimate: TrainingEstimate, assumptions: list[Assumption]) -> estimator_pb2.EstimateTrainingResponse:
    s = estimate.scenario
    step = {k: _f(v) for k, v in estimate.step.as_dict().items() if k not in ("total", "busy_fraction")}
    memory = {k: _f(v) for k, v in estimate.memory.as_dict().items() if k != "total"}
    cost = estimate.cost
    energy = {"accelerators": _f(cost.accelerator_energy_joules), "hosts": _f(cost.host_energy_joules), "network": _f(cost.network_energy_joules),
              "facility_overhead": _f(cost.facility_energy_joules) - _f(cost.accelerator_energy_joules) - _f(cost.host_energy_joules) - _f(cost.network_energy_joules)}
    money = {"rental": _f(cost.rental_cost_usd), "amortised_capex": _f(cost.capex_cost_usd), "energy": _f(cost.energy_cost_usd)}
    response = estimator_pb2.EstimateTrainingResponse(
        total_flops=_f(estimate.total_flops),
        model_flops_utilization=_f(estimate.model_flops_utilization),
        hardware_flops_utilization=_f(estimate.hardware_flops_utilization),
        step_duration=convert.duration(_f(estimate.step_seconds)),
        wall_clock_duration=convert.duration(_f(estimate.wall_clock_seconds)),
        accelerator_hours=_f(estimate.accelerator_hours),
        accelerator_energy_joules=_f(cost.accelerator_energy_joules),
        facility_energy_joules=_f(cost.facility_energy_joules),
        cost=convert.money(_f(cost.cost_usd)),
        co2e_kilograms=_f(cost.co2e_kilograms),
        memory_per_accelerator_bytes=int(_f(estimate.memory.total)),
        fits_in_memory=bool(_f(estimate.fits_in_memory)),
        accelerator_memory_bytes=int(s.hardware.memory_bytes),
        parallelism=convert.plan_to_proto(s.plan),
        step_count=int(_f(estimate.step_count)),
        goodput=_f(estimate.goodput),
        water_liters=_f(cost.water_liters),
        tokens_per_second=_f(estimate.tokens_per_second),
        calibration=convert.calibration_to_proto(s.hardware),
    )
    breakdown = response.breakdown
    convert.add_quantities(breakdown.step_time, step, "seconds")
    convert.add_quantities(breakdown.memory, memory, "bytes")
    convert.add_quantities(breakdown.energy, energy, "joules")
    convert.add_quantities(breakdown.cost, money, "usd")
    convert.add_assumptions(response.assumptions, assumptions)
    return response


def estimate_training(request: estimator_pb2.EstimateTrainingRequest, deps: ApiDependencies) -> estimator_pb2.EstimateTrainingResponse:
    """The EstimateTraining RPC as a plain function (the servicer calls it)."""
    scenario, assumptions, _ = build_scenario(request, deps)
    estimate = estimate_training_run(scenario)
    if not bool(_f(estimate.fits_in_memory)):
        # A step time and MFU of a run that cannot start are not an estimate (issue 11 item 8:
        # 405B on one GPU answered 2,267 years at 55.7 % MFU). Sweeps plan through
        # build_scenario and keep flagging such points (fits_in_memory false) instead.
        raise FailedPrecondition(
            f"the training state does not fit: the {'requested' if constraints_complete(request) else 'least-memory'} plan "
            f"({convert.plan_description(scenario.plan)}) needs {_f(estimate.memory.total) / 2**30:.1f} GiB per accelerator and "
            f"{scenario.hardware.name} has {_f(usable_training_memory_bytes(scenario.hardware.memory_bytes)) / 2**30:.1f} GiB usable "
            f"({scenario.hardware.memory_bytes / 2**30:.1f} GiB less {C.TRAINING_MEMORY_HEADROOM_FRACTION:.0%} allocator headroom): "
            "add accelerators or fix a smaller plan",
            reason=MEMORY_EXCEEDED_REASON)
    response = to_response(estimate, assumptions)
    if request.uncertainty.samples > 0:
        intervals, distributions = uncertainty.training_intervals(scenario, request.uncertainty.samples, request.uncertainty.seed)
        for name, interval in intervals.items():
            response.intervals[name].CopyFrom(common_pb2.Interval(p5=interval.p5, p50=interval.p50, p95=interval.p95))
        response.assumptions.extend(convert.assumptions_to_proto(distributions))
    return response
