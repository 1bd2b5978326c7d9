"""The facility and prices a request means: the values it set, else the sourced defaults, each
listed as an assumption.

A pure function of the set values and the hardware id, memoised: a dashboard varies a few
facilities, a sweep many, and the same FacilityInputs (frozen) serves every estimate of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from flopwatt.estimate import constants as C
from flopwatt.estimate.assumptions import Assumption
from flopwatt.estimate.campus_defaults import capital_cost_defaults, it_capex_usd_per_accelerator
from flopwatt.estimate.quick_init import quick_init
from flopwatt.estimate.run_cost import FacilityInputs

# Each defaulted facility input with its source.
FACILITY_DEFAULTS: dict[str, tuple[float, str]] = {
    "pue": (C.DEFAULT_PUE, "Uptime Institute 2023 average 1.58, Google fleet 2023 1.10; modern AI facility assumed"),
    "carbon_intensity_grams_per_kwh": (
        C.DEFAULT_CARBON_INTENSITY_GRAMS_PER_KWH,
        "world average 2023, Ember Global Electricity Review 2024",
    ),
    "electricity_price_usd_per_kwh": (
        C.DEFAULT_ELECTRICITY_PRICE_USD_PER_KWH,
        "US industrial average 2023, EIA Electric Power Monthly (2024-02)",
    ),
    "host_power_watts_per_accelerator": (
        C.HOST_POWER_WATTS_PER_ACCELERATOR,
        "DGX H100 10.2 kW − 8×700 W, ÷8, × 76 % load (NVIDIA 2023; arXiv 2506.14551)",
    ),
    "network_power_watts_per_accelerator": (
        C.NETWORK_POWER_WATTS_PER_ACCELERATOR,
        "QM9700 switch 1.7 kW/64 ports × 2.5 ports per endpoint × 76 % (NVIDIA datasheet 2023)",
    ),
    "wue_liters_per_kwh": (0.0, "no water estimate unless a WUE is given"),
}
FACILITY_FIELDS = (*FACILITY_DEFAULTS, "accelerator_hour_price_usd")
# Distinct (facility, hardware) pairs kept; a dashboard varies a few, a sweep many (LRU).
MAX_CACHED_FACILITIES = 256


@quick_init
@dataclass(frozen=True)
class FacilityChoice:
    """The facility values a request set, as sorted (name, value) pairs; unset ones default."""

    values: tuple[tuple[str, float], ...] = ()


def facility_inputs(choice: FacilityChoice, hardware_id: str) -> tuple[FacilityInputs, list[Assumption]]:
    """Set values where given, else the sourced defaults; each caller gets its own list."""
    inputs, assumptions = _facility_inputs(choice, hardware_id)
    return inputs, list(assumptions)


@lru_cache(maxsize=MAX_CACHED_FACILITIES)
def _facility_inputs(choice: FacilityChoice, hardware_id: str) -> tuple[FacilityInputs, tuple[Assumption, ...]]:
    given = dict(choice.values)
    values: dict[str, float] = {}
    assumptions = []
    for name, (default, source) in FACILITY_DEFAULTS.items():
        if name in given:
            values[name] = given[name]
            assumptions.append(Assumption(name, f"{values[name]:g}", "request", "request"))
        else:
            values[name] = default
            assumptions.append(Assumption(name, f"{default:g}", "default", source))
    hour_price = given.get("accelerator_hour_price_usd", math.nan)
    capex = it_capex_usd_per_accelerator(hardware_id)
    if math.isfinite(hour_price):
        assumptions.append(
            Assumption(
                "accelerator_hour_price_usd", f"{hour_price:g} USD", "request", "cost = accelerator-hours × price"
            )
        )
    elif math.isfinite(capex):
        assumptions.append(
            Assumption(
                "capex_usd_per_accelerator",
                f"{capex:,.0f} USD over {C.IT_DEPRECIATION_YEARS:g} years",
                "default",
                f"accelerator + server + network share, the IT capex campus sizing uses ({capital_cost_defaults(hardware_id).source}); "
                "cost = amortised capex + energy",
            )
        )
    else:
        assumptions.append(
            Assumption(
                "capex_usd_per_accelerator",
                "unknown",
                "default",
                f"no capex figure for {hardware_id}: cost counts energy only; set accelerator_hour_price_usd",
            )
        )
    return FacilityInputs(accelerator_hour_price_usd=hour_price, capex_usd_per_accelerator=capex, **values), tuple(
        assumptions
    )
