"""`flopwatt health`: exit 0 when the server answers SERVING (Docker's HEALTHCHECK uses it)."""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

# Longest --timeout: a day. Why a bound: past about 1e9 s (and for inf) gRPC's deadline overflows
# and the call fails at once with DEADLINE_EXCEEDED, so a healthy server was reported unhealthy.
MAX_TIMEOUT_SECONDS = 86_400.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("health", help="check that a server answers SERVING (exit 0) or not (exit 1)")
    parser.add_argument(
        "--address",
        default=None,
        help="host:port of the server (default: FLOPWATT_HEALTH_ADDRESS, else localhost:FLOPWATT_PORT or 50051)",
    )
    parser.add_argument("--service", default="", help="service name to check (default: the whole server)")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the answer (default 3)")
    parser.add_argument(
        "--tls-ca", default=os.environ.get("FLOPWATT_TLS_CA"), help="PEM CA to verify a TLS server (FLOPWATT_TLS_CA)"
    )
    parser.add_argument("--tls-cert", default=None, help="client certificate for mTLS")
    parser.add_argument("--tls-key", default=None, help="client key for mTLS")
    parser.set_defaults(handler=run)


def default_address() -> str:
    return os.environ.get("FLOPWATT_HEALTH_ADDRESS") or f"localhost:{os.environ.get('FLOPWATT_PORT') or 50051}"


def target(args: argparse.Namespace) -> str:
    """The server to probe, its ports checked before any connection: gRPC takes a port past
    65535 modulo 65536 (`localhost:70000` probed port 4464). The error names where the address
    came from: --address, FLOPWATT_HEALTH_ADDRESS or FLOPWATT_PORT."""
    from flopwatt.service.cli.errors import CliError
    from flopwatt.service.ports import PortError, check_port, check_target

    try:
        if args.address:
            return check_target(args.address, "--address")
        if os.environ.get("FLOPWATT_HEALTH_ADDRESS"):
            return check_target(os.environ["FLOPWATT_HEALTH_ADDRESS"], "FLOPWATT_HEALTH_ADDRESS")
        if os.environ.get("FLOPWATT_PORT"):
            check_port(os.environ["FLOPWATT_PORT"], "FLOPWATT_PORT")
    except PortError as error:
        raise CliError(str(error)) from None
    return default_address()


def run(args: argparse.Namespace) -> int:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from flopwatt.service.cli.errors import CliError

    if not 0 < args.timeout <= MAX_TIMEOUT_SECONDS:  # NaN fails both comparisons
        raise CliError(
            f"--timeout must be positive and at most {MAX_TIMEOUT_SECONDS:,.0f} seconds, got {args.timeout!r}"
        )
    address = target(args)
    if (args.tls_cert or args.tls_key) and not args.tls_ca:  # else they would be silently unused
        raise CliError(
            "--tls-cert and --tls-key need --tls-ca (or FLOPWATT_TLS_CA): client certificates only go over TLS"
        )
    if args.tls_ca:
        try:
            root = pathlib.Path(args.tls_ca).read_bytes()
            cert = pathlib.Path(args.tls_cert).read_bytes() if args.tls_cert else None
            key = pathlib.Path(args.tls_key).read_bytes() if args.tls_key else None
        except OSError as error:
            raise CliError(f"cannot read TLS file: {error}") from None
        channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(root, key, cert))
    else:
        channel = grpc.insecure_channel(address)
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout)
        except grpc.RpcError as error:
            print(f"{address}: {error.code().name}: {error.details()}", file=sys.stderr)
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    print(f"{address}: {status}")
    return 0 if response.status == health_pb2.HealthCheckResponse.SERVING else 1
