"""SweepTraining through a real server: 100,000 points stream in chunks; cancel stops it."""

from __future__ import annotations

import time

import grpc
import numpy as np
import pytest

from flopwatt.v1 import common_pb2, estimator_pb2, estimator_pb2_grpc

BASE = estimator_pb2.EstimateTrainingRequest(
    model=common_pb2.ModelSpec(preset_id="llama-2-7b"),
    training_tokens=2 * 10**12,
    sequence_length=4096,
    hardware_id="h100-sxm",
    accelerator_count=256,
)


def _grid_100k() -> estimator_pb2.SweepTrainingRequest:
    return estimator_pb2.SweepTrainingRequest(
        base=BASE,
        chunk_size=5000,
        axes=[
            estimator_pb2.SweepAxis(field="accelerator_count", values=[64, 128, 256, 512]),
            estimator_pb2.SweepAxis(field="training_tokens", values=np.linspace(1e11, 1e13, 250).round().tolist()),
            estimator_pb2.SweepAxis(field="facility.pue", values=np.linspace(1.05, 1.6, 10).tolist()),
            estimator_pb2.SweepAxis(
                field="facility.electricity_price_usd_per_kwh", values=np.linspace(0.03, 0.2, 10).tolist()
            ),
        ],
    )


def test_a_100k_point_sweep_streams_completely(server):
    with server.channel() as channel:
        stub = estimator_pb2_grpc.EstimatorServiceStub(channel)
        start = time.perf_counter()
        chunks = list(stub.SweepTraining(_grid_100k(), timeout=120))
        seconds = time.perf_counter() - start
    indices = np.concatenate([np.fromiter((p.index for p in c.points), np.int64) for c in chunks])
    assert len(chunks) == 20 and all(c.total_point_count == 100_000 for c in chunks)
    assert np.array_equal(indices, np.arange(100_000))
    print(f"\nSweepTraining through gRPC: {100_000 / seconds:,.0f} points/s")


def test_cancel_stops_the_stream(server):
    with server.channel() as channel:
        stub = estimator_pb2_grpc.EstimatorServiceStub(channel)
        request = _grid_100k()
        request.chunk_size = 100
        call = stub.SweepTraining(request, timeout=60)
        first = next(call)
        call.cancel()
        with pytest.raises(grpc.RpcError) as raised:
            for _ in call:
                pass
    assert len(first.points) == 100
    assert raised.value.code() == grpc.StatusCode.CANCELLED


def test_unbounded_grid_is_invalid_argument_naming_axes(server):
    request = estimator_pb2.SweepTrainingRequest(
        base=BASE,
        axes=[
            estimator_pb2.SweepAxis(field="training_tokens", values=list(range(1, 10_001))),
            estimator_pb2.SweepAxis(field="facility.pue", values=[1.1] * 10_000),
        ],
    )
    with server.channel() as channel:
        stub = estimator_pb2_grpc.EstimatorServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            list(stub.SweepTraining(request, timeout=30))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "axes" in raised.value.details()


def test_a_columnar_sweep_streams_packed_columns(server):
    request = _grid_100k()
    request.columnar = True
    with server.channel() as channel:
        stub = estimator_pb2_grpc.EstimatorServiceStub(channel)
        start = time.perf_counter()
        chunks = list(stub.SweepTraining(request, timeout=120))
        seconds = time.perf_counter() - start
    indices = np.concatenate([np.array(c.columns.index, np.int64) for c in chunks])
    assert np.array_equal(indices, np.arange(100_000)) and all(not c.points for c in chunks)
    assert all(len(c.columns.axis_values) == 4 * len(c.columns.index) for c in chunks)
    print(f"\nSweepTraining columnar through gRPC: {100_000 / seconds:,.0f} points/s")


def test_rank_training_names_the_best_hardware(server):
    request = estimator_pb2.RankTrainingRequest(
        by=estimator_pb2.RANK_OBJECTIVE_COST,
        sweep=estimator_pb2.SweepTrainingRequest(
            base=BASE,
            axes=[estimator_pb2.SweepAxis(field="hardware_id", string_values=["v100", "a100-80gb", "h100-sxm"])],
        ),
    )
    with server.channel() as channel:
        response = estimator_pb2_grpc.EstimatorServiceStub(channel).RankTraining(request, timeout=60)
    assert [p.axis_labels[0] for p in response.points][0] in {
        "a100-80gb",
        "h100-sxm",
    } and response.eligible_point_count == 2
