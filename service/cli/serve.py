"""`flopwatt serve`: run the gRPC server with its metrics endpoint until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os

from flopwatt.service.cli.errors import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the gRPC service",
        description="Run the gRPC service. Flags override FLOPWATT_* environment variables.",
    )
    parser.add_argument("--host", help="address to listen on (FLOPWATT_HOST; default 127.0.0.1; 0.0.0.0 for all)")
    parser.add_argument("--port", help="gRPC port (FLOPWATT_PORT; default 50051; 0 picks a free port)")
    parser.add_argument("--metrics-host", help="metrics address (FLOPWATT_METRICS_HOST; default 127.0.0.1)")
    parser.add_argument("--metrics-port", help="Prometheus port (FLOPWATT_METRICS_PORT; default 9464; -1 disables)")
    parser.add_argument(
        "--data-dir", help="directory of the SQLite store (FLOPWATT_DATA_DIR; default ~/.local/share/flopwatt)"
    )
    parser.add_argument("--tls-cert", help="PEM certificate chain (FLOPWATT_TLS_CERT); enables TLS")
    parser.add_argument("--tls-key", help="PEM private key (FLOPWATT_TLS_KEY)")
    parser.add_argument("--tls-client-ca", help="PEM CA of client certificates (FLOPWATT_TLS_CLIENT_CA); enables mTLS")
    parser.add_argument(
        "--max-message-bytes", help="largest request accepted (FLOPWATT_MAX_MESSAGE_BYTES; default 4 MiB)"
    )
    parser.add_argument(
        "--max-concurrent-rpcs",
        help="RPCs served at once; more get RESOURCE_EXHAUSTED (FLOPWATT_MAX_CONCURRENT_RPCS; default 256)",
    )
    parser.add_argument(
        "--max-concurrent-streams",
        help="long-lived streams (Watch*, SweepTraining) served at once (FLOPWATT_MAX_CONCURRENT_STREAMS; default 128)",
    )
    parser.add_argument(
        "--max-streams-per-peer", help="streams one client address may hold (FLOPWATT_MAX_STREAMS_PER_PEER; default 16)"
    )
    parser.add_argument(
        "--estimate-workers", help="threads for CPU-heavy estimates (FLOPWATT_ESTIMATE_WORKERS; default 2)"
    )
    parser.add_argument(
        "--estimate-queue", help="heavy estimates that may wait for a thread (FLOPWATT_ESTIMATE_QUEUE; default 32)"
    )
    parser.add_argument(
        "--sweep-workers", help="threads that evaluate sweep chunks (FLOPWATT_SWEEP_WORKERS; default 2)"
    )
    parser.add_argument(
        "--handshake-timeout-seconds",
        help="time a connection gets to complete TLS and the HTTP/2 preface (FLOPWATT_HANDSHAKE_TIMEOUT_SECONDS; default 10)",
    )
    parser.add_argument(
        "--shutdown-grace-seconds",
        help="seconds in-flight RPCs get to finish on SIGTERM (FLOPWATT_SHUTDOWN_GRACE_SECONDS; default 10)",
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (FLOPWATT_LOG_LEVEL; default INFO)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # grpc core logs a second, noisy line for a failed bind; our one-line error says it all.
    # GRPC_VERBOSITY=ERROR (or DEBUG) in the environment brings its logs back.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    from flopwatt.service.config import SettingsError, load_settings
    from flopwatt.service.server import ServerStartError, serve

    overrides = {
        name: getattr(args, name)
        for name in (
            "host",
            "port",
            "metrics_host",
            "metrics_port",
            "data_dir",
            "tls_cert",
            "tls_key",
            "tls_client_ca",
            "max_message_bytes",
            "max_concurrent_rpcs",
            "max_concurrent_streams",
            "max_streams_per_peer",
            "estimate_workers",
            "estimate_queue",
            "sweep_workers",
            "handshake_timeout_seconds",
            "shutdown_grace_seconds",
            "log_level",
        )
    }
    try:
        settings = load_settings(overrides)
    except SettingsError as error:
        raise CliError(str(error)) from None
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(serve(settings))
    except ServerStartError as error:
        raise CliError(str(error)) from None
