"""The `cpu` entry: derived from a (fake) /proc and /sys tree, never crashing without one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from flopwatt.estimate.catalog import host_cpu, loader

TODAY = dt.date(2025, 2, 3)


def _cpuinfo(vendor: str, family: int, flags: str, sockets: int, cores: int, threads: int, model: str) -> str:
    blocks = []
    for socket in range(sockets):
        for core in range(cores):
            for _ in range(threads):
                blocks.append(
                    f"processor\t: {len(blocks)}\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel name\t: {model}\n"
                    f"cpu MHz\t\t: 1200.000\nphysical id\t: {socket}\ncore id\t\t: {core}\nflags\t\t: {flags}\n"
                )
    return "\n".join(blocks)


@pytest.fixture
def fake_host(tmp_path: Path, monkeypatch) -> Path:
    """Two sockets x 4 cores x 2 threads of an AVX-512 Xeon with cpufreq, RAPL and a 25 GbE NIC."""
    monkeypatch.setattr(host_cpu, "measure_copy_bytes_per_second", lambda: 20e9)
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text(
        _cpuinfo(
            "GenuineIntel",
            6,
            "fpu sse2 avx avx2 fma avx512f avx512_bf16 amx_bf16",
            2,
            4,
            2,
            "Intel(R) Xeon(R) Platinum 8480+",
        )
    )
    (tmp_path / "proc/meminfo").write_text("MemTotal:       16384000 kB\nMemFree:  1 kB\n")
    freq = tmp_path / "sys/devices/system/cpu/cpu0/cpufreq"
    freq.mkdir(parents=True)
    (freq / "cpuinfo_max_freq").write_text("3000000\n")
    for name, speed in (("lo", "Invalid"), ("eth0", "25000"), ("eth1", "-1")):
        (tmp_path / "sys/class/net" / name).mkdir(parents=True)
        (tmp_path / "sys/class/net" / name / "speed").write_text(speed)
    for package, microwatts in ((0, 350_000_000), (1, 350_000_000)):
        rapl = tmp_path / f"sys/class/powercap/intel-rapl:{package}"
        rapl.mkdir(parents=True)
        (rapl / "constraint_0_max_power_uw").write_text(str(microwatts))
    return tmp_path


def _validated(entry: dict):
    return loader.parse_hardware_document({"schema_version": 1, "hardware": [entry]}, "test")[0]


def test_derived_from_proc_and_sys(fake_host):
    spec = _validated(host_cpu.describe_host_cpu(fake_host, TODAY))
    # 8 physical cores (hyperthreads not counted) x 3.0 GHz x 2 FMA pipes x 16 lanes x 2 FLOP.
    assert spec.peak_flops_per_second["fp32"] == 8 * 3.0e9 * 64
    assert spec.peak_flops_per_second["bf16"] == 16 * spec.peak_flops_per_second["fp32"]  # AMX-BF16
    assert spec.peak_flops_per_second["fp16"] == spec.peak_flops_per_second["fp32"]  # no FP16 instructions
    assert spec.memory_bytes == 16384000 * 1024
    assert spec.scale_out_bandwidth_bytes_per_second == 25e9 / 8
    assert spec.tdp_watts == 700
    assert spec.memory_bandwidth_bytes_per_second == 20e9
    assert spec.release_date == "2025-02-03" and spec.name == "Intel(R) Xeon(R) Platinum 8480+"
    assert all(source.url.startswith(("derived:", "https://")) for source in spec.sources)


def test_host_without_proc_falls_back_with_notes(tmp_path, monkeypatch):
    monkeypatch.setattr(host_cpu, "measure_copy_bytes_per_second", lambda: 5e9)
    entry = host_cpu.describe_host_cpu(tmp_path / "missing", TODAY)
    spec = _validated(entry)
    assert "/proc/cpuinfo unreadable" in spec.notes and "assumed" in spec.notes
    assert spec.peak_flops_per_second["fp32"] > 0 and spec.tdp_watts > 0 and spec.memory_bytes > 0


@pytest.mark.parametrize(
    "flags, vendor, family, machine, flops_per_cycle",
    [
        ({"avx512f", "fma"}, "GenuineIntel", 6, "x86_64", 64),
        ({"avx512f", "fma"}, "AuthenticAMD", 0x19, "x86_64", 32),  # Zen 4: 512-bit ops on 256-bit pipes
        ({"avx512f", "fma"}, "AuthenticAMD", 0x1A, "x86_64", 64),  # Zen 5: full-width
        ({"avx2", "fma"}, "AuthenticAMD", 0x17, "x86_64", 32),
        ({"avx"}, "GenuineIntel", 6, "x86_64", 16),
        (set(), "", 0, "aarch64", 16),
        (set(), "", 0, "x86_64", 8),
    ],
)
def test_flops_per_cycle_from_isa(flags, vendor, family, machine, flops_per_cycle):
    assert host_cpu.fp32_flops_per_cycle_per_core(frozenset(flags), vendor, family, machine)[0] == flops_per_cycle


def test_this_host_entry_is_in_the_catalog():
    from flopwatt.estimate.catalog import get_hardware

    cpu = get_hardware("cpu")
    assert cpu.accelerators_per_node == 1 and cpu.peak_for("fp32") > 0
    assert any("derived" in source.citation or source.url.startswith("derived:") for source in cpu.sources)


def test_copy_probe_measures_something():
    rate = host_cpu.measure_copy_bytes_per_second(probe_bytes=4 * 2**20, repeats=2)
    assert 1e8 < rate < 1e13


def test_zen4_bf16_without_fp16_derives_different_sixteen_bit_rates():
    """AMD Zen 4 has avx512_bf16 but no avx512_fp16: bf16 doubles fp32, fp16 runs at the fp32 rate.
    The catalog tests must hold on such a host too (they once asserted fp16 == bf16 for `cpu`)."""
    flags = frozenset({"avx2", "fma", "avx512f", "avx512_bf16"})
    assert host_cpu.sixteen_bit_speedup(flags, "bf16")[0] == 2
    assert host_cpu.sixteen_bit_speedup(flags, "fp16")[0] == 1
