"""Sourced defaults for sizing a campus: node power, network fabric, capital costs, comparisons.

Why a module of its own: the campus turns megawatts into accelerators and dollars, and every
one of those conversions rests on a published figure that a reader must be able to audit and a
request can override (`Facility`, `CapitalCosts`). Each constant has its unit in its name and its
source and date beside it. Figures that the training estimator also uses (PUE, grid intensity,
electricity price, the 76 % measured load fraction) are imported from `constants.py`, not
repeated here.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- node / rack nameplate power (what the site must provision) -------------------------------
# Maximum power of one node or rack as the vendor states it, with its accelerator count. The
# non-accelerator share (CPUs, memory, NICs, NVLink switches, fans, power conversion) is the
# host power per accelerator: (node − accelerators × TDP) / accelerators.
#  - DGX A100: 6.5 kW max, 8 × A100 (NVIDIA DGX A100 user guide, 2020-05).
#  - DGX H100 / H200: 10.2 kW max, 8 × 700 W (NVIDIA DGX H100 user guide, 2023; DGX H200, 2024).
#  - DGX B200: 14.3 kW max, 8 × 1,000 W (NVIDIA DGX B200 datasheet, 2024-03).
#  - GB200 NVL72: 132 kW of rack power-shelf output for 72 × 1,200 W GPUs, 36 Grace CPUs and
#    9 NVLink switch trays (Supermicro GB200 NVL72 rack specification as summarised by Introl,
#    2025; NVIDIA quotes ~120 kW typical).
#  - DGX-1 V100: 3.5 kW max, 8 × 300 W (NVIDIA DGX-1 datasheet, 2017).
NODE_NAMEPLATE_WATTS_BY_HARDWARE = {
    "v100": (3500.0, 8),
    "a100-40gb": (6500.0, 8),
    "a100-80gb": (6500.0, 8),
    "h100-sxm": (10200.0, 8),
    "h800": (10200.0, 8),
    "h200": (10200.0, 8),
    "b200": (14300.0, 8),
    "gb200": (132000.0, 72),
}
# Hardware without a vendor node figure: host power as the same fraction of accelerator TDP as
# in a DGX H100 ((10,200 − 8 × 700) / (8 × 700) = 0.82), stated as "derived" in the assumptions.
HOST_POWER_FRACTION_OF_ACCELERATOR_TDP_FALLBACK = (10200.0 - 8 * 700.0) / (8 * 700.0)

# --- scale-out network (non-blocking folded-Clos fat tree) -------------------------------------
# An L-tier fat tree of radix-k switches connects up to 2·(k/2)^L endpoints and uses 2L − 1
# switch ports per endpoint (every tier but the top has one port down and one up per endpoint).
# NVIDIA Quantum-2 QM9700: 64 ports of 400 Gb/s, two tiers reach 2,048 endpoints (NVIDIA
# Quantum-2 product brief, 2022; DGX SuperPOD reference architecture, 2023).
SWITCH_RADIX_PORTS = 64
# QM9700 maximum power ~1.7 kW with optics excluded (NVIDIA QM9700 datasheet, 2023; the same
# figure constants.NETWORK_POWER_WATTS_PER_ACCELERATOR uses).
SWITCH_NAMEPLATE_WATTS = 1700.0
# One 400 Gb/s optical port: half of an 800G twin-port OSFP transceiver (NVIDIA MMA4Z00-NS,
# 17 W max; NVIDIA LinkX product brief, 2023) → 8.5 W per switch port.
TRANSCEIVER_WATTS_PER_PORT = 17.0 / 2.0
# Scale-out ports per accelerator: one 400 Gb/s NIC per GPU (ConnectX-7 in DGX H100 and GB200
# NVL72 compute trays, NVIDIA reference architectures 2023-2024). The NIC itself is host power.
SCALE_OUT_PORTS_PER_ACCELERATOR = 1.0

# --- fleet utilisation ----------------------------------------------------------------------
# Average fraction of installed accelerators doing work over a year. Llama 3 (Dubey et al. 2024,
# arXiv 2407.21783, §3.3.4) reports "higher than 90 % effective training time" on 16k H100s;
# used as the campus default, an upper-end figure for a well-run fleet (override per request).
DEFAULT_FLEET_UTILIZATION = 0.9

# --- capital costs ----------------------------------------------------------------------------
# Bernstein (S. Rasgon, 2025-08, as reported by Investing.com "How much does a GW of data center
# capacity actually cost"): a GB200 NVL72 rack costs ~$5.9 M, $3.4 M of compute hardware and
# $2.5 M of physical infrastructure; GPUs are 39 % and networking 13 % of total capex; ~$35 B
# per GW. Per GPU of an NVL72 rack:
BERNSTEIN_NVL72_RACK_TOTAL_USD = 5.9e6
BERNSTEIN_NVL72_RACK_COMPUTE_USD = 3.4e6
BERNSTEIN_NVL72_RACK_FACILITY_USD = 2.5e6
BERNSTEIN_GPU_SHARE_OF_CAPEX = 0.39
BERNSTEIN_NETWORK_SHARE_OF_CAPEX = 0.13
BERNSTEIN_USD_PER_GW = 35e9
_NVL72_GPUS = 72.0
GB200_ACCELERATOR_USD = BERNSTEIN_GPU_SHARE_OF_CAPEX * BERNSTEIN_NVL72_RACK_TOTAL_USD / _NVL72_GPUS
GB200_NETWORK_USD_PER_ACCELERATOR = BERNSTEIN_NETWORK_SHARE_OF_CAPEX * BERNSTEIN_NVL72_RACK_TOTAL_USD / _NVL72_GPUS
GB200_SERVER_USD_PER_ACCELERATOR = (
    BERNSTEIN_NVL72_RACK_COMPUTE_USD / _NVL72_GPUS - GB200_ACCELERATOR_USD - GB200_NETWORK_USD_PER_ACCELERATOR
)
# Building, power and cooling per watt of campus power: the $2.5 M facility share of each rack
# at Bernstein's $35 B per GW ($5.9 M per rack → 5,932 racks per GW) = $14.8 per W.
BUILDING_USD_PER_WATT = (
    BERNSTEIN_NVL72_RACK_FACILITY_USD * (BERNSTEIN_USD_PER_GW / BERNSTEIN_NVL72_RACK_TOTAL_USD) / 1e9
)
# Other accelerators: GPU list prices (Cottier et al. 2024, arXiv 2405.21015, hardware price
# data; H200/B200 from vendor/channel reports 2024) and the paper's split of a server's cost:
# server components (CPUs, memory, chassis) 15-22 % and interconnect 9-13 % of hardware cost;
# midpoints 18.5 % and 11 % leave 70.5 % for the accelerators.
ACCELERATOR_PRICE_USD_BY_HARDWARE = {
    "v100": 10000.0,
    "a100-40gb": 10000.0,
    "a100-80gb": 15000.0,
    "h100-sxm": 30000.0,
    "h100-pcie": 25000.0,
    "h800": 30000.0,
    "h200": 35000.0,
    "b200": 40000.0,
    "mi300x": 15000.0,
    "gb200": GB200_ACCELERATOR_USD,
}
COTTIER_SERVER_SHARE_OF_HARDWARE = 0.185
COTTIER_INTERCONNECT_SHARE_OF_HARDWARE = 0.11
COTTIER_ACCELERATOR_SHARE_OF_HARDWARE = 1.0 - COTTIER_SERVER_SHARE_OF_HARDWARE - COTTIER_INTERCONNECT_SHARE_OF_HARDWARE
# Facility depreciation: 14 years (Epoch AI, "Servers account for 60 % of the total cost of
# ownership of a one-gigawatt AI data center", data insight, 2026-05-14). IT equipment uses
# constants.IT_DEPRECIATION_YEARS, shared with the training estimator.
BUILDING_DEPRECIATION_YEARS = 14.0

# --- comparisons a reader grasps -------------------------------------------------------------
# A large reactor: ~1 GW electric (the US fleet averages ~1 GWe per reactor; Westinghouse
# AP1000 1.117 GWe; EIA "Nuclear explained", 2024).
REACTOR_WATTS = 1.0e9
# Average US residential customer: 10,715 kWh per year (EIA FAQ "How much electricity does an
# American home use?", 2020 data, updated 2021-10-07).
HOUSEHOLD_KWH_PER_YEAR = 10715.0


@dataclass(frozen=True)
class CapitalCostDefaults:
    """Per-accelerator capital costs of one hardware id, with where they come from."""

    accelerator_usd: float
    server_usd_per_accelerator: float
    network_usd_per_accelerator: float
    source: str


def it_capex_usd_per_accelerator(hardware_id: str) -> float:
    """One accelerator's IT capex (accelerator + its server share + its network share), NaN where
    no price is published. The single figure behind both a training run's amortised capex and a
    campus's IT capital cost (issue 11 item 9: training used GPU price × 1.5, $67.5k for GB200,
    while campus sizing summed $47.2k of Bernstein parts)."""
    defaults = capital_cost_defaults(hardware_id)
    if defaults is None:
        return float("nan")
    return defaults.accelerator_usd + defaults.server_usd_per_accelerator + defaults.network_usd_per_accelerator


def capital_cost_defaults(hardware_id: str) -> CapitalCostDefaults | None:
    """Sourced per-accelerator capex for `hardware_id`, or None where no price is published."""
    if hardware_id == "gb200":
        return CapitalCostDefaults(
            GB200_ACCELERATOR_USD,
            GB200_SERVER_USD_PER_ACCELERATOR,
            GB200_NETWORK_USD_PER_ACCELERATOR,
            "Bernstein GB200 NVL72 rack cost split, 2025-08",
        )
    price = ACCELERATOR_PRICE_USD_BY_HARDWARE.get(hardware_id)
    if price is None:
        return None
    per_share = price / COTTIER_ACCELERATOR_SHARE_OF_HARDWARE
    return CapitalCostDefaults(
        price,
        per_share * COTTIER_SERVER_SHARE_OF_HARDWARE,
        per_share * COTTIER_INTERCONNECT_SHARE_OF_HARDWARE,
        "GPU price and server/interconnect shares, Cottier et al. 2024 (arXiv 2405.21015)",
    )
