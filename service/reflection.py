"""Server reflection under both names: `grpc.reflection.v1` and `grpc.reflection.v1alpha`.

Why both: v1 is the stable name that current clients ask for first (grpcurl, Postman, grpcui,
Go's and Java's reflection clients); v1alpha is what older ones ask for. grpcio-reflection 1.85
ships only v1alpha, so a v1-only client got UNIMPLEMENTED.

How: grpc/reflection/v1/reflection.proto is, message for message and field number for field
number, a copy of v1alpha's file in another package (github.com/grpc/grpc-proto, 2023). So:

- the v1 *descriptor* is built programmatically from v1alpha's (package and type references
  renamed, v1's file options) and added to the default descriptor pool, so reflection itself
  lists and describes `grpc.reflection.v1.ServerReflection` like any other service. Building it
  avoids committing a generated module whose import path (`grpc/reflection/v1/...`) would sit
  under the `grpc` package;
- the v1 *method* is served by the v1alpha servicer: identical messages have identical wire
  bytes, so converting a v1 request to v1alpha (and a response back) is parsing the same bytes
  with the other package's class — done here by the method's (de)serializers, with no copy.

The `google.rpc` status and error-detail types (Status, ErrorInfo, BadRequest, ResourceInfo)
travel packed in `Any` in every error's trailers; no service method names them, so a client that
only walks the services' files would never find them. Importing their modules puts them in the
default pool, where `file_containing_symbol` finds them: a reflection-only client can decode
error details.
"""

from __future__ import annotations

from typing import Iterable

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.rpc import error_details_pb2, status_pb2  # into the pool: see above (ERROR_DETAIL_TYPES)
from grpc_reflection.v1alpha import reflection, reflection_pb2

V1ALPHA_PACKAGE = "grpc.reflection.v1alpha"
V1_PACKAGE = "grpc.reflection.v1"
V1_FILE_NAME = "grpc/reflection/v1/reflection.proto"
V1_SERVICE_NAME = f"{V1_PACKAGE}.ServerReflection"
V1ALPHA_SERVICE_NAME = reflection.SERVICE_NAME
# The error model's types a client needs to decode details (service/interceptors/errors.py).
ERROR_DETAIL_TYPES = (
    status_pb2.Status.DESCRIPTOR.full_name,
    error_details_pb2.ErrorInfo.DESCRIPTOR.full_name,
    error_details_pb2.BadRequest.DESCRIPTOR.full_name,
    error_details_pb2.ResourceInfo.DESCRIPTOR.full_name,
)


def _v1_file_proto() -> descriptor_pb2.FileDescriptorProto:
    """v1alpha's file with v1's name, package, type references and options."""
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name = V1_FILE_NAME
    proto.package = V1_PACKAGE
    old, new = f".{V1ALPHA_PACKAGE}.", f".{V1_PACKAGE}."
    for message in proto.message_type:
        for field in message.field:
            if field.type_name.startswith(old):
                field.type_name = new + field.type_name[len(old) :]
    for service in proto.service:
        for method in service.method:
            method.input_type = new + method.input_type[len(old) :]
            method.output_type = new + method.output_type[len(old) :]
    proto.options.Clear()  # v1's own options (grpc-proto's grpc/reflection/v1/reflection.proto)
    proto.options.go_package = "google.golang.org/grpc/reflection/grpc_reflection_v1"
    proto.options.java_multiple_files = True
    proto.options.java_package = "io.grpc.reflection.v1"
    proto.options.java_outer_classname = "ServerReflectionProto"
    return proto


def v1_file_descriptor(pool: descriptor_pool.DescriptorPool | None = None):
    """The v1 reflection file in `pool` (the default pool), added on first use; a pool that has
    it already (a future grpcio-reflection with v1) is used as is."""
    pool = pool or descriptor_pool.Default()
    try:
        return pool.FindFileByName(V1_FILE_NAME)
    except KeyError:
        pool.AddSerializedFile(_v1_file_proto().SerializeToString())
        return pool.FindFileByName(V1_FILE_NAME)


def enable_reflection(service_names: Iterable[str], server: grpc.aio.Server) -> None:
    """Serve reflection as v1 and v1alpha, both listing `service_names` and themselves."""
    v1_file_descriptor()
    names = (*service_names, V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME)
    servicer = reflection.aio.ReflectionServicer(names)
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        tuple(
            grpc.method_handlers_generic_handler(service, {"ServerReflectionInfo": handler})
            for service in (V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME)
        )
    )
