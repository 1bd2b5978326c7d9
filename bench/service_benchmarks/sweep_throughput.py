"""How many training scenarios per second a sweep evaluates (target: ≥ 100,000/s, DESIGN §7).

Standalone: `python bench/service_benchmarks/sweep_throughput.py [--points N] [--address HOST:PORT]`.
In-process it times the vectorised evaluation alone, with the SweepPoint conversion and with the
columnar (SweepColumns) conversion; with --address it also streams the same grid through a
running server's SweepTraining RPC, once as points (what old clients get) and once as columns
(`columnar: true`). The client parses every chunk and reads its point count, nothing more, in
both cases, so the two stream numbers differ only by the encoding.
Prints one JSON line per measurement (median of --repeats runs).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from flopwatt.service.api import sweep as sweep_api
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.v1 import common_pb2, estimator_pb2

BASE = estimator_pb2.EstimateTrainingRequest(
    model=common_pb2.ModelSpec(preset_id="llama-2-7b"),
    training_tokens=2 * 10**12,
    sequence_length=4096,
    hardware_id="h100-sxm",
    accelerator_count=256,
)


def grid(points: int, chunk_size: int = 5000, columnar: bool = False) -> estimator_pb2.SweepTrainingRequest:
    """4 accelerator counts (planned) × tokens × PUE × price (vectorised), `points` in all."""
    tokens = max(points // 400, 1)
    return estimator_pb2.SweepTrainingRequest(
        base=BASE,
        chunk_size=chunk_size,
        columnar=columnar,
        axes=[
            estimator_pb2.SweepAxis(field="accelerator_count", values=[64, 128, 256, 512]),
            estimator_pb2.SweepAxis(field="training_tokens", values=np.linspace(1e11, 1e13, tokens).round().tolist()),
            estimator_pb2.SweepAxis(field="facility.pue", values=np.linspace(1.05, 1.6, 10).tolist()),
            estimator_pb2.SweepAxis(
                field="facility.electricity_price_usd_per_kwh", values=np.linspace(0.03, 0.2, 10).tolist()
            ),
        ],
    )


def _median_rate(points: int, run, repeats: int) -> float:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return points / statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--address", help="also stream through this server (host:port)")
    parser.add_argument("--chunk-size", type=int, default=5000, help="points per streamed chunk")
    args = parser.parse_args()
    request = grid(args.points, args.chunk_size)
    evaluator, _ = sweep_api.prepare(request, ApiDependencies())
    total = evaluator.grid.size
    evaluator.evaluate(0, total)  # plans the structural combinations once (cached)
    print(
        json.dumps(
            {
                "measurement": "in_process_evaluate",
                "points": total,
                "points_per_second": round(_median_rate(total, lambda: evaluator.evaluate(0, total), args.repeats)),
            }
        )
    )
    print(
        json.dumps(
            {
                "measurement": "in_process_with_protobuf",
                "points": total,
                "points_per_second": round(
                    _median_rate(total, lambda: sweep_api.evaluate_chunk(evaluator, 0, total), args.repeats)
                ),
            }
        )
    )
    print(
        json.dumps(
            {
                "measurement": "in_process_with_columns",
                "points": total,
                "points_per_second": round(
                    _median_rate(total, lambda: sweep_api.evaluate_chunk(evaluator, 0, total, True), args.repeats)
                ),
            }
        )
    )
    if args.address:
        import grpc

        from flopwatt.v1 import estimator_pb2_grpc

        with grpc.insecure_channel(args.address) as channel:
            stub = estimator_pb2_grpc.EstimatorServiceStub(channel)
            rate = _median_rate(
                total, lambda: sum(len(c.points) for c in stub.SweepTraining(request, timeout=600)), args.repeats
            )
            columnar = grid(args.points, args.chunk_size, columnar=True)
            rate_columns = _median_rate(
                total,
                lambda: sum(len(c.columns.index) for c in stub.SweepTraining(columnar, timeout=600)),
                args.repeats,
            )
        print(
            json.dumps(
                {
                    "measurement": "grpc_stream",
                    "points": total,
                    "chunk_size": args.chunk_size,
                    "points_per_second": round(rate),
                }
            )
        )
        print(
            json.dumps(
                {
                    "measurement": "grpc_stream_columnar",
                    "points": total,
                    "chunk_size": args.chunk_size,
                    "points_per_second": round(rate_columns),
                }
            )
        )


if __name__ == "__main__":
    main()
