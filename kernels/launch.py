"""A near-empty kernel for launch overhead: an in-place `+1` on a one-element int64 tensor.

A truly empty kernel has no output to check; this one does the least work that can still be
verified: after n launches the counter must read exactly n more, so a launch that was silently
dropped (or a graph replay that did nothing) is caught. One call of `run()` launches
`launches_per_call` kernels back to back (plain) or replays a CUDA graph holding that many, and
the harness divides by the count. This probe is timed on the host, including the final
synchronise, because overhead is what it measures (SuperBench kernel-launch "wall_time").
"""

from __future__ import annotations

from flopwatt.kernels.workload import VerificationError, Workload

COUNTER_BYTES = 16  # one int64 read and written per launch


def build_launch(launches_per_call: int, device: str, use_graph: bool = False) -> Workload:
    import torch

    if not isinstance(launches_per_call, int) or launches_per_call <= 0:
        raise ValueError(f"launches_per_call: must be a positive integer, got {launches_per_call!r}")
    if use_graph and device != "cuda":
        raise ValueError("use_graph: CUDA graphs need a CUDA device")
    counter = torch.zeros(1, dtype=torch.int64, device=device)

    def launch_all() -> None:
        for _ in range(launches_per_call):
            counter.add_(1)

    if use_graph:
        side_stream = torch.cuda.Stream()
        side_stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side_stream):  # warm-up off the capture, as torch's docs require
            launch_all()
        torch.cuda.current_stream().wait_stream(side_stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            launch_all()
        run = graph.replay
    else:
        run = launch_all

    def verify() -> None:
        if device == "cuda":
            torch.cuda.synchronize()
        before = int(counter.item())
        run()
        after = int(counter.item())
        if after - before != launches_per_call:
            raise VerificationError(f"launch: counter advanced by {after - before}, expected {launches_per_call}")

    return Workload(
        kernel="launch_graph" if use_graph else "launch",
        precision="int64",
        shape={"launches": launches_per_call},
        flops=0.0,
        bytes=float(COUNTER_BYTES * launches_per_call),
        device=device,
        run=run,
        verify=verify,
        extra={"host_timed": True, "launches_per_call": launches_per_call},
    )
