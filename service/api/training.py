"""EstimateTraining: validate the message, convert it to a workload, build the scenario (the
estimator's), estimate, explain."""

from __future__ import annotations

import functools
import math
import operator

import numpy as np

from flopwatt.estimate import constants as C
from flopwatt.estimate import uncertainty
from flopwatt.estimate.assumptions import Assumption
from flopwatt.estimate.memory import usable_training_memory_bytes
from flopwatt.estimate.scenarios import (
    GoodputChoice,
    TrainingWorkload,
    build_training_scenario,
    effective_constraints,
    plan_description,
)
from flopwatt.estimate.step_time import FRAMEWORK_STEP_OPTIONS
from flopwatt.estimate.training import TrainingEstimate, TrainingScenario, estimate_training_run
from flopwatt.service.api import convert, wire
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.finite import ensure_finite, int64
from flopwatt.service.api.request_bounds import (
    MAX_ACCELERATOR_COUNT,
    MAX_DURATION_SECONDS,
    MAX_SEQUENCE_LENGTH,
    MAX_TRAINING_TOKENS,
    MIN_GOODPUT,
    PARALLELISM_MAXIMA,
    Violations,
    all_within,
    check_facility,
    check_model_spec,
    check_uncertainty,
)
from flopwatt.service.errors import FailedPrecondition, InvalidArgument, domain_errors, echo
from flopwatt.v1 import common_pb2, estimator_pb2

# ErrorInfo reason of a training estimate whose plan does not fit the accelerator's memory.
MEMORY_EXCEEDED_REASON = "ACCELERATOR_MEMORY_EXCEEDED"
_REQUEST_FIELDS = frozenset(estimator_pb2.EstimateTrainingRequest.DESCRIPTOR.fields_by_name)
# Upper bounds of GoodputInputs, each past any run one would plan:
# a month's start-up, a year between checkpoints, a day per checkpoint write, a week per
# restart, evaluation as long as training. 0.01 failures per accelerator-hour is ~500 × Llama
# 3's rate: a cluster where each accelerator fails every 100 hours is not one a run survives.
# A set checkpoint interval is at least a second: a shorter one is no schedule a run configures
# (a step takes longer), and it keeps write / interval finite (1e-300 s would make it infinite).
MIN_CHECKPOINT_INTERVAL_SECONDS = 1.0
GOODPUT_INPUT_MAXIMA = {
    "startup_seconds": 30 * 86_400.0,
    "checkpoint_interval_seconds": 365 * 86_400.0,
    "checkpoint_write_seconds": 86_400.0,
    "failures_per_accelerator_hour": 0.01,
    "restart_seconds": 7 * 86_400.0,
    "evaluation_fraction": 1.0,
}
# Responses kept by request bytes (issue 14 item 23): a dashboard resends the same request as a
# user edits fields, and the estimate (~0.5 ms of Python) is a pure function of those bytes when
# no stored profile is named (a profile can be replaced between calls) and no Monte Carlo
# samples are drawn. Bounded in entries and in key size, so varied or huge requests cost at most
# RESPONSE_CACHE_SIZE x (RESPONSE_CACHE_MAX_REQUEST_BYTES + a response of ~7 KiB), ~9 MiB.
RESPONSE_CACHE_SIZE = 1024
RESPONSE_CACHE_MAX_REQUEST_BYTES = 2048
_NO_PROFILES = ApiDependencies()
# (field, path, maximum) of the Parallelism integers checked alike; zero_stage is optional, with
# its own message. Paths built once, not per request.
_PARALLELISM_BOUNDS = tuple(
    (name, f"parallelism.{name}", maximum) for name, maximum in PARALLELISM_MAXIMA.items() if name != "zero_stage"
)
_parallelism_values = operator.attrgetter(*(name for name, _, _ in _PARALLELISM_BOUNDS))
_PARALLELISM_UPPER_BOUNDS = tuple(maximum for _, _, maximum in _PARALLELISM_BOUNDS)
# Known ActivationRecompute numbers, read once: the enum wrapper's values() builds a new list per call.
_RECOMPUTE_VALUES = frozenset(common_pb2.ActivationRecompute.values())


# Field numbers of the parts merged as wire bytes into EstimateTrainingResponse (to_response).
_RESPONSE_FIELDS = estimator_pb2.EstimateTrainingResponse.DESCRIPTOR.fields_by_name
_CALIBRATION = _RESPONSE_FIELDS["calibration"].number
_BREAKDOWN = _RESPONSE_FIELDS["breakdown"].number
_ASSUMPTIONS = _RESPONSE_FIELDS["assumptions"].number
_STEP_TIME, _MEMORY, _ENERGY, _COST, _WALL_CLOCK = (
    _RESPONSE_FIELDS["breakdown"].message_type.fields_by_name[name].number
    for name in ("step_time", "memory", "energy", "cost", "wall_clock")
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
    values = _parallelism_values(p)
    if not all_within(values, _PARALLELISM_UPPER_BOUNDS):  # else the loop would add nothing
        for (_, path, maximum), value in zip(_PARALLELISM_BOUNDS, values):
            v.integer(path, value, maximum=maximum)
    if p.HasField("zero_stage") and not 0 <= p.zero_stage <= 3:
        v.add("parallelism.zero_stage", "must be 0, 1, 2 or 3")
    if p.activation_recompute not in _RECOMPUTE_VALUES:  # as an unknown Precision is
        v.add("parallelism.activation_recompute", f"unknown ActivationRecompute value {p.activation_recompute}")
    fraction = p.activation_recompute_layer_fraction
    v.real("parallelism.activation_recompute_layer_fraction", fraction, minimum=0.0, maximum=1.0)
    if fraction > 0 and p.activation_recompute != common_pb2.ACTIVATION_RECOMPUTE_FULL:
        v.add(
            "parallelism.activation_recompute_layer_fraction",
            "applies only with activation_recompute ACTIVATION_RECOMPUTE_FULL",
        )
    if request.HasField("goodput"):
        v.real("goodput", request.goodput, minimum=MIN_GOODPUT, maximum=1.0)
    if "goodput_inputs" in _REQUEST_FIELDS and request.HasField("goodput_inputs"):
        if request.HasField("goodput"):
            v.add(
                "goodput_inputs", "set goodput (a fixed fraction, which replaces the model) or goodput_inputs, not both"
            )
        inputs = request.goodput_inputs
        for name, maximum in GOODPUT_INPUT_MAXIMA.items():
            if inputs.HasField(name):
                v.real(f"goodput_inputs.{name}", getattr(inputs, name), minimum=0.0, maximum=maximum)
        interval = inputs.checkpoint_interval_seconds
        if 0 < interval < MIN_CHECKPOINT_INTERVAL_SECONDS:
            v.add(
                "goodput_inputs.checkpoint_interval_seconds",
                f"must be 0 (the Young/Daly optimum) or at least {MIN_CHECKPOINT_INTERVAL_SECONDS:g} s",
            )
    check_facility(request.facility, "facility", v)
    check_uncertainty(request.uncertainty, "uncertainty", v)
    v.raise_if_any()


def request_framework(request: estimator_pb2.EstimateTrainingRequest) -> str:
    """The request's software stack ("" = generic, i.e. megatron-core): an id or alias of the
    catalog's stacks (ListFrameworks), from `framework` (12) of EstimateTrainingRequest. Unknown
    names are refused with the field named and the accepted names listed."""
    if "framework" not in _REQUEST_FIELDS:
        return ""
    framework = request.framework.strip().lower()
    if framework and framework not in FRAMEWORK_STEP_OPTIONS:
        raise InvalidArgument.field(
            "framework",
            f"unknown framework {echo(request.framework)}; one of {', '.join(sorted(FRAMEWORK_STEP_OPTIONS))}",
        )
    return framework


def training_workload(request: estimator_pb2.EstimateTrainingRequest, deps: ApiDependencies) -> TrainingWorkload:
    """The validated message as the estimator's workload (campus and sweeps derive theirs from it)."""
    _validate(request)
    return TrainingWorkload(
        model=convert.model_choice(request.model),
        training_tokens=request.training_tokens,
        sequence_length=request.sequence_length,
        hardware_id=request.hardware_id,
        accelerator_count=request.accelerator_count,
        precision=convert.precision_name(request.precision),
        precision_set=bool(request.precision),
        calibration=convert.measured_calibration(request.profile_id, deps),
        parallelism=convert.plan_constraints(request.parallelism),
        framework=request_framework(request),
        goodput=request.goodput if request.HasField("goodput") else None,
        facility=convert.facility_choice(request.facility),
        goodput_inputs=goodput_choice(request),
    )


def goodput_choice(request: estimator_pb2.EstimateTrainingRequest) -> GoodputChoice:
    """The request's goodput-model inputs (validated): each set field, None for the defaults."""
    if "goodput_inputs" not in _REQUEST_FIELDS or not request.HasField("goodput_inputs"):
        return GoodputChoice()
    inputs = request.goodput_inputs
    return GoodputChoice(**{name: getattr(inputs, name) for name in GOODPUT_INPUT_MAXIMA if inputs.HasField(name)})


def build_scenario(
    request: estimator_pb2.EstimateTrainingRequest, deps: ApiDependencies
) -> tuple[TrainingScenario, list[Assumption], int]:
    """Validated request → scenario with a chosen plan, its assumptions, candidates evaluated."""
    workload = training_workload(request, deps)
    with domain_errors():
        setup = build_training_scenario(workload)
    return setup.scenario, setup.assumptions, setup.candidates_evaluated


def constraints_complete(request: estimator_pb2.EstimateTrainingRequest) -> bool:
    """Whether the request fixed the whole plan (the planner chose nothing)."""
    return effective_constraints(convert.plan_constraints(request.parallelism)).complete


_SCALAR_TYPES = (float, int, np.floating, np.integer, np.bool_)
# The exact types the estimate's scalars have: a set lookup, cheaper than isinstance with a tuple.
_COMMON_SCALAR_TYPES = frozenset({float, np.float64, int, np.int64, np.bool_})


def _f(value) -> float:
    """The first element of a scalar or array output as a float (scalars take the fast path:
    the fixed-plan estimate converts ~50 of them and must stay under 1 ms; `fits_in_memory` is an
    np.bool_)."""
    if type(value) in _COMMON_SCALAR_TYPES or isinstance(value, _SCALAR_TYPES):
        return float(value)
    return float(np.asarray(value).reshape(-1)[0])


def _floats(values: dict, leave_out: tuple[str, ...] = ()) -> dict[str, float]:
    """`{name: _f(value)}` of a breakdown's as_dict(), without the names in `leave_out`, order
    kept. When every value is a plain scalar (the fixed-plan case) the floats come from one
    `map(float, ...)`, the same `float()` _f applies, instead of ~25 _f calls per response."""
    if _COMMON_SCALAR_TYPES.issuperset(map(type, values.values())):
        out = dict(zip(values, map(float, values.values())))
    else:
        out = {k: _f(v) for k, v in values.items()}
    for name in leave_out:
        out.pop(name, None)
    return out


def to_response(estimate: TrainingEstimate, assumptions: list[Assumption]) -> estimator_pb2.EstimateTrainingResponse:
    s = estimate.scenario
    step = _floats(estimate.step.as_dict(), ("total", "busy_fraction"))
    memory = _floats(estimate.memory.as_dict(), ("total",))
    cost = estimate.cost
    accelerators, hosts, network = (
        _f(cost.accelerator_energy_joules),
        _f(cost.host_energy_joules),
        _f(cost.network_energy_joules),
    )
    energy = {
        "accelerators": accelerators,
        "hosts": hosts,
        "network": network,
        # IT energy summed as run_cost sums it, so that PUE 1 leaves exactly 0 (subtracting the
        # parts one by one left rounding residues down to -224 J: a negative energy).
        "facility_overhead": _f(cost.facility_energy_joules) - (accelerators + hosts + network),
    }
    money = {
        "rental": _f(cost.rental_cost_usd),
        "amortised_capex": _f(cost.capex_cost_usd),
        "energy": _f(cost.energy_cost_usd),
    }
    response = estimator_pb2.EstimateTrainingResponse(
        total_flops=_f(estimate.total_flops),
        model_flops_utilization=_f(estimate.model_flops_utilization),
        hardware_flops_utilization=_f(estimate.hardware_flops_utilization),
        step_duration=convert.duration_fields(_f(estimate.step_seconds)),
        wall_clock_duration=convert.duration_fields(_f(estimate.wall_clock_seconds)),
        accelerator_hours=_f(estimate.accelerator_hours),
        accelerator_energy_joules=_f(cost.accelerator_energy_joules),
        facility_energy_joules=_f(cost.facility_energy_joules),
        cost=convert.money_fields(_f(cost.cost_usd), "cost"),
        co2e_kilograms=_f(cost.co2e_kilograms),
        memory_per_accelerator_bytes=int64(_f(estimate.memory.total), "memory_per_accelerator_bytes"),
        fits_in_memory=bool(_f(estimate.fits_in_memory)),
        accelerator_memory_bytes=int(s.hardware.memory_bytes),
        parallelism=convert.plan_fields(s.plan),
        step_count=int64(_f(estimate.step_count), "step_count"),
        goodput=_f(estimate.goodput),
        water_liters=_f(cost.water_liters),
        tokens_per_second=_f(estimate.tokens_per_second),
    )
    wall_clock = _floats(estimate.wall_clock.as_dict())
    if not math.isfinite(_f(s.goodput_override)):  # the model's parts only; the fixed goodput's loss otherwise
        del wall_clock["request_goodput_loss"]
    breakdown = b"".join(
        [
            wire.quantity_elements(_STEP_TIME, step, "seconds"),
            wire.quantity_elements(_MEMORY, memory, "bytes"),
            wire.quantity_elements(_ENERGY, energy, "joules"),
            wire.quantity_elements(_COST, money, "usd"),
            wire.quantity_elements(_WALL_CLOCK, wall_clock, "seconds"),
        ]
    )
    # Calibration, breakdown and assumptions merged in one parse (see wire.py): the message the
    # calibration copy, the breakdown's quantities and the assumption elements added one by one
    # gave, so the same bytes (tests/unit/service/test_training_response_merge.py).
    response.MergeFromString(
        b"".join(
            [
                convert.calibration_element(_CALIBRATION, s.hardware),
                wire.length_delimited(_BREAKDOWN, breakdown),
                wire.assumption_elements(_ASSUMPTIONS, assumptions),
            ]
        )
    )
    if estimate.operator_coverage is not None:
        convert.set_operator_coverage(response.calibration, estimate.operator_coverage)
    return response


def _check_steady_goodput(estimate: TrainingEstimate) -> None:
    """Refuse goodput inputs under which a run cannot make progress: when checkpoints, failures
    and restarts alone leave under MIN_GOODPUT (1 %) of the time for steps, whatever the run's
    length, the answer would be centuries of restarts, the same "not training" a fixed goodput
    below 1 % is refused as. The defaults never reach it (at MAX_ACCELERATOR_COUNT they leave
    ~3 %); start-up is left out because a short run dominated by it is still a run."""
    parts = estimate.wall_clock
    compute = _f(parts.compute)
    steady = compute + _f(parts.checkpointing) + _f(parts.failures_and_restarts)
    if compute > 0 and compute < MIN_GOODPUT * steady:
        raise FailedPrecondition(
            f"with these goodput_inputs checkpoints, failures and restarts leave {compute / steady:.2%} of the time for "
            f"training steps (below {MIN_GOODPUT:.0%} a run is not training): lower "
            "goodput_inputs.failures_per_accelerator_hour or restart_seconds, or use fewer accelerators",
            reason="GOODPUT_TOO_LOW",
        )


def _check_wall_clock_range(estimate: TrainingEstimate) -> None:
    """Refuse a run longer than a Duration holds (±10,000 years) instead of answering the
    clamped maximum: convert.duration clamps, so 10^17 tokens of GPT-3 2.7B on one H200 answered
    wall_clock_duration 10,000 years beside accelerator_hours of 93,576 years (found by
    test_api_training_no_internal.py). Each input is within its bound; together they are not a run."""
    wall = _f(estimate.wall_clock_seconds)
    if wall > MAX_DURATION_SECONDS:
        raise FailedPrecondition(
            f"the run would take {wall / (365.25 * 86_400):,.0f} years, beyond the {MAX_DURATION_SECONDS / (365.25 * 86_400):,.0f} "
            "years wall_clock_duration holds: use more accelerators or fewer training_tokens",
            reason="WALL_CLOCK_OUT_OF_RANGE",
        )


def estimate_training(
    request: estimator_pb2.EstimateTrainingRequest, deps: ApiDependencies
) -> estimator_pb2.EstimateTrainingResponse:
    """The EstimateTraining RPC as a plain function (the servicer calls it): from the response
    cache when the request is a pure function of its bytes, else computed."""
    if request.profile_id or request.uncertainty.samples > 0:
        return compute_training_estimate(request, deps)
    key = request.SerializeToString(deterministic=True)
    if len(key) > RESPONSE_CACHE_MAX_REQUEST_BYTES:
        return compute_training_estimate(request, deps)
    # A new message per call: callers may edit what they get without touching the cached bytes.
    return estimator_pb2.EstimateTrainingResponse.FromString(_cached_response(key))


@functools.lru_cache(maxsize=RESPONSE_CACHE_SIZE)
def _cached_response(request_bytes: bytes) -> bytes:
    """The serialized response to these request bytes (errors are raised, not cached; lru_cache
    is thread-safe, and the estimate pool's threads may compute one key twice, harmlessly)."""
    request = estimator_pb2.EstimateTrainingRequest.FromString(request_bytes)
    return compute_training_estimate(request, _NO_PROFILES).SerializeToString(deterministic=True)


def compute_training_estimate(
    request: estimator_pb2.EstimateTrainingRequest, deps: ApiDependencies
) -> estimator_pb2.EstimateTrainingResponse:
    """The estimate computed from the request, with no response cache."""
    scenario, assumptions, _ = build_scenario(request, deps)
    estimate = estimate_training_run(scenario)
    if not bool(_f(estimate.fits_in_memory)):
        # A step time and MFU of a run that cannot start are not an estimate (issue 11 item 8:
        # 405B on one GPU answered 2,267 years at 55.7 % MFU). Sweeps plan through
        # build_scenario and keep flagging such points (fits_in_memory false) instead.
        raise FailedPrecondition(
            f"the training state does not fit: the {'requested' if constraints_complete(request) else 'least-memory'} plan "
            f"({plan_description(scenario.plan)}) needs {_f(estimate.memory.total) / 2**30:.1f} GiB per accelerator and "
            f"{scenario.hardware.name} has {_f(usable_training_memory_bytes(scenario.hardware.memory_bytes)) / 2**30:.1f} GiB usable "
            f"({scenario.hardware.memory_bytes / 2**30:.1f} GiB less {C.TRAINING_MEMORY_HEADROOM_FRACTION:.0%} allocator headroom): "
            "add accelerators or fix a smaller plan",
            reason=MEMORY_EXCEEDED_REASON,
        )
    _check_steady_goodput(estimate)
    response = to_response(estimate, assumptions)  # first: an amount past its int64 field names that field
    _check_wall_clock_range(estimate)
    if request.uncertainty.samples > 0:
        intervals, distributions = uncertainty.training_intervals(
            scenario, request.uncertainty.samples, request.uncertainty.seed
        )
        convert.set_intervals(response.intervals, intervals)
        response.assumptions.extend(convert.assumptions_to_proto(distributions))
    return ensure_finite(response, "EstimateTraining")
