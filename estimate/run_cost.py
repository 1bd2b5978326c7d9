"""From one step to a whole run: goodput, energy, money and carbon (vectorised).

Goodput follows the Young/Daly first-order model of checkpoint/restart (Young 1974; Daly 2006):
with a job-level failure rate λ·N (λ per accelerator-hour, from Llama 3's 419 interruptions in
54 days on 16,384 GPUs), checkpoints every τ = sqrt(2·δ·MTBF) (or a requested τ) cost δ/τ, and
each failure loses τ/2 of work plus a restart R. A one-off start-up is amortised over the run's
length, and evaluation adds a fraction of the step time. `wall_clock_parts` keeps each of these
separate (they sum to the wall clock); goodput is compute over their sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from flopwatt.estimate.constants import (
    CHECKPOINT_WRITE_SECONDS,
    FAILURES_PER_ACCELERATOR_HOUR,
    HOURS_PER_YEAR,
    IT_DEPRECIATION_YEARS,
    JOULES_PER_KWH,
    RESTART_SECONDS,
    RUN_STARTUP_SECONDS,
    SECONDS_PER_HOUR,
)
from flopwatt.estimate.numeric import as_float, isfinite, where
from flopwatt.estimate.quick_init import quick_init

ArrayLike = Any


@quick_init
@dataclass(frozen=True)
class GoodputInputs:
    """Inputs of the goodput model (numbers may be arrays). The defaults are constants.py's,
    each with its source there; a request may set any of them (EstimateTrainingRequest.goodput_inputs).

    checkpoint_interval_seconds 0 means the Young/Daly optimum sqrt(2·δ·MTBF); a fixed interval
    is what a run configured (e.g. every N steps) and usually costs more than the optimum.
    evaluation_fraction is time spent on evaluation and other non-training work (validation
    loss, benchmarks, data-loader stalls) per second of training steps: 0 by default, because
    no published pre-training run we use reports it separately."""

    failures_per_accelerator_hour: ArrayLike = FAILURES_PER_ACCELERATOR_HOUR
    checkpoint_write_seconds: ArrayLike = CHECKPOINT_WRITE_SECONDS
    restart_seconds: ArrayLike = RESTART_SECONDS
    startup_seconds: ArrayLike = RUN_STARTUP_SECONDS
    checkpoint_interval_seconds: ArrayLike = 0.0
    evaluation_fraction: ArrayLike = 0.0


@quick_init
@dataclass(frozen=True)
class WallClockParts:
    """Where a run's wall clock goes (seconds); the parts sum to the wall clock (`total`).

    Why separate: a goodput alone hides whether a run lost its time to failures, checkpoints or
    a long start-up, which is what a planner changes (faster restarts, async checkpoints)."""

    compute: ArrayLike  # training steps that count (step time × steps)
    checkpointing: ArrayLike  # writing checkpoints: compute × δ/τ
    failures_and_restarts: ArrayLike  # per failure: the work since the last checkpoint (τ/2) + restart
    startup: ArrayLike  # one-off: scheduling, loading, compilation, warm-up
    evaluation: ArrayLike  # evaluation and other non-training work: compute × fraction
    request_goodput_loss: ArrayLike = 0.0  # a request's fixed goodput: its whole loss, unattributed

    @property
    def total(self) -> ArrayLike:
        return (
            self.compute
            + self.checkpointing
            + self.failures_and_restarts
            + self.startup
            + self.evaluation
            + self.request_goodput_loss
        )

    def as_dict(self) -> dict[str, ArrayLike]:
        return {
            "compute": self.compute,
            "checkpointing": self.checkpointing,
            "failures_and_restarts": self.failures_and_restarts,
            "startup": self.startup,
            "evaluation": self.evaluation,
            "request_goodput_loss": self.request_goodput_loss,
        }


def wall_clock_parts(
    accelerator_count: ArrayLike, productive_seconds: ArrayLike, inputs: GoodputInputs = GoodputInputs()
) -> WallClockParts:
    """The first-order checkpoint/restart model (Young 1974; Daly 2006), part by part: with a
    job failure rate r = λ·N per second, checkpoints every τ cost δ/τ per productive second and
    each failure loses τ/2 of work plus the restart R. No failures need no checkpoints (τ → ∞:
    both parts 0, not ∞/∞); a free checkpoint (δ = 0) with the optimal τ = 0 costs nothing."""
    productive = as_float(productive_seconds)
    rate = inputs.failures_per_accelerator_hour * as_float(accelerator_count) / SECONDS_PER_HOUR  # 1 / MTBF
    # At the optimum τ = sqrt(2δ/r) both δ/τ and r·τ/2 equal sqrt(δ·r/2): written without τ,
    # no failures (r = 0) or a free checkpoint (δ = 0) give 0 rather than ∞/∞ or 0/0.
    optimal_share = np.sqrt(inputs.checkpoint_write_seconds * rate / 2.0)
    interval = as_float(inputs.checkpoint_interval_seconds)
    fixed = interval > 0
    checkpoint_share = where(fixed, inputs.checkpoint_write_seconds / where(fixed, interval, 1.0), optimal_share)
    lost_work_share = where(fixed, rate * interval / 2.0, optimal_share)
    failure_share = lost_work_share + rate * inputs.restart_seconds
    # none before a run of 0 s; exactly the input otherwise (x·p/p is not x in floating point)
    startup = where(as_float(productive) > 0, as_float(inputs.startup_seconds), 0.0)
    return WallClockParts(
        compute=productive,
        checkpointing=productive * checkpoint_share,
        failures_and_restarts=productive * failure_share,
        startup=startup,
        evaluation=productive * inputs.evaluation_fraction,
    )


def goodput(
    accelerator_count: ArrayLike, productive_seconds: ArrayLike, inputs: GoodputInputs = GoodputInputs()
) -> ArrayLike:
    """Fraction of wall-clock time spent on useful steps (0..1]."""
    return parts_goodput(wall_clock_parts(accelerator_count, productive_seconds, inputs))


def parts_goodput(parts: WallClockParts) -> ArrayLike:
    """compute / total; 1 for a run of no compute (nothing to lose)."""
    total = parts.total
    return where(total > 0, parts.compute / where(total > 0, total, 1.0), 1.0)


@quick_init
@dataclass(frozen=True)
class FacilityInputs:
    """Facility and prices (numbers may be arrays). Hour price 0 or NaN: TCO from capex + energy."""

    pue: ArrayLike
    carbon_intensity_grams_per_kwh: ArrayLike
    electricity_price_usd_per_kwh: ArrayLike
    host_power_watts_per_accelerator: ArrayLike
    network_power_watts_per_accelerator: ArrayLike
    accelerator_hour_price_usd: ArrayLike = np.nan
    capex_usd_per_accelerator: ArrayLike = np.nan
    wue_liters_per_kwh: ArrayLike = 0.0


@quick_init
@dataclass(frozen=True)
class RunCost:
    accelerator_energy_joules: ArrayLike
    host_energy_joules: ArrayLike
    network_energy_joules: ArrayLike
    facility_energy_joules: ArrayLike
    energy_cost_usd: ArrayLike
    capex_cost_usd: ArrayLike  # amortised capex, 0 when an hour price is given
    rental_cost_usd: ArrayLike  # hour price × hours, 0 without one
    cost_usd: ArrayLike
    co2e_kilograms: ArrayLike
    water_liters: ArrayLike


def run_cost(
    accelerator_count: ArrayLike,
    wall_clock_seconds: ArrayLike,
    accelerator_power_watts: ArrayLike,
    facility: FacilityInputs,
) -> RunCost:
    """Energy (IT × PUE), money and carbon of running `accelerator_count` accelerators."""
    n = as_float(accelerator_count)
    accelerator = n * accelerator_power_watts * wall_clock_seconds
    host = n * facility.host_power_watts_per_accelerator * wall_clock_seconds
    network = n * facility.network_power_watts_per_accelerator * wall_clock_seconds
    it = accelerator + host + network
    facility_energy = it * facility.pue
    kwh = facility_energy / JOULES_PER_KWH
    hours = n * wall_clock_seconds / SECONDS_PER_HOUR
    hour_price = as_float(facility.accelerator_hour_price_usd)
    rented = isfinite(hour_price) & (hour_price > 0)
    rental = where(rented, hours * where(rented, hour_price, 0.0), 0.0)
    capex = as_float(facility.capex_usd_per_accelerator)
    capex_rate = where(isfinite(capex), capex, 0.0) / (IT_DEPRECIATION_YEARS * HOURS_PER_YEAR)
    capex = where(rented, 0.0, hours * capex_rate)
    energy_cost = where(rented, 0.0, kwh * facility.electricity_price_usd_per_kwh)
    return RunCost(
        accelerator_energy_joules=accelerator,
        host_energy_joules=host,
        network_energy_joules=network,
        facility_energy_joules=facility_energy,
        energy_cost_usd=energy_cost,
        capex_cost_usd=capex,
        rental_cost_usd=rental,
        cost_usd=rental + capex + energy_cost,
        co2e_kilograms=kwh * facility.carbon_intensity_grams_per_kwh / 1000.0,
        water_liters=(it / JOULES_PER_KWH) * facility.wue_liters_per_kwh,
    )
