#!/usr/bin/env python3
"""Soak test of the flopwatt gRPC service: a steady mix of good and bad requests for a bounded
time while the server's resident memory (RSS) is sampled. A leak shows as growth after warm-up.

    python bench/service_benchmarks/soak.py --duration 180          # 3 minutes
    python bench/service_benchmarks/soak.py --duration 600 --max-growth-mib 16

Starts `flopwatt serve` in a subprocess (load.py's launcher), drives it at a fixed concurrency
with estimates, catalog lists, run lookups, Watch streams on unknown runs, refused creates,
invalid arguments and garbage bytes, and samples VmRSS every --sample-seconds. The baseline is
the RSS at the end of the warm-up (the first quarter, at least 20 s: imports, caches and
allocator pools settle there). Exit status 1 when RSS grew more than --max-growth-mib beyond
the baseline, or any answer was UNKNOWN/INTERNAL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from typing import Any

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load import ServerProcess, inference_request, start_server_process, training_request  # noqa: E402

from flopwatt.v1 import benchmark_pb2, benchmark_pb2_grpc, estimator_pb2, estimator_pb2_grpc  # noqa: E402

MAX_DURATION_SECONDS = 600.0  # the bound: a soak that fits in a CI job or a coffee break
DEFAULT_DURATION_SECONDS = 300.0
# Default leak bound: 16 MiB over the soak. A leak of one 1 KiB object per request would grow by
# ~200 MiB over 5 minutes at this load; allocator noise on an idle-to-busy Python server is a few MiB.
DEFAULT_MAX_GROWTH_MIB = 16.0
MIN_WARMUP_SECONDS = 20.0
FAULT_CODES = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
MEBIBYTE = 1024 * 1024
TOKEN = "soak-token-0123456789abcdef"


def _mix(channel: grpc.aio.Channel) -> list[tuple[str, Any]]:
    """(label, zero-argument coroutine factory) pairs, drawn uniformly."""
    estimator = estimator_pb2_grpc.EstimatorServiceStub(channel)
    benchmark = benchmark_pb2_grpc.BenchmarkServiceStub(channel)
    garbage = channel.unary_unary("/flopwatt.v1.EstimatorService/EstimateTraining")
    bad_training = training_request()
    bad_training.sequence_length = -1

    async def watch_unknown() -> None:
        async for _ in benchmark.WatchBenchmarkRun(
            benchmark_pb2.WatchBenchmarkRunRequest(name="benchmarkRuns/0000"), timeout=10
        ):
            pass

    return [
        ("EstimateTraining", lambda: estimator.EstimateTraining(training_request(), timeout=10)),
        ("EstimateInference", lambda: estimator.EstimateInference(inference_request(), timeout=10)),
        ("EstimateTraining invalid", lambda: estimator.EstimateTraining(bad_training, timeout=10)),
        ("ListHardware", lambda: estimator.ListHardware(estimator_pb2.ListHardwareRequest(), timeout=10)),
        ("ListModels", lambda: estimator.ListModels(estimator_pb2.ListModelsRequest(), timeout=10)),
        (
            "ListBenchmarkRuns",
            lambda: benchmark.ListBenchmarkRuns(benchmark_pb2.ListBenchmarkRunsRequest(page_size=10), timeout=10),
        ),
        (
            "GetBenchmarkRun unknown",
            lambda: benchmark.GetBenchmarkRun(
                benchmark_pb2.GetBenchmarkRunRequest(name="benchmarkRuns/0000"), timeout=10
            ),
        ),
        ("WatchBenchmarkRun unknown", watch_unknown),
        (
            "CreateBenchmarkRun no token",
            lambda: benchmark.CreateBenchmarkRun(benchmark_pb2.CreateBenchmarkRunRequest(), timeout=10),
        ),
        ("garbage bytes", lambda: garbage(random.randbytes(random.randint(1, 200)), timeout=10)),
    ]


async def soak(
    server: ServerProcess, duration_seconds: float, warmup_seconds: float, concurrency: int, sample_seconds: float
) -> dict:
    samples: list[tuple[float, int]] = []
    counts: dict[str, int] = {}
    faults: dict[str, int] = {}
    random.seed(20261123)
    async with grpc.aio.insecure_channel(server.address) as channel:
        mix = _mix(channel)
        start = time.monotonic()
        stop_at = start + duration_seconds

        async def client() -> None:
            while time.monotonic() < stop_at:
                label, make_call = random.choice(mix)
                code = grpc.StatusCode.OK
                try:
                    await make_call()
                except grpc.aio.AioRpcError as error:
                    code = error.code()
                counts[code.name] = counts.get(code.name, 0) + 1
                if code in FAULT_CODES:
                    faults[f"{label}: {code.name}"] = faults.get(f"{label}: {code.name}", 0) + 1

        async def sampler() -> None:
            while (now := time.monotonic()) < stop_at:
                samples.append((now - start, server.rss_bytes()))
                await asyncio.sleep(sample_seconds)
            samples.append((time.monotonic() - start, server.rss_bytes()))

        await asyncio.gather(sampler(), *(client() for _ in range(concurrency)))
    after_warmup = [(t, rss) for t, rss in samples if t >= warmup_seconds]
    baseline = after_warmup[0][1]
    times = [t for t, _ in after_warmup]
    values = [rss / MEBIBYTE for _, rss in after_warmup]
    mean_t, mean_v = sum(times) / len(times), sum(values) / len(values)
    variance = sum((t - mean_t) ** 2 for t in times)
    slope = sum((t - mean_t) * (v - mean_v) for t, v in zip(times, values)) / variance if variance else 0.0
    return {
        "duration_seconds": duration_seconds,
        "warmup_seconds": warmup_seconds,
        "concurrency": concurrency,
        "requests": sum(counts.values()),
        "requests_per_second": sum(counts.values()) / duration_seconds,
        "codes": counts,
        "faults": faults,
        "rss_start_mib": samples[0][1] / MEBIBYTE,
        "rss_baseline_mib": baseline / MEBIBYTE,
        "rss_final_mib": samples[-1][1] / MEBIBYTE,
        "rss_max_after_warmup_mib": max(values),
        "rss_growth_mib": max(values) - baseline / MEBIBYTE,
        "rss_slope_mib_per_minute": slope * 60,
        "samples": len(samples),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration",
        type=float,
        default=DEFAULT_DURATION_SECONDS,
        help=f"seconds of load (default {DEFAULT_DURATION_SECONDS:.0f}, at most {MAX_DURATION_SECONDS:.0f})",
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sample-seconds", type=float, default=2.0)
    parser.add_argument("--max-growth-mib", type=float, default=DEFAULT_MAX_GROWTH_MIB)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= MAX_DURATION_SECONDS:
        parser.error(f"--duration must be in (0, {MAX_DURATION_SECONDS:.0f}] seconds")
    if args.concurrency < 1 or not args.sample_seconds > 0:
        parser.error("--concurrency >= 1 and --sample-seconds > 0 are required")
    warmup = max(MIN_WARMUP_SECONDS, args.duration / 4)
    if warmup >= args.duration:
        parser.error(f"--duration must exceed the {warmup:.0f} s warm-up")
    server = start_server_process(extra_environment={"FLOPWATT_AUTH_TOKEN": TOKEN})
    try:
        report = asyncio.run(soak(server, args.duration, warmup, args.concurrency, args.sample_seconds))
    finally:
        exit_code = server.stop()
    report["server_exit_code"] = exit_code
    report["max_growth_mib"] = args.max_growth_mib
    passed = report["rss_growth_mib"] <= args.max_growth_mib and not report["faults"] and exit_code == 0
    report["passed"] = passed
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"soak {args.duration:.0f} s, {report['requests']} requests ({report['requests_per_second']:.0f}/s), codes {report['codes']}"
        )
        print(
            f"server RSS: start {report['rss_start_mib']:.1f} MiB, after {warmup:.0f} s warm-up {report['rss_baseline_mib']:.1f} MiB, "
            f"final {report['rss_final_mib']:.1f} MiB, max {report['rss_max_after_warmup_mib']:.1f} MiB; "
            f"growth {report['rss_growth_mib']:+.1f} MiB (bound {args.max_growth_mib:.0f}), slope {report['rss_slope_mib_per_minute']:+.2f} MiB/min"
        )
        print(
            f"faults (UNKNOWN/INTERNAL): {report['faults'] or 'none'}; server exit {exit_code}; {'PASS' if passed else 'FAIL'}"
        )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
