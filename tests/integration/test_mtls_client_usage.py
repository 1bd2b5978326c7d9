"""mTLS with one CA for server and clients (issue 14 item 14): the server's own certificate must
not authenticate a client. Certificates are made with `cryptography` (no openssl CLI needed)."""

from __future__ import annotations

import datetime
import ipaddress
import pathlib

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from flopwatt.v1 import estimator_pb2, estimator_pb2_grpc
from tests.conftest import run_server


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, pathlib.Path]:
    """One CA; a server certificate (EKU serverAuth), a client certificate (EKU clientAuth) and
    a certificate without any EKU, all for 127.0.0.1 so each can also serve."""
    directory = tmp_path_factory.mktemp("pki-eku")
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("flopwatt test CA"))
        .issuer_name(_name("flopwatt test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for name, usages in (
        ("server", [ExtendedKeyUsageOID.SERVER_AUTH]),
        ("client", [ExtendedKeyUsageOID.CLIENT_AUTH]),
        ("plain", None),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(f"flopwatt test {name}"))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
        )
        if usages is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        (directory / f"{name}.pem").write_bytes(
            builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
        )
        (directory / f"{name}.key").write_bytes(_pem(key))
    return {path.name: path for path in directory.iterdir()}


def _channel(address: str, pki: dict[str, pathlib.Path], identity: str) -> grpc.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki["ca.pem"].read_bytes(),
        private_key=pki[f"{identity}.key"].read_bytes(),
        certificate_chain=pki[f"{identity}.pem"].read_bytes(),
    )
    return grpc.secure_channel(address, credentials)


def _calls(channel: grpc.Channel) -> list:
    health = health_pb2_grpc.HealthStub(channel)
    return [
        lambda: health.Check(health_pb2.HealthCheckRequest(), timeout=10),
        lambda: estimator_pb2_grpc.EstimatorServiceStub(channel).ListModels(
            estimator_pb2.ListModelsRequest(), timeout=10
        ),
        lambda: next(health.Watch(health_pb2.HealthCheckRequest(), timeout=10)),  # a streaming method too
    ]


def test_mtls_refuses_the_servers_own_certificate_as_a_client(tmp_path, pki):
    """The server runs with a certificate without extended key usage (what `openssl req` makes by
    default, and what the TLS handshake accepts for any purpose); presenting that same
    certificate as a client is UNAUTHENTICATED, a clientAuth certificate works."""
    settings = {"tls_cert": pki["plain.pem"], "tls_key": pki["plain.key"], "tls_client_ca": pki["ca.pem"]}
    with run_server(tmp_path, **settings) as server:
        with _channel(server.address, pki, "client") as channel:
            for call in _calls(channel):
                call()
        with _channel(server.address, pki, "plain") as channel:
            for call in _calls(channel):
                with pytest.raises(grpc.RpcError) as raised:
                    call()
                assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
                assert "no extended key usage" in raised.value.details()
        # serverAuth only: BoringSSL already fails the handshake ("unsupported certificate
        # purpose", UNAVAILABLE); should a TLS stack let it through, the interceptor refuses it.
        with _channel(server.address, pki, "server") as channel, pytest.raises(grpc.RpcError) as raised:
            _calls(channel)[0]()
        assert raised.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED)


def test_certificate_purposes_are_read_from_extended_key_usage(pki):
    from flopwatt.service.interceptors.client_certificate import certificate_problem

    assert certificate_problem(pki["client.pem"].read_bytes()) is None
    assert "not issued for client authentication" in certificate_problem(pki["server.pem"].read_bytes())
    assert "serverAuth" in certificate_problem(pki["server.pem"].read_bytes())
    assert "no extended key usage" in certificate_problem(pki["plain.pem"].read_bytes())
    assert "could not be parsed" in certificate_problem(
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    )


def test_tls_without_client_ca_does_not_check_client_certificates(tmp_path, pki):
    with run_server(tmp_path, tls_cert=pki["server.pem"], tls_key=pki["server.key"]) as server:
        with _channel(server.address, pki, "server") as channel:
            assert (
                health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status
                == health_pb2.HealthCheckResponse.SERVING
            )
