"""The catalog's `cpu` entry: this host, derived at load time instead of read from a datasheet.

Why derive it: the CPU fallback (CI, laptops) must be estimable like any accelerator, and no
data file can know which CPU the service runs on. Peak FLOP/s come from cores x clock x SIMD
FLOP per cycle read off the ISA flags; memory capacity from /proc/meminfo; memory bandwidth from
a short timed copy (the only honest source short of a full `flopwatt bench --device cpu`).
Every figure records how it was obtained; a host without /proc (macOS, a sandbox) gets the
portable fallbacks below with a note saying so, never an exception.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST_CPU_ID = "cpu"

# FLOP per cycle per core at fp32 for one FMA pipe: lanes x 2 (multiply + add).
# Two FMA pipes per core is the common server configuration (Intel Skylake-SP Gold/Platinum,
# Ice Lake, Sapphire Rapids; AMD Zen 2-5). Source: Intel 64 and IA-32 Architectures
# Optimization Reference Manual, vol. 1, 2024-06, section "Intel AVX-512 FMA units", and
# Agner Fog, "The microarchitecture of Intel, AMD and VIA CPUs", 2024-05-21. A part with one
# AVX-512 FMA pipe (Xeon Bronze/Silver) reaches half: the derived peak is an upper bound.
FMA_PIPES_PER_CORE = 2
FP32_LANES_AVX512 = 16
FP32_LANES_AVX2 = 8
FP32_LANES_SSE = 4
FP32_LANES_NEON = 4
# AMD family 0x19 (Zen 3/4) executes 512-bit instructions on 256-bit pipes (double-pumped), so
# AVX-512 gives the AVX2 rate. Source: AMD "Software Optimization Guide for the AMD Zen4
# Microarchitecture", pub. 57647 rev 1.00, 2023-01, section 2.11.
AMD_HALF_WIDTH_AVX512_FAMILY = 0x19
# Matrix extensions multiply the fp32 vector rate for 16-bit inputs. avx512_bf16/avx512_fp16:
# 2x (twice the elements per 512-bit register). AMX: 1024 bf16/fp16 FLOP per cycle per core vs
# 64 fp32 = 16x. Source: Intel Optimization Reference Manual 2024-06, chapter "Intel AMX".
AVX512_16BIT_SPEEDUP = 2
AMX_16BIT_SPEEDUP = 16

# Fallbacks when the host does not say. Each is reported in the entry's notes when used.
# 2.0 GHz: the base clock of common cloud server parts (e.g. AMD EPYC 7B12 2.25 GHz, Intel Xeon
# Platinum 8481C 2.0 GHz; Google Cloud "CPU platforms" page, retrieved 2025-01-15).
FALLBACK_CLOCK_HZ = 2.0e9
# 10 Gb/s: the baseline NIC class of cloud VMs and servers (IEEE 802.3ae-2002, 10GBASE).
FALLBACK_NIC_BITS_PER_SECOND = 10e9
# Per-core share of a server CPU's TDP when RAPL is unreadable: AMD EPYC 9654, 360 W, 96 cores
# (AMD product page, launched 2022-11-10) -> 3.75 W per core.
REFERENCE_CPU_TDP_WATTS = 360.0
REFERENCE_CPU_CORE_COUNT = 96
REFERENCE_CPU_SOURCE = (
    "AMD EPYC 9654 product specifications (360 W default TDP, 96 cores)",
    "https://www.amd.com/en/products/processors/server/epyc/4th-generation-9004-and-8004-series/amd-epyc-9654.html",
    "2022-11-10",
)
# Bandwidth probe: arrays well beyond any L3 so the copy streams from DRAM; best of a few runs.
BANDWIDTH_PROBE_BYTES = 64 * 1024 * 1024
BANDWIDTH_PROBE_REPEATS = 5


@dataclass
class _Facts:
    """What was learnt about the host, with how each figure was obtained."""

    notes: list[str] = field(default_factory=list)
    how: dict[str, str] = field(default_factory=dict)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def parse_cpuinfo(text: str) -> dict[str, Any]:
    """Model name, vendor, family, flags, physical core count and max listed MHz from /proc/cpuinfo."""
    flags: set[str] = set()
    cores: set[tuple[str, str]] = set()
    processors = 0
    megahertz = 0.0
    info: dict[str, Any] = {"model_name": "", "vendor": "", "family": 0}
    physical = core = None
    for line in text.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "processor":
            processors += 1
            physical = core = None
        elif key == "model name" and not info["model_name"]:
            info["model_name"] = value
        elif key == "vendor_id" and not info["vendor"]:
            info["vendor"] = value
        elif key == "cpu family" and value.isdigit():
            info["family"] = int(value)
        elif key in ("flags", "Features"):
            flags.update(value.split())
        elif key == "cpu MHz":
            try:
                megahertz = max(megahertz, float(value))
            except ValueError:
                pass
        elif key == "physical id":
            physical = value
        elif key == "core id":
            core = value
        if physical is not None and core is not None:
            cores.add((physical, core))
    info.update(flags=frozenset(flags), physical_cores=len(cores), processors=processors, max_listed_hz=megahertz * 1e6)
    return info


def fp32_flops_per_cycle_per_core(flags: frozenset[str], vendor: str, family: int, machine: str) -> tuple[int, str]:
    """Peak fp32 FLOP per cycle of one core from its ISA flags, and the reason in words."""
    if "avx512f" in flags and "fma" in flags:
        if vendor == "AuthenticAMD" and family == AMD_HALF_WIDTH_AVX512_FAMILY:
            return FMA_PIPES_PER_CORE * FP32_LANES_AVX2 * 2, "AVX-512 on 256-bit pipes (AMD family 19h)"
        return FMA_PIPES_PER_CORE * FP32_LANES_AVX512 * 2, "AVX-512 FMA"
    if "avx2" in flags and "fma" in flags:
        return FMA_PIPES_PER_CORE * FP32_LANES_AVX2 * 2, "AVX2 FMA"
    if "avx" in flags:
        return 2 * FP32_LANES_AVX2, "AVX without FMA (one add + one multiply pipe)"
    if "asimd" in flags or machine.lower() in ("arm64", "aarch64"):
        return FMA_PIPES_PER_CORE * FP32_LANES_NEON * 2, "Arm ASIMD (NEON) FMA"
    return 2 * FP32_LANES_SSE, "SSE (one add + one multiply pipe)"


def sixteen_bit_speedup(flags: frozenset[str], prefix: str) -> tuple[int, str]:
    """How much faster `prefix` ("bf16" or "fp16") matmul is than fp32 on this ISA."""
    if f"amx_{prefix}" in flags:
        return AMX_16BIT_SPEEDUP, f"AMX-{prefix.upper()}"
    if f"avx512_{prefix}" in flags:
        return AVX512_16BIT_SPEEDUP, f"AVX512_{prefix.upper()}"
    return 1, f"no {prefix} instructions: converted to fp32, fp32 rate"


def _clock_hz(root: Path, cpuinfo: dict[str, Any], facts: _Facts) -> float:
    max_khz = _read_text(root / "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    if max_khz and max_khz.strip().isdigit():
        facts.how["clock"] = "cpufreq cpuinfo_max_freq"
        return int(max_khz.strip()) * 1e3
    stated = re.search(r"@\s*([\d.]+)\s*GHz", cpuinfo["model_name"])
    if stated:
        facts.how["clock"] = "clock in the /proc/cpuinfo model name"
        return float(stated.group(1)) * 1e9
    if cpuinfo["max_listed_hz"] > 0:
        facts.how["clock"] = "highest 'cpu MHz' in /proc/cpuinfo (current clock, not the boost limit)"
        return cpuinfo["max_listed_hz"]
    facts.notes.append(f"clock unknown: assumed {FALLBACK_CLOCK_HZ / 1e9:.1f} GHz.")
    facts.how["clock"] = "assumed"
    return FALLBACK_CLOCK_HZ


def _memory_bytes(root: Path, facts: _Facts) -> int:
    meminfo = _read_text(root / "proc/meminfo") or ""
    total = re.search(r"^MemTotal:\s+(\d+)\s*kB", meminfo, re.MULTILINE)
    if total:
        facts.how["memory"] = "MemTotal in /proc/meminfo"
        return int(total.group(1)) * 1024
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        pages = 0
    if pages > 0:
        facts.how["memory"] = "sysconf(SC_PHYS_PAGES x SC_PAGE_SIZE)"
        return int(pages)
    facts.notes.append("memory size unknown: reported as 1 GiB.")
    facts.how["memory"] = "unknown"
    return 1024**3


def _nic_bytes_per_second(root: Path, facts: _Facts) -> float:
    """Fastest physical NIC link speed from /sys/class/net/*/speed (Mb/s)."""
    best_megabits = 0
    net = root / "sys/class/net"
    try:
        interfaces = sorted(net.iterdir())
    except OSError:
        interfaces = []
    for interface in interfaces:
        speed = (_read_text(interface / "speed") or "").strip()
        if interface.name != "lo" and speed.lstrip("-").isdigit():
            best_megabits = max(best_megabits, int(speed))
    if best_megabits > 0:
        facts.how["network"] = "fastest link speed in /sys/class/net/*/speed"
        return best_megabits * 1e6 / 8
    facts.notes.append("no NIC reports a link speed (virtual NIC?): assumed 10 Gb/s.")
    facts.how["network"] = "assumed 10 Gb/s (IEEE 802.3ae class)"
    return FALLBACK_NIC_BITS_PER_SECOND / 8


def _tdp_watts(root: Path, core_count: int, date: str, facts: _Facts) -> tuple[float, dict[str, str]]:
    """Sum of RAPL package power limits, else a per-core share of a reference server CPU; with its source."""
    microwatts = 0
    for limit in sorted((root / "sys/class/powercap").glob("intel-rapl:[0-9]/constraint_0_max_power_uw")):
        text = (_read_text(limit) or "").strip()
        microwatts += int(text) if text.isdigit() else 0
    if microwatts > 0:
        source = {
            "citation": "derived: RAPL package max power limits",
            "url": "derived:/sys/class/powercap",
            "date": date,
        }
        return microwatts / 1e6, {"covers": "tdp_watts", **source}
    facts.notes.append("no RAPL power limit readable: TDP is a per-core share of an AMD EPYC 9654.")
    citation, url, published = REFERENCE_CPU_SOURCE
    source = {"citation": f"{core_count} cores x per-core share of {citation}", "url": url, "date": published}
    return core_count * REFERENCE_CPU_TDP_WATTS / REFERENCE_CPU_CORE_COUNT, {"covers": "tdp_watts", **source}


def measure_copy_bytes_per_second(
    probe_bytes: int = BANDWIDTH_PROBE_BYTES, repeats: int = BANDWIDTH_PROBE_REPEATS
) -> float:
    """Best single-thread numpy copy rate, bytes read + written per second (DESIGN §2 convention)."""
    import numpy as np

    source = np.arange(probe_bytes // 8, dtype=np.float64)  # contents do not affect a copy's speed
    target = np.empty_like(source)
    np.copyto(target, source)  # first touch: page faults stay out of the timing
    best_seconds = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(target, source)
        best_seconds = min(best_seconds, time.perf_counter() - start)
    return 2 * source.nbytes / max(best_seconds, 1e-9)


def describe_host_cpu(root: Path = Path("/"), today: _dt.date | None = None) -> dict[str, Any]:
    """The host as a hardware-catalog entry (the JSON shape of data/hardware.json).

    `root` lets tests point at a fake filesystem tree (or a missing one).
    """
    facts = _Facts()
    date = (today or _dt.date.today()).isoformat()
    cpuinfo_text = _read_text(root / "proc/cpuinfo")
    if cpuinfo_text is None:
        facts.notes.append("/proc/cpuinfo unreadable: ISA flags and core topology unknown, portable fallbacks used.")
    cpuinfo = parse_cpuinfo(cpuinfo_text or "")
    core_count = cpuinfo["physical_cores"] or os.cpu_count() or 1
    facts.how["cores"] = "physical cores in /proc/cpuinfo" if cpuinfo["physical_cores"] else "os.cpu_count()"
    clock_hz = _clock_hz(root, cpuinfo, facts)
    per_cycle, isa = fp32_flops_per_cycle_per_core(
        cpuinfo["flags"], cpuinfo["vendor"], cpuinfo["family"], platform.machine()
    )
    fp32 = core_count * clock_hz * per_cycle
    peaks = {"fp32": fp32}
    isa_notes = [f"fp32: {core_count} cores x {clock_hz / 1e9:.3f} GHz x {per_cycle} FLOP/cycle ({isa})"]
    for precision in ("bf16", "fp16"):
        speedup, reason = sixteen_bit_speedup(cpuinfo["flags"], precision)
        peaks[precision] = fp32 * speedup
        isa_notes.append(f"{precision}: x{speedup} ({reason})")
    memory_bandwidth = measure_copy_bytes_per_second()
    memory_bytes = _memory_bytes(root, facts)
    nic_bytes_per_second = _nic_bytes_per_second(root, facts)
    tdp_watts, tdp_source = _tdp_watts(root, core_count, date, facts)
    name = cpuinfo["model_name"] or platform.processor() or platform.machine() or "unknown CPU"
    derived_url = "derived:/proc/cpuinfo" if cpuinfo_text is not None else "derived:os.cpu_count"
    sources = [
        {
            "covers": "peak_flops_per_second",
            "citation": "derived from ISA flags: "
            + "; ".join(isa_notes)
            + f"; clock from {facts.how['clock']}; cores from {facts.how['cores']}",
            "url": derived_url,
            "date": date,
        },
        {
            "covers": "memory_bytes",
            "citation": f"derived: {facts.how['memory']}",
            "url": "derived:/proc/meminfo",
            "date": date,
        },
        {
            "covers": "memory_bandwidth_bytes_per_second, intra_node_bandwidth_bytes_per_second",
            "citation": f"measured at load: best of {BANDWIDTH_PROBE_REPEATS} single-thread numpy copies of {BANDWIDTH_PROBE_BYTES // 2**20} MiB "
            "(read + write bytes); processes on one host exchange data through this memory",
            "url": "derived:flopwatt.estimate.catalog.host_cpu",
            "date": date,
        },
        {
            "covers": "scale_out_bandwidth_bytes_per_second",
            "citation": "derived: " + facts.how["network"],
            "url": "derived:/sys/class/net",
            "date": date,
        },
        {
            "covers": "accelerators_per_node, release_date",
            "citation": "derived: the host is one device; release_date is the derivation date, not the CPU's launch",
            "url": "derived:flopwatt.estimate.catalog.host_cpu",
            "date": date,
        },
        tdp_source,
    ]
    return {
        "id": HOST_CPU_ID,
        "name": name,
        "vendor": cpuinfo["vendor"] or platform.system() or "unknown",
        "release_date": date,
        "peak_flops_per_second": peaks,
        "memory_bytes": memory_bytes,
        "memory_bandwidth_bytes_per_second": memory_bandwidth,
        "intra_node_bandwidth_bytes_per_second": memory_bandwidth,
        "scale_out_bandwidth_bytes_per_second": nic_bytes_per_second,
        "tdp_watts": tdp_watts,
        "accelerators_per_node": 1,
        "sources": sources,
        "notes": "This host, derived at load time; peaks are upper bounds (all cores, two FMA pipes). "
        + " ".join(facts.notes),
    }
