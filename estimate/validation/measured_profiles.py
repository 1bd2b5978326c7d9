"""The datasheet path against a measured hardware profile of the same accelerator.

Why: the datasheet hardware model's shape curve for GEMMs was fitted on A100 step times
(vTrain, fitted_constants.py) and carried to other accelerators by their ops:byte ratio; its
memory and attention rates are datasheet × documented fractions. A measured profile of another
accelerator (bench/results/, e.g. the H100 profiles of 2026-11-27) times the same operations on
real hardware, so it tests those rules out of sample. Nothing here is fitted: the comparison
says how far the datasheet path is from the measurement, per precision and shape class.

Error convention: predicted seconds ÷ measured seconds − 1 (positive: the model is slower than
the hardware, i.e. pessimistic). Rates are compared the same way, as the time the rate implies.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Mapping

from flopwatt.estimate.catalog import get_hardware
from flopwatt.estimate.hardware import HardwareModel, datasheet_hardware_model

# GEMMs with at most this many rows are decode-shaped (tokens in flight): the estimator times them
# with decode_gemm_seconds (the roofline without the size curve's m factor), others with gemm_seconds.
SKINNY_GEMM_MAXIMUM_ROWS = 32


@dataclass(frozen=True)
class GroupComparison:
    """One class of measured operations (e.g. bf16 GEMMs with m > 32) against the datasheet path."""

    quantity: str
    rows: int
    median_signed_error_percent: float
    mean_absolute_error_percent: float
    worst_signed_error_percent: float
    worst_shape: str


@dataclass(frozen=True)
class ScalarComparison:
    """One ceiling: the datasheet path's value beside the profile's measured value."""

    quantity: str
    unit: str
    datasheet_value: float
    measured_value: float
    time_error_percent: float  # the time the datasheet value implies vs the measured one


@dataclass(frozen=True)
class ProfileComparison:
    profile_name: str
    device_name: str
    hardware_id: str
    created_time: str
    groups: tuple[GroupComparison, ...]
    scalars: tuple[ScalarComparison, ...]


def _models(hardware_id: str) -> dict[str, HardwareModel]:
    spec = get_hardware(hardware_id)
    models = {}
    for precision in spec.peak_flops_per_second:
        try:
            models[precision] = datasheet_hardware_model(spec, precision)
        except (KeyError, ValueError):  # a precision the datasheet path cannot model
            continue
    return models


def _measured_pairs(results: list[Mapping[str, Any]], models: dict[str, HardwareModel]) -> dict[str, list]:
    """(predicted seconds, measured median seconds, shape label) per comparison class."""
    pairs: dict[str, list] = defaultdict(list)
    for result in results:
        if not result.get("verified") or result["precision"] not in models:
            continue
        hw, shape, measured = models[result["precision"]], result["shape"], result["stats"]["median"]
        if result["kernel"] == "gemm":
            m, n, k = shape["m"], shape["n"], shape["k"]
            skinny = m <= SKINNY_GEMM_MAXIMUM_ROWS
            predicted = float(hw.decode_gemm_seconds(m, n, k) if skinny else hw.gemm_seconds(m, n, k))
            key = f"gemm {result['precision']}, m {'≤' if skinny else '>'} {SKINNY_GEMM_MAXIMUM_ROWS}"
            pairs[key].append((predicted, measured, f"{m}x{n}x{k}"))
        elif result["kernel"] == "attention":
            seq, head_dim = shape["sequence_length"], shape["head_dim"]
            predicted = float(hw.attention_seconds(result["flops"], seq, head_dim))
            key = f"attention {result['precision']} {result.get('pass', 'forward')}"
            label = f"b{shape['batch']} h{shape['heads']} s{seq} d{head_dim} causal={result.get('causal')}"
            pairs[key].append((predicted, measured, label))
    return pairs


def _group(quantity: str, pairs: list) -> GroupComparison:
    errors = [(predicted / measured - 1.0, label) for predicted, measured, label in pairs]
    worst = max(errors, key=lambda item: abs(item[0]))
    return GroupComparison(
        quantity=quantity,
        rows=len(errors),
        median_signed_error_percent=statistics.median(e for e, _ in errors) * 100,
        mean_absolute_error_percent=statistics.fmean(abs(e) for e, _ in errors) * 100,
        worst_signed_error_percent=worst[0] * 100,
        worst_shape=worst[1],
    )


def _scalars(document: Mapping[str, Any], models: dict[str, HardwareModel]) -> list[ScalarComparison]:
    ceilings = document["ceilings"]
    hw = models.get("bf16") or next(iter(models.values()))
    scalars = []
    copy = ceilings.get("memory_bytes_per_second", {}).get("copy")
    if copy:
        datasheet = hw.memory_bandwidth_bytes_per_second
        scalars.append(
            ScalarComparison("sustained memory bandwidth", "B/s", datasheet, copy, (copy / datasheet - 1) * 100)
        )
    for key, quantity in (
        ("launch_overhead_seconds", "kernel launch overhead"),
        ("launch_overhead_graph_seconds", "launch overhead in a CUDA graph"),
    ):
        measured = ceilings.get(key)
        if measured:
            datasheet = (
                hw.launch_overhead_seconds if key == "launch_overhead_seconds" else hw.graph_launch_overhead_seconds
            )
            scalars.append(ScalarComparison(quantity, "s", datasheet, measured, (datasheet / measured - 1) * 100))
    for precision, measured in sorted(ceilings.get("matmul_flops_per_second", {}).items()):
        if precision in models:
            datasheet = models[precision].sustained_gemm_flops_per_second
            scalars.append(
                ScalarComparison(
                    f"sustained GEMM {precision}", "FLOP/s", datasheet, measured, (measured / datasheet - 1) * 100
                )
            )
    return scalars


def compare_profile(document: Mapping[str, Any], profile_name: str) -> ProfileComparison:
    """The datasheet path of the profile's catalog accelerator against the profile's measurements.

    Raises LookupError when the profile names no catalog accelerator (a CPU or an uncatalogued
    GPU has no datasheet path to test)."""
    hardware_id = document["device"].get("hardware_id")
    if not hardware_id:
        raise LookupError(f"{profile_name}: the profile names no catalog accelerator")
    models = _models(hardware_id)
    pairs = _measured_pairs(document["results"], models)
    return ProfileComparison(
        profile_name=profile_name,
        device_name=document["device"]["name"],
        hardware_id=hardware_id,
        created_time=document["created_time"],
        groups=tuple(_group(quantity, pairs[quantity]) for quantity in sorted(pairs)),
        scalars=tuple(_scalars(document, models)),
    )
