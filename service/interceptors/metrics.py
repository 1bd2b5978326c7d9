"""go-grpc-prometheus server metrics for unary and streaming RPCs alike.

Written here rather than taken from py-grpc-prometheus, which neither counts handled streaming
RPCs nor supports grpc.aio, and reads private context state.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Callable

import grpc

from flopwatt.service.interceptors.streams import client_gone_code
from flopwatt.service.interceptors.wrapping import (
    BehaviourWrapper,
    WrappedHandlerCache,
    is_async_generator_behaviour,
    rpc_type,
    split_method,
    wrap_handler,
)
from flopwatt.service.metrics import ServiceMetrics, go_code_name


def _final_code(context: grpc.aio.ServicerContext, exception: BaseException | None) -> grpc.StatusCode:
    # A cancelled task (unary) or a stream closed from outside (GeneratorExit from the stream
    # writer): the client left, by cancelling or by its deadline, never Unknown.
    if isinstance(exception, (asyncio.CancelledError, GeneratorExit)):
        return client_gone_code(context)
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if exception is not None:
        return grpc.StatusCode.UNKNOWN
    return grpc.StatusCode.OK


class _MethodSeries:
    """The labelled metric children of one method, looked up once: `Metric.labels()` hashes and
    locks on every call, and a unary RPC touches five series."""

    def __init__(self, metrics: ServiceMetrics, labels: dict[str, str]) -> None:
        self._handled = metrics.handled
        self._labels = labels
        self.started = metrics.started.labels(**labels)
        self.msg_received = metrics.msg_received.labels(**labels)
        self.msg_sent = metrics.msg_sent.labels(**labels)
        self.handling_seconds = metrics.handling_seconds.labels(**labels)
        self._handled_by_code: dict[grpc.StatusCode, Any] = {}

    def handled(self, code: grpc.StatusCode) -> Any:
        child = self._handled_by_code.get(code)
        if child is None:
            child = self._handled_by_code[code] = self._handled.labels(**self._labels, grpc_code=go_code_name(code))
        return child


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, metrics: ServiceMetrics) -> None:
        self._metrics = metrics
        self._handlers = WrappedHandlerCache()

    async def intercept_service(
        self, continuation: Callable[..., Any], handler_call_details: grpc.HandlerCallDetails
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        return self._handlers.get(method, handler, lambda: self._counted(method, handler))

    def _counted(self, full_method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        service, method = split_method(full_method)
        series = _MethodSeries(
            self._metrics, {"grpc_type": rpc_type(handler), "grpc_service": service, "grpc_method": method}
        )
        return wrap_handler(handler, _counting(series))


def _counting(series: _MethodSeries) -> BehaviourWrapper:
    """The behaviour wrapper that counts one method's calls, messages, outcomes and latency."""

    def count_received(request: Any, request_streaming: bool) -> Any:
        if not request_streaming:
            series.msg_received.inc()
            return request

        async def counted() -> AsyncIterator[Any]:
            async for item in request:
                series.msg_received.inc()
                yield item

        return counted()

    def finish(context: grpc.aio.ServicerContext, started_seconds: float, exception: BaseException | None) -> None:
        series.handled(_final_code(context, exception)).inc()
        series.handling_seconds.observe(time.perf_counter() - started_seconds)

    def wrap(behaviour: Callable[..., Any], request_streaming: bool, response_streaming: bool) -> Callable[..., Any]:
        if response_streaming and is_async_generator_behaviour(behaviour):

            async def streaming(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                series.started.inc()
                started_seconds = time.perf_counter()
                failure: BaseException | None = None
                try:
                    async for response in behaviour(count_received(request, request_streaming), context):
                        series.msg_sent.inc()
                        yield response
                except BaseException as exception:
                    failure = exception
                    raise
                finally:
                    finish(context, started_seconds, failure)

            return streaming

        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            series.started.inc()
            started_seconds = time.perf_counter()
            failure: BaseException | None = None
            try:
                response = await behaviour(count_received(request, request_streaming), context)
                if not response_streaming:
                    series.msg_sent.inc()
                return response
            except BaseException as exception:
                failure = exception
                raise
            finally:
                finish(context, started_seconds, failure)

        return unary

    return wrap
