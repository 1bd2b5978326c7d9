"""Transport and access security of the live server: bearer token on the GPU-occupying RPCs,
TLS and mTLS with throwaway certificates (openssl CLI), message-size and concurrency bounds,
and no secret in logs or metrics."""

from __future__ import annotations

import logging
import pathlib
import shutil
import subprocess
import threading

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from flopwatt.service.run_worker import TEST_DELAY_ENVIRONMENT_VARIABLE
from flopwatt.v1 import benchmark_pb2, benchmark_pb2_grpc, estimator_pb2, estimator_pb2_grpc
from tests.conftest import run_server

TOKEN = "s3cret-token-for-tests-0123456789"
CREATE = benchmark_pb2.CreateBenchmarkRunRequest(suite="bogus")  # passes auth, then INVALID_ARGUMENT: no run starts


def _health(channel: grpc.Channel) -> int:
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5).status


def test_token_guards_create_and_cancel_but_not_health_or_reads(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with run_server(tmp_path, auth_token=TOKEN) as server, server.channel() as channel:
        stub = benchmark_pb2_grpc.BenchmarkServiceStub(channel)
        for metadata, message in (
            (None, "needs a bearer token"),
            ((("authorization", "Bearer wrong-token-0123456789"),), "invalid bearer token"),
            ((("authorization", "Basic " + TOKEN),), "malformed authorization"),
        ):
            for call, request in (
                (stub.CreateBenchmarkRun, CREATE),
                (stub.CancelBenchmarkRun, benchmark_pb2.CancelBenchmarkRunRequest(name="benchmarkRuns/abc")),
            ):
                with pytest.raises(grpc.RpcError) as raised:
                    call(request, metadata=metadata, timeout=5)
                assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
                assert message in raised.value.details()
        with pytest.raises(grpc.RpcError) as raised:
            stub.CreateBenchmarkRun(CREATE, metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=5)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # past the token check
        assert _health(channel) == health_pb2.HealthCheckResponse.SERVING
        assert stub.ListBenchmarkRuns(benchmark_pb2.ListBenchmarkRunsRequest(), timeout=5).benchmark_runs == []
        estimator_pb2_grpc.EstimatorServiceStub(channel).ListModels(estimator_pb2.ListModelsRequest(), timeout=5)
        metrics = server.metrics_text()
    assert 'grpc_method="CreateBenchmarkRun"' in metrics and 'grpc_code="Unauthenticated"' in metrics
    assert TOKEN not in metrics
    assert TOKEN not in caplog.text


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> dict[str, pathlib.Path]:
    """A throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl CLI is needed to make test certificates")
    directory = tmp_path_factory.mktemp("pki")

    def run(*arguments: str) -> None:
        subprocess.run([openssl, *arguments], cwd=directory, check=True, capture_output=True, timeout=60)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=flopwatt test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    )
    (directory / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    (directory / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name in ("server", "client"):
        run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN=flopwatt test {name}",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
        )
        run(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            f"{name}.ext",
            "-out",
            f"{name}.pem",
        )
    return {name: directory / name for name in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")}


def _tls_channel(address: str, certificates: dict[str, pathlib.Path], *, client_certificate: bool) -> grpc.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=certificates["ca.pem"].read_bytes(),
        private_key=certificates["client.key"].read_bytes() if client_certificate else None,
        certificate_chain=certificates["client.pem"].read_bytes() if client_certificate else None,
    )
    return grpc.secure_channel(address, credentials)


def test_tls_refuses_plaintext_and_serves_tls_clients(tmp_path, certificates):
    with run_server(tmp_path, tls_cert=certificates["server.pem"], tls_key=certificates["server.key"]) as server:
        with server.channel() as plaintext, pytest.raises(grpc.RpcError) as raised:
            _health(plaintext)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
        with _tls_channel(server.address, certificates, client_certificate=False) as channel:
            assert _health(channel) == health_pb2.HealthCheckResponse.SERVING


def test_mtls_requires_a_client_certificate_from_the_ca(tmp_path, certificates):
    settings = {
        "tls_cert": certificates["server.pem"],
        "tls_key": certificates["server.key"],
        "tls_client_ca": certificates["ca.pem"],
    }
    with run_server(tmp_path, **settings) as server:
        with (
            _tls_channel(server.address, certificates, client_certificate=False) as channel,
            pytest.raises(grpc.RpcError) as raised,
        ):
            _health(channel)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
        with _tls_channel(server.address, certificates, client_certificate=True) as channel:
            assert _health(channel) == health_pb2.HealthCheckResponse.SERVING


def test_oversized_messages_are_refused(tmp_path):
    with run_server(tmp_path, max_message_bytes=64 * 1024) as server, server.channel() as channel:
        stub = benchmark_pb2_grpc.BenchmarkServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.GetBenchmarkRun(benchmark_pb2.GetBenchmarkRunRequest(name="benchmarkRuns/" + "a" * 100_000), timeout=5)
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert _health(channel) == health_pb2.HealthCheckResponse.SERVING


def test_concurrent_rpcs_beyond_the_limit_get_resource_exhausted(tmp_path, monkeypatch):
    monkeypatch.setenv(TEST_DELAY_ENVIRONMENT_VARIABLE, "60")
    with run_server(tmp_path, max_concurrent_rpcs=2) as server, server.channel() as channel:
        stub = benchmark_pb2_grpc.BenchmarkServiceStub(channel)
        run = stub.CreateBenchmarkRun(benchmark_pb2.CreateBenchmarkRunRequest(device="cpu"), timeout=10).benchmark_run
        streams = [
            stub.WatchBenchmarkRun(benchmark_pb2.WatchBenchmarkRunRequest(name=run.name), timeout=30) for _ in range(2)
        ]
        for stream in streams:
            next(stream)  # both watches are now open on the server
        with pytest.raises(grpc.RpcError) as raised:
            stub.ListBenchmarkRuns(benchmark_pb2.ListBenchmarkRunsRequest(), timeout=5)
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        for stream in streams:
            stream.cancel()
        done = threading.Event()

        def cancel_when_free() -> None:
            for _ in range(100):
                try:
                    stub.CancelBenchmarkRun(benchmark_pb2.CancelBenchmarkRunRequest(name=run.name), timeout=15)
                    done.set()
                    return
                except grpc.RpcError as error:
                    if error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                        raise
                    threading.Event().wait(0.1)

        cancel_when_free()
        assert done.is_set()
