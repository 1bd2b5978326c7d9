"""mTLS: only certificates issued for clients may call (extended key usage `clientAuth`).

Why: gRPC's TLS stack checks that a client certificate chains to the configured client CA, and
nothing more. Deployments commonly use one CA for the server and its clients, so the server's
own certificate and key (copied to every replica, sometimes to sidecars and backups) were
accepted as a client identity. RFC 5280 §4.2.1.12 gives the purpose: a client certificate says
`clientAuth` in its extended key usage. This interceptor reads the verified peer certificate from
`context.auth_context()` (key `x509_pem_cert`, set by gRPC once the handshake verified the chain)
and refuses the call with UNAUTHENTICATED unless that extension is present and names clientAuth.

A certificate without the extension is refused too, although RFC 5280 reads "no extension" as
"any purpose": server certificates issued without EKU are common, and accepting them would leave
exactly the hole this closes. docs/security.md says how to issue client certificates.

The check runs per call (the handshake is per connection, but grpc.aio interceptors see calls
only); the parse is cached per certificate, so a connection's calls after the first cost a dict
lookup.
"""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Any, AsyncIterator, Callable

import grpc
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from flopwatt.service import errors
from flopwatt.service.interceptors.errors import status_for
from flopwatt.service.interceptors.wrapping import WrappedHandlerCache, is_async_generator_behaviour, wrap_handler

LOG = logging.getLogger(__name__)
PEER_CERTIFICATE_KEY = "x509_pem_cert"
REASON = "CLIENT_CERTIFICATE_NOT_FOR_CLIENTS"


@functools.lru_cache(maxsize=256)
def certificate_problem(pem: bytes) -> str | None:
    """Why this PEM certificate may not authenticate a client, or None when it may."""
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return "the client certificate could not be parsed"
    try:
        usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return (
            "the client certificate has no extended key usage; issue client certificates with "
            "extendedKeyUsage=clientAuth"
        )
    if ExtendedKeyUsageOID.CLIENT_AUTH not in usage:
        purposes = ", ".join(getattr(oid, "_name", oid.dotted_string) for oid in usage) or "none"
        return (
            f"the client certificate is not issued for client authentication (extended key usage: {purposes}); "
            "use a certificate with extendedKeyUsage=clientAuth, not the server's"
        )
    return None


def check_peer(context: grpc.aio.ServicerContext) -> str | None:
    """The problem with the call's peer certificate, or None when it is a client certificate."""
    auth_context = context.auth_context() or {}
    certificates = auth_context.get(PEER_CERTIFICATE_KEY) or []
    if not certificates:
        return "no client certificate was presented"
    return certificate_problem(bytes(certificates[0]))


class ClientCertificateUsageInterceptor(grpc.aio.ServerInterceptor):
    """Refuses every call whose client certificate lacks extended key usage clientAuth. Added by
    the server only when a client CA is configured (FLOPWATT_TLS_CLIENT_CA)."""

    def __init__(self) -> None:
        self._handlers = WrappedHandlerCache()

    async def intercept_service(
        self, continuation: Callable[..., Any], handler_call_details: grpc.HandlerCallDetails
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        return self._handlers.get(handler_call_details.method, handler, lambda: wrap_handler(handler, _checked))


async def _refuse_unless_client(context: grpc.aio.ServicerContext) -> None:
    problem = check_peer(context)
    if problem is not None:
        LOG.warning("refused a call from %s: %s", context.peer(), problem)
        await context.abort_with_status(status_for(errors.Unauthenticated(problem, reason=REASON)))


def _checked(behaviour: Callable[..., Any], request_streaming: bool, response_streaming: bool) -> Callable[..., Any]:
    if response_streaming and is_async_generator_behaviour(behaviour):

        async def streaming(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            await _refuse_unless_client(context)
            async for response in behaviour(request, context):
                yield response

        return streaming

    async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await _refuse_unless_client(context)
        result = behaviour(request, context)
        return await result if inspect.isawaitable(result) else result

    return call
