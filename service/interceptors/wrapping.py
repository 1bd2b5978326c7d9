"""Rebuilds a grpc.aio method handler around a wrapped behaviour, whatever its streaming kind.

grpc.aio interceptors only get the handler; to act on the call itself they must replace the
behaviour function. This module does that once, so each interceptor writes only its logic.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import grpc

# wrap(behaviour, request_streaming, response_streaming) -> behaviour of the same shape
BehaviourWrapper = Callable[[Callable[..., Any], bool, bool], Callable[..., Any]]

_FACTORIES = {
    (False, False): (grpc.unary_unary_rpc_method_handler, "unary_unary"),
    (False, True): (grpc.unary_stream_rpc_method_handler, "unary_stream"),
    (True, False): (grpc.stream_unary_rpc_method_handler, "stream_unary"),
    (True, True): (grpc.stream_stream_rpc_method_handler, "stream_stream"),
}


def rpc_type(handler: grpc.RpcMethodHandler) -> str:
    """go-grpc-prometheus' grpc_type label value."""
    return {
        (False, False): "unary",
        (False, True): "server_stream",
        (True, False): "client_stream",
        (True, True): "bidi_stream",
    }[(bool(handler.request_streaming), bool(handler.response_streaming))]


def split_method(full_method: str) -> tuple[str, str]:
    """"/flopwatt.v1.EstimatorService/EstimateTraining" -> ("flopwatt.v1.EstimatorService", "EstimateTraining")."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service or "unknown", method or "unknown"


def is_async_generator_behaviour(behaviour: Callable[..., Any]) -> bool:
    """Streaming responses come either from an async generator or from a coroutine calling context.write."""
    return inspect.isasyncgenfunction(behaviour)


def wrap_handler(handler: grpc.RpcMethodHandler, wrap: BehaviourWrapper) -> grpc.RpcMethodHandler:
    key = (bool(handler.request_streaming), bool(handler.response_streaming))
    factory, attribute = _FACTORIES[key]
    behaviour = getattr(handler, attribute)
    return factory(
        wrap(behaviour, *key),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
