"""Every Prometheus metric of the service, declared in one place (DESIGN §5).

Each server instance owns a `ServiceMetrics` with its own `CollectorRegistry`, so tests can run
several servers in one process and read exact counts. Names follow the Prometheus guide (base
units, `_total` counters, no colons); the gRPC ones use the go-grpc-prometheus names and its
`grpc_code` spelling ("OK", "InvalidArgument"), so existing Grafana dashboards work unchanged.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import Any

import grpc
import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.registry import Collector

from flopwatt import __version__

prometheus_client.disable_created_metrics()  # `_created` series double the series count for no use here

# Latency buckets from 100 µs (an in-process estimate) to 60 s (a large sweep).
HANDLING_SECONDS_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
)
# Benchmark runs last minutes: buckets from 10 s to 2 h.
BENCHMARK_DURATION_SECONDS_BUCKETS = (10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)


def go_code_name(code: grpc.StatusCode) -> str:
    """grpc.StatusCode.INVALID_ARGUMENT -> "InvalidArgument" (Go's codes.Code.String())."""
    if code is grpc.StatusCode.OK:
        return "OK"
    return "".join(part.capitalize() for part in code.name.split("_"))


def build_revision() -> str:
    """The source revision: FLOPWATT_REVISION (set by the Docker build), else git, else "unknown"."""
    revision = os.environ.get("FLOPWATT_REVISION", "").strip()
    if revision:
        return revision
    source_dir = os.path.dirname(os.path.abspath(__file__))
    try:
        result = subprocess.run(
            ["git", "-C", source_dir, "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else "unknown"


@dataclass
class ServiceMetrics:
    """The metric objects of one server."""

    registry: CollectorRegistry
    started: Counter
    handled: Counter
    handling_seconds: Histogram
    msg_received: Counter
    msg_sent: Counter
    estimates: Counter
    benchmark_runs: Counter
    benchmark_duration_seconds: Histogram
    benchmark_queue_depth: Gauge
    gpu_energy_joules: Counter
    build_info: Gauge

    def register_collector(self, collector: Collector) -> None:
        self.registry.register(collector)


def create_metrics(registry: CollectorRegistry | None = None) -> ServiceMetrics:
    registry = registry if registry is not None else CollectorRegistry()
    prometheus_client.ProcessCollector(registry=registry)
    prometheus_client.PlatformCollector(registry=registry)
    prometheus_client.GCCollector(registry=registry)
    grpc_labels = ("grpc_type", "grpc_service", "grpc_method")
    metrics = ServiceMetrics(
        registry=registry,
        started=Counter("grpc_server_started_total", "RPCs started on the server.", grpc_labels, registry=registry),
        handled=Counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, regardless of success or failure.",
            (*grpc_labels, "grpc_code"),
            registry=registry,
        ),
        handling_seconds=Histogram(
            "grpc_server_handling_seconds",
            "Response latency of RPCs handled by the server, in seconds.",
            grpc_labels,
            buckets=HANDLING_SECONDS_BUCKETS,
            registry=registry,
        ),
        msg_received=Counter(
            "grpc_server_msg_received_total", "Messages received by the server.", grpc_labels, registry=registry
        ),
        msg_sent=Counter("grpc_server_msg_sent_total", "Messages sent by the server.", grpc_labels, registry=registry),
        estimates=Counter(
            "flopwatt_estimates_total",
            "Estimates computed, by kind (training, inference, campus, sweep_point).",
            ("kind",),
            registry=registry,
        ),
        benchmark_runs=Counter(
            "flopwatt_benchmark_runs_total",
            "Benchmark runs that reached a terminal state, by result.",
            ("result",),
            registry=registry,
        ),
        benchmark_duration_seconds=Histogram(
            "flopwatt_benchmark_duration_seconds",
            "Wall-clock duration of finished benchmark runs, in seconds.",
            buckets=BENCHMARK_DURATION_SECONDS_BUCKETS,
            registry=registry,
        ),
        benchmark_queue_depth=Gauge(
            "flopwatt_benchmark_queue_depth", "Benchmark runs waiting for a device.", registry=registry
        ),
        gpu_energy_joules=Counter(
            "flopwatt_gpu_energy_joules_total",
            "GPU energy measured by NVML during benchmark runs, in joules (labels join with dcgm-exporter).",
            ("gpu", "UUID"),
            registry=registry,
        ),
        build_info=Gauge(
            "flopwatt_build_info", "Build of the running server; always 1.", ("version", "revision"), registry=registry
        ),
    )
    metrics.build_info.labels(version=__version__, revision=build_revision()).set(1)
    return metrics


class MetricsEndpoint:
    """The /metrics HTTP server on its own port, in a daemon thread (prometheus_client's WSGI server)."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self._httpd: Any
        self._httpd, self._thread = prometheus_client.start_http_server(port, addr=host, registry=registry)
        self.port: int = self._httpd.server_port

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class AdmissionCollector:
    """Gauges of the admission budgets and work pools, read at scrape time from the objects that
    own the counts (no second count to keep in step): how close the server is to refusing."""

    def __init__(self, admission: Any, pools: tuple[Any, ...]) -> None:
        self._admission = admission
        self._pools = pools

    def describe(self) -> list:
        return []

    def collect(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily

        yield GaugeMetricFamily(
            "flopwatt_rpcs_in_flight",
            "Application RPCs admitted and not finished (health Check not counted).",
            value=self._admission.rpcs,
        )
        yield GaugeMetricFamily(
            "flopwatt_streams_in_flight", "Streaming RPCs admitted and not finished.", value=self._admission.streams
        )
        held = GaugeMetricFamily(
            "flopwatt_work_pool_items", "Work items running or waiting in a bounded pool.", labels=("pool",)
        )
        capacity = GaugeMetricFamily(
            "flopwatt_work_pool_capacity", "Work items a bounded pool holds before refusing.", labels=("pool",)
        )
        for pool in self._pools:
            held.add_metric((pool.name,), pool.held)
            capacity.add_metric((pool.name,), pool.capacity)
        yield held
        yield capacity
