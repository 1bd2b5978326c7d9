#!/usr/bin/env python3
"""Load benchmark of the flopwatt gRPC service: throughput and latency of one RPC under a fixed
number of concurrent in-flight requests (closed loop), from its own grpc.aio client.

    python bench/service_benchmarks/load.py                       # starts a server subprocess
    python bench/service_benchmarks/load.py --address host:50051 --rpc ListHardware --concurrency 64

Without --address it starts `flopwatt serve` in a subprocess (its own process, so client and
server do not share a GIL) on a free port with a temporary data directory, and reports the
server's CPU use, which tells whether the server or the machine is the limit. DESIGN §7 target:
>= 1,000 unary estimates/s with p99 <= 20 ms on 2 cores. --cprofile FILE runs the server under
cProfile and writes its profile on exit (read it with `python -m pstats FILE`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import grpc

from flopwatt.v1 import benchmark_pb2, benchmark_pb2_grpc, common_pb2, estimator_pb2, estimator_pb2_grpc

LISTENING = re.compile(r"serving gRPC on (\S+) ")
SERVER_START_TIMEOUT_SECONDS = 60.0
CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def training_request() -> estimator_pb2.EstimateTrainingRequest:
    """Llama 2 7B on 2 T tokens over 512 H100s with the parallelism given (the planner skipped):
    the request a dashboard recomputes as a user edits one field."""
    return estimator_pb2.EstimateTrainingRequest(
        model=common_pb2.ModelSpec(preset_id="llama-2-7b"),
        training_tokens=2_000_000_000_000,
        sequence_length=4096,
        hardware_id="h100-sxm",
        accelerator_count=512,
        parallelism=common_pb2.Parallelism(
            tensor_parallel_size=1,
            pipeline_parallel_size=1,
            data_parallel_size=512,
            expert_parallel_size=1,
            pipeline_interleaving=1,
            micro_batch_size=1,
            global_batch_size=1024,
            zero_stage=1,
            activation_recompute=common_pb2.ACTIVATION_RECOMPUTE_NONE,
            sequence_parallel=False,
        ),
    )


def planned_training_request() -> estimator_pb2.EstimateTrainingRequest:
    """The same run with parallelism left to the planner (searches plans per request)."""
    request = training_request()
    request.ClearField("parallelism")
    return request


def inference_request() -> estimator_pb2.EstimateInferenceRequest:
    return estimator_pb2.EstimateInferenceRequest(
        model=common_pb2.ModelSpec(preset_id="llama-2-7b"),
        hardware_id="h100-sxm",
        accelerator_count=1,
        batch_size=32,
        input_tokens=1024,
        output_tokens=256,
    )


# rpc name -> (stub class, method name, request factory)
RPCS: dict[str, tuple[Any, str, Callable[[], Any]]] = {
    "EstimateTraining": (estimator_pb2_grpc.EstimatorServiceStub, "EstimateTraining", training_request),
    "EstimateTrainingPlanned": (estimator_pb2_grpc.EstimatorServiceStub, "EstimateTraining", planned_training_request),
    "EstimateInference": (estimator_pb2_grpc.EstimatorServiceStub, "EstimateInference", inference_request),
    "ListHardware": (estimator_pb2_grpc.EstimatorServiceStub, "ListHardware", estimator_pb2.ListHardwareRequest),
    "ListModels": (estimator_pb2_grpc.EstimatorServiceStub, "ListModels", estimator_pb2.ListModelsRequest),
    "ListBenchmarkRuns": (
        benchmark_pb2_grpc.BenchmarkServiceStub,
        "ListBenchmarkRuns",
        benchmark_pb2.ListBenchmarkRunsRequest,
    ),
}


@dataclass
class ServerProcess:
    """A `flopwatt serve` subprocess on a free port."""

    process: subprocess.Popen
    address: str
    data_dir: tempfile.TemporaryDirectory
    log_path: str

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server so far (Linux /proc)."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_SECOND

    def rss_bytes(self) -> int:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS in /proc status")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.data_dir.cleanup()
        return self.process.returncode


def start_server_process(
    cprofile_path: str | None = None, extra_environment: dict[str, str] | None = None
) -> ServerProcess:
    data_dir = tempfile.TemporaryDirectory(prefix="flopwatt-load-")
    log_path = os.path.join(data_dir.name, "serve.log")
    launcher = (
        [sys.executable, "-m", "cProfile", "-o", cprofile_path, "-m", "flopwatt"]
        if cprofile_path
        else [sys.executable, "-m", "flopwatt"]
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLOPWATT_")}
    environment.update(extra_environment or {})
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                *launcher,
                "serve",
                "--port",
                "0",
                "--metrics-port",
                "-1",
                "--data-dir",
                data_dir.name,
                "--log-level",
                "INFO",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        with open(log_path) as log:
            text = log.read()
        match = LISTENING.search(text)
        if match:
            return ServerProcess(process, match.group(1), data_dir, log_path)
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}:\n{text}")
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the server did not start within {SERVER_START_TIMEOUT_SECONDS:.0f} s")


@dataclass
class LoadResult:
    latencies_seconds: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def percentile_milliseconds(self, fraction: float) -> float:
        ordered = sorted(self.latencies_seconds)
        if not ordered:
            return float("nan")
        return 1e3 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def drive(address: str, rpc: str, concurrency: int, duration_seconds: float, warmup_seconds: float) -> LoadResult:
    """`concurrency` coroutines, each sending the next request when the previous answered; only
    calls that start after the warm-up and end before the deadline count."""
    stub_class, method, make_request = RPCS[rpc]
    request = make_request()
    result = LoadResult()
    async with grpc.aio.insecure_channel(address) as channel:
        call = getattr(stub_class(channel), method)
        start = time.perf_counter()
        measure_from = start + warmup_seconds
        stop_at = measure_from + duration_seconds

        async def worker() -> None:
            while (now := time.perf_counter()) < stop_at:
                try:
                    await call(request, timeout=10)
                except grpc.aio.AioRpcError as error:
                    if now >= measure_from:
                        result.errors[error.code().name] = result.errors.get(error.code().name, 0) + 1
                    continue
                done = time.perf_counter()
                if now >= measure_from and done <= stop_at:
                    result.latencies_seconds.append(done - now)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--address", help="host:port of a running server; default: start one")
    parser.add_argument("--rpc", choices=sorted(RPCS), default="EstimateTraining")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring (default 2)")
    parser.add_argument("--cprofile", help="with no --address: write the server's cProfile to this file")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.concurrency < 1 or not args.duration > 0 or args.warmup < 0:
        parser.error("--concurrency >= 1, --duration > 0 and --warmup >= 0 are required")
    server = None if args.address else start_server_process(args.cprofile)
    address = args.address or server.address
    try:
        cpu_before = server.cpu_seconds() if server else 0.0
        wall_before = time.perf_counter()
        result = asyncio.run(drive(address, args.rpc, args.concurrency, args.duration, args.warmup))
        server_cpu = (server.cpu_seconds() - cpu_before) / (time.perf_counter() - wall_before) if server else None
    finally:
        if server:
            server.stop()
    report = {
        "rpc": args.rpc,
        "concurrency": args.concurrency,
        "duration_seconds": args.duration,
        "requests": len(result.latencies_seconds),
        "errors": result.errors,
        "throughput_requests_per_second": len(result.latencies_seconds) / args.duration,
        "p50_milliseconds": result.percentile_milliseconds(0.50),
        "p90_milliseconds": result.percentile_milliseconds(0.90),
        "p99_milliseconds": result.percentile_milliseconds(0.99),
        "max_milliseconds": result.percentile_milliseconds(1.0),
        "server_cpu_cores_busy": server_cpu,
        "cpu_count": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"{args.rpc}: {report['throughput_requests_per_second']:.0f} requests/s at concurrency {args.concurrency}; "
            f"p50 {report['p50_milliseconds']:.2f} ms, p90 {report['p90_milliseconds']:.2f} ms, "
            f"p99 {report['p99_milliseconds']:.2f} ms, max {report['max_milliseconds']:.2f} ms; errors {result.errors or 'none'}"
            + (f"; server used {server_cpu:.2f} of {os.cpu_count()} cores" if server_cpu is not None else "")
        )
    return 0 if not result.errors else 1


if __name__ == "__main__":
    sys.exit(main())
