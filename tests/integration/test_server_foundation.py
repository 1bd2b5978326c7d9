"""The real server on port 0: health, reflection, rich errors, UNIMPLEMENTED, metrics, shutdown."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from flopwatt.v1 import benchmark_pb2_grpc, estimator_pb2, estimator_pb2_grpc
from tests.conftest import run_server

APPLICATION_SERVICES = {"flopwatt.v1.EstimatorService", "flopwatt.v1.BenchmarkService"}


def test_health_is_serving_overall_and_per_service(server):
    with server.channel() as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", *APPLICATION_SERVICES):
            response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert response.status == health_pb2.HealthCheckResponse.SERVING, service
        with pytest.raises(grpc.RpcError) as error:
            stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
        assert error.value.code() == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_every_service(server):
    with server.channel() as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = list(
            stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
        )
    names = {service.name for service in responses[0].list_services_response.service}
    assert APPLICATION_SERVICES | {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names


def test_reflection_serves_the_estimator_schema(server):
    with server.channel() as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(file_containing_symbol="flopwatt.v1.EstimatorService")
        response = next(iter(stub.ServerReflectionInfo(iter([request]), timeout=5)))
    assert response.file_descriptor_response.file_descriptor_proto, "no descriptor returned"


def test_bad_input_gets_rich_invalid_argument_naming_the_field(server):
    with server.channel() as channel:
        stub = estimator_pb2_grpc.EstimatorServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.ListHardware(estimator_pb2.ListHardwareRequest(page_size=-1), timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(raised.value)
    assert status is not None, "no google.rpc.Status in the trailers"
    kinds = {detail.type_url.rsplit("/", 1)[-1]: detail for detail in status.details}
    info = error_details_pb2.ErrorInfo()
    kinds["google.rpc.ErrorInfo"].Unpack(info)
    assert info.reason and info.domain == "flopwatt.dev"
    bad_request = error_details_pb2.BadRequest()
    kinds["google.rpc.BadRequest"].Unpack(bad_request)
    assert [v.field for v in bad_request.field_violations] == ["page_size"]


def test_every_rpc_of_the_api_is_implemented():
    """Every method the protos declare is overridden by the server's servicers, so none answers
    the generated base class's UNIMPLEMENTED. (Handlers are imported plainly; there is no
    "module not built" path any more.)"""
    from flopwatt.service.api.benchmark_servicer import BenchmarkServicer
    from flopwatt.service.api.estimator_servicer import EstimatorServicer
    from flopwatt.v1 import benchmark_pb2

    for servicer, base, service in (
        (
            EstimatorServicer,
            estimator_pb2_grpc.EstimatorServiceServicer,
            estimator_pb2.DESCRIPTOR.services_by_name["EstimatorService"],
        ),
        (
            BenchmarkServicer,
            benchmark_pb2_grpc.BenchmarkServiceServicer,
            benchmark_pb2.DESCRIPTOR.services_by_name["BenchmarkService"],
        ),
    ):
        for method in service.methods:
            assert getattr(servicer, method.name) is not getattr(base, method.name), (
                f"{service.name}.{method.name} is not implemented"
            )


def test_unexpected_exception_becomes_internal_and_server_keeps_serving(tmp_path, monkeypatch):
    from flopwatt.service.api import catalog

    def broken(request):
        raise RuntimeError("boom: a bug")

    monkeypatch.setattr(catalog, "list_hardware", broken)
    with run_server(tmp_path) as server, server.channel() as channel:
        stub = estimator_pb2_grpc.EstimatorServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.ListHardware(estimator_pb2.ListHardwareRequest(), timeout=5)
        assert raised.value.code() == grpc.StatusCode.INTERNAL
        assert "boom" not in raised.value.details(), "internal details must not leak to clients"
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.SERVING


def _sample(metrics_text: str, name: str, **labels: str) -> float:
    total = 0.0
    found = False
    for line in metrics_text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found else float("nan")


def test_metrics_count_unary_and_streaming_calls(server):
    with server.channel() as channel:
        stub = estimator_pb2_grpc.EstimatorServiceStub(channel)
        stub.ListHardware(estimator_pb2.ListHardwareRequest(), timeout=5)
        stub.ListHardware(estimator_pb2.ListHardwareRequest(), timeout=5)
        with pytest.raises(grpc.RpcError):
            stub.ListHardware(estimator_pb2.ListHardwareRequest(page_size=-5), timeout=5)
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        list(
            reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
        )
    text = server.metrics_text()
    unary = {"grpc_service": "flopwatt.v1.EstimatorService", "grpc_method": "ListHardware", "grpc_type": "unary"}
    assert _sample(text, "grpc_server_started_total", **unary) == 3
    assert _sample(text, "grpc_server_handled_total", grpc_code="OK", **unary) == 2
    assert _sample(text, "grpc_server_handled_total", grpc_code="InvalidArgument", **unary) == 1
    assert _sample(text, "grpc_server_handling_seconds_count", **unary) == 3
    stream = {"grpc_method": "ServerReflectionInfo", "grpc_type": "bidi_stream"}
    assert _sample(text, "grpc_server_started_total", **stream) == 1
    assert _sample(text, "grpc_server_handled_total", grpc_code="OK", **stream) == 1
    assert _sample(text, "grpc_server_msg_received_total", **stream) == 1
    assert _sample(text, "grpc_server_msg_sent_total", **stream) == 1
    assert 'flopwatt_build_info{revision="' in text
    assert "process_resident_memory_bytes" in text


def _promtool() -> str | None:
    beside_python = pathlib.Path(sys.executable).parent / "promtool"  # where `make` installs it
    return str(beside_python) if beside_python.exists() else shutil.which("promtool")


def test_live_scrape_passes_promtool(server):
    promtool = _promtool()
    if promtool is None:
        pytest.skip("promtool not installed (scripts/install_promtool.sh fetches it from Debian's prometheus package)")
    with server.channel() as channel:
        estimator_pb2_grpc.EstimatorServiceStub(channel).ListHardware(estimator_pb2.ListHardwareRequest(), timeout=5)
    result = subprocess.run(
        [promtool, "check", "metrics"], input=server.metrics_text(), capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr
