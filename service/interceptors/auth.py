"""Bearer-token check for the RPCs that occupy the GPU (DESIGN §6).

Only the methods in `protected_methods` need the token; health, reflection and estimates stay
open so probes and read-only clients work. The token is compared in constant time and never
logged.
"""

from __future__ import annotations

import hmac
from typing import Any, Callable, Iterable

import grpc

from flopwatt.service import errors
from flopwatt.service.interceptors.errors import status_for
from flopwatt.service.interceptors.wrapping import wrap_handler

# Methods that start or stop work on the device.
DEFAULT_PROTECTED_METHODS = frozenset(
    {
        "/flopwatt.v1.BenchmarkService/CreateBenchmarkRun",
        "/flopwatt.v1.BenchmarkService/CancelBenchmarkRun",
    }
)


def _bearer_token(metadata: Iterable[tuple[str, Any]] | None) -> str | None:
    for key, value in metadata or ():
        if key.lower() == "authorization":
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            scheme, _, token = text.partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else ""
    return None


def check_token(expected_token: str, metadata: Iterable[tuple[str, Any]] | None) -> None:
    """Raise Unauthenticated unless the metadata carries `authorization: Bearer <expected_token>`."""
    presented = _bearer_token(metadata)
    if presented is None:
        raise errors.Unauthenticated("this method needs a bearer token: send metadata 'authorization: Bearer <token>'")
    if presented == "":
        raise errors.Unauthenticated("malformed authorization metadata: expected 'Bearer <token>'")
    if not hmac.compare_digest(presented.encode(), expected_token.encode()):
        raise errors.Unauthenticated("invalid bearer token")


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, token: str, protected_methods: frozenset[str] = DEFAULT_PROTECTED_METHODS) -> None:
        self._token = token
        self._protected = protected_methods

    async def intercept_service(
        self, continuation: Callable[..., Any], handler_call_details: grpc.HandlerCallDetails
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method not in self._protected:
            return handler
        try:
            check_token(self._token, handler_call_details.invocation_metadata)
        except errors.Unauthenticated as error:
            status = status_for(error)

            def wrap(
                behaviour: Callable[..., Any], request_streaming: bool, response_streaming: bool
            ) -> Callable[..., Any]:
                async def refuse(request: Any, context: grpc.aio.ServicerContext) -> Any:
                    await context.abort_with_status(status)

                return refuse

            return wrap_handler(handler, wrap)
        return handler
