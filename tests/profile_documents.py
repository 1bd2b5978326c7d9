"""Hardware-profile documents for tests: a small, valid profile built by the benchmark core's
own derivations (bench/profile.py), shared by the bench, estimate and service tests."""

from __future__ import annotations

from flopwatt.bench.profile import derive_ceilings, derive_efficiency
from flopwatt.bench.stats import summarize


def _result(kernel, precision, shape, flops, bytes_, median, verified=True):
    return {
        "kernel": kernel,
        "precision": precision,
        "shape": shape,
        "flops": flops,
        "bytes": bytes_,
        "samples_seconds": [median],
        "verified": verified,
        "stats": summarize([median]) if verified else None,
        "flops_per_second": flops / median if verified and flops else None,
        "bytes_per_second": bytes_ / median if verified and bytes_ else None,
    }


def sample_results() -> list[dict]:
    return [
        _result("gemm", "bf16", {"m": 8, "n": 8, "k": 8}, 1000.0, 10.0, 1e-6),
        _result("gemm", "bf16", {"m": 16, "n": 16, "k": 16}, 8000.0, 10.0, 2e-6),
        _result("gemm", "bf16", {"m": 32, "n": 32, "k": 32}, 1e9, 10.0, 1e-9, verified=False),
        _result("triad", "fp64", {"elements": 10}, 20.0, 240.0, 1e-6),
        _result("copy", "fp32", {"elements": 10}, 0.0, 80.0, 1e-6),
        _result("launch", "int64", {"launches": 100}, 0.0, 1600.0, 1e-3),
        _result("attention", "bf16", {"batch": 1, "heads": 2, "sequence_length": 64, "head_dim": 32}, 4e6, 1e4, 1e-3),
    ]


def minimal_profile() -> dict:
    results = sample_results()
    ceilings = derive_ceilings(results)
    return {
        "schema_version": 1,
        "benchmark_version": "1.0.0",
        "created_time": "2026-11-23T17:00:00Z",
        "suite": "quick",
        "host": "test-host",
        "device": {"kind": "cpu", "name": "Test CPU", "uuid": None, "hardware_id": None, "core_count": 2},
        "environment": {"torch": "2.13"},
        "results": results,
        "ceilings": ceilings,
        "efficiency": derive_efficiency(results, ceilings),
        "power_unavailable_reason": "no NVML",
        "warnings": [],
    }
