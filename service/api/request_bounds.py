"""Request validation shared by the estimate handlers: every bad field is named, never a crash.

Checks collect `FieldViolation`s and raise one `InvalidArgument` with all of them, so a client
learns every problem of a request at once.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
from dataclasses import dataclass, field

from flopwatt.estimate.model_choice import MAX_MODEL_PARAMETERS
from flopwatt.estimate.uncertainty import MAX_SAMPLES as MAX_UNCERTAINTY_SAMPLES
from flopwatt.service.errors import FieldViolation, InvalidArgument

# Bounds on request numbers: generous beyond any published model or cluster, tight enough that
# arithmetic stays finite and the planner's search stays small.
MAX_LAYER_COUNT = 10_000
MAX_WIDTH_ELEMENTS = 1_000_000  # hidden, FFN, head dims
MAX_HEAD_COUNT = 100_000
MAX_VOCAB_SIZE = 10_000_000
MAX_EXPERT_COUNT = 100_000
MAX_PARAMETER_COUNT = MAX_MODEL_PARAMETERS
MAX_TRAINING_TOKENS = 10**17
MAX_SEQUENCE_LENGTH = 10_000_000
MAX_ACCELERATOR_COUNT = 10_000_000
MAX_BATCH_SEQUENCES = 100_000_000
MAX_PUE = 5.0
MAX_CARBON_GRAMS_PER_KWH = 5_000.0
MAX_PRICE_USD = 1.0e6
MAX_POWER_WATTS = 1.0e6
MAX_WUE_LITERS_PER_KWH = 100.0
MAX_PARALLEL_DEGREE = 1_000_000
# A campus: far beyond any announced site (the largest plans are ~10 GW, ~10^7 GPUs).
MAX_CAMPUS_ACCELERATORS = 100_000_000
# EstimateCampus's demand capacity: more people than live on Earth, a request every second of the
# day, and a busiest hour at most 100 × the daily mean (a service used 15 minutes a day).
MAX_DEMAND_USERS = 10_000_000_000
MAX_DEMAND_REQUESTS_PER_USER_PER_DAY = 86_400.0
MAX_DEMAND_PEAK_TO_AVERAGE_RATIO = 100.0
# Field violations kept per request: the error interceptor sends at most 20 anyway (trailers stay
# far below gRPC's header limit), so building more only costs the server.
MAX_VIOLATIONS = 19
# Drafted tokens per speculative step: EAGLE-2/3 and Medusa draft at most a few levels deep and
# vLLM's examples use 2–5; past 16 the k + 1 verified rows only add compute (α^k → 0).
MAX_SPECULATIVE_DRAFT_TOKENS = 16
# Below 1 % useful time a run is not training at all; lower values only push the wall clock past
# Duration's 10,000-year range (silently capped) or to infinity (a goodput of 1e-308).
MIN_GOODPUT = 0.01
# Largest |nanos| of a google.type.Money or Duration, and |seconds| of a Duration: the ranges
# money.proto and duration.proto document (beyond them the value has two spellings or none).
MAX_NANOS = 999_999_999
MAX_DURATION_SECONDS = 315_576_000_000
# ModelSpec integers and their maxima (0 = unset), shared by EstimateTraining's checks and
# SweepTraining's structural axes so that a swept value meets the very bound a request does.
MODEL_SPEC_MAXIMA = {
    "layer_count": MAX_LAYER_COUNT,
    "hidden_size": MAX_WIDTH_ELEMENTS,
    "attention_head_count": MAX_HEAD_COUNT,
    "kv_head_count": MAX_HEAD_COUNT,
    "ffn_hidden_size": MAX_WIDTH_ELEMENTS,
    "vocab_size": MAX_VOCAB_SIZE,
    "expert_count": MAX_EXPERT_COUNT,
    "experts_per_token": MAX_EXPERT_COUNT,
    "head_dim": MAX_WIDTH_ELEMENTS,
    "shared_expert_count": MAX_EXPERT_COUNT,
    "dense_layer_count": MAX_LAYER_COUNT,
    "dense_ffn_hidden_size": MAX_WIDTH_ELEMENTS,
    "kv_lora_rank": MAX_WIDTH_ELEMENTS,
    "qk_rope_head_dim": MAX_WIDTH_ELEMENTS,
    "max_routed_nodes_per_token": MAX_EXPERT_COUNT,
    "parameter_count": MAX_PARAMETER_COUNT,
    "active_parameter_count": MAX_PARAMETER_COUNT,
}
# Parallelism integers of EstimateTraining and their maxima (0 = planner chooses).
PARALLELISM_MAXIMA = {
    **{
        name: MAX_PARALLEL_DEGREE
        for name in (
            "tensor_parallel_size",
            "context_parallel_size",
            "pipeline_parallel_size",
            "data_parallel_size",
            "expert_parallel_size",
            "pipeline_interleaving",
            "micro_batch_size",
        )
    },
    "global_batch_size": MAX_BATCH_SEQUENCES,
    "zero_stage": 3,  # ZeRO has stages 0 to 3
}
# Every integer field of EstimateTrainingRequest by path, with its maximum.
TRAINING_INTEGER_MAXIMA = {
    "training_tokens": MAX_TRAINING_TOKENS,
    "sequence_length": MAX_SEQUENCE_LENGTH,
    "accelerator_count": MAX_ACCELERATOR_COUNT,
    **{f"model.{name}": maximum for name, maximum in MODEL_SPEC_MAXIMA.items()},
    **{f"parallelism.{name}": maximum for name, maximum in PARALLELISM_MAXIMA.items()},
}


def number(value: float) -> str:
    """A number as a message shows it: `-8`, `1e+300`, never `np.float64(-8.0)` (a NumPy
    scalar's repr) — clients read these messages, and they should not see our types."""
    return f"{float(value):.15g}"


@dataclass
class Violations:
    """Accumulates field violations; `raise_if_any` ends validation. At most MAX_VIOLATIONS are
    kept (a request with thousands of bad fields gets the first ones and a count of the rest,
    not thousands of messages built and then cut by the error interceptor)."""

    items: list[FieldViolation] = field(default_factory=list)
    omitted: int = 0
    first_omitted: FieldViolation | None = None

    def add(self, path: str, description: str) -> None:
        if len(self.items) < MAX_VIOLATIONS:
            self.items.append(FieldViolation(path, description))
        else:
            self.omitted += 1
            self.first_omitted = self.first_omitted or FieldViolation(path, description)

    def integer(self, path: str, value: int, *, maximum: int, required: bool = False, minimum: int = 0) -> None:
        """0 means unset unless `required`; negative or too large is refused."""
        if required and value <= 0:
            self.add(path, "must be positive")
        elif value < minimum:
            self.add(path, f"must be at least {minimum}" if minimum else "must not be negative")
        elif value > maximum:
            self.add(path, f"must be at most {maximum:,}")

    def real(self, path: str, value: float, *, minimum: float, maximum: float, exclusive_minimum: bool = False) -> None:
        if not math.isfinite(value):
            self.add(path, "must be a finite number")
        elif value < minimum or (exclusive_minimum and value == minimum):
            self.add(path, f"must be {'greater than' if exclusive_minimum else 'at least'} {minimum:g}")
        elif value > maximum:
            self.add(path, f"must be at most {maximum:g}")

    def raise_if_any(self) -> None:
        if self.first_omitted is not None:
            last = self.first_omitted  # named like every violation; it stands for the rest too
            more = f" (and {self.omitted - 1:,} more violations not listed)" if self.omitted > 1 else ""
            raise InvalidArgument([*self.items, FieldViolation(last.field, last.description + more)])
        if self.items:
            raise InvalidArgument(self.items)


def check_model_spec(spec, path: str, violations: Violations) -> None:
    """Ranges of every ModelSpec number (0 = unset)."""
    values = _model_spec_values(spec)
    if all_within(values, MODEL_SPEC_UPPER_BOUNDS):
        return  # every number in range: the loop below would add nothing
    for (_, field_path, maximum), value in zip(_model_spec_paths(path), values):
        violations.integer(field_path, value, maximum=maximum)


def all_within(values: tuple, maxima: tuple) -> bool:
    """Whether 0 <= value <= maximum for each pair, i.e. `Violations.integer` (not required,
    minimum 0) would add nothing for any of them (NaN is not within). Two C-level passes: the
    ~28 range checks of a request's numbers cost ~0.2 µs each as method calls, and nearly
    every request is within range."""
    return all(map(operator.le, itertools.repeat(0), values)) and all(map(operator.le, values, maxima))


_model_spec_values = operator.attrgetter(*MODEL_SPEC_MAXIMA)
MODEL_SPEC_UPPER_BOUNDS = tuple(MODEL_SPEC_MAXIMA.values())


@functools.lru_cache(maxsize=64)  # a few fixed paths ("model", "speculative_decoding.draft_model", ...)
def _model_spec_paths(path: str) -> tuple[tuple[str, str, int], ...]:
    """(field, its path under `path`, maximum) of every ModelSpec number: the paths are built once,
    not ~17 strings per estimate."""
    return tuple((name, f"{path}.{name}", maximum) for name, maximum in MODEL_SPEC_MAXIMA.items())


FACILITY_BOUNDS = {
    "pue": (1.0, MAX_PUE),
    "carbon_intensity_grams_per_kwh": (0.0, MAX_CARBON_GRAMS_PER_KWH),
    "electricity_price_usd_per_kwh": (0.0, MAX_PRICE_USD),
    "accelerator_hour_price_usd": (0.0, MAX_PRICE_USD),
    "wue_liters_per_kwh": (0.0, MAX_WUE_LITERS_PER_KWH),
    "host_power_watts_per_accelerator": (0.0, MAX_POWER_WATTS),
    "network_power_watts_per_accelerator": (0.0, MAX_POWER_WATTS),
}


def check_facility(facility, path: str, violations: Violations) -> None:
    """Optional facility numbers: present ones must be finite and in range (an empty message,
    the usual request, has none present: each field has presence, so a set one serializes)."""
    if not facility.ByteSize():
        return
    for name, (low, high) in FACILITY_BOUNDS.items():
        if facility.HasField(name):
            violations.real(f"{path}.{name}", getattr(facility, name), minimum=low, maximum=high)


def check_uncertainty(uncertainty, path: str, violations: Violations) -> None:
    if not 0 <= uncertainty.samples <= MAX_UNCERTAINTY_SAMPLES:
        violations.add(f"{path}.samples", f"must be between 0 (off) and {MAX_UNCERTAINTY_SAMPLES:,}")


def check_money(money, path: str, v: Violations, *, maximum_usd: float) -> float:
    """A positive USD amount of a google.type.Money, in USD; the Money type's own rules first:
    nanos within ±999,999,999 and of the sign of units (money.proto), so that 5 units − 5 nanos
    is refused rather than read as 4.999999995."""
    if money.currency_code not in ("", "USD"):
        v.add(f"{path}.currency_code", "only USD is supported")
    if abs(money.nanos) > MAX_NANOS:
        v.add(f"{path}.nanos", f"must be between -{MAX_NANOS:,} and {MAX_NANOS:,}")
    elif (money.units > 0 and money.nanos < 0) or (money.units < 0 and money.nanos > 0):
        v.add(f"{path}.nanos", "must have the sign of units")
    usd = money.units + money.nanos / 1e9
    v.real(path, usd, minimum=0.0, maximum=maximum_usd, exclusive_minimum=True)
    return usd


def check_duration(duration, path: str, v: Violations) -> float:
    """A google.protobuf.Duration in seconds, after the type's own rules (duration.proto):
    nanos within ±999,999,999 and of the sign of seconds; NaN when it breaks them."""
    if abs(duration.nanos) > MAX_NANOS:
        v.add(f"{path}.nanos", f"must be between -{MAX_NANOS:,} and {MAX_NANOS:,}")
        return math.nan
    if abs(duration.seconds) > MAX_DURATION_SECONDS:
        v.add(
            f"{path}.seconds", f"must be between -{MAX_DURATION_SECONDS:,} and {MAX_DURATION_SECONDS:,} (±10,000 years)"
        )
        return math.nan
    if (duration.seconds > 0 and duration.nanos < 0) or (duration.seconds < 0 and duration.nanos > 0):
        v.add(f"{path}.nanos", "must have the sign of seconds")
        return math.nan
    return duration.seconds + duration.nanos / 1e9


def duration_seconds(duration) -> float:
    """A google.protobuf.Duration in seconds."""
    return duration.seconds + duration.nanos / 1e9


def check_slo(slo, path: str, v: Violations) -> None:
    """A ServingSlo's p99 targets: non-negative durations, at least one of them positive (zero is
    unconstrained). EstimateInference's `slo` and a campus demand's `demand.slo` alike."""
    targets = {"time_to_first_token": slo.time_to_first_token, "time_per_output_token": slo.time_per_output_token}
    for name, duration in targets.items():
        if duration.seconds < 0 or duration.nanos < 0 or duration.nanos >= 1_000_000_000:
            v.add(f"{path}.{name}", "must be a non-negative duration")
    if not any(duration_seconds(d) > 0 for d in targets.values()):
        v.add(path, "give time_to_first_token or time_per_output_token (or both)")


def check_speculative_decoding(spec, path: str, v: Violations) -> None:
    """A SpeculativeDecoding: 1 ≤ draft_tokens ≤ MAX_SPECULATIVE_DRAFT_TOKENS, a finite
    acceptance_rate in [0, 1) (at 1 every draft is accepted and the expectation's denominator
    vanishes), and the draft model's numbers in range."""
    if not 1 <= spec.draft_tokens <= MAX_SPECULATIVE_DRAFT_TOKENS:
        v.add(f"{path}.draft_tokens", f"must be between 1 and {MAX_SPECULATIVE_DRAFT_TOKENS}")
    rate = spec.acceptance_rate
    if not math.isfinite(rate):
        v.add(f"{path}.acceptance_rate", "must be a finite number")
    elif not 0.0 <= rate < 1.0:
        v.add(f"{path}.acceptance_rate", "must be at least 0 and below 1 (the probability a drafted token is accepted)")
    if spec.HasField("draft_model"):
        check_model_spec(spec.draft_model, f"{path}.draft_model", v)
