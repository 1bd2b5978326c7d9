"""Protobuf ⇄ domain conversion for the estimate handlers (the only place both meet).

Messages become the estimator's workload dataclasses (ModelChoice, FacilityChoice,
PlanConstraints, a measured profile read once), and domain results become Duration, Money,
Assumption, Calibration and Quantity messages. Deciding what a model or facility means is the
estimator's (estimate/model_choice.py, facility_choice.py, scenarios.py), not this module's.
"""

from __future__ import annotations

import math
import operator
from typing import Iterable, Mapping

from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.type.money_pb2 import Money

from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.assumptions import Assumption
from flopwatt.estimate.catalog import HardwareSpec, get_hardware
from flopwatt.estimate.facility_choice import FACILITY_FIELDS, FacilityChoice
from flopwatt.estimate.hardware import HardwareModel
from flopwatt.estimate.measured_profile import ProfileReadError, read_profile
from flopwatt.estimate.memo import IdentityMemo
from flopwatt.estimate.model_choice import ARCHITECTURE_FIELDS, ARCHITECTURE_FLAGS, ModelChoice, resolve_model
from flopwatt.estimate.parallel_plan import RECOMPUTE_FULL, RECOMPUTE_NONE, RECOMPUTE_SELECTIVE, ParallelPlan
from flopwatt.estimate.planner import PlanConstraints
from flopwatt.estimate.scenarios import MeasuredCalibration
from flopwatt.estimate.uncertainty import OUTPUT_UNITS
from flopwatt.service.api import wire
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.finite import int64
from flopwatt.service.errors import InvalidArgument, domain_errors
from flopwatt.v1 import common_pb2

PRECISION_NAMES = {
    common_pb2.PRECISION_UNSPECIFIED: "bf16",
    common_pb2.PRECISION_FP32: "fp32",
    common_pb2.PRECISION_TF32: "tf32",
    common_pb2.PRECISION_BF16: "bf16",
    common_pb2.PRECISION_FP16: "fp16",
    common_pb2.PRECISION_FP8: "fp8",
    common_pb2.PRECISION_FP4: "fp4",
}
RECOMPUTE_FROM_PROTO = {
    common_pb2.ACTIVATION_RECOMPUTE_NONE: RECOMPUTE_NONE,
    common_pb2.ACTIVATION_RECOMPUTE_SELECTIVE: RECOMPUTE_SELECTIVE,
    common_pb2.ACTIVATION_RECOMPUTE_FULL: RECOMPUTE_FULL,
}
RECOMPUTE_TO_PROTO = {value: key for key, value in RECOMPUTE_FROM_PROTO.items()}


def precision_name(value: int, path: str = "precision") -> str:
    try:
        return PRECISION_NAMES[value]
    except KeyError:
        raise InvalidArgument.field(path, f"unknown precision {value}") from None


def catalog_hardware(hardware_id: str) -> HardwareSpec:
    """The catalog entry, or NOT_FOUND naming the id."""
    with domain_errors():
        return get_hardware(hardware_id)


# Readers of several message fields in one C call (a getattr per field costs ~70 ns on upb).
_architecture_values = operator.attrgetter(*ARCHITECTURE_FIELDS)
# The Parallelism sizes read as "positive or unset", in PlanConstraints' order (same names).
_PLAN_DEGREES = tuple(
    name for name in PlanConstraints.__dataclass_fields__ if name.endswith("_size") or name == "pipeline_interleaving"
)
_plan_degrees = operator.attrgetter(*_PLAN_DEGREES)
_UNSET_FACILITY = FacilityChoice()


def model_choice(spec) -> ModelChoice:
    """The ModelSpec message as the estimator's ModelChoice (set fields only)."""
    overrides: dict[str, int | bool] = {
        name: value for name, value in zip(ARCHITECTURE_FIELDS, _architecture_values(spec)) if value > 0
    }
    for name in ARCHITECTURE_FLAGS:
        if spec.HasField(name):
            overrides[name] = getattr(spec, name)
    return ModelChoice(
        spec.preset_id,
        tuple(sorted(overrides.items())),
        float(spec.parameter_count),
        float(spec.active_parameter_count),
    )


def model_from_spec(spec, path: str) -> tuple[ModelArchitecture, float, list[Assumption]]:
    """(architecture, active-parameter override or NaN, assumptions) of a ModelSpec."""
    with domain_errors():
        resolved = resolve_model(model_choice(spec), path)
    return resolved.architecture, resolved.active_parameter_count_override, list(resolved.assumptions)


def measured_calibration(
    profile_id: str, deps: ApiDependencies, path: str = "profile_id"
) -> MeasuredCalibration | None:
    """The named profile, read once through the estimator's typed reader (None without a name)."""
    if not profile_id:
        return None
    try:
        return MeasuredCalibration(profile_id, read_profile(deps.profile_document(profile_id)))
    except ProfileReadError as error:
        raise InvalidArgument.field(path, str(error)) from None


def facility_choice(facility) -> FacilityChoice:
    """The Facility message's set fields as the estimator's FacilityChoice (an empty message,
    the usual request, has none: every field has presence, so a set one serializes)."""
    if not facility.ByteSize():
        return _UNSET_FACILITY
    return FacilityChoice(tuple((name, getattr(facility, name)) for name in FACILITY_FIELDS if facility.HasField(name)))


def plan_constraints(parallelism, path: str = "parallelism") -> PlanConstraints:
    """Set fields of a Parallelism message (0 / unspecified / absent = planner chooses)."""

    tp, cp, pp, dp, ep, interleaving, micro, global_batch = [
        value if value > 0 else None for value in _plan_degrees(parallelism)
    ]
    fraction = parallelism.activation_recompute_layer_fraction
    recompute = RECOMPUTE_FROM_PROTO.get(parallelism.activation_recompute)
    return PlanConstraints(
        tensor_parallel_size=tp,
        context_parallel_size=cp,
        pipeline_parallel_size=pp,
        data_parallel_size=dp,
        expert_parallel_size=ep,
        pipeline_interleaving=interleaving,
        micro_batch_size=micro,
        global_batch_size=global_batch,
        zero_stage=parallelism.zero_stage if parallelism.HasField("zero_stage") else None,
        activation_recompute=recompute,
        sequence_parallel=parallelism.sequence_parallel if parallelism.HasField("sequence_parallel") else None,
        recompute_layer_fraction=fraction if fraction > 0 else None,
    )


def plan_to_proto(plan: ParallelPlan) -> common_pb2.Parallelism:
    return common_pb2.Parallelism(**plan_fields(plan))


# The *_fields functions give a message's field values as a dict: a response built with
# `field=dict` fills its sub-message in place, where `field=Message(...)` builds one and copies
# it (~0.5 µs a sub-message; a training response has four). The same fields are set either way.


def plan_fields(plan: ParallelPlan) -> dict[str, int | bool | float]:
    """The Parallelism fields of `plan` (zero_stage and sequence_parallel always set: they have
    presence, and the plan's values are answered even when 0 / false)."""
    return dict(
        tensor_parallel_size=int(plan.tensor_parallel_size),
        pipeline_parallel_size=int(plan.pipeline_parallel_size),
        data_parallel_size=int(plan.data_parallel_size),
        expert_parallel_size=int(plan.expert_parallel_size),
        pipeline_interleaving=int(plan.pipeline_interleaving),
        micro_batch_size=int(plan.micro_batch_size),
        global_batch_size=int(plan.global_batch_size),
        zero_stage=int(plan.zero_stage),
        activation_recompute=RECOMPUTE_TO_PROTO[int(plan.activation_recompute)],
        sequence_parallel=bool(plan.sequence_parallel),
        activation_recompute_layer_fraction=float(plan.recompute_layer_fraction)
        if int(plan.activation_recompute) == RECOMPUTE_FULL
        else 0.0,
        context_parallel_size=int(plan.context_parallel_size),
    )


def duration(seconds: float) -> Duration:
    """Seconds → Duration (clamped to the Duration range, ±10,000 years)."""
    return Duration(**duration_fields(seconds))


def duration_fields(seconds: float) -> dict[str, int]:
    """The Duration fields of `seconds`, as `duration` sets them."""
    seconds = min(max(float(seconds), 0.0), 315_576_000_000.0)
    whole = int(seconds)
    return {"seconds": whole, "nanos": int(round((seconds - whole) * 1e9)) % 1_000_000_000}


def money(usd: float, field: str) -> Money:
    """USD → Money; FAILED_PRECONDITION naming the response `field` when the amount is past
    Money's int64 units (see finite.int64)."""
    return Money(**money_fields(usd, field))


def money_fields(usd: float, field: str) -> dict[str, str | int]:
    """The Money fields of `usd`, as `money` sets them (and refuses them)."""
    units = int64(math.floor(usd) if math.isfinite(usd) else usd, field)
    return {"currency_code": "USD", "units": units, "nanos": int(round((usd - units) * 1e9)) % 1_000_000_000}


def set_intervals(target, items) -> None:
    """Fill a response's `intervals` map from {name: uncertainty.Interval}, each with its unit
    (uncertainty.OUTPUT_UNITS; a name without one is a KeyError, never a unitless interval)."""
    for name, item in items.items():
        target[name].CopyFrom(common_pb2.Interval(p5=item.p5, p50=item.p50, p95=item.p95, unit=OUTPUT_UNITS[name]))


def assumptions_to_proto(items: Iterable[Assumption]) -> list[common_pb2.Assumption]:
    return [common_pb2.Assumption(name=a.name, value=a.value, origin=a.origin, source=a.source) for a in items]


def add_assumptions(message: Message, items: Iterable[Assumption], field: str = "assumptions") -> None:
    """Append Assumption messages to `message`'s repeated `field` (see wire.py for why so)."""
    message.MergeFromString(wire.assumption_elements(wire.field_number(message, field), items))


def add_quantities(message: Message, groups: Mapping[str, tuple[Mapping[str, float], str]]) -> None:
    """Append Quantity messages (no descriptions) to repeated fields of `message`: {field:
    ({name: value}, unit)}, all merged in one parse (see wire.py)."""
    message.MergeFromString(
        b"".join(
            [
                wire.quantity_elements(wire.field_number(message, field), values, unit)
                for field, (values, unit) in groups.items()
            ]
        )
    )


def quantities(
    values: Mapping[str, float], unit: str, descriptions: Mapping[str, str] | None = None
) -> list[common_pb2.Quantity]:
    descriptions = descriptions or {}
    return [
        common_pb2.Quantity(name=name, value=float(value), unit=unit, description=descriptions.get(name, ""))
        for name, value in values.items()
    ]


# One per catalog entry and precision (see shared_datasheet_hardware_model); bounded likewise.
MAX_CACHED_CALIBRATIONS = 512
_DATASHEET_CALIBRATIONS: IdentityMemo[common_pb2.Calibration] = IdentityMemo(MAX_CACHED_CALIBRATIONS)


def calibration_to_proto(hw: HardwareModel) -> common_pb2.Calibration:
    """The Calibration message of `hw`. Callers copy it into their response (a message field set
    from another message is a copy) and must not mutate it: a datasheet model's message is built
    once and shared, keyed by the model's identity (datasheet models are shared per catalog entry
    and precision, so the identity hits; profiled models are built per request and not cached)."""
    if hw.calibration_kind != "datasheet":
        return _calibration_message(hw)
    return _DATASHEET_CALIBRATIONS.get((hw.hardware_id, hw.precision), hw, lambda: _calibration_message(hw))


_DATASHEET_CALIBRATION_ELEMENTS: IdentityMemo[bytes] = IdentityMemo(MAX_CACHED_CALIBRATIONS)


def calibration_element(number: int, hw: HardwareModel) -> bytes:
    """`calibration_to_proto(hw)` as the wire bytes of message field `number` (tag, length,
    message), for a response built in one merge: a datasheet model's bytes are kept like its
    message (serialized once, not copied into every response), a profiled model's serialized
    per call. Calibration has no map field, so its serialization is deterministic."""
    if hw.calibration_kind != "datasheet":
        return wire.length_delimited(number, _calibration_message(hw).SerializeToString())
    return _DATASHEET_CALIBRATION_ELEMENTS.get(
        (hw.hardware_id, hw.precision, number),
        hw,
        lambda: wire.length_delimited(number, calibration_to_proto(hw).SerializeToString()),
    )


def set_operator_coverage(calibration: common_pb2.Calibration, coverage) -> None:
    """Fill `calibration.operator_table` from an estimate's OperatorStep (estimate/operator_table.py)."""
    report = coverage.as_dict()
    calibration.operator_table.CopyFrom(
        common_pb2.OperatorTableCoverage(
            operators_measured=report["operators_measured"],
            operators_interpolated=report["operators_interpolated"],
            operators_fallback=report["operators_fallback"],
            measured_share=report["measured_share"],
            interpolated_share=report["interpolated_share"],
            fallback_share=report["fallback_share"],
        )
    )


def _calibration_message(hw: HardwareModel) -> common_pb2.Calibration:
    kind = (
        common_pb2.Calibration.KIND_MEASURED_PROFILE
        if hw.calibration_kind == "measured_profile"
        else common_pb2.Calibration.KIND_DATASHEET
    )
    values = [
        common_pb2.Quantity(name=v.name, value=float(v.value), unit=v.unit, description=v.description)
        for v in hw.calibration_values
    ]
    name = (
        hw.profile_name
        if not hw.profile_name or hw.profile_name.startswith("profiles/")
        else f"profiles/{hw.profile_name}"
    )
    return common_pb2.Calibration(
        kind=kind,
        hardware_id=hw.hardware_id,
        profile_name=name,
        source=hw.calibration_source,
        date=hw.calibration_date,
        values=values,
    )
