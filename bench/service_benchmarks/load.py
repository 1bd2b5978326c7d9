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

--echo-ceiling (issue 14 item 23) also starts a plain grpc.aio server in its own subprocess that
answers the same RPC with an empty response (no interceptors, no work), and drives both from
the same client with the same request in alternating rounds (--rounds), so both see the same
machine load; it reports each side's median throughput and p99 and the ratio flopwatt/echo.
The echo server is what grpc.aio plus protobuf cost on this machine: the ceiling no handler can
pass, so the ratio says how much of the time is flopwatt's own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
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


ECHO_LISTENING = re.compile(r"echo serving on (\S+)")


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


# `flopwatt serve` with EstimateTraining's response cache bypassed (every request computed): the
# "before" side of --echo-ceiling --uncached, measured in the same run as the cached server.
UNCACHED_LAUNCHER = (
    "import sys; from flopwatt.service.api import training; "
    "training.estimate_training = training.compute_training_estimate; "
    "from flopwatt.service.cli import main; sys.exit(main())"
)


def start_server_process(
    cprofile_path: str | None = None,
    extra_environment: dict[str, str] | None = None,
    *,
    uncached: bool = False,
) -> ServerProcess:
    data_dir = tempfile.TemporaryDirectory(prefix="flopwatt-load-")
    log_path = os.path.join(data_dir.name, "serve.log")
    launcher = (
        [sys.executable, "-m", "cProfile", "-o", cprofile_path, "-m", "flopwatt"]
        if cprofile_path
        else [sys.executable, "-c", UNCACHED_LAUNCHER]
        if uncached
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


def _echo_main(rpc: str) -> None:
    """The echo server's process: the RPC's method answers an empty response of its type."""
    stub_class, method, _ = RPCS[rpc]
    service = stub_class.__name__.removesuffix("Stub")
    grpc_module = benchmark_pb2_grpc if stub_class is benchmark_pb2_grpc.BenchmarkServiceStub else estimator_pb2_grpc
    pb2_module = benchmark_pb2 if grpc_module is benchmark_pb2_grpc else estimator_pb2
    empty = getattr(pb2_module, f"{method}Response")()

    async def answer(request: Any, context: grpc.aio.ServicerContext) -> Any:
        return empty

    servicer = type("Echo", (getattr(grpc_module, f"{service}Servicer"),), {method: staticmethod(answer)})()

    async def serve() -> None:
        server = grpc.aio.server()
        getattr(grpc_module, f"add_{service}Servicer_to_server")(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        print(f"echo serving on 127.0.0.1:{port}", flush=True)
        await server.wait_for_termination()

    asyncio.run(serve())


def start_echo_process(rpc: str) -> tuple[subprocess.Popen, str]:
    """This script with --echo-serve in a subprocess (its own process and GIL, as flopwatt's)."""
    process = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--echo-serve", "--rpc", rpc],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()  # the server prints one line when it listens, or exits
    match = ECHO_LISTENING.search(line)
    if not match:
        process.kill()
        raise SystemExit(f"the echo server did not start: {line!r}")
    return process, match.group(1)


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
    parser.add_argument(
        "--echo-ceiling",
        action="store_true",
        help="also drive a plain grpc.aio echo server, alternating rounds, and report flopwatt/echo",
    )
    parser.add_argument(
        "--uncached",
        action="store_true",
        help="with --echo-ceiling: also drive a server whose EstimateTraining computes every request (before the cache)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="with --echo-ceiling: rounds of each (default 5)")
    parser.add_argument("--echo-serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.echo_serve:
        _echo_main(args.rpc)
        return 0
    if args.echo_ceiling:
        return echo_ceiling(args)
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


def _summary(result: LoadResult, duration_seconds: float) -> dict:
    return {
        "requests_per_second": len(result.latencies_seconds) / duration_seconds,
        "p50_milliseconds": result.percentile_milliseconds(0.50),
        "p99_milliseconds": result.percentile_milliseconds(0.99),
        "errors": result.errors,
    }


def echo_ceiling(args: argparse.Namespace) -> int:
    """flopwatt and the echo server, driven in alternating rounds (flopwatt first, then echo, and
    so on) by this one client: medians over the rounds and the ratio of the medians."""
    if args.rounds < 1 or args.rounds > 50:
        raise SystemExit("--rounds must be in [1, 50]")
    server = None if args.address else start_server_process(args.cprofile)
    address = args.address or server.address
    uncached = start_server_process(uncached=True) if args.uncached else None
    echo_process, echo_address = start_echo_process(args.rpc)
    sides = [("flopwatt", address), ("echo", echo_address)]
    if uncached:
        sides.insert(0, ("flopwatt_uncached", uncached.address))
    rounds: dict[str, list[dict]] = {side: [] for side, _ in sides}
    try:
        for _ in range(args.rounds):
            for side, target in sides:
                result = asyncio.run(drive(target, args.rpc, args.concurrency, args.duration, args.warmup))
                rounds[side].append(_summary(result, args.duration))
    finally:
        echo_process.terminate()
        echo_process.wait(10)
        if uncached:
            uncached.stop()
        if server:
            server.stop()

    def median(side: str, key: str) -> float:
        return statistics.median(r[key] for r in rounds[side])

    report = {
        "rpc": args.rpc,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "round_seconds": args.duration,
        "flopwatt_requests_per_second": median("flopwatt", "requests_per_second"),
        "flopwatt_p99_milliseconds": median("flopwatt", "p99_milliseconds"),
        "echo_requests_per_second": median("echo", "requests_per_second"),
        "echo_p99_milliseconds": median("echo", "p99_milliseconds"),
        "cpu_count": os.cpu_count(),
        "per_round": rounds,
    }
    report["ratio"] = report["flopwatt_requests_per_second"] / report["echo_requests_per_second"]
    uncached_text = ""
    if uncached:
        report["uncached_requests_per_second"] = median("flopwatt_uncached", "requests_per_second")
        report["uncached_p99_milliseconds"] = median("flopwatt_uncached", "p99_milliseconds")
        report["uncached_ratio"] = report["uncached_requests_per_second"] / report["echo_requests_per_second"]
        uncached_text = (
            f"; uncached (before) {report['uncached_requests_per_second']:.0f}/s, "
            f"p99 {report['uncached_p99_milliseconds']:.2f} ms, ratio {report['uncached_ratio']:.2f}"
        )
    errors = [r["errors"] for side in rounds.values() for r in side if r["errors"]]
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"{args.rpc} at concurrency {args.concurrency}, {args.rounds} alternating rounds of {args.duration:.0f} s "
            f"(medians): flopwatt {report['flopwatt_requests_per_second']:.0f}/s, p99 {report['flopwatt_p99_milliseconds']:.2f} ms; "
            f"echo {report['echo_requests_per_second']:.0f}/s, p99 {report['echo_p99_milliseconds']:.2f} ms; "
            f"ratio {report['ratio']:.2f}{uncached_text}; errors {errors or 'none'}"
        )
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
