"""End to end on the CPU: the quick suite's ceilings agree with plain torch measurements taken
in the same process over the same span (±30 %), the CLI stores and reports the profile,
collectives run on 2 gloo ranks, and bad files are refused."""

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
from flopwatt.bench.suite_config import suite_config
from flopwatt.bench.suites import run_suite
from flopwatt.service.cli import main

AGREEMENT_TOLERANCE = 0.30  # the acceptance band
PLAIN_TRIAD_ELEMENTS = 2**24  # 128 MiB per array: 4× the CI runner's 32 MiB L3
PLAIN_REPEATS = 2  # timed calls per shape and round, after one untimed call
# Plain rounds besides the ones before and after the suite, at these fractions of its progress.
PLAIN_ROUNDS_AT_PROGRESS = (0.25, 0.5, 0.75)
# The suite's fp32 search shapes below this many FLOPs never hold its ceiling on a CPU (launch
# and threading overheads dominate) and are left out of the plain reference to save time.
PLAIN_MIN_GEMM_FLOPS = 1e9


class PlainTorchReference:
    """Plain torch.mm and torch.add rates, sampled before, during and after the suite.

    Why this shape: the suite's ceiling is its best shape's median rate, so each plain round
    takes plain torch's best over the same fp32 search shapes (a single 1024³ product is 30-40 %
    below the 1536³ best on a 2-core runner, which made the old comparison fail on a quiet
    host). The host is shared: another process on one of 2 cores halves a 2-thread GEMM, and
    load comes and goes. So rounds are interleaved with the suite (from its progress callback)
    and the suite must lie within ±30 % of the range plain torch spanned over the same time. On
    a quiet host that range is narrow and the check is a plain ±30 %; load widens it only
    downwards, so a suite that overstates a rate (a wrong FLOP or byte count) still fails."""

    def __init__(self) -> None:
        shapes = [
            s for s in suite_config("quick", "cpu").gemm_search_shapes if 2 * s[0] * s[1] * s[2] >= PLAIN_MIN_GEMM_FLOPS
        ]
        self._gemms = [(torch.randn(m, k), torch.randn(k, n), torch.empty(m, n)) for m, n, k in shapes]
        self._triad = tuple(torch.randn(PLAIN_TRIAD_ELEMENTS, dtype=torch.float64) for _ in range(3))
        self.matmul_flops_per_second: list[float] = []
        self.triad_bytes_per_second: list[float] = []
        self._pending_rounds = list(PLAIN_ROUNDS_AT_PROGRESS)

    @staticmethod
    def _best_seconds(call) -> float:
        call()
        times = []
        for _ in range(PLAIN_REPEATS):
            begin = time.perf_counter()
            call()
            times.append(time.perf_counter() - begin)
        return min(times)

    def sample(self) -> None:
        self.matmul_flops_per_second.append(
            max(
                2 * a.shape[0] * a.shape[1] * b.shape[1] / self._best_seconds(lambda: torch.mm(a, b, out=out))
                for a, b, out in self._gemms
            )
        )
        a, b, c = self._triad  # a = b + 0.4·c in one pass: 3 arrays of float64 moved
        self.triad_bytes_per_second.append(
            3 * 8 * PLAIN_TRIAD_ELEMENTS / self._best_seconds(lambda: torch.add(b, c, alpha=0.4, out=a))
        )

    def on_progress(self, fraction: float) -> None:
        while self._pending_rounds and fraction >= self._pending_rounds[0]:
            self._pending_rounds.pop(0)
            self.sample()


@pytest.fixture(scope="module")
def quick_profile():
    fractions = []
    plain = PlainTorchReference()
    plain.sample()
    suite_seconds = 0.0
    started = time.perf_counter()

    def progress(fraction: float, message: str) -> None:
        nonlocal suite_seconds, started
        fractions.append(fraction)
        suite_seconds += time.perf_counter() - started
        plain.on_progress(fraction)  # not counted in the suite's wall time
        started = time.perf_counter()

    document = run_suite("quick", "cpu", progress=progress)
    document["wall_seconds_in_test"] = suite_seconds + time.perf_counter() - started
    plain.sample()
    document["progress_fractions"] = fractions
    document["plain_reference"] = plain
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
    plain = quick_profile["plain_reference"]
    assert len(plain.matmul_flops_per_second) == 2 + len(PLAIN_ROUNDS_AT_PROGRESS)
    measured_matmul = quick_profile["ceilings"]["matmul_flops_per_second"]["fp32"]
    measured_triad = quick_profile["ceilings"]["memory_bytes_per_second"]["triad"]
    low, high = 1.0 - AGREEMENT_TOLERANCE, 1.0 + AGREEMENT_TOLERANCE
    matmul, triad = plain.matmul_flops_per_second, plain.triad_bytes_per_second
    assert low * min(matmul) <= measured_matmul <= high * max(matmul), (measured_matmul, matmul)
    assert low * min(triad) <= measured_triad <= high * max(triad), (measured_triad, triad)


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
            assert row["busbw_bytes_per_second"] == pytest.approx(
                row["algbw_bytes_per_second"] * bus_bandwidth_factor(collective, 2)
            )
    assert bus_bandwidth_factor("all_reduce", 8) == pytest.approx(1.75) and bus_bandwidth_factor(
        "all_gather", 8
    ) == pytest.approx(0.875)


@pytest.mark.slow
def test_cli_stores_exports_imports_and_charts(quick_profile, tmp_path, capsys):
    from flopwatt.estimate.profile_checks import annotate_profile

    source = tmp_path / "source"
    profile_path = tmp_path / "host-a.json"
    profile_path.write_text(
        json.dumps(
            annotate_profile(
                json.loads(
                    json.dumps(
                        {
                            k: v
                            for k, v in quick_profile.items()
                            if k not in ("wall_seconds_in_test", "progress_fractions", "plain_reference")
                        }
                    )
                )
            )
        )
    )
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
    assert (
        main(
            [
                "report",
                "profile",
                str(tmp_path / "missing.json"),
                "--output",
                str(tmp_path / "x.png"),
                "--data-dir",
                str(tmp_path),
            ]
        )
        == 2
    )


@pytest.mark.slow
def test_a_profile_made_by_bench_feeds_the_estimator(quick_profile):
    """The seam between the benchmark core and the estimator: the estimator's one typed reader
    takes what `run_suite` produced, and a CPU estimate is calibrated by exactly those numbers."""
    from flopwatt.estimate.catalog import get_hardware
    from flopwatt.estimate.hardware import profiled_hardware_model
    from flopwatt.estimate.measured_profile import read_profile
    from flopwatt.estimate.profile_checks import annotate_profile, profile_hardware_id

    profile = read_profile(quick_profile)
    ceilings = quick_profile["ceilings"]
    assert profile.device_kind == "cpu" and profile_hardware_id(profile) == "cpu"
    assert dict(profile.matmul_flops_per_second) == ceilings["matmul_flops_per_second"]
    assert profile.memory_bytes_per_second["copy"] == ceilings["memory_bytes_per_second"]["copy"]
    assert profile.launch_overhead_seconds == ceilings["launch_overhead_seconds"]
    assert len(profile.gemm_points["fp32"]) == len(quick_profile["efficiency"]["gemm"]["fp32"])
    annotated = read_profile(annotate_profile(dict(quick_profile, device=dict(quick_profile["device"]))))
    assert annotated.hardware_id == "cpu"
    model = profiled_hardware_model(get_hardware("cpu"), "fp32", profile, "bench-made")
    assert model.calibration_kind == "measured_profile"
    assert model.sustained_gemm_flops_per_second == ceilings["matmul_flops_per_second"]["fp32"]
    assert model.memory_bandwidth_bytes_per_second == ceilings["memory_bytes_per_second"]["copy"]
    assert model.gemm_map is not None and len(model.gemm_map.log_rates) == len(profile.gemm_points["fp32"])
