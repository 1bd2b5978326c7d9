"""Collective bandwidth with torch.distributed: all-reduce, all-gather, reduce-scatter and
all-to-all over a size sweep (8 B – 1 GiB by default, ×2 steps like nccl-tests `-b 8 -e 1G -f 2`).

Run one process per GPU under `torchrun` (NCCL on GPUs, gloo on CPUs), or spawn ranks locally
with `spawn_local`. Each size is checked for correctness once (nccl-tests `-c`), then timed as
the average of `iterations` back-to-back calls after `warmup` calls; the time reported is the
slowest rank's. Bandwidths follow nccl-tests doc/PERFORMANCE.md: algbw = bytes / time; busbw =
algbw · 2(n−1)/n for all-reduce and algbw · (n−1)/n for all-gather, reduce-scatter and
all-to-all, where bytes is the full buffer (the gathered output, the scattered input).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

from flopwatt.bench.local_ranks import run_local_ranks

COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all")
DEFAULT_MIN_BYTES = 8
DEFAULT_MAX_BYTES = 1024**3
DEFAULT_ITERATIONS = 20  # nccl-tests -n default
DEFAULT_WARMUP = 5  # nccl-tests used 5 before its default dropped to 1; we keep 5
ELEMENT_BYTES = 4  # float32 payloads
CHECK_RELATIVE_TOLERANCE = 1e-5  # sums of ≤ 64 fp32 multiples of one value: a few roundoffs


def bus_bandwidth_factor(collective: str, world_size: int) -> float:
    if collective not in COLLECTIVES:
        raise ValueError(f"collective: expected one of {COLLECTIVES}, got {collective!r}")
    if world_size < 1:
        raise ValueError(f"world_size: must be ≥ 1, got {world_size}")
    n = world_size
    return 2.0 * (n - 1) / n if collective == "all_reduce" else (n - 1) / n


def size_sweep(min_bytes: int, max_bytes: int, factor: int = 2) -> list[int]:
    if min_bytes <= 0 or max_bytes < min_bytes or factor < 2:
        raise ValueError(
            f"sizes: need 0 < min_bytes ≤ max_bytes and factor ≥ 2, got {min_bytes}, {max_bytes}, {factor}"
        )
    sizes, size = [], min_bytes
    while size <= max_bytes:
        sizes.append(size)
        size *= factor
    return sizes


def _elements_for(size_bytes: int, world_size: int) -> int:
    """Element count of the full buffer, rounded up to a multiple of the world size."""
    elements = max(1, size_bytes // ELEMENT_BYTES)
    return -(-elements // world_size) * world_size


def _gather_and_scatter():
    """torch 2.13 renamed the tensor forms (`*_single`); older torch (≥ 2.4) has `*_tensor`."""
    import torch.distributed as dist

    gather = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor
    scatter = getattr(dist, "reduce_scatter_single", None) or dist.reduce_scatter_tensor
    return gather, scatter


def _operation(collective: str, elements: int, rank: int, world_size: int, device: str):
    """Buffers with a checkable pattern and the call; input on rank r is (r+1)·base, where
    base is the same normal vector on every rank (same seed)."""
    import torch
    import torch.distributed as dist

    base = torch.randn(elements, generator=torch.Generator().manual_seed(elements)).to(device)
    chunk = elements // world_size
    triangular = world_size * (world_size + 1) / 2
    all_gather, reduce_scatter = _gather_and_scatter()
    if collective == "all_reduce":
        buffer = base * (rank + 1)

        def expected_and_actual():
            buffer.copy_(base * (rank + 1))
            dist.all_reduce(buffer)
            return base * triangular, buffer

        return (lambda: dist.all_reduce(buffer)), expected_and_actual
    if collective == "all_gather":
        source = base[rank * chunk : (rank + 1) * chunk] * (rank + 1)
        output = torch.empty(elements, device=device)
        multipliers = torch.arange(1, world_size + 1, device=device, dtype=base.dtype).repeat_interleave(chunk)

        def check_gather():
            all_gather(output, source)
            return base * multipliers, output

        return (lambda: all_gather(output, source)), check_gather
    if collective == "reduce_scatter":
        source = base * (rank + 1)
        output = torch.empty(chunk, device=device)

        def check_scatter():
            reduce_scatter(output, source)
            return base[rank * chunk : (rank + 1) * chunk] * triangular, output

        return (lambda: reduce_scatter(output, source)), check_scatter
    source = base * (rank + 1)
    output = torch.empty(elements, device=device)
    multipliers = torch.arange(1, world_size + 1, device=device, dtype=base.dtype).repeat_interleave(chunk)

    def check_all_to_all():
        dist.all_to_all_single(output, source)
        # chunk j of the output is chunk `rank` of rank j's input: base[rank chunk]·(j+1)
        mine = base[rank * chunk : (rank + 1) * chunk].repeat(world_size)
        return mine * multipliers, output

    return (lambda: dist.all_to_all_single(output, source)), check_all_to_all


def _synchronize(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def measure_collectives(
    sizes: list[int],
    collectives: tuple[str, ...] = COLLECTIVES,
    iterations: int = DEFAULT_ITERATIONS,
    warmup: int = DEFAULT_WARMUP,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Run inside an initialised process group; every rank returns the same document part."""
    import torch
    import torch.distributed as dist

    rank, world_size = dist.get_rank(), dist.get_world_size()
    backend = dist.get_backend()
    device = "cuda" if backend == "nccl" else "cpu"
    result: dict = {"backend": backend, "world_size": world_size, "iterations": iterations, "warmup": warmup}
    for collective in collectives:
        rows = []
        for size in sizes:
            elements = _elements_for(size, world_size)
            call, check = _operation(collective, elements, rank, world_size, device)
            expected, actual = check()
            local_error = float(torch.linalg.norm(actual - expected) / max(float(torch.linalg.norm(expected)), 1e-30))
            worst = torch.tensor([local_error], dtype=torch.float64, device=device)
            dist.all_reduce(worst, op=dist.ReduceOp.MAX)  # every rank agrees on the verdict
            error = float(worst.item())
            for _ in range(warmup):
                call()
            _synchronize(device)
            dist.barrier()
            started = time.perf_counter()
            for _ in range(iterations):
                call()
            _synchronize(device)
            elapsed = torch.tensor([(time.perf_counter() - started) / iterations], dtype=torch.float64, device=device)
            dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)
            seconds = float(elapsed.item())
            total_bytes = elements * ELEMENT_BYTES
            algbw = total_bytes / seconds
            rows.append(
                {
                    "bytes": total_bytes,
                    "seconds": seconds,
                    "algbw_bytes_per_second": algbw,
                    "busbw_bytes_per_second": algbw * bus_bandwidth_factor(collective, world_size),
                    "verified": error <= CHECK_RELATIVE_TOLERANCE,
                    "relative_error": error,
                }
            )
            if progress is not None and rank == 0:
                progress(f"{collective} {total_bytes} B")
        result[collective] = rows
    return result


def _collectives_rank(rank: int, output: str, options: dict) -> None:
    """One locally spawned rank (a `run_local_ranks` body); rank 0 writes the result."""
    result = measure_collectives(**options)
    if rank == 0:
        Path(output).write_text(json.dumps(result))


def spawn_local(world_size: int, backend: str, **options) -> dict:
    """Run `world_size` ranks on this host (torch.multiprocessing spawn, rendezvous on a free
    loopback port) and return rank 0's result. For tests and single-node runs without torchrun."""
    return json.loads(run_local_ranks(world_size, backend, _collectives_rank, options))


def gather_topology() -> dict:
    """Where the ranks of the initialised group run, as they report it (not as configured): every
    rank contributes its host name and torchrun's node rank (GROUP_RANK; else its host), so the
    result counts nodes and processes per node even when two "nodes" share one host (loopback
    tests). Returns {"nodes", "processes_per_node" (the most on any node), "ranks_per_node"
    (node → count), "world_size", "hosts", "launcher"}."""
    import socket

    import torch.distributed as dist

    mine = (os.environ.get("GROUP_RANK") or socket.gethostname(), socket.gethostname())
    everyone: list = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    per_node: dict[str, int] = {}
    for node, _ in everyone:
        per_node[str(node)] = per_node.get(str(node), 0) + 1
    return {
        "nodes": len(per_node),
        "processes_per_node": max(per_node.values()),
        "ranks_per_node": per_node,
        "world_size": len(everyone),
        "hosts": sorted({host for _, host in everyone}),
        "launcher": "torchrun" if "TORCHELASTIC_RUN_ID" in os.environ else "environment",
    }


def run_under_torchrun(backend: str | None = None, **options) -> dict | None:
    """Inside a torchrun worker (RANK/WORLD_SIZE set): initialise from the environment, measure,
    and return the result (with the group's `topology`) on rank 0 (None elsewhere).

    The ranks leave the group together (a barrier before destroy_process_group: a peer torn
    down mid-collective aborts a gloo rank); the caller should then write its output and end
    the process with os._exit (bench/local_ranks.py says why), as `torchrun_collectives` does."""
    import torch
    import torch.distributed as dist

    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    try:
        result = measure_collectives(**options)
        result["topology"] = gather_topology()
        dist.barrier()
        return result if dist.get_rank() == 0 else None
    finally:
        dist.destroy_process_group()


def under_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ
