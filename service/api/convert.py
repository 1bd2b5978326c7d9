"""Protobuf ⇄ domain conversion for the estimate handlers (the only place both meet).

Resolves a ModelSpec (preset + overrides, explicit architecture, or a bare parameter count),
the hardware (catalog + optional measured profile), the facility (request or sourced defaults),
and turns domain results back into Duration, Money, Assumption, Calibration and Breakdown.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Iterable, Mapping

from google.protobuf.duration_pb2 import Duration
from google.type.money_pb2 import Money

from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.errors import FieldViolation, InvalidArgument, from_domain
from flopwatt.estimate import constants as C
from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.catalog import CatalogLookupError, HardwareSpec, ModelPreset, get_hardware, get_model_preset
from flopwatt.estimate.assumptions import Assumption
from flopwatt.estimate.memo import IdentityMemo
from flopwatt.estimate.hardware import HardwareModel, profiled_hardware_model, shared_datasheet_hardware_model
from flopwatt.estimate.campus_defaults import capital_cost_defaults, it_capex_usd_per_accelerator
from flopwatt.estimate.parallel_plan import RECOMPUTE_FULL, RECOMPUTE_NAMES, RECOMPUTE_NONE, RECOMPUTE_SELECTIVE, ParallelPlan
from flopwatt.estimate.planner import PlanConstraints
from flopwatt.estimate.run_cost import FacilityInputs
from flopwatt.estimate.measured_profile import read_profile
from flopwatt.estimate.profile_checks import profile_hardware_id
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
# Shape of a model synthesised from a bare parameter count: N ≈ 12·L·h² with the aspect ratio
# h/L = 128 of GPT-3-like models (Kaplan et al. 2020 §3.1 find loss flat in aspect ratio),
# head width 128, a 4h two-matrix MLP and a 32k vocabulary (Llama 2).
SYNTHETIC_HIDDEN_PER_LAYER = 128
SYNTHETIC_HEAD_DIM = 128
SYNTHETIC_VOCAB_SIZE = 32000
ARCHITECTURE_FIELDS = ("layer_count", "hidden_size", "attention_head_count", "kv_head_count", "ffn_hidden_size", "vocab_size",
                       "head_dim", "expert_count", "experts_per_token", "shared_expert_count", "dense_layer_count", "dense_ffn_hidden_size")


def precision_name(value: int, path: str = "precision") -> str:
    try:
        return PRECISION_NAMES[value]
    except KeyError:
        raise InvalidArgument.field(path, f"unknown precision {value}") from None


def _synthetic_architecture(parameter_count: float) -> ModelArchitecture:
    hidden = (parameter_count * SYNTHETIC_HIDDEN_PER_LAYER / 12.0) ** (1.0 / 3.0)
    hidden = max(SYNTHETIC_HEAD_DIM, int(round(hidden / SYNTHETIC_HEAD_DIM)) * SYNTHETIC_HEAD_DIM)
    layers = max(1, int(round(parameter_count / (12.0 * hidden * hidden))))
    heads = hidden // SYNTHETIC_HEAD_DIM
    return ModelArchitecture(layers, hidden, heads, heads, 4 * hidden, SYNTHETIC_VOCAB_SIZE, gated_mlp=False)


def catalog_hardware(hardware_id: str) -> HardwareSpec:
    """The catalog entry, or NOT_FOUND naming the id."""
    try:
        return get_hardware(hardware_id)
    except CatalogLookupError as error:
        raise from_domain(error) from None


def catalog_model_preset(preset_id: str) -> ModelPreset:
    """The model preset, or NOT_FOUND naming the id."""
    try:
        return get_model_preset(preset_id)
    except CatalogLookupError as error:
        raise from_domain(error) from None


def model_from_spec(spec, path: str) -> tuple[ModelArchitecture, float, list[Assumption]]:
    """(architecture, active-parameter override or NaN, assumptions) of a ModelSpec."""
    assumptions: list[Assumption] = []
    base: dict = {}
    if spec.preset_id:
        preset = catalog_model_preset(spec.preset_id)
        fields, model_assumption = _PRESET_BASES.get(preset.id, preset, lambda: _preset_basis(preset))
        base = dict(fields)  # updated with the request's overrides below: the memo's stays intact
        assumptions.append(model_assumption)
    overrides = {name: getattr(spec, name) for name in ARCHITECTURE_FIELDS if getattr(spec, name) > 0}
    for name in ("tied_embeddings", "gated_mlp", "dropout"):
        if spec.HasField(name):
            overrides[name] = getattr(spec, name)
    base.update(overrides)
    if overrides and spec.preset_id:
        assumptions.append(Assumption("model_overrides", ", ".join(f"{k}={v}" for k, v in sorted(overrides.items())), "request", "fields set in the request replace the preset's"))
    required = ("layer_count", "hidden_size", "attention_head_count", "ffn_hidden_size", "vocab_size")
    if all(base.get(name) for name in required):
        base.setdefault("kv_head_count", 0)
        if not base["kv_head_count"]:
            base["kv_head_count"] = base["attention_head_count"]
        arch = ModelArchitecture(**base)
        problems = _architecture_problems(arch, path) + _count_conflicts(spec, arch, preset if spec.preset_id else None, path)
        if problems:
            raise InvalidArgument(problems)
        return arch, math.nan, assumptions
    if spec.parameter_count > 0 and not base:
        active = spec.active_parameter_count or spec.parameter_count
        arch = _synthetic_architecture(float(active))
        assumptions.append(Assumption(
            "architecture", f"synthesised: {arch.layer_count} layers × hidden {arch.hidden_size}", "derived",
            "only a parameter count was given: model FLOPs use 6·N·D (Kaplan et al. 2020); step time uses a GPT-like "
            "shape with hidden/layers = 128, head width 128, MLP 4h, vocabulary 32k"))
        return arch, float(active), assumptions
    missing = [name for name in required if not base.get(name)]
    raise InvalidArgument([FieldViolation(f"{path}.{name}", "required without a preset_id or parameter_count") for name in missing]
                          or [FieldViolation(path, "give a preset_id, an architecture or a parameter_count")])


# Presets in the catalog: a few dozen; bounded like the other identity memos.
MAX_CACHED_PRESETS = 512
_PRESET_BASES: IdentityMemo[tuple[dict, Assumption]] = IdentityMemo(MAX_CACHED_PRESETS)


def _preset_basis(preset) -> tuple[dict, Assumption]:
    """A preset's architecture fields and its "model" assumption: a pure function of the
    (frozen) preset, memoised per catalog entry (IdentityMemo: a reloaded entry is rebuilt)."""
    fields = {name: getattr(preset.architecture, name) for name in preset.architecture.__dataclass_fields__}
    source = "; ".join(f"{s.citation} ({s.date})" for s in preset.sources) or preset.name
    return fields, Assumption("model", preset.name, "preset", source)


def _count_conflicts(spec, arch: ModelArchitecture, preset, path: str) -> list[FieldViolation]:
    """Parameter counts set beside a preset or an architecture, which define the counts: they
    would be silently ignored (a sweep over model.parameter_count of a preset would return the
    same point N times), so they are refused — except the preset's own published counts, which
    a ModelSpec copied from ListModels carries."""
    problems = []
    for name in ("parameter_count", "active_parameter_count"):
        value = getattr(spec, name)
        if value <= 0 or (preset is not None and value == getattr(preset, name) and _same_counts(arch, preset.architecture)):
            continue
        owner = f"preset {spec.preset_id!r}" if preset is not None else "the architecture fields"
        problems.append(FieldViolation(f"{path}.{name}", f"{owner} defines the parameter count; leave {name} unset, or drop the "
                                                         "preset and architecture fields to size a model by parameter count alone"))
    return problems


def _same_counts(arch: ModelArchitecture, other: ModelArchitecture) -> bool:
    from flopwatt.estimate.accounting import parameter_counts

    mine, theirs = parameter_counts(arch), parameter_counts(other)
    return float(mine.total) == float(theirs.total) and float(mine.active) == float(theirs.active)


def _architecture_problems(arch: ModelArchitecture, path: str) -> list[FieldViolation]:
    problems = []
    if arch.kv_head_count > arch.attention_head_count or arch.attention_head_count % arch.kv_head_count:
        problems.append(FieldViolation(f"{path}.kv_head_count", "must divide attention_head_count"))
    if not arch.head_dim and arch.hidden_size % arch.attention_head_count:
        problems.append(FieldViolation(f"{path}.attention_head_count", "must divide hidden_size (or set head_dim)"))
    if arch.expert_count > 1 and not 1 <= arch.experts_per_token <= arch.expert_count:
        problems.append(FieldViolation(f"{path}.experts_per_token", "must be between 1 and expert_count"))
    if arch.dense_layer_count > arch.layer_count:
        problems.append(FieldViolation(f"{path}.dense_layer_count", "must not exceed layer_count"))
    return problems


DATASHEET_CALIBRATION = Assumption("calibration", "datasheet", "datasheet", "no profile_id: datasheet peaks with the fitted default efficiencies")


def hardware_model(hardware_id: str, profile_id: str, precision: str, deps: ApiDependencies, path_prefix: str = "") -> tuple[HardwareModel, list[Assumption]]:
    """Catalog hardware, calibrated by the profile when one is named."""
    spec = catalog_hardware(hardware_id)
    if precision not in spec.peak_flops_per_second:
        raise InvalidArgument.field(f"{path_prefix}precision", f"{spec.id} has no {precision} rate (it has {', '.join(sorted(spec.peak_flops_per_second))})")
    if not profile_id:
        return shared_datasheet_hardware_model(spec, precision), [DATASHEET_CALIBRATION]
    try:
        profile = read_profile(deps.profile_document(profile_id))
        measured_id = profile_hardware_id(profile)
        if measured_id != spec.id:
            measured_on = measured_id or f"{profile.device_description}, which is not in the catalog"
            raise InvalidArgument.field(f"{path_prefix}profile_id", f"profile was measured on {measured_on}, not {spec.id}")
        model = profiled_hardware_model(spec, precision, profile, profile_id)
    except ValueError as error:  # ProfileReadError included
        raise InvalidArgument.field(f"{path_prefix}profile_id", str(error)) from None
    return model, [Assumption("calibration", f"profile {profile_id}", "profile", model.calibration_source)]


# Distinct (facility, hardware) pairs kept; a dashboard varies a few, a sweep many (LRU).
MAX_CACHED_FACILITIES = 256


def facility_inputs(facility, hardware_id: str) -> tuple[FacilityInputs, list[Assumption]]:
    """Request values where set, else the sourced defaults (each listed as an assumption).

    Memoised on the message's deterministic serialisation (which preserves field presence) and
    the hardware id: the result is a pure function of those and of module constants, the
    FacilityInputs is frozen, and each caller gets its own list of the (frozen) assumptions."""
    inputs, assumptions = _facility_inputs(type(facility), facility.SerializeToString(deterministic=True), hardware_id)
    return inputs, list(assumptions)


@lru_cache(maxsize=MAX_CACHED_FACILITIES)
def _facility_inputs(message_type: type, serialized: bytes, hardware_id: str) -> tuple[FacilityInputs, tuple[Assumption, ...]]:
    inputs, assumptions = _facility_inputs_uncached(message_type.FromString(serialized), hardware_id)
    return inputs, tuple(assumptions)


def _facility_inputs_uncached(facility, hardware_id: str) -> tuple[FacilityInputs, list[Assumption]]:
    defaults = {
        "pue": (C.DEFAULT_PUE, "Uptime Institute 2023 average 1.58, Google fleet 2023 1.10; modern AI facility assumed"),
        "carbon_intensity_grams_per_kwh": (C.DEFAULT_CARBON_INTENSITY_GRAMS_PER_KWH, "world average 2023, Ember Global Electricity Review 2024"),
        "electricity_price_usd_per_kwh": (C.DEFAULT_ELECTRICITY_PRICE_USD_PER_KWH, "US industrial average 2023, EIA Electric Power Monthly (2024-02)"),
        "host_power_watts_per_accelerator": (C.HOST_POWER_WATTS_PER_ACCELERATOR, "DGX H100 10.2 kW − 8×700 W, ÷8, × 76 % load (NVIDIA 2023; arXiv 2506.14551)"),
        "network_power_watts_per_accelerator": (C.NETWORK_POWER_WATTS_PER_ACCELERATOR, "QM9700 switch 1.7 kW/64 ports × 2.5 ports per endpoint × 76 % (NVIDIA datasheet 2023)"),
        "wue_liters_per_kwh": (0.0, "no water estimate unless a WUE is given"),
    }
    values: dict[str, float] = {}
    assumptions = []
    for name, (default, source) in defaults.items():
        if facility.HasField(name):
            values[name] = getattr(facility, name)
            assumptions.append(Assumption(name, f"{values[name]:g}", "request", "request"))
        else:
            values[name] = default
            assumptions.append(Assumption(name, f"{default:g}", "default", source))
    hour_price = facility.accelerator_hour_price_usd if facility.HasField("accelerator_hour_price_usd") else math.nan
    capex = it_capex_usd_per_accelerator(hardware_id)
    if math.isfinite(hour_price):
        assumptions.append(Assumption("accelerator_hour_price_usd", f"{hour_price:g} USD", "request", "cost = accelerator-hours × price"))
    elif math.isfinite(capex):
        assumptions.append(Assumption("capex_usd_per_accelerator", f"{capex:,.0f} USD over {C.IT_DEPRECIATION_YEARS:g} years", "default",
                                      f"accelerator + server + network share, the IT capex campus sizing uses ({capital_cost_defaults(hardware_id).source}); "
                                      "cost = amortised capex + energy"))
    else:
        assumptions.append(Assumption("capex_usd_per_accelerator", "unknown", "default", f"no capex figure for {hardware_id}: cost counts energy only; set accelerator_hour_price_usd"))
    return FacilityInputs(accelerator_hour_price_usd=hour_price, capex_usd_per_accelerator=capex, **values), assumptions


def plan_constraints(parallelism, path: str = "parallelism") -> PlanConstraints:
    """Set fields of a Parallelism message (0 / unspecified / absent = planner chooses)."""
    def positive(name: str):
        value = getattr(parallelism, name)
        return value if value > 0 else None

    recompute = RECOMPUTE_FROM_PROTO.get(parallelism.activation_recompute)
    degrees = [positive(name) for name in ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size")]
    # A request that fixes TP, PP and DP but not CP (written before CP existed) means no CP.
    context = positive("context_parallel_size") or (1 if all(degrees) else None)
    return PlanConstraints(
        tensor_parallel_size=positive("tensor_parallel_size"),
        context_parallel_size=context,
        pipeline_parallel_size=positive("pipeline_parallel_size"),
        data_parallel_size=positive("data_parallel_size"),
        expert_parallel_size=positive("expert_parallel_size"),
        pipeline_interleaving=positive("pipeline_interleaving"),
        micro_batch_size=positive("micro_batch_size"),
        global_batch_size=positive("global_batch_size"),
        zero_stage=parallelism.zero_stage if parallelism.HasField("zero_stage") else None,
        activation_recompute=recompute,
        sequence_parallel=parallelism.sequence_parallel if parallelism.HasField("sequence_parallel") else None,
        recompute_layer_fraction=positive("activation_recompute_layer_fraction"),
    )


def plan_to_proto(plan: ParallelPlan) -> common_pb2.Parallelism:
    return common_pb2.Parallelism(
        tensor_parallel_size=int(plan.tensor_parallel_size), pipeline_parallel_size=int(plan.pipeline_parallel_size),
        data_parallel_size=int(plan.data_parallel_size), expert_parallel_size=int(plan.expert_parallel_size),
        pipeline_interleaving=int(plan.pipeline_interleaving), micro_batch_size=int(plan.micro_batch_size),
        global_batch_size=int(plan.global_batch_size), zero_stage=int(plan.zero_stage),
        activation_recompute=RECOMPUTE_TO_PROTO[int(plan.activation_recompute)], sequence_parallel=bool(plan.sequence_parallel),
        activation_recompute_layer_fraction=float(plan.recompute_layer_fraction) if int(plan.activation_recompute) == RECOMPUTE_FULL else 0.0,
        context_parallel_size=int(plan.context_parallel_size),
    )


def plan_description(plan: ParallelPlan) -> str:
    return (f"TP {plan.tensor_parallel_size} × CP {plan.context_parallel_size} × PP {plan.pipeline_parallel_size} (×{plan.pipeline_interleaving} interleaved) × DP "
            f"{plan.data_parallel_size}, EP {plan.expert_parallel_size}, micro-batch {plan.micro_batch_size}, global batch "
            f"{plan.global_batch_size}, ZeRO {plan.zero_stage}, recompute {RECOMPUTE_NAMES[int(plan.activation_recompute)]}"
            f"{f' ({float(plan.recompute_layer_fraction):.0%} of layers)' if int(plan.activation_recompute) == RECOMPUTE_FULL else ''}, "
            f"SP {'on' if plan.sequence_parallel else 'off'}")


def duration(seconds: float) -> Duration:
    """Seconds → Duration (clamped to the Duration range, ±10,000 years)."""
    seconds = min(max(float(seconds), 0.0), 315_576_000_000.0)
    whole = int(seconds)
    return Duration(seconds=whole, nanos=int(round((seconds - whole) * 1e9)) % 1_000_000_000)


def money(usd: float) -> Money:
    units = int(math.floor(usd))
    return Money(currency_code="USD", units=units, nanos=int(round((usd - units) * 1e9)) % 1_000_000_000)


def assumptions_to_proto(items: Iterable[Assumption]) -> list[common_pb2.Assumption]:
    return [common_pb2.Assumption(name=a.name, value=a.value, origin=a.origin, source=a.source) for a in items]


def add_assumptions(repeated, items: Iterable[Assumption]) -> None:
    """Append Assumption messages to a response's repeated field in place: half the cost of
    building a list and passing it to the constructor, which copies every message again."""
    add = repeated.add
    for a in items:
        add(name=a.name, value=a.value, origin=a.origin, source=a.source)


def add_quantities(repeated, values: Mapping[str, float], unit: str) -> None:
    """Append Quantity messages (no descriptions) in place; see add_assumptions for why."""
    add = repeated.add
    for name, value in values.items():
        add(name=name, value=float(value), unit=unit)


def quantities(values: Mapping[str, float], unit: str, descriptions: Mapping[str, str] | None = None) -> list[common_pb2.Quantity]:
    descriptions = descriptions or {}
    return [common_pb2.Quantity(name=name, value=float(value), unit=unit, description=descriptions.get(name, "")) for name, value in values.items()]


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


def _calibration_message(hw: HardwareModel) -> common_pb2.Calibration:
    kind = common_pb2.Calibration.KIND_MEASURED_PROFILE if hw.calibration_kind == "measured_profile" else common_pb2.Calibration.KIND_DATASHEET
    values = [common_pb2.Quantity(name=v.name, value=float(v.value), unit=v.unit, description=v.description) for v in hw.calibration_values]
    name = hw.profile_name if not hw.profile_name or hw.profile_name.startswith("profiles/") else f"profiles/{hw.profile_name}"
    return common_pb2.Calibration(kind=kind, hardware_id=hw.hardware_id, profile_name=name, source=hw.calibration_source,
                                  date=hw.calibration_date, values=values)


def accelerator_power_assumptions(hw: HardwareModel) -> list[Assumption]:
    """How the accelerator's power was obtained, stated, including when it is unknown: an
    accelerator with neither measured power nor a published TDP (TPU v5p) draws 0 W in the
    model, so its energy, carbon and energy cost count hosts and network only."""
    if hw.idle_watts is not None and hw.load_watts is not None:
        return []
    if not hw.tdp_watts > 0:
        return [Assumption("accelerator_power", "unknown: not counted", "default",
                           "no measured power and no published TDP for this accelerator: energy, carbon and energy cost count hosts "
                           "and network only; measure a profile (profile_id) for the accelerator's share")]
    return [Assumption("accelerator_power", f"{C.TRAINING_POWER_FRACTION_OF_TDP:.0%} of TDP when busy, {C.IDLE_POWER_FRACTION_OF_TDP:.0%} idle", "default",
                       "measured 8×H100 training nodes draw ≤ 76 % of nameplate (arXiv 2506.14551, 2025)")]
