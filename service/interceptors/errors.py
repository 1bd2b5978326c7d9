"""Turns exceptions into deliberate gRPC statuses (AIP-193 rich error model).

Domain errors (service/errors.py) become their code with one ErrorInfo and, for bad input, a
BadRequest listing the field violations. Anything unexpected is logged with its traceback and
becomes INTERNAL, so a client always gets an answer and never a hang or UNKNOWN.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator, Callable

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from flopwatt.service import errors
from flopwatt.service.errors import truncate_utf8
from flopwatt.service.interceptors.wrapping import (
    BehaviourWrapper,
    WrappedHandlerCache,
    is_async_generator_behaviour,
    wrap_handler,
)

LOG = logging.getLogger(__name__)
ERROR_DOMAIN = "flopwatt.dev"
# The status travels in trailing metadata (about 8 KiB by default): keep details well below.
# Sizes are UTF-8 bytes, as headers count them: 20 descriptions × 300 B plus a 1,000 B message,
# which grpc-message percent-encodes (3 characters per non-ASCII byte) and the details repeat
# base64-encoded, stay under 14 KiB whatever the script of the echoed input.
MAX_VIOLATIONS_SENT = 20
MAX_DESCRIPTION_BYTES = 300
MAX_MESSAGE_BYTES = 1000

_CODES: dict[type[errors.ServiceError], int] = {
    errors.InvalidArgument: code_pb2.INVALID_ARGUMENT,
    errors.NotFound: code_pb2.NOT_FOUND,
    errors.FailedPrecondition: code_pb2.FAILED_PRECONDITION,
    errors.ResourceExhausted: code_pb2.RESOURCE_EXHAUSTED,
    errors.Aborted: code_pb2.ABORTED,
    errors.DataLoss: code_pb2.DATA_LOSS,
    errors.Unimplemented: code_pb2.UNIMPLEMENTED,
    errors.Unauthenticated: code_pb2.UNAUTHENTICATED,
    errors.Unavailable: code_pb2.UNAVAILABLE,
    errors.PermissionDenied: code_pb2.PERMISSION_DENIED,
}


def _packed(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def status_for(error: errors.ServiceError) -> grpc.Status:
    """The rich status of a domain error."""
    code = next((c for cls, c in _CODES.items() if isinstance(error, cls)), code_pb2.INTERNAL)
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN)
    details = []
    if isinstance(error, errors.InvalidArgument):
        bad_request = error_details_pb2.BadRequest()
        for violation in error.violations[:MAX_VIOLATIONS_SENT]:
            bad_request.field_violations.add(
                field=truncate_utf8(violation.field, MAX_DESCRIPTION_BYTES),
                description=truncate_utf8(violation.description, MAX_DESCRIPTION_BYTES),
            )
        info.metadata["field"] = error.violations[0].field
        details = [_packed(info), _packed(bad_request)]
    elif isinstance(error, errors.NotFound):
        resource = error_details_pb2.ResourceInfo(
            resource_type=error.resource_type, resource_name=truncate_utf8(error.name, MAX_DESCRIPTION_BYTES)
        )
        details = [_packed(info), _packed(resource)]
    else:
        details = [_packed(info)]
    message = truncate_utf8(error.message, MAX_MESSAGE_BYTES)
    return rpc_status.to_status(status_pb2.Status(code=code, message=message, details=details))


def internal_status(method: str) -> grpc.Status:
    info = error_details_pb2.ErrorInfo(reason="INTERNAL", domain=ERROR_DOMAIN, metadata={"method": method})
    return rpc_status.to_status(
        status_pb2.Status(
            code=code_pb2.INTERNAL,
            message="internal error; the server logged the details",
            details=[_packed(info)],
        )
    )


async def _abort_for(exception: BaseException, context: grpc.aio.ServicerContext, method: str) -> None:
    exception = errors.from_domain(exception)
    if isinstance(exception, errors.ServiceError):
        await context.abort_with_status(status_for(exception))
    LOG.error("unhandled exception in %s", method, exc_info=exception)
    await context.abort_with_status(internal_status(method))


_PASS_THROUGH = (grpc.aio.AbortError, asyncio.CancelledError)


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Maps exceptions raised by handlers to statuses (the wrapped handler is built once per method)."""

    def __init__(self) -> None:
        self._handlers = WrappedHandlerCache()

    async def intercept_service(
        self, continuation: Callable[..., Any], handler_call_details: grpc.HandlerCallDetails
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        return self._handlers.get(method, handler, lambda: wrap_handler(handler, _error_mapping(method)))


def _error_mapping(method: str) -> BehaviourWrapper:
    """The behaviour wrapper that gives every failure of `method` a status."""

    def wrap(behaviour: Callable[..., Any], request_streaming: bool, response_streaming: bool) -> Callable[..., Any]:
        if response_streaming and is_async_generator_behaviour(behaviour):

            async def streaming(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                try:
                    async for response in behaviour(request, context):
                        yield response
                except _PASS_THROUGH:
                    raise
                except Exception as exception:  # noqa: BLE001 - every failure gets a status
                    await _abort_for(exception, context, method)

            return streaming

        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                return await behaviour(request, context)
            except _PASS_THROUGH:
                raise
            except Exception as exception:  # noqa: BLE001
                await _abort_for(exception, context, method)

        return unary

    return wrap
