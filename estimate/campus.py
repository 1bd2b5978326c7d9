"""A campus: power budget ↔ accelerators ↔ fleet FLOP/s ↔ energy, money and carbon per year.

Why a site model and not "watts ÷ TDP": a site is provisioned for the nameplate power of whole
nodes or racks (accelerators, their hosts and NVLink switches), plus a scale-out fabric whose
tiers, and so its power per accelerator, grow with the log of the fleet, all multiplied by the
PUE. Energy, on the other hand, follows the *average* draw: measured H100 nodes run at ~76 % of
nameplate in training (constants.TRAINING_POWER_FRACTION_OF_TDP), and an idle share of the fleet
draws idle power. Both sides are modelled and stated.

Every numeric input may be a NumPy array (one element per Monte Carlo sample); nothing branches
on values in Python, so `uncertainty.py` evaluates thousands of campuses in one call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from flopwatt.estimate import campus_defaults as cd
from flopwatt.estimate.constants import HOURS_PER_YEAR, JOULES_PER_KWH, SECONDS_PER_HOUR
from flopwatt.estimate.hardware import HardwareModel

ArrayLike = Any
# Fat-tree tiers considered when solving "fleet size ↔ network power" (4 tiers of radix 64 reach
# 2.1 M endpoints; 6 is a safe ceiling for any radix ≥ 16 and any fleet below 10^8).
MAX_FABRIC_TIERS = 6
SECONDS_PER_YEAR = HOURS_PER_YEAR * SECONDS_PER_HOUR


@dataclass(frozen=True)
class SitePower:
    """Nameplate power per accelerator, before the fabric (watts; arrays allowed)."""

    accelerator_watts: ArrayLike
    host_watts: ArrayLike  # CPUs, memory, NICs, NVLink switches, fans, conversion, per accelerator
    network_watts_override: ArrayLike = np.nan  # per accelerator; NaN: from the fat tree
    pue: ArrayLike = 1.2


@dataclass(frozen=True)
class CapitalCosts:
    """Per-accelerator IT capex and building cost per facility watt (US dollars)."""

    accelerator_usd: ArrayLike
    server_usd_per_accelerator: ArrayLike
    network_usd_per_accelerator: ArrayLike
    building_usd_per_watt: ArrayLike
    it_depreciation_years: ArrayLike
    building_depreciation_years: ArrayLike


@dataclass(frozen=True)
class Capacity:
    """What the site is given: exactly one of the three is finite (NaN = not given)."""

    facility_power_watts: ArrayLike = np.nan
    accelerator_count: ArrayLike = np.nan
    budget_usd: ArrayLike = np.nan
    term_seconds: ArrayLike = np.nan


@dataclass(frozen=True)
class CampusInputs:
    hardware: HardwareModel
    capacity: Capacity
    power: SitePower
    capex: CapitalCosts
    accelerators_per_rack: int
    utilization: ArrayLike
    carbon_intensity_grams_per_kwh: ArrayLike
    electricity_price_usd_per_kwh: ArrayLike
    accelerator_hour_price_usd: ArrayLike = np.nan  # NaN: owner's TCO
    wue_liters_per_kwh: ArrayLike = 0.0
    power_draw_factor: ArrayLike = 1.0  # Monte Carlo multiplier on average draw (1 = model)
    compute_efficiency_factor: ArrayLike = 1.0  # Monte Carlo multiplier on the sustained rate


@dataclass(frozen=True)
class CampusSizing:
    """The site-level picture (arrays when the inputs are)."""

    accelerator_count: ArrayLike
    rack_count: ArrayLike
    fabric_tiers: ArrayLike
    accelerator_watts: ArrayLike  # nameplate, per accelerator
    host_watts: ArrayLike
    network_watts: ArrayLike
    cooling_and_power_watts: ArrayLike  # (PUE − 1) × IT, per accelerator
    facility_watts_per_accelerator: ArrayLike
    it_power_watts: ArrayLike
    facility_power_watts: ArrayLike
    average_facility_power_watts: ArrayLike
    annual_energy_joules: ArrayLike
    annual_energy_cost_usd: ArrayLike
    annual_co2e_kilograms: ArrayLike
    annual_water_liters: ArrayLike
    annual_accelerator_hours: ArrayLike
    peak_flops_per_second: ArrayLike
    sustained_flops_per_second: ArrayLike
    capex_accelerators_usd: ArrayLike
    capex_servers_usd: ArrayLike
    capex_network_usd: ArrayLike
    capex_building_usd: ArrayLike
    total_capex_usd: ArrayLike
    annual_capex_usd: ArrayLike  # amortised
    cost_per_accelerator_hour_usd: ArrayLike  # rental price, or the owner's TCO per installed hour
    contract_accelerator_hours: ArrayLike  # budget mode: hours the budget buys; NaN otherwise
    reactors: ArrayLike
    households: ArrayLike


def fabric_tiers(endpoints: ArrayLike, radix: float = cd.SWITCH_RADIX_PORTS) -> ArrayLike:
    """Tiers of a non-blocking fat tree of radix-k switches for `endpoints` ports: the smallest L
    with 2·(k/2)^L ≥ endpoints (Al-Fares et al. 2008 for L = 3; folded Clos in general)."""
    n = np.maximum(np.asarray(endpoints, float), 2.0)
    tiers = np.ceil(np.log(n / 2.0) / np.log(radix / 2.0) - 1e-12)
    return np.maximum(tiers, 1.0)


def network_watts_per_accelerator(tiers: ArrayLike) -> ArrayLike:
    """Switch and optics power per accelerator: (2L − 1) switch ports per scale-out port."""
    per_port = cd.SWITCH_NAMEPLATE_WATTS / cd.SWITCH_RADIX_PORTS + cd.TRANSCEIVER_WATTS_PER_PORT
    return cd.SCALE_OUT_PORTS_PER_ACCELERATOR * (2.0 * np.asarray(tiers, float) - 1.0) * per_port


def average_load_fraction(hw: HardwareModel, utilization: ArrayLike, power_draw_factor: ArrayLike = 1.0) -> ArrayLike:
    """Average accelerator draw over its nameplate (TDP) when `utilization` of the fleet works.

    Uses the estimator's own power model (measured idle/load when a profile has them, else TDP
    × the measured 76 % training fraction above an idle floor); hosts and switches are taken to
    follow the same fraction of their nameplate (the Brookhaven 76 % is a whole-node figure)."""
    return np.asarray(hw.power_watts(utilization), float) * power_draw_factor / hw.tdp_watts


def _per_accelerator_watts(inputs: CampusInputs, tiers: ArrayLike) -> tuple[ArrayLike, ArrayLike]:
    """(network watts, facility watts) per accelerator at `tiers` fabric tiers (nameplate)."""
    p = inputs.power
    override = np.asarray(p.network_watts_override, float)
    network = np.where(np.isfinite(override), override, network_watts_per_accelerator(tiers))
    it = p.accelerator_watts + p.host_watts + network
    return network, it * p.pue


def _owner_cost_per_accelerator_hour(inputs: CampusInputs, facility_watts: ArrayLike) -> ArrayLike:
    """TCO of one installed accelerator-hour: amortised IT and building capex + energy."""
    c = inputs.capex
    it = c.accelerator_usd + c.server_usd_per_accelerator + c.network_usd_per_accelerator
    building = c.building_usd_per_watt * facility_watts
    capex_per_hour = it / (c.it_depreciation_years * HOURS_PER_YEAR) + building / (
        c.building_depreciation_years * HOURS_PER_YEAR
    )
    load = average_load_fraction(inputs.hardware, inputs.utilization, inputs.power_draw_factor)
    energy_per_hour = facility_watts * load / 1000.0 * inputs.electricity_price_usd_per_kwh
    return capex_per_hour + energy_per_hour


def _hour_price(inputs: CampusInputs, facility_watts: ArrayLike) -> ArrayLike:
    rental = np.asarray(inputs.accelerator_hour_price_usd, float)
    rented = np.isfinite(rental) & (rental > 0)
    return np.where(rented, np.where(rented, rental, 1.0), _owner_cost_per_accelerator_hour(inputs, facility_watts))


def _raw_count(inputs: CampusInputs, facility_watts: ArrayLike) -> ArrayLike:
    """Accelerators the capacity allows at this power per accelerator (before rack rounding)."""
    cap = inputs.capacity
    by_power = np.asarray(cap.facility_power_watts, float) / facility_watts
    term_hours = np.asarray(cap.term_seconds, float) / SECONDS_PER_HOUR
    by_budget = np.asarray(cap.budget_usd, float) / (_hour_price(inputs, facility_watts) * term_hours)
    given = np.asarray(cap.accelerator_count, float)
    return np.where(np.isfinite(given), given, np.where(np.isfinite(by_power), by_power, by_budget))


def _whole_racks(inputs: CampusInputs, raw: ArrayLike) -> ArrayLike:
    """Round to whole racks: up for a requested count, down for a power or budget limit."""
    rack = float(inputs.accelerators_per_rack)
    requested = np.isfinite(np.asarray(inputs.capacity.accelerator_count, float))
    racks = np.where(requested, np.ceil(raw / rack - 1e-9), np.floor(raw / rack + 1e-9))
    return racks * rack


def _solve_fleet(inputs: CampusInputs) -> tuple[ArrayLike, ArrayLike]:
    """(accelerator count, fabric tiers) consistent with each other: the fleet sets the tiers and
    the tiers' power sets the fleet; the smallest consistent tier count wins."""
    count = tiers = None
    for level in range(MAX_FABRIC_TIERS, 0, -1):  # descending so the smallest consistent wins
        _, facility = _per_accelerator_watts(inputs, float(level))
        candidate = _whole_racks(inputs, _raw_count(inputs, facility))
        consistent = fabric_tiers(candidate) <= level
        if count is None:
            count, tiers = candidate, np.full(np.shape(candidate), float(level))
        else:
            count = np.where(consistent, candidate, count)
            tiers = np.where(consistent, float(level), tiers)
    return count, tiers


def size_campus(inputs: CampusInputs) -> CampusSizing:
    """The whole site-level picture for the inputs (vectorised)."""
    count, tiers = _solve_fleet(inputs)
    network, facility_per_accelerator = _per_accelerator_watts(inputs, tiers)
    p = inputs.power
    it_per_accelerator = p.accelerator_watts + p.host_watts + network
    load = average_load_fraction(inputs.hardware, inputs.utilization, inputs.power_draw_factor)
    average_facility = count * facility_per_accelerator * load
    annual_energy = average_facility * SECONDS_PER_YEAR
    kwh = annual_energy / JOULES_PER_KWH
    it_kwh = kwh / p.pue
    hw = inputs.hardware
    c = inputs.capex
    capex_acc = count * c.accelerator_usd
    capex_server = count * c.server_usd_per_accelerator
    capex_network = count * c.network_usd_per_accelerator
    capex_building = count * facility_per_accelerator * c.building_usd_per_watt
    annual_capex = (
        capex_acc + capex_server + capex_network
    ) / c.it_depreciation_years + capex_building / c.building_depreciation_years
    term_hours = np.asarray(inputs.capacity.term_seconds, float) / SECONDS_PER_HOUR
    budget_mode = np.isfinite(np.asarray(inputs.capacity.budget_usd, float))
    return CampusSizing(
        accelerator_count=count,
        rack_count=count / inputs.accelerators_per_rack,
        fabric_tiers=tiers,
        accelerator_watts=p.accelerator_watts + 0.0 * count,
        host_watts=p.host_watts + 0.0 * count,
        network_watts=network + 0.0 * count,
        cooling_and_power_watts=it_per_accelerator * (p.pue - 1.0) + 0.0 * count,
        facility_watts_per_accelerator=facility_per_accelerator + 0.0 * count,
        it_power_watts=count * it_per_accelerator,
        facility_power_watts=count * facility_per_accelerator,
        average_facility_power_watts=average_facility,
        annual_energy_joules=annual_energy,
        annual_energy_cost_usd=kwh * inputs.electricity_price_usd_per_kwh,
        annual_co2e_kilograms=kwh * inputs.carbon_intensity_grams_per_kwh / 1000.0,
        annual_water_liters=it_kwh * inputs.wue_liters_per_kwh,
        annual_accelerator_hours=count * HOURS_PER_YEAR * inputs.utilization,
        peak_flops_per_second=count * hw.peak_flops_per_second,
        sustained_flops_per_second=count
        * hw.sustained_gemm_flops_per_second
        * inputs.compute_efficiency_factor
        * inputs.utilization,
        capex_accelerators_usd=capex_acc,
        capex_servers_usd=capex_server,
        capex_network_usd=capex_network,
        capex_building_usd=capex_building,
        total_capex_usd=capex_acc + capex_server + capex_network + capex_building,
        annual_capex_usd=annual_capex,
        cost_per_accelerator_hour_usd=_hour_price(inputs, facility_per_accelerator) + 0.0 * count,
        contract_accelerator_hours=np.where(budget_mode, count * term_hours, np.nan),
        reactors=count * facility_per_accelerator / cd.REACTOR_WATTS,
        households=kwh / cd.HOUSEHOLD_KWH_PER_YEAR,
    )


def host_watts_per_accelerator(hardware_id: str, accelerator_tdp_watts: float) -> tuple[float, str]:
    """Nameplate host power per accelerator and where it comes from ("datasheet" or "derived")."""
    node = cd.NODE_NAMEPLATE_WATTS_BY_HARDWARE.get(hardware_id)
    if node is not None:
        node_watts, accelerators = node
        return max(node_watts / accelerators - accelerator_tdp_watts, 0.0), "datasheet"
    return accelerator_tdp_watts * cd.HOST_POWER_FRACTION_OF_ACCELERATOR_TDP_FALLBACK, "derived"
