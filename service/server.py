"""The grpc.aio server: services, health, reflection, interceptors, metrics endpoint, shutdown.

`start_server` is what tests use (port 0, in-process); `serve` adds signal handling for the CLI:
SIGTERM or SIGINT marks health NOT_SERVING (load balancers stop routing) and refuses new
benchmark runs (UNAVAILABLE), waits a short drain, lets in-flight RPCs finish within the grace
period, then stops and returns 0.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import sqlite3
import sys
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from flopwatt.bench.store import RECOVERY_HINT, ProfileStore
from flopwatt.estimate.profile_checks import save_measured_profile
from flopwatt.service.api.benchmark_servicer import BenchmarkServicer
from flopwatt.service.api.deps import ApiDependencies, stored_profile_lookup
from flopwatt.service.api.estimator_servicer import EstimatorServicer
from flopwatt.service.config import Settings
from flopwatt.service.interceptors.admission import AdmissionInterceptor
from flopwatt.service.interceptors.auth import AuthInterceptor
from flopwatt.service.interceptors.client_certificate import ClientCertificateUsageInterceptor
from flopwatt.service.interceptors.decoding import RequestDecodingInterceptor
from flopwatt.service.interceptors.errors import ErrorInterceptor
from flopwatt.service.interceptors.metrics import MetricsInterceptor
from flopwatt.service.interceptors.streams import StreamWriterInterceptor
from flopwatt.service.metrics import AdmissionCollector, MetricsEndpoint, ServiceMetrics, create_metrics
from flopwatt.service.profile_metrics import ProfileCollector
from flopwatt.service.reflection import enable_reflection
from flopwatt.service.run_manager import RunManager
from flopwatt.service.run_store import RunStore, RunStoreError
from flopwatt.service.work import WorkPool
from flopwatt.v1 import benchmark_pb2, benchmark_pb2_grpc, estimator_pb2, estimator_pb2_grpc

LOG = logging.getLogger("flopwatt.server")

ESTIMATOR_SERVICE = estimator_pb2.DESCRIPTOR.services_by_name["EstimatorService"].full_name
BENCHMARK_SERVICE = benchmark_pb2.DESCRIPTOR.services_by_name["BenchmarkService"].full_name
APPLICATION_SERVICES = (ESTIMATOR_SERVICE, BENCHMARK_SERVICE)
# Time between NOT_SERVING and the stop, so that health-checking load balancers notice first.
DRAIN_SECONDS = 1.0
# How long a pool thread may hold the GIL while the event loop waits for it (CPython's default is
# 5 ms). Sweep chunks and heavy estimates are Python running in pool threads; each step of a
# health check or cheap call on the loop waited up to 5 ms for the GIL, several times per call:
# with sweeps in flight Health.Check's p99 was 30-130 ms on 2 cores (bench/service_benchmarks/
# abuse_soak.py). At 1 ms the loop gets the GIL back five times sooner, for more switches.
GIL_SWITCH_INTERVAL_SECONDS = 0.001

# Keepalive: clients may ping every 10 s at most without data; idle connections are probed every
# 2 minutes. Clients must set keepalive_time_ms >= 10000 or they get GOAWAY too_many_pings.
KEEPALIVE_OPTIONS = (
    ("grpc.keepalive_time_ms", 120_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
)


class ServerStartError(RuntimeError):
    """The server could not start (port in use, unreadable certificate, ...)."""


def _open_profile_store(settings: Settings) -> ProfileStore:
    """The SQLite profile store in the data directory."""
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ServerStartError(f"cannot create data directory {settings.data_dir}: {error.strerror}") from error
    try:
        store = ProfileStore(settings.database_path)
    except (OSError, sqlite3.Error, RuntimeError) as error:  # unreadable file, locked, newer schema
        raise ServerStartError(f"cannot open the profile store {settings.database_path}: {error}") from error
    # A damaged page in the middle of the file used to go unnoticed until a read hit it, and new
    # runs were written into the damaged file meanwhile: refuse to start instead, one line.
    problems = store.quick_check()
    if problems:
        raise ServerStartError(
            f"the database {settings.database_path} is damaged (PRAGMA quick_check: {problems[0]}); "
            f"not starting on it: {RECOVERY_HINT}"
        )
    return store


def _open_run_manager(settings: Settings, profile_store: ProfileStore, metrics: ServiceMetrics) -> RunManager:
    """The benchmark-run manager on the run table of the data directory's database. Recovery of
    runs an earlier process left unfinished waits until this server holds its port (start_server):
    a second `flopwatt serve` that fails to bind must not fail a live server's running runs."""
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = RunStore(settings.database_path)
    except (OSError, sqlite3.Error, RunStoreError) as error:
        raise ServerStartError(f"cannot open the run store {settings.database_path}: {error}") from error
    return RunManager(
        store,
        functools.partial(save_measured_profile, profile_store.save),
        metrics,
        store_damage=lambda: profile_store.damage,
    )


def _server_credentials(settings: Settings) -> grpc.ServerCredentials:
    assert settings.tls_cert is not None and settings.tls_key is not None
    try:
        certificate_chain = settings.tls_cert.read_bytes()
        private_key = settings.tls_key.read_bytes()
        client_ca = settings.tls_client_ca.read_bytes() if settings.tls_client_ca else None
    except OSError as error:
        raise ServerStartError(f"cannot read TLS files: {error}") from error
    return grpc.ssl_server_credentials(
        [(private_key, certificate_chain)],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


@dataclass
class RunningServer:
    """A started server and what it owns."""

    settings: Settings
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    metrics: ServiceMetrics
    metrics_endpoint: MetricsEndpoint | None
    profile_store: Any
    run_manager: RunManager | None = None
    admission: AdmissionInterceptor | None = None
    estimate_pool: WorkPool | None = None
    sweep_pool: WorkPool | None = None

    @property
    def metrics_port(self) -> int | None:
        return self.metrics_endpoint.port if self.metrics_endpoint else None

    @property
    def address(self) -> str:
        host = self.settings.host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    async def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for service in ("", *APPLICATION_SERVICES):
            await self.health.set(service, status)

    async def drain(self) -> None:
        """Shutdown begins: health NOT_SERVING for every service, and no new benchmark runs
        (UNAVAILABLE): a run accepted now would be failed by stop() a second later."""
        if self.run_manager is not None:
            self.run_manager.drain()
        await self.set_serving(False)

    async def stop(self, grace_seconds: float | None = None) -> None:
        """Health NOT_SERVING, then stop accepting and let in-flight RPCs finish within the grace."""
        if self.run_manager is not None:
            self.run_manager.drain()
        await self.health.enter_graceful_shutdown()
        if self.run_manager is not None:  # runs reach a terminal state first, so Watch streams end
            await self.run_manager.close()
        grace = self.settings.shutdown_grace_seconds if grace_seconds is None else grace_seconds
        await self.server.stop(grace)
        for pool in (self.estimate_pool, self.sweep_pool):
            if pool is not None:
                pool.close()
        if self.metrics_endpoint is not None:
            self.metrics_endpoint.close()
        close = getattr(self.profile_store, "close", None)
        if close is not None:
            close()
        if self.run_manager is not None:
            self.run_manager.store.close()


def _bind(server: grpc.aio.Server, settings: Settings) -> int:
    """Listen on the configured address; the bound port (settings.port 0 picks one)."""
    address = f"[{settings.host}]:{settings.port}" if ":" in settings.host else f"{settings.host}:{settings.port}"
    try:
        if settings.tls_enabled:
            port = server.add_secure_port(address, _server_credentials(settings))
        else:
            port = server.add_insecure_port(address)
    except RuntimeError as error:
        raise ServerStartError(f"cannot listen on {address}: {error} (is the port in use?)") from error
    if port == 0:
        raise ServerStartError(f"cannot listen on {address} (is the port in use?)")
    return port


async def start_server(settings: Settings) -> RunningServer:
    """Build, bind and start the server; raise ServerStartError with one clear message on failure."""
    metrics = create_metrics()
    profile_store = _open_profile_store(settings)
    metrics.register_collector(ProfileCollector(profile_store))
    deps = ApiDependencies(profile_document=stored_profile_lookup(lambda: profile_store))

    # The stream writer first: it is what writes streamed messages (see its module docstring).
    # Admission after metrics (refusals are counted) and before everything else (a refused call
    # costs nothing more). It replaces grpc's maximum_concurrent_rpcs: see its module docstring.
    admission = AdmissionInterceptor(
        settings.max_concurrent_rpcs, settings.max_concurrent_streams, settings.max_streams_per_peer
    )
    if settings.max_concurrent_streams >= settings.max_concurrent_rpcs:
        LOG.warning(
            "--max-concurrent-streams (%d) is not below --max-concurrent-rpcs (%d): open streams can take every slot "
            "unary calls need (health Check is still answered)",
            settings.max_concurrent_streams,
            settings.max_concurrent_rpcs,
        )
    interceptors: list[grpc.aio.ServerInterceptor] = [StreamWriterInterceptor(), MetricsInterceptor(metrics), admission]
    if settings.tls_enabled and settings.tls_client_ca:  # mTLS: the peer must hold a *client* certificate
        interceptors.append(ClientCertificateUsageInterceptor())
    if settings.auth_token:
        interceptors.append(AuthInterceptor(settings.auth_token))
    interceptors.append(ErrorInterceptor())
    interceptors.append(RequestDecodingInterceptor())
    options = (
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", 64 * 1024 * 1024),  # sweeps stream large chunks
        ("grpc.so_reuseport", 0),  # a second server on the same port must fail, not share it
        # A connection that has not finished TLS and sent the HTTP/2 preface and SETTINGS within
        # this time is closed (gRPC's default, 120 s, let idle sockets pin file descriptors).
        ("grpc.server_handshake_timeout_ms", round(settings.handshake_timeout_seconds * 1000)),
        *KEEPALIVE_OPTIONS,
    )
    server = grpc.aio.server(interceptors=interceptors, options=options)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_SECONDS)
    estimate_pool = WorkPool("estimate", settings.estimate_workers, settings.estimate_queue)
    # Sweeps hold a thread per stream for one chunk at a time; their streams are bounded by the
    # admission budget, so the queue bound is that budget (a refusal there would be redundant).
    sweep_pool = WorkPool("sweep", settings.sweep_workers, settings.max_concurrent_streams)
    pools = (estimate_pool, sweep_pool)
    metrics.register_collector(AdmissionCollector(admission, pools))
    estimator_pb2_grpc.add_EstimatorServiceServicer_to_server(
        EstimatorServicer(deps, metrics, estimate_pool=estimate_pool, sweep_pool=sweep_pool), server
    )
    run_manager = _open_run_manager(settings, profile_store, metrics)
    benchmark_pb2_grpc.add_BenchmarkServiceServicer_to_server(BenchmarkServicer(profile_store, run_manager), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    enable_reflection((*APPLICATION_SERVICES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name), server)

    try:
        port = _bind(server, settings)
        metrics_endpoint = None
        if settings.metrics_port >= 0:
            try:
                metrics_endpoint = MetricsEndpoint(metrics.registry, settings.metrics_host, settings.metrics_port)
            except OSError as error:
                raise ServerStartError(
                    f"cannot serve metrics on {settings.metrics_host}:{settings.metrics_port}: {error.strerror}"
                ) from error
    except ServerStartError:
        run_manager.store.close()  # the process may live on (tests, embedding): no leaked connection
        for pool in pools:
            pool.close()
        raise
    try:
        run_manager.recover()  # this server now owns the data directory's unfinished runs
    except sqlite3.Error as error:  # a full disk or a damaged run table: one line, like other start errors
        run_manager.store.close()
        if metrics_endpoint is not None:
            metrics_endpoint.close()
        raise ServerStartError(
            f"cannot record the runs an earlier server left unfinished in {settings.database_path}: {error}"
        ) from error
    await server.start()
    running = RunningServer(
        settings,
        server,
        port,
        health_servicer,
        metrics,
        metrics_endpoint,
        profile_store,
        run_manager,
        admission,
        estimate_pool,
        sweep_pool,
    )
    await running.set_serving(True)
    LOG.info(
        "flopwatt serving gRPC on %s (%s), metrics on %s",
        running.address,
        "TLS" if settings.tls_enabled else "plaintext",
        f"{settings.metrics_host}:{running.metrics_port}" if metrics_endpoint else "off",
    )
    return running


async def serve(settings: Settings, *, ready: asyncio.Event | None = None) -> int:
    """Run until SIGTERM/SIGINT, then shut down gracefully. Returns the process exit status."""
    running = await start_server(settings)
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop_requested.set)
    if ready is not None:
        ready.set()
    await stop_requested.wait()
    LOG.info("shutdown requested: health NOT_SERVING, draining for %.1f s", DRAIN_SECONDS)
    await running.drain()
    await asyncio.sleep(DRAIN_SECONDS)
    await running.stop()
    LOG.info("flopwatt stopped")
    return 0
