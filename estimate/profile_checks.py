"""Hardware identification and plausibility of measured profiles against the catalog.

Lives in the estimator because the catalog does (the benchmark core imports only the kernels).
Identification maps the driver's device name (e.g. "NVIDIA H100 80GB HBM3") to a catalog id;
plausibility flags results that the named GPU cannot produce (above its datasheet peak) or
that say the run went wrong (far below the known range). The bounds are fractions of the
datasheet with their reasons below; a flagged profile is kept and served, with the warning.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Sequence

from flopwatt.estimate.catalog.entries import HardwareSpec
from flopwatt.estimate.measured_profile import MeasuredProfile, read_profile

# Above peak: the datasheet uses the spec boost clock (H100: 1830 MHz) while parts run up to
# the max boost (1980 MHz, +8.2 %); anything beyond +10 % means a wrong FLOP/byte count or a
# misidentified part (anchors-microbench §2 and §8 "clock confusion", read 2026-11).
ABOVE_PEAK_FRACTION = 1.10
# Far below: published dense-GEMM maxima sit at 71-97 % of datasheet (MAMF table: H100 bf16
# 80 %, fp8 71 %, A100 87 %; MI300X 51 % before TunableOp) and anchors §9 proposes flagging H100
# bf16 < 650 TFLOP/s (66 %). 50 % leaves room for MI300X-like software gaps and fp32/tf32.
MATMUL_FAR_BELOW_FRACTION = 0.50
# HBM streaming reaches 84-95 % of datasheet (BabelStream on H100/H200, Azure 2024-2025);
# anchors §9 flags H100 < 2.6 TB/s (78 %). 60 % catches a broken or throttled run.
MEMORY_FAR_BELOW_FRACTION = 0.60
MEMORY_KERNELS_CHECKED = ("copy", "triad", "read")
# Attention has no lower bound: short sequences and small heads legitimately run far below peak.
ATTENTION_FAR_BELOW_FRACTION = 0.0
# Board power under load above the TDP by more than measurement noise (NVML counter ±5 %,
# nvidia-smi docs) means the wrong part or a misread counter.
POWER_ABOVE_TDP_FRACTION = 1.05

# Driver names → catalog ids, most specific first (nvidia-smi / torch device names as printed
# by drivers 535-580; "HBM3" boards are SXM, PCIe boards say "PCIe").
NAME_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"\bGB200\b", "gb200"),
    (r"\bB200\b", "b200"),
    (r"\bH200\b", "h200"),
    (r"\bH800\b", "h800"),
    (r"\bH100\b.*\b(PCIe|NVL)\b", "h100-pcie"),
    (r"\bH100\b", "h100-sxm"),
    (r"\bA100\b.*\b80\s?GB\b", "a100-80gb"),
    (r"\bA100\b", "a100-40gb"),
    (r"\bV100\b", "v100"),
    (r"\bMI300X\b", "mi300x"),
)


def _catalog() -> list[HardwareSpec]:
    from flopwatt.estimate.catalog import list_hardware

    return list(list_hardware())


def identify_hardware(device: dict, hardware: Sequence[HardwareSpec] | None = None) -> str | None:
    """The catalog id of the profile's device, or None when the catalog does not know it."""
    specs = {spec.id: spec for spec in (hardware if hardware is not None else _catalog())}
    if device.get("kind") == "cpu":
        return "cpu" if "cpu" in specs else None
    name = str(device.get("name", ""))
    for pattern, hardware_id in NAME_PATTERNS:
        if re.search(pattern, name, flags=re.IGNORECASE):
            return hardware_id if hardware_id in specs else None
    return None


def _format_rate(value: float, unit: str) -> str:
    return f"{value / 1e12:.1f} T{unit}" if value >= 1e11 else f"{value / 1e9:.2f} G{unit}"


def _range_warnings(
    label: str, measured: float, reference: float | None, far_below: float, unit: str, what: str
) -> list[str]:
    """One warning when `measured` is above ABOVE_PEAK_FRACTION or below `far_below` of `reference`."""
    if not reference:
        return []
    text = f"{label} {_format_rate(measured, unit)}"
    if measured > ABOVE_PEAK_FRACTION * reference:
        return [f"{text} is above the {what} {_format_rate(reference, unit)} (×{measured / reference:.2f})"]
    if measured < far_below * reference:
        return [f"{text} is only {measured / reference:.0%} of the {what} {_format_rate(reference, unit)}"]
    return []


def plausibility_warnings(document: dict, spec: HardwareSpec) -> list[str]:
    """Warnings for measured ceilings outside what `spec` can produce. CPU profiles are
    not checked against the catalog's `cpu` entry, which describes this host from measurement."""
    profile = read_profile(document)
    if profile.device_kind == "cpu":
        return []
    warnings: list[str] = []
    for precision, measured in profile.matmul_flops_per_second.items():
        peak = spec.peak_flops_per_second.get(precision)
        warnings.extend(
            _range_warnings(
                f"matmul {precision}", measured, peak, MATMUL_FAR_BELOW_FRACTION, "FLOP/s", f"{spec.id} datasheet peak"
            )
        )
    for precision, measured in profile.attention_flops_per_second.items():
        # Attention runs on the same tensor cores as GEMM, so the matmul peak bounds it too; only
        # the upper bound is checked (FlashAttention reaches 35-75 % of peak depending on shape).
        peak = spec.peak_flops_per_second.get(precision)
        warnings.extend(
            _range_warnings(
                f"attention {precision}",
                measured,
                peak,
                ATTENTION_FAR_BELOW_FRACTION,
                "FLOP/s",
                f"{spec.id} datasheet peak",
            )
        )
    for kernel, measured in profile.memory_bytes_per_second.items():
        if kernel in MEMORY_KERNELS_CHECKED:
            bandwidth = spec.memory_bandwidth_bytes_per_second
            warnings.extend(
                _range_warnings(
                    f"memory {kernel}",
                    measured,
                    bandwidth,
                    MEMORY_FAR_BELOW_FRACTION,
                    "B/s",
                    f"{spec.id} datasheet bandwidth",
                )
            )
    for label, watts in profile.load_watts.items():
        if spec.tdp_watts and watts > POWER_ABOVE_TDP_FRACTION * spec.tdp_watts:
            warnings.append(f"power {label} {watts:.0f} W is above the {spec.id} TDP {spec.tdp_watts:.0f} W")
    return warnings


def annotate_profile(document: dict, hardware: Iterable[HardwareSpec] | None = None) -> dict:
    """Set device.hardware_id and append plausibility warnings; returns the same document.
    Run notes of the suite (skips, verification failures) are not warnings and stay in `notes`."""
    specs = list(hardware) if hardware is not None else _catalog()
    hardware_id = identify_hardware(document["device"], specs)
    document["device"]["hardware_id"] = hardware_id
    warnings = list(document.get("warnings", []))
    if hardware_id is None and document["device"].get("kind") == "cuda":
        warnings.append(
            f"device {document['device'].get('name')!r} is not in the hardware catalog; no plausibility check"
        )
    elif hardware_id is not None:
        spec = next(s for s in specs if s.id == hardware_id)
        warnings.extend(w for w in plausibility_warnings(document, spec) if w not in warnings)
    document["warnings"] = warnings
    return document


def profile_hardware_id(profile: MeasuredProfile, hardware: Sequence[HardwareSpec] | None = None) -> str | None:
    """The catalog id the profile was measured on: the annotated `device.hardware_id`, else the
    device identified now (profiles stored before every save path annotated them)."""
    return profile.hardware_id or identify_hardware(
        {"kind": profile.device_kind, "name": profile.device_name}, hardware
    )


def save_measured_profile(save: Callable[[dict], str], document: dict) -> str:
    """The one way a measured profile enters a store, from the CLI and from API runs alike:
    annotated (catalog id, plausibility warnings) first, then saved."""
    return save(annotate_profile(document))
