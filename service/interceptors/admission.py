"""Admission control: separate budgets for long-lived streams and for everything else, and a
health Check that is never refused.

Why not grpc's `maximum_concurrent_rpcs`: it is one budget for every call. Streams stay open
for as long as their client wants (a `Health/Watch`, an unread `WatchBenchmarkRun` or
`SweepTraining`), so a client without any token that opened 256 of them took every slot, and all
other calls, `Health.Check` included, got RESOURCE_EXHAUSTED: Kubernetes then restarted a server
that was fine, and `flopwatt health` exited 1 (issue 14 item 1). Here:

- `/grpc.health.v1.Health/Check` is always admitted and never counted: it is what probes and
  `flopwatt health` call, it is unary and costs microseconds.
- Every other call counts against `max_rpcs` (all application RPCs in flight, as before).
- Streams (server, client or bidi streaming, including `Health/Watch` and reflection, which a
  client can hold open for ever too) also count against `max_streams` overall and
  `max_streams_per_peer` per client address (the IP, not the port: one host opening many
  connections is still one peer). With `max_streams` below `max_rpcs` (128 of 256 by default),
  streams can never take the slots unary calls need.

A refused call gets RESOURCE_EXHAUSTED with reason TOO_MANY_STREAMS, TOO_MANY_STREAMS_FROM_PEER
or TOO_MANY_RPCS, before its handler runs. The counters live on the event loop thread (no lock)
and are released in a `finally`, whatever way the call ends. Placed after the metrics interceptor,
so refusals are counted in grpc_server_handled_total.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable

import grpc

from flopwatt.service import errors
from flopwatt.service.interceptors.errors import status_for
from flopwatt.service.interceptors.wrapping import (
    BehaviourWrapper,
    WrappedHandlerCache,
    is_async_generator_behaviour,
    wrap_handler,
)

# Unary, cheap, and what liveness/readiness probes call: never refused, never counted.
ALWAYS_ADMITTED = frozenset({"/grpc.health.v1.Health/Check"})


def peer_address(peer: str | None) -> str:
    """ "ipv4:10.0.0.5:51234" -> "ipv4:10.0.0.5", "ipv6:[::1]:5" -> "ipv6:[::1]"; other forms
    (unix sockets) unchanged: the budget is per client host, not per connection."""
    if not peer:
        return "unknown"
    if peer.startswith(("ipv4:", "ipv6:")):
        host, separator, port = peer.rpartition(":")
        if separator and port.isdigit() and host not in ("ipv4", "ipv6"):
            return host
    return peer


class AdmissionInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, max_rpcs: int, max_streams: int, max_streams_per_peer: int) -> None:
        self.max_rpcs = max_rpcs
        self.max_streams = max_streams
        self.max_streams_per_peer = max_streams_per_peer
        self.rpcs = 0
        self.streams = 0
        self.streams_by_peer: dict[str, int] = {}
        self._handlers = WrappedHandlerCache()

    async def intercept_service(
        self, continuation: Callable[..., Any], handler_call_details: grpc.HandlerCallDetails
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method in ALWAYS_ADMITTED:
            return handler
        return self._handlers.get(
            handler_call_details.method, handler, lambda: wrap_handler(handler, self._admitting())
        )

    # -- accounting (loop thread only) ----------------------------------------------------------

    def _refusal(self, streaming: bool, peer: str) -> errors.ResourceExhausted | None:
        if self.rpcs >= self.max_rpcs:
            return errors.ResourceExhausted(
                f"the server is serving {self.rpcs} RPCs, its limit; retry shortly", reason="TOO_MANY_RPCS"
            )
        if streaming:
            if self.streams >= self.max_streams:
                return errors.ResourceExhausted(
                    f"the server holds {self.streams} open streams, its limit; close one or retry later (unary calls are still served)",
                    reason="TOO_MANY_STREAMS",
                )
            if self.streams_by_peer.get(peer, 0) >= self.max_streams_per_peer:
                return errors.ResourceExhausted(
                    f"this client address holds {self.max_streams_per_peer} open streams, the limit per address; close one first",
                    reason="TOO_MANY_STREAMS_FROM_PEER",
                )
        return None

    def _enter(self, streaming: bool, peer: str) -> None:
        self.rpcs += 1
        if streaming:
            self.streams += 1
            self.streams_by_peer[peer] = self.streams_by_peer.get(peer, 0) + 1

    def _leave(self, streaming: bool, peer: str) -> None:
        self.rpcs -= 1
        if streaming:
            self.streams -= 1
            left = self.streams_by_peer[peer] - 1
            if left:
                self.streams_by_peer[peer] = left
            else:
                del self.streams_by_peer[peer]  # the map holds only peers with open streams

    def _admitting(self) -> BehaviourWrapper:
        def wrap(
            behaviour: Callable[..., Any], request_streaming: bool, response_streaming: bool
        ) -> Callable[..., Any]:
            streaming = request_streaming or response_streaming

            if response_streaming and is_async_generator_behaviour(behaviour):

                async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                    peer = peer_address(context.peer())
                    refusal = self._refusal(True, peer)
                    if refusal is not None:
                        await context.abort_with_status(status_for(refusal))
                    self._enter(True, peer)
                    try:
                        async for response in behaviour(request, context):
                            yield response
                    finally:
                        self._leave(True, peer)

                return stream

            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                peer = peer_address(context.peer()) if streaming else ""
                refusal = self._refusal(streaming, peer)
                if refusal is not None:
                    await context.abort_with_status(status_for(refusal))
                self._enter(streaming, peer)
                try:
                    return await behaviour(request, context)
                finally:
                    self._leave(streaming, peer)

            return call

        return wrap
