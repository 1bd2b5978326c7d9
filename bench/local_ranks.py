"""Process groups of ranks spawned on this host (torch.multiprocessing, rendezvous on loopback).

One place owns rank start-up and, above all, rank shutdown, because gloo's shutdown races the
interpreter's. `destroy_process_group` does not join ProcessGroupGloo's worker threads: a worker
that has just completed the last collective still holds that work, and the work holds the
Python-owned tensors of the collectives before it (a barrier keeps its prior works). When the
worker drops them it must take the GIL to decref their PyObjects; if the rank's main thread has
meanwhile begun interpreter finalization, taking the GIL ends the worker thread with
`pthread_exit` inside a noexcept destructor, and libstdc++ aborts the rank ("terminate called
without an active exception", SIGABRT). Measured: 2 aborts in 60 two-rank spawns on two cores
(torch 2.13 CPU; core dump: `ProcessGroupGloo::runLoop` → `~AsyncBarrierWork` →
`~AsyncAllgatherWork` → `THPVariable_dealloc` → `take_gil` → `PyThread_exit_thread`).

So a rank here leaves in three steps: a barrier (no rank tears its gloo pairs down while a peer
is still inside a collective), `destroy_process_group`, then `os._exit(0)`: the rank's results
are already written and closed, and ending the process without finalization leaves no Python
state for a gloo thread to race. A rank that raised still exits through `spawn`'s error path,
which reports the traceback to the parent.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path
from typing import Any, Callable

LOOPBACK = "127.0.0.1"


def free_loopback_port() -> int:
    """A TCP port free on the loopback interface now (the rendezvous binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def _rank_entry(
    rank: int,
    world_size: int,
    backend: str,
    port: int,
    body: Callable[..., None],
    output: str,
    arguments: tuple,
) -> None:
    """Entry of one spawned rank (module level so `spawn` can pickle it)."""
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR=LOOPBACK, MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size))
    if backend == "nccl":
        import torch

        torch.cuda.set_device(rank)
    dist.init_process_group(backend, rank=rank, world_size=world_size)
    try:
        body(rank, output, *arguments)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    os._exit(0)


def run_local_ranks(world_size: int, backend: str, body: Callable[..., None], *arguments: Any) -> str:
    """Run `body(rank, output_path, *arguments)` on `world_size` ranks of one process group on
    this host and return the text rank 0 wrote to `output_path` (empty if it wrote nothing).

    `body` must be a module-level function (spawn pickles it); it runs after the group is
    initialised and before it is destroyed. An exception in any rank raises here with that
    rank's traceback (torch's ProcessRaisedException)."""
    import torch.multiprocessing as multiprocessing

    if world_size < 2:
        raise ValueError(f"world_size: a process group here needs at least 2 ranks, got {world_size}")
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"backend: expected gloo or nccl, got {backend!r}")
    with tempfile.TemporaryDirectory(prefix="flopwatt-ranks-") as directory:
        output = Path(directory) / "rank0.out"
        multiprocessing.spawn(
            _rank_entry,
            args=(world_size, backend, free_loopback_port(), body, str(output), arguments),
            nprocs=world_size,
            join=True,
        )
        return output.read_text() if output.exists() else ""
