"""Undecodable request bytes become INVALID_ARGUMENT instead of grpc's UNKNOWN.

grpc-python deserialises a request before any interceptor behaviour runs; when the bytes are not
a valid protobuf it answers UNKNOWN ("Unexpected DecodeError"), which clients and the fuzz test
must treat as a server fault. This interceptor swaps the deserializer for one that returns a
marker on DecodeError, and the behaviour then aborts with a rich INVALID_ARGUMENT naming the
field "request". Innermost in the chain, so metrics still count the call with its real code.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable

import grpc
from google.protobuf.message import DecodeError

from flopwatt.service import errors
from flopwatt.service.interceptors.errors import status_for
from flopwatt.service.interceptors.wrapping import WrappedHandlerCache, is_async_generator_behaviour


class _Undecodable:
    """Marker standing in for a request whose bytes did not parse."""

    def __init__(self, message_type: str) -> None:
        self.message_type = message_type


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except DecodeError:
            return _Undecodable(getattr(deserializer, "__qualname__", "request"))

    return deserialize


def _refusal() -> grpc.Status:
    return status_for(
        errors.InvalidArgument.field(
            "request", "the request bytes are not a valid protobuf message of this method's request type"
        )
    )


class RequestDecodingInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self) -> None:
        self._handlers = WrappedHandlerCache()

    async def intercept_service(
        self, continuation: Callable[..., Any], handler_call_details: grpc.HandlerCallDetails
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_streaming:
            return handler  # streamed requests: decode errors surface per message (none here)
        return self._handlers.get(handler_call_details.method, handler, lambda: _tolerant_handler(handler))


def _tolerant_handler(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """`handler` with a deserializer that marks undecodable bytes and a behaviour that refuses them."""
    if handler.response_streaming:
        behaviour = handler.unary_stream
        if is_async_generator_behaviour(behaviour):

            async def streaming(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                if isinstance(request, _Undecodable):
                    await context.abort_with_status(_refusal())
                async for response in behaviour(request, context):
                    yield response

        else:

            async def streaming(request: Any, context: grpc.aio.ServicerContext) -> Any:  # type: ignore[misc]
                if isinstance(request, _Undecodable):
                    await context.abort_with_status(_refusal())
                return await behaviour(request, context)

        return grpc.unary_stream_rpc_method_handler(
            streaming,
            request_deserializer=_tolerant(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )
    unary_behaviour = handler.unary_unary

    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if isinstance(request, _Undecodable):
            await context.abort_with_status(_refusal())
        return await unary_behaviour(request, context)

    return grpc.unary_unary_rpc_method_handler(
        unary,
        request_deserializer=_tolerant(handler.request_deserializer),
        response_serializer=handler.response_serializer,
    )
