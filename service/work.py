"""Bounded thread pools for CPU-heavy handler work, so the event loop stays free for everything else.

Why: grpc.aio serves every RPC, health included, from one event-loop thread. An estimate with
100,000 Monte Carlo samples is ~0.1 s of CPU; run on the loop, 8 such clients pushed health
latency to 118 ms median, 327 ms max (issue 14 item 4). Run in a worker thread, the loop waits
at most one GIL switch interval (5 ms) to run again, and NumPy's array loops, which hold most of
that work, release the GIL altogether.

Why our own pools and not asyncio's default executor: the default pool is shared by every
`asyncio.to_thread` in the process (the run manager joins worker processes with it, the CUDA
probe waits in it); work queued there by clients would delay run management by the length of
the queue. Each pool here has a fixed thread count and a bound on the work it holds (running
plus waiting): beyond it a call gets RESOURCE_EXHAUSTED at once, which a client can retry,
instead of an unbounded queue whose every entry holds a request in memory.

Why count work until it *finishes* rather than until its caller leaves: a thread cannot be
interrupted, so a call cancelled mid-work keeps its thread busy; releasing its slot early would
let clients that send and cancel in a loop queue unbounded work behind busy threads. Work not yet
started is cancelled with its caller and frees its slot at once.

Cheap work (a fixed-plan estimate: ~0.5 ms) stays on the loop: a thread hop costs ~50 µs and
two context switches, a tenth of the work itself, for no gain in responsiveness.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from typing import Any, Callable, TypeVar

from flopwatt.service import errors

T = TypeVar("T")


class WorkPool:
    """A fixed number of threads and a bound on the work held (running + waiting)."""

    def __init__(self, name: str, workers: int, queue: int) -> None:
        if workers < 1 or queue < 0:
            raise ValueError("a work pool needs at least one worker and a non-negative queue")
        self.name = name
        self.workers = workers
        self.capacity = workers + queue
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=f"flopwatt-{name}"
        )
        self._held = 0  # submitted and not finished (touched only on the loop thread)
        self._closed = False

    @property
    def held(self) -> int:
        """Work items running or waiting (tests and metrics read it)."""
        return self._held

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` on a pool thread; RESOURCE_EXHAUSTED when the pool holds its bound,
        UNAVAILABLE once it is closed (the server is stopping)."""
        if self._closed:
            raise errors.Unavailable(
                f"the server is shutting down; the {self.name} pool takes no new work", reason="SERVER_DRAINING"
            )
        if self._held >= self.capacity:
            raise errors.ResourceExhausted(
                f"the server is busy with {self._held} {self.name} requests ({self.workers} running, the rest waiting); retry shortly",
                reason="SERVER_BUSY",
            )
        loop = asyncio.get_running_loop()
        self._held += 1
        try:
            future = self._executor.submit(functools.partial(function, *args))
        except RuntimeError:  # closed between the check and the submit
            self._held -= 1
            raise errors.Unavailable(
                f"the server is shutting down; the {self.name} pool takes no new work", reason="SERVER_DRAINING"
            ) from None
        future.add_done_callback(lambda _: self._release_from_any_thread(loop))
        return await asyncio.wrap_future(future, loop=loop)

    def _release_from_any_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            loop.call_soon_threadsafe(self._release)
        except RuntimeError:  # the loop is closed: the server is gone and nobody counts any more
            pass

    def _release(self) -> None:
        self._held -= 1

    def close(self) -> None:
        """Take no more work, drop what waits, do not wait for what runs (threads cannot be
        interrupted; each runs one bounded chunk of work, and the process may exit under them)."""
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
