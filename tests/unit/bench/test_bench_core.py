"""Statistics, harness, ceilings and profile validation of the benchmark core."""

from __future__ import annotations

import copy
import json
import math

import pytest

from flopwatt.bench.errors import BenchmarkCancelled, ProfileFormatError
from flopwatt.bench.harness import Harness, MeasurementPlan
from flopwatt.bench.profile import (
    bundle,
    content_id,
    derive_ceilings,
    derive_efficiency,
    parse_profile_file,
    validate_profile,
)
from flopwatt.bench.stats import summarize
from flopwatt.kernels.gemm import build_gemm
from flopwatt.kernels.workload import VerificationError, Workload
from tests.profile_documents import minimal_profile, sample_results


def test_summarize_known_values():
    stats = summarize([4.0, 1.0, 3.0, 2.0, 5.0])
    assert stats["median"] == 3.0 and stats["mean"] == 3.0 and stats["min"] == 1.0 and stats["max"] == 5.0
    assert stats["p10"] == pytest.approx(1.4) and stats["p90"] == pytest.approx(4.6)
    assert stats["cv"] == pytest.approx(math.sqrt(2.0) / 3.0) and stats["n"] == 5
    with pytest.raises(ValueError, match="samples"):
        summarize([])
    with pytest.raises(ValueError, match="finite"):
        summarize([1.0, float("nan")])


def _counting_workload(verify_error: str | None = None) -> Workload:
    calls = {"run": 0, "prepare": 0}

    def verify():
        if verify_error:
            raise VerificationError(verify_error)

    workload = Workload(
        kernel="gemm",
        precision="fp32",
        shape={"m": 1, "n": 1, "k": 1},
        flops=2e6,
        bytes=1e6,
        device="cpu",
        run=lambda: calls.__setitem__("run", calls["run"] + 1),
        verify=verify,
        prepare=lambda: calls.__setitem__("prepare", calls["prepare"] + 1),
    )
    workload.extra["calls"] = calls
    return workload


def test_harness_counts_warmup_and_samples_and_rates():
    workload = _counting_workload()
    measurement = Harness("cpu").measure(workload, MeasurementPlan(warmup_iterations=3, samples=7, max_seconds=5.0))
    calls = workload.extra.pop("calls")
    assert measurement.verified and len(measurement.samples_seconds) == 7
    assert calls["run"] == 3 + 7 and calls["prepare"] == 10
    result = measurement.to_result()
    assert result["stats"]["n"] == 7
    assert result["flops_per_second"] == pytest.approx(2e6 / result["stats"]["median"])


def test_harness_never_times_an_unverified_kernel():
    workload = _counting_workload("wrong answer")
    measurement = Harness("cpu").measure(workload, MeasurementPlan(warmup_iterations=1, samples=5))
    workload.extra.pop("calls")
    result = measurement.to_result()
    assert not result["verified"] and result["samples_seconds"] == [] and result["flops_per_second"] is None
    assert "wrong answer" in result["error"]


def test_harness_cancels_between_samples():
    with pytest.raises(BenchmarkCancelled):
        Harness("cpu", should_cancel=lambda: True).measure(_counting_workload(), MeasurementPlan())


def test_real_gemm_measurement_rate_is_consistent():
    measurement = Harness("cpu").measure(
        build_gemm("fp32", 128, 128, 128, device="cpu"), MeasurementPlan(warmup_iterations=1, samples=5)
    )
    result = measurement.to_result()
    assert result["verified"] and 0 < result["stats"]["min"] <= result["stats"]["median"] <= result["stats"]["max"]
    assert result["flops_per_second"] == pytest.approx(2 * 128**3 / result["stats"]["median"])


def test_ceilings_take_best_verified_rates_only():
    ceilings = derive_ceilings(sample_results())
    assert ceilings["matmul_flops_per_second"] == {"bf16": pytest.approx(4e9)}  # the unverified 1e18 is ignored
    assert ceilings["memory_bytes_per_second"] == {"triad": pytest.approx(2.4e8), "copy": pytest.approx(8e7)}
    assert ceilings["launch_overhead_seconds"] == pytest.approx(1e-5)
    efficiency = derive_efficiency(sample_results(), ceilings)
    fractions = [p["fraction_of_ceiling"] for p in efficiency["gemm"]["bf16"]]
    assert fractions == [pytest.approx(0.25), pytest.approx(1.0)]
    assert efficiency["attention"]["bf16"][0]["flops_per_second"] == pytest.approx(4e9)


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d.update(schema_version=99), "schema_version"),
        (lambda d: d.pop("benchmark_version"), "benchmark_version"),
        (lambda d: d.update(created_time="yesterday"), "created_time"),
        (lambda d: d["device"].update(kind="tpu"), "device.kind"),
        (lambda d: d["results"][0].update(flops=-1), "results[0].flops"),
        (lambda d: d["results"][1]["samples_seconds"].append("x"), "results[1].samples_seconds[1]"),
        (lambda d: d["ceilings"]["matmul_flops_per_second"].update(bf16=0), "ceilings.matmul_flops_per_second.bf16"),
        (lambda d: d.pop("power_unavailable_reason"), "power_unavailable_reason"),
        (lambda d: d.update(power={"idle_watts": -5}), "power.idle_watts"),
    ],
)
def test_validation_names_the_bad_field(mutate, field):
    document = minimal_profile()
    validate_profile(copy.deepcopy(document))
    mutate(document)
    with pytest.raises(ProfileFormatError) as caught:
        validate_profile(document, "file.json")
    assert caught.value.field == field and str(caught.value).startswith(f"file.json: {field}:")


def test_parse_profile_file_refuses_garbage_and_accepts_bundles():
    with pytest.raises(ProfileFormatError, match="not valid JSON"):
        parse_profile_file("{not json", "x.json")
    with pytest.raises(ProfileFormatError, match="NaN"):
        parse_profile_file(json.dumps(minimal_profile()).replace('"torch": "2.13"', '"torch": NaN'), "x.json")
    with pytest.raises(ProfileFormatError, match="profile: must be a JSON object"):
        parse_profile_file("[1, 2]", "x.json")
    other = minimal_profile()
    other["host"] = "other-host"
    documents = parse_profile_file(json.dumps(bundle([minimal_profile(), other])), "b.json")
    assert [d["host"] for d in documents] == ["test-host", "other-host"]
    assert content_id(documents[0]) != content_id(documents[1])
    assert content_id(minimal_profile()) == content_id(minimal_profile())
