"""torchrun entry of the collectives measurement: `torchrun ... -m flopwatt.bench.torchrun_collectives
--output FILE [--min-bytes B] [--max-bytes B] [--iterations N] [--warmup N] [--backend gloo|nccl]`.

Every rank joins the group torchrun's rendezvous formed (one node or several), measures through
`bench.collectives.run_under_torchrun`, and rank 0 writes the result, with the group's topology
(nodes and processes per node, as the ranks report them), to `--output` as JSON. Then every rank
leaves with os._exit(0) once its output is written and flushed: a gloo rank that finalises the
interpreter races gloo's worker thread and aborts now and then (bench/local_ranks.py's docstring
has the trace). The two-node loopback test (tests/integration/test_torchrun_two_nodes.py) runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from flopwatt.bench import collectives


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flopwatt.bench.torchrun_collectives")
    parser.add_argument("--output", required=True, help="rank 0 writes the result here (JSON)")
    parser.add_argument("--backend", choices=("gloo", "nccl"), help="default: nccl with CUDA, else gloo")
    parser.add_argument("--min-bytes", type=int, default=collectives.DEFAULT_MIN_BYTES)
    parser.add_argument("--max-bytes", type=int, default=1 << 20)
    parser.add_argument("--iterations", type=int, default=collectives.DEFAULT_ITERATIONS)
    parser.add_argument("--warmup", type=int, default=collectives.DEFAULT_WARMUP)
    parser.add_argument("--collectives", default=",".join(collectives.COLLECTIVES), help="comma-separated subset")
    args = parser.parse_args(argv)
    if not collectives.under_torchrun():
        parser.error("run under torchrun (RANK and WORLD_SIZE are not set)")
    names = tuple(name for name in args.collectives.split(",") if name)
    result = collectives.run_under_torchrun(
        args.backend,
        sizes=collectives.size_sweep(args.min_bytes, args.max_bytes),
        collectives=names,
        iterations=args.iterations,
        warmup=args.warmup,
    )
    if result is not None:
        temporary = Path(args.output + ".partial")
        temporary.write_text(json.dumps(result))
        temporary.replace(args.output)  # whole or absent: a reader never sees half a file
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
