"""Writes server-streaming responses itself, so a client that leaves mid-stream ends the call
quietly with the right code instead of an ERROR traceback.

When a handler is an async generator, grpc.aio writes each yielded message; if the client's
deadline passes or it cancels while a write is in flight, the write fails in core and grpc logs
"ExecuteBatchError raised in core by servicer method" with a traceback at ERROR, and the
generator is closed from outside (GeneratorExit), which the metrics could only count as Unknown.
This interceptor, placed first (outermost), turns the generator into a reader-writer coroutine:
a failed write after the client left is logged at INFO as CANCELLED or DEADLINE_EXCEEDED, the
inner generator is closed (the metrics count the code `client_gone_code` gives), and the call
ends as grpc ends a cancelled one (CancelledError, which it logs at DEBUG): sending a status on
the dead call would fail in core once more.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

import grpc

from flopwatt.service.interceptors.wrapping import (
    BehaviourWrapper,
    WrappedHandlerCache,
    is_async_generator_behaviour,
    wrap_handler,
)

LOG = logging.getLogger(__name__)


# How far before the server's own deadline a client's cancellation still counts as the deadline.
# The server's deadline is the client's plus the time the request headers took to arrive and be
# read (it is sent as a relative grpc-timeout), so when the client's deadline fires first, its
# cancellation reaches the server while the server still sees a little time left: tens of ms on
# a loaded machine. A genuine cancel in the last quarter-second is counted as the deadline.
DEADLINE_SKEW_TOLERANCE_SECONDS = 0.25


def client_gone_code(context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    """Why a call ended without our status: its deadline passed (or was about to, see
    DEADLINE_SKEW_TOLERANCE_SECONDS), or else the client cancelled (or its connection dropped,
    which grpc reports to the server as a cancellation)."""
    remaining = context.time_remaining()
    if remaining is not None and remaining <= DEADLINE_SKEW_TOLERANCE_SECONDS:
        return grpc.StatusCode.DEADLINE_EXCEEDED
    return grpc.StatusCode.CANCELLED


class StreamWriterInterceptor(grpc.aio.ServerInterceptor):
    """Must be the first interceptor, so that its writer is what grpc runs."""

    def __init__(self) -> None:
        self._handlers = WrappedHandlerCache()

    async def intercept_service(
        self, continuation: Callable[..., Any], handler_call_details: grpc.HandlerCallDetails
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None or not handler.response_streaming:
            return handler
        method = handler_call_details.method
        return self._handlers.get(method, handler, lambda: wrap_handler(handler, _writing(method)))


def _writing(method: str) -> BehaviourWrapper:
    def wrap(behaviour: Callable[..., Any], request_streaming: bool, response_streaming: bool) -> Callable[..., Any]:
        if not (response_streaming and is_async_generator_behaviour(behaviour)):
            return behaviour

        async def write_all(request: Any, context: grpc.aio.ServicerContext) -> None:
            responses = behaviour(request, context)
            sent = 0
            try:
                async for response in responses:
                    try:
                        await context.write(response)
                    except grpc.aio.InternalError:  # the call ended in core under the write: the client left
                        LOG.info(
                            "%s ended by the client after %d messages: %s", method, sent, client_gone_code(context).name
                        )
                        raise asyncio.CancelledError from None
                    sent += 1
            finally:
                await responses.aclose()

        return write_all

    return wrap
