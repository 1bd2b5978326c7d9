"""Is the Numba STREAM shortfall on the H100 the array size or the kernels?

Question (bench/results/README.md, 2026-11-27): the quick suite's Numba copy and read kernels
measured 2.69 and 2.53 TB/s at 2^25 float64 elements (268 MB per array) while the torch device
copy measured 3.00 TB/s at 1 GiB per buffer. Two causes predict different tables:
- fixed per-launch cost (launch, ramp-up, tail) over a ~200 µs kernel: then torch's copy at the
  same 268 MB also reads ~2.7 TB/s, and every implementation approaches 3.0 TB/s as the size grows;
- the kernels themselves (one 8-byte access per thread, block scheduling, too little in flight
  in the reduction): then torch beats Numba at every size.
This measures Numba copy / scale / add / triad / read and the torch copy at four sizes with the
suite's own harness and plan, and prints one JSON object (and a table on stderr). About 15 s on
an H100 with copy / triad / read (2026-11-28); scale and add, added to check the four-elements-
per-thread kernels' prediction (kernels/numba_cuda_kernels.copy_kernel), bring it to about 25 s.

Usage on a CUDA host:  python -m flopwatt.bench.diagnostics.stream_sizes [--output FILE.json]
"""

from __future__ import annotations

import argparse
import json
import sys

FLOAT64_BYTES = 8
SIZES_ELEMENTS = (2**24, 2**25, 2**26, 2**27)  # 134 MB ... 1 GiB of float64 per array
NUMBA_OPERATIONS = ("copy", "scale", "add", "triad", "read")


def measure_sizes(sizes: tuple[int, ...] = SIZES_ELEMENTS) -> list[dict]:
    """Median and best bytes per second of each (implementation, operation, size)."""
    import torch

    from flopwatt.bench.harness import Harness
    from flopwatt.bench.suite_config import suite_config
    from flopwatt.kernels.copy import build_device_copy
    from flopwatt.kernels.numba_cuda_stream import build_numba_cuda_stream, numba_cuda_unavailable_reason

    reason = numba_cuda_unavailable_reason()
    if reason:
        raise SystemExit(f"Numba CUDA cannot run here: {reason}")
    plan = suite_config("quick", "cuda").stream_plan
    sm_count = torch.cuda.get_device_properties(torch.cuda.current_device()).multi_processor_count
    harness = Harness("cuda")
    rows = []
    for elements in sizes:
        builds = [
            (
                f"numba {operation}",
                lambda op=operation: build_numba_cuda_stream(op, elements, multiprocessor_count=sm_count),
            )
            for operation in NUMBA_OPERATIONS
        ]
        builds.append(("torch copy", lambda: build_device_copy(elements * FLOAT64_BYTES, "cuda")))
        for name, build in builds:
            result = harness.measure(build(), plan).to_result()
            stats = result["stats"]
            rows.append(
                {
                    "implementation_operation": name,
                    "array_bytes": elements * FLOAT64_BYTES,
                    "bytes_moved": result["bytes"],
                    "verified": result["verified"],
                    "median_seconds": stats["median"],
                    "median_bytes_per_second": result["bytes"] / stats["median"],
                    "best_bytes_per_second": result["bytes"] / stats["min"],
                }
            )
            torch.cuda.empty_cache()
    return rows


def table_lines(rows: list[dict]) -> list[str]:
    """One line per row: median and best TB/s, and best over the torch copy's best at that size
    (the ratio tests/gpu holds Numba copy and triad to: ≥ 0.95)."""
    torch_best = {
        r["array_bytes"]: r["best_bytes_per_second"] for r in rows if r["implementation_operation"] == "torch copy"
    }
    lines = []
    for row in rows:
        best = row["best_bytes_per_second"]
        ratio = best / torch_best[row["array_bytes"]] if row["array_bytes"] in torch_best else float("nan")
        lines.append(
            f"{row['implementation_operation']:12s} {row['array_bytes'] / 1e6:8.0f} MB  "
            f"median {row['median_bytes_per_second'] / 1e12:5.2f} TB/s  best {best / 1e12:5.2f}  "
            f"best/torch copy {ratio:5.2f}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", help="also write the JSON here")
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("stream_sizes: needs a CUDA GPU", file=sys.stderr)
        return 2
    document = {"device": torch.cuda.get_device_name(), "rows": measure_sizes()}
    text = json.dumps(document, indent=1)
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(text)
    print(text)
    print("\n".join(table_lines(document["rows"])), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
