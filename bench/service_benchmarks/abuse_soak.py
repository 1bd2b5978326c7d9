#!/usr/bin/env python3
"""Bounded soak of mixed abusive traffic, then SIGTERM and a restart (issue 14 item 23's soak).

    python bench/service_benchmarks/abuse_soak.py --duration 60
    python bench/service_benchmarks/abuse_soak.py --duration 20 --json     # what the integration test runs

Starts `flopwatt serve --port 0` in a subprocess on a fresh data directory holding two stored
profiles, with the worker's test delay (FLOPWATT_TEST_RUN_DELAY_SECONDS) so a benchmark run stays
RUNNING without measuring anything. For --duration seconds, on 127.0.0.1, it keeps up at once:

- Health/Watch streams held open and never read after their first message;
- SweepTraining streams read once and then left unread (the server's flow control must hold them);
- sweeps of ~4 MB requests with many axes (refused fast, never planned point by point);
- sweeps cancelled by the client after their first chunk (disconnecting clients);
- benchmark runs created and cancelled, some left queued or running;
- Health.Check every --probe-interval seconds on its own channel, whose latency is the measure.

Then it sends SIGTERM, times the exit against the grace period (DRAIN_SECONDS + grace + a
margin for interpreter teardown), restarts the server on the same data directory and checks
that every run created is in the store in a terminal state and the profiles read back
unchanged. Exit status 1 when health's p99 exceeded --health-p99-ms, the exit was late or not 0,
a run or profile was lost, or any answer was UNKNOWN/INTERNAL (a server fault).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from load import LISTENING, SERVER_START_TIMEOUT_SECONDS, training_request  # noqa: E402

from flopwatt.bench.store import ProfileStore, database_path  # noqa: E402
from flopwatt.service.run_worker import TEST_DELAY_ENVIRONMENT_VARIABLE  # noqa: E402
from flopwatt.service.server import DRAIN_SECONDS  # noqa: E402
from flopwatt.v1 import benchmark_pb2, benchmark_pb2_grpc, estimator_pb2, estimator_pb2_grpc  # noqa: E402
from tests.profile_documents import minimal_profile  # noqa: E402  (a valid profile document)

MAX_DURATION_SECONDS = 600.0
TOKEN = "abuse-soak-token-0123456789"
AUTH = (("authorization", f"Bearer {TOKEN}"),)
GRACE_SECONDS = 2.0
# Interpreter and worker teardown after the server's own stop: generous on a loaded 2-core machine.
EXIT_MARGIN_SECONDS = 5.0
FAULT_CODES = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
HUGE_REQUEST_BYTES = 4 * 1024 * 1024 - 64 * 1024  # under the 4 MiB receive limit, so it is parsed
TERMINAL_STATES = {
    benchmark_pb2.BenchmarkRun.STATE_SUCCEEDED,
    benchmark_pb2.BenchmarkRun.STATE_FAILED,
    benchmark_pb2.BenchmarkRun.STATE_CANCELLED,
}


@dataclass
class Tally:
    codes: dict[str, dict[str, int]] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    health_seconds: list[float] = field(default_factory=list)
    health_failures: int = 0
    runs_created: list[str] = field(default_factory=list)

    def count(self, label: str, code: grpc.StatusCode) -> None:
        by_code = self.codes.setdefault(label, {})
        by_code[code.name] = by_code.get(code.name, 0) + 1
        if code in FAULT_CODES:
            self.faults[f"{label}: {code.name}"] = self.faults.get(f"{label}: {code.name}", 0) + 1


def _start(data_dir: str, log_path: str) -> tuple[subprocess.Popen, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLOPWATT_")}
    environment.update(
        {
            TEST_DELAY_ENVIRONMENT_VARIABLE: "600",  # runs stay RUNNING; no suite is measured
            "FLOPWATT_AUTH_TOKEN": TOKEN,
            "FLOPWATT_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        }
    )
    with open(log_path, "a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "flopwatt", "serve", "--port", "0", "--metrics-port", "-1", "--data-dir", data_dir],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    start_offset = os.path.getsize(log_path) if os.path.exists(log_path) else 0
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        with open(log_path) as log:
            log.seek(start_offset)
            text = log.read()
        match = LISTENING.search(text)
        if match:
            return process, match.group(1)
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}:\n{text}")
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start in time")


def _huge_sweep_request() -> estimator_pb2.SweepTrainingRequest:
    """Many axes whose values fill ~4 MB: a grid far past any bound, to be refused on sight."""
    fields = ["accelerator_count", "sequence_length", "training_tokens", "facility.pue", "goodput"]
    per_axis = HUGE_REQUEST_BYTES // (9 * len(fields) * 2)  # 8-byte packed doubles; each field twice
    axes = [
        estimator_pb2.SweepAxis(field=name, values=[float(1 + i) for i in range(per_axis)]) for name in fields + fields
    ]
    return estimator_pb2.SweepTrainingRequest(base=training_request(), axes=axes, chunk_size=1000)


def _long_sweep_request() -> estimator_pb2.SweepTrainingRequest:
    """A sweep with many chunks of planner work (parallelism left to the planner)."""
    base = training_request()
    base.ClearField("parallelism")
    axis = estimator_pb2.SweepAxis(field="accelerator_count", values=[float(8 * n) for n in range(1, 2001)])
    return estimator_pb2.SweepTrainingRequest(base=base, axes=[axis], chunk_size=50)


async def _call(tally: Tally, label: str, call) -> object | None:
    try:
        return await call
    except grpc.aio.AioRpcError as error:
        tally.count(label, error.code())
        return None


async def abuse(
    address: str,
    duration_seconds: float,
    probe_interval_seconds: float,
    tally: Tally,
    skip: frozenset[str] = frozenset(),
) -> None:
    stop_at = time.monotonic() + duration_seconds
    hold_channel = grpc.aio.insecure_channel(address)
    work_channel = grpc.aio.insecure_channel(address, options=[("grpc.max_send_message_length", 8 * 1024 * 1024)])
    held: list = []
    try:
        estimator = estimator_pb2_grpc.EstimatorServiceStub(work_channel)
        benchmark = benchmark_pb2_grpc.BenchmarkServiceStub(work_channel)

        async def hold_streams() -> None:
            """Watches and unread sweeps, opened once and kept to the end (each read once)."""
            watch_stub = health_pb2_grpc.HealthStub(hold_channel)
            sweep_stub = estimator_pb2_grpc.EstimatorServiceStub(hold_channel)
            for index in range(12):
                if index % 2:
                    stream = watch_stub.Watch(health_pb2.HealthCheckRequest(), timeout=duration_seconds + 30)
                    label = "Health.Watch held"
                else:
                    stream = sweep_stub.SweepTraining(_long_sweep_request(), timeout=duration_seconds + 30)
                    label = "SweepTraining unread"
                try:
                    await stream.read()
                    tally.count(label, grpc.StatusCode.OK)
                    held.append(stream)
                except grpc.aio.AioRpcError as error:
                    tally.count(label, error.code())

        async def huge_sweeps() -> None:
            request = _huge_sweep_request()
            while time.monotonic() < stop_at:
                stream = estimator.SweepTraining(request, timeout=10)
                try:
                    async for _ in stream:
                        pass
                    tally.count("SweepTraining 4 MB", grpc.StatusCode.OK)
                except grpc.aio.AioRpcError as error:
                    tally.count("SweepTraining 4 MB", error.code())
                await asyncio.sleep(0.2)

        async def disconnecting_sweeps() -> None:
            while time.monotonic() < stop_at:
                stream = estimator.SweepTraining(_long_sweep_request(), timeout=10)
                try:
                    await stream.read()
                    tally.count("SweepTraining disconnected", grpc.StatusCode.OK)
                except grpc.aio.AioRpcError as error:
                    tally.count("SweepTraining disconnected", error.code())
                stream.cancel()
                await asyncio.sleep(0.1)

        async def runs() -> None:
            index = 0
            while time.monotonic() < stop_at:
                created = await _call(
                    tally,
                    "CreateBenchmarkRun",
                    benchmark.CreateBenchmarkRun(
                        benchmark_pb2.CreateBenchmarkRunRequest(device="cpu"), metadata=AUTH, timeout=10
                    ),
                )
                if created is not None:
                    tally.count("CreateBenchmarkRun", grpc.StatusCode.OK)
                    name = created.benchmark_run.name
                    tally.runs_created.append(name)
                    if index % 3 != 2:  # two of three cancelled; the rest left queued or running
                        await asyncio.sleep(0.3)
                        cancelled = await _call(
                            tally,
                            "CancelBenchmarkRun",
                            benchmark.CancelBenchmarkRun(
                                benchmark_pb2.CancelBenchmarkRunRequest(name=name), metadata=AUTH, timeout=15
                            ),
                        )
                        if cancelled is not None:
                            tally.count("CancelBenchmarkRun", grpc.StatusCode.OK)
                index += 1
                await asyncio.sleep(0.5)

        async def estimates() -> None:
            request = training_request()
            while time.monotonic() < stop_at:
                if await _call(tally, "EstimateTraining", estimator.EstimateTraining(request, timeout=10)) is not None:
                    tally.count("EstimateTraining", grpc.StatusCode.OK)
                await asyncio.sleep(0.01)

        abusers = {
            "held": hold_streams,
            "huge": huge_sweeps,
            "disconnecting": disconnecting_sweeps,
            "runs": runs,
            "estimates": estimates,
        }
        probe = await asyncio.create_subprocess_exec(
            sys.executable,
            os.path.abspath(__file__),
            "--probe",
            address,
            "--duration",
            str(duration_seconds),
            "--probe-interval",
            str(probe_interval_seconds),
            stdout=asyncio.subprocess.PIPE,
        )

        async def probe_results() -> None:
            output, _ = await probe.communicate()
            result = json.loads(output)
            tally.health_seconds.extend(result["seconds"])
            tally.health_failures += result["failures"]

        await asyncio.gather(probe_results(), *(make() for name, make in abusers.items() if name not in skip))
    finally:
        for stream in held:
            stream.cancel()
        for channel in (hold_channel, work_channel):
            await channel.close()


def probe(address: str, duration_seconds: float, interval_seconds: float) -> dict:
    """Health.Check every interval on its own connection, in its own process (as a kubelet's
    probe): the client's work (serializing 4 MB requests) must not show as server latency."""
    seconds: list[float] = []
    failures = 0
    stop_at = time.monotonic() + duration_seconds
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
                seconds.append(time.perf_counter() - started)
            except grpc.RpcError:
                failures += 1
            time.sleep(interval_seconds)
    return {"seconds": seconds, "failures": failures}


async def _stored_runs(address: str, names: list[str]) -> dict[str, int | None]:
    """State of every named run after the restart (None: not in the store)."""
    states: dict[str, int | None] = {}
    async with grpc.aio.insecure_channel(address) as channel:
        stub = benchmark_pb2_grpc.BenchmarkServiceStub(channel)
        for name in names:
            try:
                run = await stub.GetBenchmarkRun(benchmark_pb2.GetBenchmarkRunRequest(name=name), timeout=10)
                states[name] = run.benchmark_run.state
            except grpc.aio.AioRpcError:
                states[name] = None
    return states


def _percentile_ms(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return 1e3 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def run_soak(
    duration_seconds: float, probe_interval_seconds: float, health_p99_ms: float, skip: frozenset[str] = frozenset()
) -> dict:
    with tempfile.TemporaryDirectory(prefix="flopwatt-abuse-") as data_dir:
        store = ProfileStore(database_path(data_dir))
        profile_ids = [store.save(minimal_profile()) for _ in range(2)]
        profiles_before = {profile_id: store.get(profile_id) for profile_id in profile_ids}
        log_path = os.path.join(data_dir, "serve.log")
        process, address = _start(data_dir, log_path)
        tally = Tally()
        try:
            asyncio.run(abuse(address, duration_seconds, probe_interval_seconds, tally, skip))
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            try:
                exit_code = process.wait(DRAIN_SECONDS + GRACE_SECONDS + 60)
            except subprocess.TimeoutExpired:
                exit_code = None
            exit_seconds = time.monotonic() - signalled
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        restarted, restarted_address = _start(data_dir, log_path)
        try:
            states = asyncio.run(_stored_runs(restarted_address, tally.runs_created))
        finally:
            restarted.send_signal(signal.SIGTERM)
            try:
                restarted.wait(60)
            except subprocess.TimeoutExpired:
                restarted.kill()
                restarted.wait(10)
        store = ProfileStore(database_path(data_dir))
        profiles_intact = all(store.get(profile_id) == document for profile_id, document in profiles_before.items())
        store_problems = store.quick_check()
    exit_bound = DRAIN_SECONDS + GRACE_SECONDS + EXIT_MARGIN_SECONDS
    lost = [name for name, state in states.items() if state is None]
    unfinished = [name for name, state in states.items() if state is not None and state not in TERMINAL_STATES]
    health_p99 = _percentile_ms(tally.health_seconds, 0.99)
    report = {
        "duration_seconds": duration_seconds,
        "health_checks": len(tally.health_seconds),
        "health_failures": tally.health_failures,
        "health_p50_ms": _percentile_ms(tally.health_seconds, 0.50),
        "health_p99_ms": health_p99,
        "health_max_ms": _percentile_ms(tally.health_seconds, 1.0),
        "health_p99_bound_ms": health_p99_ms,
        "codes": tally.codes,
        "faults": tally.faults,
        "runs_created": len(tally.runs_created),
        "runs_lost": lost,
        "runs_not_terminal": unfinished,
        "run_states": {
            benchmark_pb2.BenchmarkRun.State.Name(s): list(states.values()).count(s) for s in set(states.values()) if s
        },
        "profiles_intact": profiles_intact,
        "store_problems": store_problems,
        "exit_code": exit_code,
        "exit_seconds": exit_seconds,
        "exit_bound_seconds": exit_bound,
    }
    report["passed"] = (
        health_p99 <= health_p99_ms
        and tally.health_failures == 0
        and not tally.faults
        and exit_code == 0
        and exit_seconds <= exit_bound
        and not lost
        and not unfinished
        and profiles_intact
        and not store_problems
        and len(tally.runs_created) > 0
    )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=float, default=60.0, help=f"seconds of abuse (at most {MAX_DURATION_SECONDS:.0f})"
    )
    parser.add_argument("--probe-interval", type=float, default=0.02, help="seconds between health checks")
    parser.add_argument("--health-p99-ms", type=float, default=50.0)
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated abusers left out, to find which one slows health: held,huge,disconnecting,runs,estimates",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--probe", metavar="ADDRESS", help=argparse.SUPPRESS)  # the probe's own process
    args = parser.parse_args(argv)
    if args.probe:
        print(json.dumps(probe(args.probe, min(args.duration, MAX_DURATION_SECONDS), args.probe_interval)))
        return 0
    if not 0 < args.duration <= MAX_DURATION_SECONDS or not args.probe_interval > 0:
        parser.error(f"--duration in (0, {MAX_DURATION_SECONDS:.0f}] and --probe-interval > 0 are required")
    report = run_soak(
        args.duration, args.probe_interval, args.health_p99_ms, frozenset(filter(None, args.skip.split(",")))
    )
    if args.json:
        print(json.dumps(report))
    else:
        print(json.dumps(report, indent=1))
        print("PASS" if report["passed"] else "FAIL")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
