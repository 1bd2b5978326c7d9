"""The estimator's typed profile reader: what it keeps, what it refuses, and that it reads the
schema the benchmark core writes."""

from __future__ import annotations

import math

import pytest

from flopwatt.bench.profile import SCHEMA_VERSION
from flopwatt.estimate.measured_profile import READABLE_SCHEMA_VERSIONS, ProfileReadError, read_profile
from tests.profile_documents import minimal_profile


def test_reads_the_schema_the_benchmark_core_writes():
    assert SCHEMA_VERSION in READABLE_SCHEMA_VERSIONS


def test_reads_ceilings_power_map_and_collectives():
    document = minimal_profile()
    document["device"] = {"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "hardware_id": "h100-sxm"}
    document["ceilings"] = {
        "matmul_flops_per_second": {"bf16": 7.9e14},
        "memory_bytes_per_second": {"copy": 3.0e12, "triad": 2.9e12},
        "launch_overhead_seconds": 4e-6,
    }
    document["power"] = {"idle_watts": 70.0, "load_watts": {"gemm_bf16": 690.0}}
    document["efficiency"] = {
        "gemm": {
            "bf16": [
                {"m": 1, "n": 8192, "k": 8192, "flops_per_second": 2e12},
                {"m": 0, "n": 1, "k": 1, "flops_per_second": 1.0},
            ]
        }
    }
    document["collectives"] = {"all_reduce": [{"busbw_bytes_per_second": 3.6e11}, {"busbw_bytes_per_second": "fast"}]}
    profile = read_profile(document)
    assert profile.hardware_id == "h100-sxm" and profile.device_kind == "cuda"
    assert profile.matmul_flops_per_second == {"bf16": 7.9e14}
    assert profile.memory_bytes_per_second["copy"] == 3.0e12 and profile.launch_overhead_seconds == 4e-6
    assert profile.idle_watts == 70.0 and profile.load_watts == {"gemm_bf16": 690.0}
    assert [(p.m, p.n, p.k) for p in profile.gemm_points["bf16"]] == [
        (1, 8192, 8192)
    ]  # the zero-sized point is dropped
    assert profile.all_reduce_bus_bytes_per_second == (3.6e11,)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0, 0.0, "7e14", True, None])
def test_keeps_only_positive_finite_numbers(bad):
    document = minimal_profile()
    document["ceilings"] = {"matmul_flops_per_second": {"bf16": bad, "fp32": 1e12}}
    assert read_profile(document).matmul_flops_per_second == {"fp32": 1e12}


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(schema_version=99), "schema_version 99"),
        (lambda d: d.pop("schema_version"), "schema_version None"),
        (lambda d: d.update(ceilings=[1, 2]), "'ceilings' must be an object"),
    ],
)
def test_refuses_what_it_cannot_read(mutate, message):
    document = minimal_profile()
    mutate(document)
    with pytest.raises(ProfileReadError, match=message):
        read_profile(document)


def test_refuses_a_non_object():
    with pytest.raises(ProfileReadError):
        read_profile([1, 2, 3])
