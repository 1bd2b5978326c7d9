"""Rebuilds a grpc.aio method handler around a wrapped behaviour, whatever its streaming kind.

grpc.aio interceptors only get the handler; to act on the call itself they must replace the
behaviour function. This module does that once, so each interceptor writes only its logic.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import grpc

from flopwatt.estimate.memo import IdentityMemo

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
    """ "/flopwatt.v1.EstimatorService/EstimateTraining" -> ("flopwatt.v1.EstimatorService", "EstimateTraining")."""
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


# Registered methods are a fixed, small set; the bound only guards against a server whose
# generic handlers mint a handler per unknown method name.
MAX_CACHED_HANDLERS = 1024


class WrappedHandlerCache:
    """Wrapped handlers, built once per method instead of once per call.

    grpc.aio runs every interceptor's `intercept_service` for every RPC, and rebuilding the
    wrapped behaviour (closures plus a new RpcMethodHandler) each time costs CPU on the one event
    loop that serves all RPCs. What an interceptor wraps depends only on the method name and the
    inner handler, so the result is reused while the inner handler is the *same object*
    (`IdentityMemo`: a replaced handler is wrapped afresh). Interceptors whose decision depends on
    the call itself (auth reads the metadata) must not use it for that part.
    """

    def __init__(self, max_entries: int = MAX_CACHED_HANDLERS) -> None:
        self._memo: IdentityMemo[grpc.RpcMethodHandler] = IdentityMemo(max_entries)

    def get(
        self, method: str, handler: grpc.RpcMethodHandler, build: Callable[[], grpc.RpcMethodHandler]
    ) -> grpc.RpcMethodHandler:
        """The handler `build()` returns for (method, handler), built on first use."""
        return self._memo.get(method, handler, build)
