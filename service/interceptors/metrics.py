"""go-grpc-prometheus server metrics for unary and streaming RPCs alike.

Written here rather than taken from py-grpc-prometheus, which neither counts handled streaming
RPCs nor supports grpc.aio, and reads private context state.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Callable

import grpc

from flopwatt.service.interceptors.wrapping import (
    is_async_generator_behaviour,
    rpc_type,
    split_method,
    wrap_handler,
)
from flopwatt.service.metrics import ServiceMetrics, go_code_name


def _final_code(context: grpc.aio.ServicerContext, exception: BaseException | None) -> grpc.StatusCode:
    if isinstance(exception, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if exception is not None:
        return grpc.StatusCode.UNKNOWN
    return grpc.StatusCode.OK


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, metrics: ServiceMetrics) -> None:
        self._metrics = metrics

    async def intercept_service(self, continuation: Callable[..., Any], handler_call_details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        service, method = split_method(handler_call_details.method)
        labels = {"grpc_type": rpc_type(handler), "grpc_service": service, "grpc_method": method}
        metrics = self._metrics

        def count_received(request: Any, request_streaming: bool) -> Any:
            if not request_streaming:
                metrics.msg_received.labels(**labels).inc()
                return request

            async def counted() -> AsyncIterator[Any]:
                async for item in request:
                    metrics.msg_received.labels(**labels).inc()
                    yield item

            return counted()

        def finish(context: grpc.aio.ServicerContext, started_seconds: float, exception: BaseException | None) -> None:
            code = _final_code(context, exception)
            metrics.handled.labels(**labels, grpc_code=go_code_name(code)).inc()
            metrics.handling_seconds.labels(**labels).observe(time.perf_counter() - started_seconds)

        def wrap(behaviour: Callable[..., Any], request_streaming: bool, response_streaming: bool) -> Callable[..., Any]:
            if response_streaming and is_async_generator_behaviour(behaviour):

                async def streaming(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                    metrics.started.labels(**labels).inc()
                    started_seconds = time.perf_counter()
                    failure: BaseException | None = None
                    try:
                        async for response in behaviour(count_received(request, request_streaming), context):
                            metrics.msg_sent.labels(**labels).inc()
                            yield response
                    except BaseException as exception:
                        failure = exception
                        raise
                    finally:
                        finish(context, started_seconds, failure)

                return streaming

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                metrics.started.labels(**labels).inc()
                started_seconds = time.perf_counter()
                failure: BaseException | None = None
                try:
                    response = await behaviour(count_received(request, request_streaming), context)
                    if not response_streaming:
                        metrics.msg_sent.labels(**labels).inc()
                    return response
                except BaseException as exception:
                    failure = exception
                    raise
                finally:
                    finish(context, started_seconds, failure)

            return unary

        return wrap_handler(handler, wrap)
