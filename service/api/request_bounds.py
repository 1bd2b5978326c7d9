"""Request validation shared by the estimate handlers: every bad field is named, never a crash.

Checks collect `FieldViolation`s and raise one `InvalidArgument` with all of them, so a client
learns every problem of a request at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from flopwatt.service.errors import FieldViolation, InvalidArgument
from flopwatt.estimate.uncertainty import MAX_SAMPLES as MAX_UNCERTAINTY_SAMPLES

# Bounds on request numbers: generous beyond any published model or cluster, tight enough that
# arithmetic stays finite and the planner's search stays small.
MAX_LAYER_COUNT = 10_000
MAX_WIDTH_ELEMENTS = 1_000_000  # hidden, FFN, head dims
MAX_HEAD_COUNT = 100_000
MAX_VOCAB_SIZE = 10_000_000
MAX_EXPERT_COUNT = 100_000
MAX_PARAMETER_COUNT = 10**15
MAX_TRAINING_TOKENS = 10**17
MAX_SEQUENCE_LENGTH = 10_000_000
MAX_ACCELERATOR_COUNT = 10_000_000
MAX_BATCH_SEQUENCES = 100_000_000
MAX_PUE = 5.0
MAX_CARBON_GRAMS_PER_KWH = 5_000.0
MAX_PRICE_USD = 1.0e6
MAX_POWER_WATTS = 1.0e6
MAX_WUE_LITERS_PER_KWH = 100.0


@dataclass
class Violations:
    """Accumulates field violations; `raise_if_any` ends validation."""

    items: list[FieldViolation] = field(default_factory=list)

    def add(self, path: str, description: str) -> None:
        self.items.append(FieldViolation(path, description))

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
        if self.items:
            raise InvalidArgument(self.items)


def check_model_spec(spec, path: str, violations: Violations) -> None:
    """Ranges of every ModelSpec number (0 = unset)."""
    for name, maximum in (
        ("layer_count", MAX_LAYER_COUNT), ("hidden_size", MAX_WIDTH_ELEMENTS), ("attention_head_count", MAX_HEAD_COUNT),
        ("kv_head_count", MAX_HEAD_COUNT), ("ffn_hidden_size", MAX_WIDTH_ELEMENTS), ("vocab_size", MAX_VOCAB_SIZE),
        ("expert_count", MAX_EXPERT_COUNT), ("experts_per_token", MAX_EXPERT_COUNT), ("head_dim", MAX_WIDTH_ELEMENTS),
        ("shared_expert_count", MAX_EXPERT_COUNT), ("dense_layer_count", MAX_LAYER_COUNT),
        ("dense_ffn_hidden_size", MAX_WIDTH_ELEMENTS), ("kv_lora_rank", MAX_WIDTH_ELEMENTS), ("qk_rope_head_dim", MAX_WIDTH_ELEMENTS),
        ("parameter_count", MAX_PARAMETER_COUNT),
        ("active_parameter_count", MAX_PARAMETER_COUNT),
    ):
        violations.integer(f"{path}.{name}", getattr(spec, name), maximum=maximum)


def check_facility(facility, path: str, violations: Violations) -> None:
    """Optional facility numbers: present ones must be finite and in range."""
    bounds = {
        "pue": (1.0, MAX_PUE),
        "carbon_intensity_grams_per_kwh": (0.0, MAX_CARBON_GRAMS_PER_KWH),
        "electricity_price_usd_per_kwh": (0.0, MAX_PRICE_USD),
        "accelerator_hour_price_usd": (0.0, MAX_PRICE_USD),
        "wue_liters_per_kwh": (0.0, MAX_WUE_LITERS_PER_KWH),
        "host_power_watts_per_accelerator": (0.0, MAX_POWER_WATTS),
        "network_power_watts_per_accelerator": (0.0, MAX_POWER_WATTS),
    }
    for name, (low, high) in bounds.items():
        if facility.HasField(name):
            violations.real(f"{path}.{name}", getattr(facility, name), minimum=low, maximum=high)


def check_uncertainty(uncertainty, path: str, violations: Violations) -> None:
    if not 0 <= uncertainty.samples <= MAX_UNCERTAINTY_SAMPLES:
        violations.add(f"{path}.samples", f"must be between 0 (off) and {MAX_UNCERTAINTY_SAMPLES:,}")
