"""The hardware profile document: derive ceilings and efficiency curves from raw results,
validate documents that come from files, and bundle several hosts' profiles.

The JSON shape is the contract in DESIGN §2 (binding keys; keys may be added, never renamed).
Rates are dense and computed from each measurement's median time; a ceiling is the best
verified rate of its kind. Unverified results stay in `results` (with their error) and never
reach a ceiling.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
from typing import Any, Iterable

from flopwatt.bench.errors import ProfileFormatError
from flopwatt.bench.vocabulary import DEVICE_KINDS, PROFILE_SUITES

# 2: the workload suite's operator table (`workload`, `operators`, `topology`); version 1
# documents (no operator table) are still read, validated and stored unchanged.
SCHEMA_VERSION = 2
READABLE_SCHEMA_VERSIONS = (1, 2)
OPERATOR_SECONDS_KEYS = ("median", "mean", "min", "max", "p10", "p90", "cv", "n")
# Bump whenever the method changes (mamf-finder practice). 1.1.0: the Numba STREAM copy, scale,
# add and triad kernels keep four elements per thread in flight over one resident wave instead of
# one element per thread (their TB/s is not comparable with 1.0.0 profiles' rows); counts unchanged.
BENCHMARK_VERSION = "1.1.0"
BUNDLE_KEY = "flopwatt_profile_bundle"
BUNDLE_VERSION = 1
MEMORY_KERNELS = ("copy", "scale", "add", "triad", "read")


def utc_now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _verified(results: Iterable[dict], kernel: str) -> list[dict]:
    return [r for r in results if r.get("kernel") == kernel and r.get("verified") and r.get("stats")]


def _best(results: Iterable[dict], key: str) -> float | None:
    values = [r[key] for r in results if isinstance(r.get(key), (int, float)) and r[key] > 0]
    return max(values) if values else None


def _per_launch_seconds(results: list[dict]) -> float | None:
    values = [r["stats"]["median"] / r["shape"]["launches"] for r in results if r["shape"].get("launches")]
    return min(values) if values else None


def derive_ceilings(results: list[dict]) -> dict:
    """Best verified rate per precision / memory kernel, launch overheads and transfers."""
    ceilings: dict[str, Any] = {
        "matmul_flops_per_second": {},
        "memory_bytes_per_second": {},
        "attention_flops_per_second": {},
    }
    gemm = _verified(results, "gemm")
    for precision in sorted({r["precision"] for r in gemm}):
        best = _best((r for r in gemm if r["precision"] == precision), "flops_per_second")
        if best:
            ceilings["matmul_flops_per_second"][precision] = best
    for kernel in MEMORY_KERNELS:
        best = _best(_verified(results, kernel), "bytes_per_second")
        if best:
            ceilings["memory_bytes_per_second"][kernel] = best
    attention = _verified(results, "attention")
    for precision in sorted({r["precision"] for r in attention}):
        best = _best((r for r in attention if r["precision"] == precision), "flops_per_second")
        if best:
            ceilings["attention_flops_per_second"][precision] = best
    for kernel, key in (("launch", "launch_overhead_seconds"), ("launch_graph", "launch_overhead_graph_seconds")):
        value = _per_launch_seconds(_verified(results, kernel))
        if value:
            ceilings[key] = value
    for kernel in ("host_to_device", "device_to_host"):
        best = _best(_verified(results, kernel), "bytes_per_second")
        if best:
            ceilings[f"{kernel}_bytes_per_second"] = best
    return ceilings


def derive_efficiency(results: list[dict], ceilings: dict) -> dict:
    """The GEMM map over (m, n, k) and the attention curve, for the estimator to interpolate."""
    gemm_map: dict[str, list] = {}
    for r in _verified(results, "gemm"):
        ceiling = ceilings["matmul_flops_per_second"].get(r["precision"])
        if not r.get("flops_per_second") or not ceiling:
            continue
        gemm_map.setdefault(r["precision"], []).append(
            {
                **{d: r["shape"][d] for d in "mnk"},
                "flops_per_second": r["flops_per_second"],
                "fraction_of_ceiling": r["flops_per_second"] / ceiling,
            }
        )
    attention: dict[str, list] = {}
    for r in _verified(results, "attention"):
        attention.setdefault(r["precision"], []).append(
            {
                **r["shape"],
                "causal": bool(r.get("causal")),
                "pass": r.get("pass"),
                "flops_per_second": r["flops_per_second"],
            }
        )
    for points in gemm_map.values():
        points.sort(key=lambda p: (p["m"] * p["n"] * p["k"], p["m"], p["n"], p["k"]))
    return {"gemm": gemm_map, "attention": attention}


def content_id(document: dict) -> str:
    """A stable id from the document's content, so importing the same profile twice (or merging
    stores that share one) keeps one copy. 16 hex digits of SHA-256 over canonical JSON."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# ---- validation of documents from outside (files, other hosts) ----------------------------


def _require(condition: bool, field: str, problem: str, source: str | None) -> None:
    if not condition:
        raise ProfileFormatError(field, problem, source)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_rate_tree(value: Any, field: str, source: str | None) -> None:
    """Ceilings are positive finite numbers, possibly nested one level (precision → rate)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            _require(isinstance(key, str), field, "keys must be strings", source)
            _check_rate_tree(inner, f"{field}.{key}", source)
        return
    _require(_is_number(value) and value > 0, field, f"must be a positive finite number, got {value!r}", source)


def _check_result(index: int, result: Any, source: str | None) -> None:
    field = f"results[{index}]"
    _require(isinstance(result, dict), field, "must be an object", source)
    _require(
        isinstance(result.get("kernel"), str) and result["kernel"],
        f"{field}.kernel",
        "must be a non-empty string",
        source,
    )
    for key in ("flops", "bytes"):
        _require(
            _is_number(result.get(key)) and result[key] >= 0,
            f"{field}.{key}",
            f"must be a finite number ≥ 0, got {result.get(key)!r}",
            source,
        )
    samples = result.get("samples_seconds")
    _require(isinstance(samples, list), f"{field}.samples_seconds", "must be a list", source)
    for j, sample in enumerate(samples):
        _require(
            _is_number(sample) and sample >= 0,
            f"{field}.samples_seconds[{j}]",
            f"must be a finite number ≥ 0, got {sample!r}",
            source,
        )
    _require(isinstance(result.get("verified"), bool), f"{field}.verified", "must be true or false", source)


def _check_operators(operators: Any, source: str | None) -> None:
    """The operator table (docs/benchmarks.md): kind, pass, shape, dtype, backend, seconds, FLOPs, bytes."""
    _require(isinstance(operators, list), "operators", "must be a list", source)
    for index, row in enumerate(operators):
        field = f"operators[{index}]"
        _require(isinstance(row, dict), field, "must be an object", source)
        for key in ("kind", "dtype", "backend"):
            _require(isinstance(row.get(key), str) and row[key], f"{field}.{key}", "must be a non-empty string", source)
        shape = row.get("shape")
        _require(isinstance(shape, dict) and bool(shape), f"{field}.shape", "must be a non-empty object", source)
        for name, value in shape.items():
            _require(
                _is_number(value) and value > 0,
                f"{field}.shape.{name}",
                f"must be a positive number, got {value!r}",
                source,
            )
        for key in ("flops", "bytes"):
            _require(
                _is_number(row.get(key)) and row[key] >= 0,
                f"{field}.{key}",
                f"must be a finite number ≥ 0, got {row.get(key)!r}",
                source,
            )
        seconds = row.get("seconds")
        _require(isinstance(seconds, dict), f"{field}.seconds", "must be an object of statistics", source)
        _require("median" in seconds or "mean" in seconds, f"{field}.seconds", "needs a median or a mean", source)
        for name, value in seconds.items():
            _require(
                name in OPERATOR_SECONDS_KEYS and _is_number(value) and value >= 0,
                f"{field}.seconds.{name}",
                f"must be one of {OPERATOR_SECONDS_KEYS} with a finite number ≥ 0, got {value!r}",
                source,
            )
        _require(isinstance(row.get("verified"), bool), f"{field}.verified", "must be true or false", source)


def validate_profile(document: Any, source: str | None = None) -> dict:
    """Raise ProfileFormatError naming the first bad field; return the document when good."""
    _require(isinstance(document, dict), "profile", "must be a JSON object", source)
    version = document.get("schema_version")
    _require(
        not isinstance(version, bool) and version in READABLE_SCHEMA_VERSIONS,
        "schema_version",
        f"unsupported {version!r}; this build reads {', '.join(map(str, READABLE_SCHEMA_VERSIONS))}",
        source,
    )
    _require(
        isinstance(document.get("benchmark_version"), str) and document["benchmark_version"],
        "benchmark_version",
        "must be a non-empty string",
        source,
    )
    created = document.get("created_time")
    _require(isinstance(created, str), "created_time", "must be an RFC 3339 timestamp string", source)
    try:
        _dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        raise ProfileFormatError("created_time", f"not an RFC 3339 timestamp: {created!r}", source) from None
    _require(
        document.get("suite") in PROFILE_SUITES,
        "suite",
        f"must be one of {PROFILE_SUITES}, got {document.get('suite')!r}",
        source,
    )
    device = document.get("device")
    _require(isinstance(device, dict), "device", "must be an object", source)
    _require(
        device.get("kind") in DEVICE_KINDS,
        "device.kind",
        f"must be one of {DEVICE_KINDS}, got {device.get('kind')!r}",
        source,
    )
    _require(
        isinstance(device.get("name"), str) and device["name"], "device.name", "must be a non-empty string", source
    )
    for key in ("uuid", "hardware_id"):
        _require(
            device.get(key) is None or isinstance(device.get(key), str),
            f"device.{key}",
            "must be a string or null",
            source,
        )
    _require(isinstance(document.get("environment"), dict), "environment", "must be an object", source)
    results = document.get("results")
    _require(isinstance(results, list), "results", "must be a list", source)
    for index, result in enumerate(results):
        _check_result(index, result, source)
    ceilings = document.get("ceilings")
    _require(isinstance(ceilings, dict), "ceilings", "must be an object", source)
    for key, value in ceilings.items():
        if isinstance(value, dict) and not value:
            continue  # a family nothing measured (e.g. attention on a collectives-only run)
        _check_rate_tree(value, f"ceilings.{key}", source)
    if "power" in document:
        power = document["power"]
        _require(isinstance(power, dict), "power", "must be an object", source)
        for key in ("idle_watts", "joules_per_byte"):
            if key in power:
                _require(
                    _is_number(power[key]) and power[key] > 0,
                    f"power.{key}",
                    f"must be a positive finite number, got {power[key]!r}",
                    source,
                )
        for key in ("load_watts", "joules_per_flop"):
            if key in power:
                _check_rate_tree(power[key], f"power.{key}", source)
    else:
        _require(
            isinstance(document.get("power_unavailable_reason"), str),
            "power_unavailable_reason",
            "must say why when the power object is absent",
            source,
        )
    if "operators" in document:
        _require(version >= 2, "operators", "an operator table needs schema_version 2", source)
        _check_operators(document["operators"], source)
    warnings = document.get("warnings", [])
    _require(
        isinstance(warnings, list) and all(isinstance(w, str) for w in warnings),
        "warnings",
        "must be a list of strings",
        source,
    )
    return document


def parse_profile_file(text: str, source: str) -> list[dict]:
    """One profile document or a bundle of them; every one validated. Never returns partial
    results: the first problem raises ProfileFormatError naming the file and field."""
    try:
        data = json.loads(text, parse_constant=lambda name: _reject_constant(name, source))
    except json.JSONDecodeError as error:
        raise ProfileFormatError(
            "json", f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno})", source
        ) from None
    if isinstance(data, dict) and BUNDLE_KEY in data:
        _require(
            data[BUNDLE_KEY] == BUNDLE_VERSION, BUNDLE_KEY, f"unsupported bundle version {data[BUNDLE_KEY]!r}", source
        )
        profiles = data.get("profiles")
        _require(isinstance(profiles, list) and bool(profiles), "profiles", "must be a non-empty list", source)
        return [validate_profile(p, f"{source}: profiles[{i}]") for i, p in enumerate(profiles)]
    return [validate_profile(data, source)]


def _reject_constant(name: str, source: str) -> float:
    raise ProfileFormatError("json", f"{name} is not a number a profile may hold", source)


def bundle(documents: list[dict]) -> dict:
    """Several profiles (e.g. from many hosts) in one exportable file."""
    return {BUNDLE_KEY: BUNDLE_VERSION, "profiles": documents}


def flatten_ceilings(ceilings: dict) -> dict[str, float]:
    """{"matmul_flops_per_second": {"bf16": x}} → {"matmul_flops_per_second.bf16": x}."""
    flat: dict[str, float] = {}
    for key, value in ceilings.items():
        if isinstance(value, dict):
            for inner, rate in value.items():
                if _is_number(rate):
                    flat[f"{key}.{inner}"] = float(rate)
        elif _is_number(value):
            flat[key] = float(value)
    return flat
