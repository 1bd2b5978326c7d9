"""Reflection for v1-only clients (issue 14 item 15): `grpc.reflection.v1.ServerReflection` is
served beside v1alpha, and the google.rpc error-detail types are discoverable, so a client that
knows nothing but reflection can decode an error's details."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_status import rpc_status

from flopwatt.service.reflection import _v1_file_proto
from flopwatt.v1 import benchmark_pb2, benchmark_pb2_grpc

V1_METHOD = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"


def _v1_classes():
    """The v1 messages as a v1 client has them: their own pool, package grpc.reflection.v1."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_v1_file_proto())
    request = message_factory.GetMessageClass(pool.FindMessageTypeByName("grpc.reflection.v1.ServerReflectionRequest"))
    response = message_factory.GetMessageClass(
        pool.FindMessageTypeByName("grpc.reflection.v1.ServerReflectionResponse")
    )
    return request, response


def _ask(channel: grpc.Channel, **request_fields):
    request_class, response_class = _v1_classes()
    call = channel.stream_stream(
        V1_METHOD, request_serializer=request_class.SerializeToString, response_deserializer=response_class.FromString
    )
    responses = list(call(iter([request_class(**request_fields)]), timeout=10))
    assert len(responses) == 1 and not responses[0].HasField("error_response"), responses
    return responses[0]


def _files(response) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    files = {}
    for serialized in response.file_descriptor_response.file_descriptor_proto:
        proto = descriptor_pb2.FileDescriptorProto.FromString(serialized)
        files[proto.name] = proto
    return files


def test_v1_reflection_lists_services_and_serves_the_error_detail_types(server):
    with server.channel() as channel:
        names = {service.name for service in _ask(channel, list_services="").list_services_response.service}
        assert {
            "flopwatt.v1.EstimatorService",
            "flopwatt.v1.BenchmarkService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        } <= names
        v1_files = _files(_ask(channel, file_containing_symbol="grpc.reflection.v1.ServerReflection"))
        assert v1_files["grpc/reflection/v1/reflection.proto"].package == "grpc.reflection.v1"
        for symbol in ("google.rpc.Status", "google.rpc.ErrorInfo", "google.rpc.BadRequest", "google.rpc.ResourceInfo"):
            files = _files(_ask(channel, file_containing_symbol=symbol))
            messages = {f"{proto.package}.{message.name}" for proto in files.values() for message in proto.message_type}
            assert symbol in messages, (symbol, sorted(files))


def test_a_reflection_only_client_decodes_an_errors_bad_request(server):
    with server.channel() as channel:
        with pytest.raises(grpc.RpcError) as raised:
            benchmark_pb2_grpc.BenchmarkServiceStub(channel).CreateBenchmarkRun(
                benchmark_pb2.CreateBenchmarkRunRequest(suite="bogus"), timeout=10
            )
        status = rpc_status.from_call(raised.value)
        decoded = {}
        for detail in status.details:
            symbol = detail.type_url.rpartition("/")[2]
            pool = descriptor_pool.DescriptorPool()
            files = _files(_ask(channel, file_containing_symbol=symbol))
            pending = dict(files)
            while pending:  # add each file after its dependencies (all served with it)
                for name, proto in list(pending.items()):
                    if all(dependency not in pending for dependency in proto.dependency):
                        pool.Add(proto)
                        del pending[name]
            message = message_factory.GetMessageClass(pool.FindMessageTypeByName(symbol))()
            message.ParseFromString(detail.value)
            decoded[symbol] = message
    assert [violation.field for violation in decoded["google.rpc.BadRequest"].field_violations] == ["suite"]
    assert decoded["google.rpc.ErrorInfo"].reason == "INVALID_ARGUMENT"
