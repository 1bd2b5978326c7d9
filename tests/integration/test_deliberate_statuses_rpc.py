"""Issue 14 at the gRPC level: statuses that only the transport shows.

- An id of 1,000 four-byte characters gets its NOT_FOUND (the echoed value is cut in UTF-8
  bytes), not RESOURCE_EXHAUSTED "Stream removed" from status headers past gRPC's 16 KiB.
- A SweepTraining whose client's deadline passes or which the client cancels is counted as
  DeadlineExceeded / Cancelled, never Unknown, and logged at INFO, never as an ERROR traceback.
"""

from __future__ import annotations

import logging
import re
import time

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from flopwatt.v1 import benchmark_pb2, benchmark_pb2_grpc, common_pb2, estimator_pb2, estimator_pb2_grpc

FIRE = "\U0001f525" * 1000  # 4,000 bytes of UTF-8
MAX_HEADER_BYTES = 16 * 1024  # gRPC's default limit on a response's metadata


def _training(**fields) -> estimator_pb2.EstimateTrainingRequest:
    request = estimator_pb2.EstimateTrainingRequest(
        model=common_pb2.ModelSpec(preset_id="llama-2-7b"),
        training_tokens=10**12,
        sequence_length=4096,
        hardware_id="h100-sxm",
        accelerator_count=8,
    )
    for name, value in fields.items():
        setattr(request, name, value)
    return request


@pytest.mark.parametrize("field", ["hardware_id", "profile_id", "preset_id"])
def test_a_long_non_ascii_id_gets_its_not_found(server, field):
    request = _training()
    if field == "preset_id":
        request.model.preset_id = FIRE
    else:
        setattr(request, field, FIRE)
    with server.channel() as channel, pytest.raises(grpc.RpcError) as raised:
        estimator_pb2_grpc.EstimatorServiceStub(channel).EstimateTraining(request, timeout=10)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    headers = sum(len(key) + len(value) for key, value in raised.value.trailing_metadata())
    assert headers < MAX_HEADER_BYTES // 4
    status = rpc_status.from_call(raised.value)
    resource = error_details_pb2.ResourceInfo()
    assert any(detail.Unpack(resource) for detail in status.details if detail.Is(resource.DESCRIPTOR))
    assert resource.resource_name.startswith("\U0001f525") and len(resource.resource_name.encode()) <= 300


def test_a_long_non_ascii_profile_name_is_answered(server):
    with server.channel() as channel, pytest.raises(grpc.RpcError) as raised:
        benchmark_pb2_grpc.BenchmarkServiceStub(channel).GetProfile(
            benchmark_pb2.GetProfileRequest(name=FIRE), timeout=10
        )
    assert raised.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)


def _big_sweep() -> estimator_pb2.SweepTrainingRequest:
    """Chunks of ~0.5 MB, 100 of them: a client that does not read blocks the server's write on
    flow control. The stream is far larger than HTTP/2's windows (which grow to a few MB with
    gRPC's BDP probing) and than what the server evaluates in a second, so it cannot have
    finished, and been counted OK, before the client cancels or its deadline passes."""
    return estimator_pb2.SweepTrainingRequest(
        base=_training(),
        chunk_size=5000,
        axes=[
            estimator_pb2.SweepAxis(field="training_tokens", values=[float(10**11 + i * 10**9) for i in range(1000)]),
            estimator_pb2.SweepAxis(field="facility.pue", values=[1.1 + i * 0.007 for i in range(500)]),
        ],
    )


def _handled(server, code: str) -> float:
    pattern = rf'grpc_server_handled_total{{grpc_code="{code}",grpc_method="SweepTraining"[^}}]*}} (\S+)'
    return sum(float(value) for value in re.findall(pattern, server.metrics_text()))


def _wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_sweep_past_its_deadline_is_counted_and_logged_as_such(server, caplog):
    caplog.set_level(logging.INFO)
    with server.channel() as channel:
        stream = estimator_pb2_grpc.EstimatorServiceStub(channel).SweepTraining(_big_sweep(), timeout=1.0)
        time.sleep(2.0)  # read nothing: the server's write waits on flow control when the deadline passes
        with pytest.raises(grpc.RpcError) as raised:
            list(stream)
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    _wait_for(lambda: _handled(server, "DeadlineExceeded") >= 1)
    assert _handled(server, "DeadlineExceeded") == 1 and _handled(server, "Unknown") == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]


def test_a_cancelled_sweep_is_counted_and_logged_as_such(server, caplog):
    caplog.set_level(logging.INFO)
    with server.channel() as channel:
        stream = estimator_pb2_grpc.EstimatorServiceStub(channel).SweepTraining(_big_sweep(), timeout=30)
        next(stream)
        time.sleep(1.0)  # the server is now blocked writing the next chunks
        stream.cancel()
    _wait_for(lambda: _handled(server, "Cancelled") >= 1)
    assert _handled(server, "Cancelled") == 1 and _handled(server, "Unknown") == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
