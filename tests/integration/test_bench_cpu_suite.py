"""End to end on the CPU: the quick suite's ceilings agree with plain torch measurements taken
in the same process (±30 %), the CLI stores and reports the profile, collectives run on 2 gloo
ranks, and bad files are refused."""

from __future__ import annotations

import json
import time

import pytest
import torch

from flopwatt.bench.collectives import COLLECTIVES, bus_bandwidth_factor, spawn_local
from flopwatt.bench.errors import BenchmarkCancelled
from flopwatt.bench.harness import MeasurementPlan
from flopwatt.bench.profile import validate_profile
from flopwatt.bench.store import ProfileStore
from flopwatt.bench.suites import run_suite
from flopwatt.service.cli import main

AGREEMENT_TOLERANCE = 0.30  # the acceptance band
PLAIN_GEMM_SIZE = 1024  # 2 GFLOP: a real measurement in ~15 ms per call on 2 cores
PLAIN_TRIAD_ELEMENTS = 2**24  # 128 MiB per array: 4× the CI runner's 32 MiB L3


def plain_torch_matmul_flops_per_second(size: int = PLAIN_GEMM_SIZE, repeats: int = 10) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    out = torch.empty(size, size)
    torch.mm(a, b, out=out)
    times = []
    for _ in range(repeats):
        begin = time.perf_counter()
        torch.mm(a, b, out=out)
        times.append(time.perf_counter() - begin)
    return 2 * size**3 / sorted(times)[len(times) // 2]


def plain_torch_triad_bytes_per_second(elements: int = PLAIN_TRIAD_ELEMENTS, repeats: int = 8) -> float:
    """a = b + 0.4·c in one pass (torch.add with alpha), 3 arrays of float64 moved."""
    b, c = torch.randn(elements, dtype=torch.float64), torch.randn(elements, dtype=torch.float64)
    a = torch.empty_like(b)
    torch.add(b, c, alpha=0.4, out=a)
    times = []
    for _ in range(repeats):
        begin = time.perf_counter()
        torch.add(b, c, alpha=0.4, out=a)
        times.append(time.perf_counter() - begin)
    return 3 * 8 * elements / sorted(times)[len(times) // 2]


@pytest.fixture(scope="module")
def quick_profile():
    fractions = []
    # Plain measurements bracket the suite (before here, after in the test): the CI host is
    # shared, so agreement is judged against what plain torch got around the same time.
    plain_before = (plain_torch_matmul_flops_per_second(), plain_torch_triad_bytes_per_second())
    started = time.perf_counter()
    document = run_suite("quick", "cpu", progress=lambda fraction, message: fractions.append(fraction))
    document["wall_seconds_in_test"] = time.perf_counter() - started
    document["progress_fractions"] = fractions
    document["plain_before"] = plain_before
    return document


@pytest.mark.slow
def test_quick_suite_profile_is_complete_and_valid(quick_profile):
    validate_profile(quick_profile)
    assert quick_profile["wall_seconds_in_test"] < 180
    fractions = quick_profile["progress_fractions"]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    ceilings = quick_profile["ceilings"]
    assert set(ceilings["matmul_flops_per_second"]) == {"fp32", "bf16"}
    assert set(ceilings["memory_bytes_per_second"]) >= {"copy", "triad", "read"}
    assert ceilings["launch_overhead_seconds"] > 0 and set(ceilings["attention_flops_per_second"]) == {"fp32", "bf16"}
    assert "power" not in quick_profile and "NVML" in quick_profile["power_unavailable_reason"]
    assert all(r["verified"] for r in quick_profile["results"])
    gemm_map = quick_profile["efficiency"]["gemm"]["fp32"]
    assert any(p["m"] == 1 for p in gemm_map) and max(p["fraction_of_ceiling"] for p in gemm_map) == pytest.approx(1.0)
    assert min(p["fraction_of_ceiling"] for p in gemm_map) < 0.5  # decode-like shapes are far below peak


@pytest.mark.slow
def test_quick_suite_agrees_with_plain_torch(quick_profile):
    matmul_before, triad_before = quick_profile["plain_before"]
    plain_matmul = (matmul_before, plain_torch_matmul_flops_per_second())
    plain_triad = (triad_before, plain_torch_triad_bytes_per_second())
    measured_matmul = quick_profile["ceilings"]["matmul_flops_per_second"]["fp32"]
    measured_triad = quick_profile["ceilings"]["memory_bytes_per_second"]["triad"]
    low, high = 1.0 - AGREEMENT_TOLERANCE, 1.0 + AGREEMENT_TOLERANCE
    assert low * min(plain_matmul) <= measured_matmul <= high * max(plain_matmul), (measured_matmul, plain_matmul)
    assert low * min(plain_triad) <= measured_triad <= high * max(plain_triad), (measured_triad, plain_triad)


def test_cancel_raises_promptly():
    calls = []

    def cancel_after_a_few() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(BenchmarkCancelled):
        run_suite("quick", "cpu", should_cancel=cancel_after_a_few)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="suite"):
        run_suite("medium", "cpu")
    with pytest.raises(ValueError, match="device"):
        run_suite("quick", "tpu")
    with pytest.raises(ValueError, match="plan"):
        MeasurementPlan(samples=0)


def test_two_gloo_ranks_collectives():
    result = spawn_local(2, "gloo", sizes=[8, 4096, 1 << 20], iterations=3, warmup=1)
    assert result["backend"] == "gloo" and result["world_size"] == 2
    for collective in COLLECTIVES:
        rows = result[collective]
        assert [r["bytes"] for r in rows] == [8, 4096, 1 << 20]
        for row in rows:
            assert row["verified"] and row["seconds"] > 0
            assert row["algbw_bytes_per_second"] == pytest.approx(row["bytes"] / row["seconds"])
            assert row["busbw_bytes_per_second"] == pytest.approx(row["algbw_bytes_per_second"] * bus_bandwidth_factor(collective, 2))
    assert bus_bandwidth_factor("all_reduce", 8) == pytest.approx(1.75) and bus_bandwidth_factor("all_gather", 8) == pytest.approx(0.875)


@pytest.mark.slow
def test_cli_stores_exports_imports_and_charts(quick_profile, tmp_path, capsys):
    from flopwatt.service.profiles import annotate_profile

    source = tmp_path / "source"
    profile_path = tmp_path / "host-a.json"
    profile_path.write_text(json.dumps(annotate_profile(json.loads(json.dumps({k: v for k, v in quick_profile.items() if k not in ("wall_seconds_in_test", "progress_fractions", "plain_before")})))))
    assert main(["bench", "import", str(profile_path), "--data-dir", str(source)]) == 0
    (stored,), _ = ProfileStore(source / "flopwatt.sqlite3").list(10, 0)
    bundle_path = tmp_path / "bundle.json"
    assert main(["bench", "export", "--output", str(bundle_path), "--data-dir", str(source)]) == 0
    target = tmp_path / "target"
    assert main(["bench", "import", str(bundle_path), "--data-dir", str(target)]) == 0
    assert ProfileStore(target / "flopwatt.sqlite3").get(stored.id)["device"]["kind"] == "cpu"
    chart = tmp_path / "roofline.svg"
    assert main(["report", "profile", f"profiles/{stored.id}", "--output", str(chart), "--data-dir", str(target)]) == 0
    assert chart.read_text().lstrip().startswith("<?xml") and "Roofline" in chart.read_text()
    assert main(["report", "profile", str(profile_path), "--output", str(tmp_path / "r.png")]) == 0
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_refuses_bad_files(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, "benchmark_version": "1.0.0"}')
    assert main(["bench", "import", str(bad), "--data-dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "refused" in error and "created_time" in error and str(bad) in error
    truncated = tmp_path / "truncated.json"
    truncated.write_text('{"schema_version": 1, "resu')
    assert main(["bench", "import", str(truncated), "--data-dir", str(tmp_path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["report", "profile", str(tmp_path / "missing.json"), "--output", str(tmp_path / "x.png"), "--data-dir", str(tmp_path)]) == 2
