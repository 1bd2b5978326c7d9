"""A capacity ramp: the fleet grows linearly to full size, reported quarter by quarter.

Why closed-form integrals: a linear ramp N(t) = N·min(t/T, 1) integrates exactly, so a quarter's
accelerator-hours, energy and spend need no time stepping and stay consistent with the steady
state of `campus.size_campus` (after the ramp, a year of periods sums to the annual figures).
Counts reported at the end of a period are rounded down to whole racks (what is installed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flopwatt.estimate.constants import HOURS_PER_YEAR

MONTHS_PER_QUARTER = 3
HOURS_PER_MONTH = HOURS_PER_YEAR / 12.0
# Longest ramp or horizon a request may ask for (months): 50 years.
MAX_MONTHS = 600


@dataclass(frozen=True)
class RampInputs:
    """Steady-state rates per installed accelerator, and the fleet at full size."""

    accelerator_count: float  # at full build-out
    accelerators_per_rack: int
    ramp_months: int
    horizon_months: int  # 0: ramp_months + 12
    utilization: float  # share of installed hours doing work
    facility_joules_per_accelerator_hour: float  # average draw × PUE, per installed hour
    spend_usd_per_accelerator_hour: float  # energy + amortised capex, or rental, per installed hour


@dataclass(frozen=True)
class Period:
    end_month: int
    accelerator_count: int
    accelerator_hours: float
    facility_energy_joules: float
    spend_usd: float
    cumulative_accelerator_hours: float
    cumulative_facility_energy_joules: float
    cumulative_spend_usd: float


def installed_accelerator_months(full_count: float, ramp_months: float, month: np.ndarray) -> np.ndarray:
    """∫₀^month N·min(t/T, 1) dt, in accelerator-months."""
    t = np.asarray(month, float)
    ramping = full_count * np.minimum(t, ramp_months) ** 2 / (2.0 * ramp_months)
    return ramping + full_count * np.maximum(t - ramp_months, 0.0)


def quarterly_periods(inputs: RampInputs) -> list[Period]:
    """One Period per quarter (the last one shorter when the horizon is not a whole quarter)."""
    horizon = inputs.horizon_months or inputs.ramp_months + 12
    ends = np.unique(np.append(np.arange(MONTHS_PER_QUARTER, horizon, MONTHS_PER_QUARTER), horizon))
    cumulative_months = installed_accelerator_months(inputs.accelerator_count, inputs.ramp_months, ends)
    installed_hours = np.diff(np.concatenate(([0.0], cumulative_months))) * HOURS_PER_MONTH
    rack = float(inputs.accelerators_per_rack)
    counts = np.floor(inputs.accelerator_count * np.minimum(ends / inputs.ramp_months, 1.0) / rack + 1e-9) * rack
    work_hours = installed_hours * inputs.utilization
    energy = installed_hours * inputs.facility_joules_per_accelerator_hour
    spend = installed_hours * inputs.spend_usd_per_accelerator_hour
    return [
        Period(int(end), int(count), float(h), float(e), float(s), float(ch), float(ce), float(cs))
        for end, count, h, e, s, ch, ce, cs in zip(
            ends, counts, work_hours, energy, spend, np.cumsum(work_hours), np.cumsum(energy), np.cumsum(spend)
        )
    ]
