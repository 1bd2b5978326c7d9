#!/usr/bin/env python3
"""Health latency while clients keep the server busy with heavy estimates (issue 14 item 4).

    python bench/service_benchmarks/health_under_load.py                 # 8 clients, 100,000 samples, 5 s
    python bench/service_benchmarks/health_under_load.py --clients 8 --samples 100000 --duration 5

Starts `flopwatt serve` in a subprocess (load.py's helper: client and server do not share a
GIL), runs `--clients` closed-loop clients sending EstimateTraining with `--samples` Monte Carlo
samples, and meanwhile one prober calling grpc.health.v1.Health/Check every 20 ms. Reports the
Check latency (median, p90, max) and the heavy estimates completed per second. Bounded: it
stops after --duration seconds (at most 60) and talks only to the loopback server it started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from load import start_server_process, training_request

from flopwatt.v1 import estimator_pb2_grpc

PROBE_INTERVAL_SECONDS = 0.02


async def measure(address: str, clients: int, samples: int, duration_seconds: float) -> dict:
    request = training_request()
    request.uncertainty.samples = samples
    completed = 0
    errors: dict[str, int] = {}
    health_ms: list[float] = []
    async with grpc.aio.insecure_channel(address) as channel, grpc.aio.insecure_channel(address) as probe_channel:
        estimate = estimator_pb2_grpc.EstimatorServiceStub(channel).EstimateTraining
        check = health_pb2_grpc.HealthStub(probe_channel).Check
        await check(health_pb2.HealthCheckRequest(), timeout=10)  # connected before timing
        stop_at = time.perf_counter() + duration_seconds

        async def client() -> None:
            nonlocal completed
            while time.perf_counter() < stop_at:
                try:
                    await estimate(request, timeout=30)
                    completed += 1
                except grpc.aio.AioRpcError as error:
                    errors[error.code().name] = errors.get(error.code().name, 0) + 1

        async def prober() -> None:
            await asyncio.sleep(0.5)  # the clients are busy by now
            while time.perf_counter() < stop_at:
                start = time.perf_counter()
                await check(health_pb2.HealthCheckRequest(), timeout=10)
                health_ms.append((time.perf_counter() - start) * 1e3)
                await asyncio.sleep(PROBE_INTERVAL_SECONDS)

        await asyncio.gather(prober(), *(client() for _ in range(clients)))
    ordered = sorted(health_ms)
    return {
        "clients": clients,
        "samples": samples,
        "duration_seconds": duration_seconds,
        "health_checks": len(ordered),
        "health_median_ms": round(statistics.median(ordered), 2),
        "health_p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
        "health_max_ms": round(ordered[-1], 2),
        "heavy_estimates_per_second": round(completed / duration_seconds, 1),
        "errors": errors,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds (at most 60)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    server = start_server_process()
    try:
        result = asyncio.run(measure(server.address, args.clients, args.samples, min(args.duration, 60.0)))
    finally:
        server.stop()
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
