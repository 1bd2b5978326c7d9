"""The one typed reader of a hardware profile document, for everything the estimator uses.

Why a reader of its own: the profile JSON is the seam between the benchmark core and the
estimator (DESIGN §2 binding keys). The estimator may not import the benchmark core, and an
untyped `.get(...) or {}` chain lets a renamed key silently fall back to datasheet numbers. This
module reads the document once into a frozen, versioned dataclass; every value it keeps is a
positive finite number or absent, so the physics never sees a string, NaN or a negative rate.
A schema version it does not know is refused (ProfileReadError), never guessed at.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

# Profile schema versions this reader understands. A test holds the benchmark core's
# SCHEMA_VERSION inside this set, so bumping one without the other fails.
READABLE_SCHEMA_VERSIONS = frozenset({1, 2})  # 2 adds the operator table


class ProfileReadError(ValueError):
    """The document is not a profile this estimator can read; the message names the key."""


@dataclass(frozen=True)
class GemmPoint:
    """One measured GEMM of the efficiency map: shape in elements and the rate reached."""

    m: int
    n: int
    k: int
    flops_per_second: float


@dataclass(frozen=True)
class OperatorTiming:
    """One row of a workload profile's operator table (schema 2, docs/benchmarks.md): a verified
    operator at one shape and its typical seconds (the median; collectives: the mean)."""

    kind: str
    pass_name: str
    dtype: str
    shape: tuple[tuple[str, float], ...]  # named dimensions, sorted by name
    seconds: float
    group_size: int = 1  # collectives: ranks in the group (a key, not a dimension)

    @property
    def dimensions(self) -> dict[str, float]:
        return dict(self.shape)


@dataclass(frozen=True)
class MeasuredProfile:
    """What a profile measured, as the estimator uses it (absent = not measured)."""

    schema_version: int
    benchmark_version: str
    created_time: str
    host: str
    device_kind: str
    device_name: str
    hardware_id: str | None
    torch_version: str
    matmul_flops_per_second: Mapping[str, float] = field(default_factory=dict)
    memory_bytes_per_second: Mapping[str, float] = field(default_factory=dict)
    attention_flops_per_second: Mapping[str, float] = field(default_factory=dict)
    launch_overhead_seconds: float | None = None
    launch_overhead_graph_seconds: float | None = None
    idle_watts: float | None = None
    load_watts: Mapping[str, float] = field(default_factory=dict)
    # The load window that streamed memory (`power.memory_bound_window`, e.g. "triad_fp64"); None
    # when the profile names none or its window has no usable watts.
    memory_bound_window: str | None = None
    gemm_points: Mapping[str, tuple[GemmPoint, ...]] = field(default_factory=dict)
    all_reduce_bus_bytes_per_second: tuple[float, ...] = ()
    operators: tuple[OperatorTiming, ...] = ()  # the workload suite's operator table (schema 2)

    @property
    def memory_bound_watts(self) -> float | None:
        """Mean power of the memory-bound window, None when not measured."""
        return self.load_watts.get(self.memory_bound_window) if self.memory_bound_window else None

    @property
    def device_description(self) -> str:
        return f"{self.device_name!r} ({self.device_kind})"


def _positive(value: Any) -> float | None:
    """A positive finite number, else None (booleans and strings are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) and number > 0 else None


def _object(document: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = document.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ProfileReadError(f"profile key {key!r} must be an object, got {type(value).__name__}")
    return value


def _rates(values: Any) -> dict[str, float]:
    if not isinstance(values, Mapping):
        return {}
    return {str(name): rate for name, value in values.items() if (rate := _positive(value)) is not None}


def _gemm_points(efficiency: Mapping[str, Any]) -> dict[str, tuple[GemmPoint, ...]]:
    by_precision = efficiency.get("gemm")
    if not isinstance(by_precision, Mapping):
        return {}
    points: dict[str, tuple[GemmPoint, ...]] = {}
    for precision, entries in by_precision.items():
        usable = []
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, Mapping):
                continue
            dims = [_positive(entry.get(d)) for d in "mnk"]
            rate = _positive(entry.get("flops_per_second"))
            if rate is not None and all(dims):
                usable.append(GemmPoint(int(dims[0]), int(dims[1]), int(dims[2]), rate))
        if usable:
            points[str(precision)] = tuple(usable)
    return points


def _operators(rows: Any) -> tuple[OperatorTiming, ...]:
    """The verified rows of an operator table with a positive time and positive dimensions;
    anything else is skipped (the bench core validated the table when it was stored)."""
    usable = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, Mapping) or row.get("verified") is not True:
            continue
        seconds = row.get("seconds") if isinstance(row.get("seconds"), Mapping) else {}
        typical = _positive(seconds.get("median")) or _positive(seconds.get("mean"))
        shape = row.get("shape") if isinstance(row.get("shape"), Mapping) else {}
        dims = {str(k): _positive(v) for k, v in shape.items()}
        kind, dtype = row.get("kind"), row.get("dtype")
        if (
            typical is None
            or not dims
            or None in dims.values()
            or not isinstance(kind, str)
            or not isinstance(dtype, str)
        ):
            continue
        group = int(dims.pop("group_size", 1) or 1)
        usable.append(
            OperatorTiming(kind, str(row.get("pass", "")), dtype, tuple(sorted(dims.items())), typical, group)
        )
    return tuple(usable)


def read_profile(document: Mapping[str, Any]) -> MeasuredProfile:
    """The typed view of a profile document; ProfileReadError when it cannot be one."""
    if not isinstance(document, Mapping):
        raise ProfileReadError(f"a profile must be a JSON object, got {type(document).__name__}")
    version = document.get("schema_version")
    if version not in READABLE_SCHEMA_VERSIONS:
        raise ProfileReadError(
            f"profile schema_version {version!r} is not one this estimator reads ({sorted(READABLE_SCHEMA_VERSIONS)})"
        )
    device = _object(document, "device")
    ceilings = _object(document, "ceilings")
    power = _object(document, "power")
    collectives = _object(document, "collectives")
    all_reduce = collectives.get("all_reduce") if isinstance(collectives.get("all_reduce"), list) else []
    bus = tuple(
        b
        for r in all_reduce
        if isinstance(r, Mapping) and (b := _positive(r.get("busbw_bytes_per_second"))) is not None
    )
    hardware_id = device.get("hardware_id")
    load_watts = _rates(power.get("load_watts"))
    memory_window = power.get("memory_bound_window")
    return MeasuredProfile(
        schema_version=int(version),
        benchmark_version=str(document.get("benchmark_version", "?")),
        created_time=str(document.get("created_time", "")),
        host=str(document.get("host", "?")),
        device_kind=str(device.get("kind", "?")),
        device_name=str(device.get("name", "?")),
        hardware_id=hardware_id if isinstance(hardware_id, str) and hardware_id else None,
        torch_version=str(_object(document, "environment").get("torch", "?")),
        matmul_flops_per_second=_rates(ceilings.get("matmul_flops_per_second")),
        memory_bytes_per_second=_rates(ceilings.get("memory_bytes_per_second")),
        attention_flops_per_second=_rates(ceilings.get("attention_flops_per_second")),
        launch_overhead_seconds=_positive(ceilings.get("launch_overhead_seconds")),
        launch_overhead_graph_seconds=_positive(ceilings.get("launch_overhead_graph_seconds")),
        idle_watts=_positive(power.get("idle_watts")),
        load_watts=load_watts,
        memory_bound_window=memory_window if isinstance(memory_window, str) and memory_window in load_watts else None,
        gemm_points=_gemm_points(_object(document, "efficiency")),
        all_reduce_bus_bytes_per_second=bus,
        operators=_operators(document.get("operators")) if int(version) >= 2 else (),
    )
