"""Benchmark runs through the live gRPC API: create, queue, watch, cancel, list, validation,
deadlines and metrics. Runs that must stay in flight use the worker's test delay
(FLOPWATT_TEST_RUN_DELAY_SECONDS); the SUCCEEDED path runs the real quick CPU suite."""

from __future__ import annotations

import json
import time

import grpc
import pytest

from flopwatt.service.run_worker import TEST_DELAY_ENVIRONMENT_VARIABLE
from flopwatt.v1 import benchmark_pb2, benchmark_pb2_grpc, common_pb2, estimator_pb2, estimator_pb2_grpc
from tests.conftest import field_violations, process_alive, run_server

State = benchmark_pb2.BenchmarkRun.State
TERMINAL = {State.STATE_SUCCEEDED, State.STATE_FAILED, State.STATE_CANCELLED}


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def delayed_server(tmp_path, monkeypatch):
    """A server whose runs stay RUNNING (test delay) until cancelled."""
    monkeypatch.setenv(TEST_DELAY_ENVIRONMENT_VARIABLE, "120")
    with run_server(tmp_path) as handle:
        yield handle


def test_queue_cancel_list_and_metrics(delayed_server):
    manager = delayed_server.running.run_manager
    with delayed_server.channel() as channel:
        stub = benchmark_pb2_grpc.BenchmarkServiceStub(channel)
        first = stub.CreateBenchmarkRun(benchmark_pb2.CreateBenchmarkRunRequest(device="cpu"), timeout=10).benchmark_run
        assert first.name.startswith("benchmarkRuns/") and first.state == State.STATE_QUEUED
        assert first.suite == "quick" and first.device == "cpu" and first.create_time.seconds > 0
        first_id = first.name.removeprefix("benchmarkRuns/")
        pid = wait_for(lambda: manager.worker_pid(first_id))
        second = stub.CreateBenchmarkRun(
            benchmark_pb2.CreateBenchmarkRunRequest(suite="full", device="cpu"), timeout=10
        ).benchmark_run
        got = stub.GetBenchmarkRun(benchmark_pb2.GetBenchmarkRunRequest(name=first.name), timeout=5).benchmark_run
        assert got.state == State.STATE_RUNNING and got.start_time.seconds > 0
        assert (
            stub.GetBenchmarkRun(benchmark_pb2.GetBenchmarkRunRequest(name=second.name), timeout=5).benchmark_run.state
            == State.STATE_QUEUED
        )
        assert "flopwatt_benchmark_queue_depth 1.0" in delayed_server.metrics_text()

        started = time.monotonic()
        cancelled = stub.CancelBenchmarkRun(
            benchmark_pb2.CancelBenchmarkRunRequest(name=first.name), timeout=15
        ).benchmark_run
        assert cancelled.state == State.STATE_CANCELLED and cancelled.end_time.seconds > 0
        assert time.monotonic() - started < 5
        wait_for(lambda: not process_alive(pid), timeout=5)
        # the queue moves on; cancelling a terminal run returns it unchanged
        wait_for(
            lambda: (
                stub.GetBenchmarkRun(
                    benchmark_pb2.GetBenchmarkRunRequest(name=second.name), timeout=5
                ).benchmark_run.state
                == State.STATE_RUNNING
            )
        )
        again = stub.CancelBenchmarkRun(
            benchmark_pb2.CancelBenchmarkRunRequest(name=first.name), timeout=5
        ).benchmark_run
        assert again == cancelled
        stub.CancelBenchmarkRun(benchmark_pb2.CancelBenchmarkRunRequest(name=second.name), timeout=15)

        page = stub.ListBenchmarkRuns(benchmark_pb2.ListBenchmarkRunsRequest(page_size=1), timeout=5)
        assert [run.name for run in page.benchmark_runs] == [second.name] and page.next_page_token
        rest = stub.ListBenchmarkRuns(
            benchmark_pb2.ListBenchmarkRunsRequest(page_size=1, page_token=page.next_page_token), timeout=5
        )
        assert [run.name for run in rest.benchmark_runs] == [first.name] and rest.next_page_token == ""
        everything = stub.ListBenchmarkRuns(benchmark_pb2.ListBenchmarkRunsRequest(), timeout=5)
        assert [run.state for run in everything.benchmark_runs] == [State.STATE_CANCELLED] * 2
    metrics = delayed_server.metrics_text()
    assert 'flopwatt_benchmark_runs_total{result="cancelled"} 2.0' in metrics
    assert "flopwatt_benchmark_duration_seconds_count 2.0" in metrics
    assert "flopwatt_gpu_energy_joules_total{" not in metrics  # nothing measured on the CPU


def test_watch_streams_until_cancelled_and_stops_at_its_deadline(delayed_server):
    manager = delayed_server.running.run_manager
    with delayed_server.channel() as channel:
        stub = benchmark_pb2_grpc.BenchmarkServiceStub(channel)
        run = stub.CreateBenchmarkRun(benchmark_pb2.CreateBenchmarkRunRequest(device="cpu"), timeout=10).benchmark_run
        # a watch past its deadline ends, and the server drops its waiter
        with pytest.raises(grpc.RpcError) as raised:
            for _ in stub.WatchBenchmarkRun(benchmark_pb2.WatchBenchmarkRunRequest(name=run.name), timeout=1.5):
                pass
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        wait_for(lambda: manager.watcher_count == 0, timeout=5)
        # a watch to the end: progress updates, then the terminal state
        stream = stub.WatchBenchmarkRun(benchmark_pb2.WatchBenchmarkRunRequest(name=run.name), timeout=30)
        first = next(stream)
        assert first.benchmark_run.state in (State.STATE_QUEUED, State.STATE_RUNNING)
        wait_for(lambda: manager.worker_pid(run.name.removeprefix("benchmarkRuns/")))
        stub.CancelBenchmarkRun(benchmark_pb2.CancelBenchmarkRunRequest(name=run.name), timeout=15)
        updates = [first, *stream]
    assert updates[-1].benchmark_run.state == State.STATE_CANCELLED
    assert all(update.benchmark_run.state not in TERMINAL for update in updates[:-1])


@pytest.mark.parametrize(
    ("request_fields", "fields"),
    [
        ({"suite": "quik"}, ["suite"]),
        ({"device": "tpu"}, ["device"]),
        ({"suite": "x" * 10_000, "device": "\x00"}, ["suite", "device"]),
    ],
)
def test_create_validates_suite_and_device(server, request_fields, fields):
    with server.channel() as channel, pytest.raises(grpc.RpcError) as raised:
        benchmark_pb2_grpc.BenchmarkServiceStub(channel).CreateBenchmarkRun(
            benchmark_pb2.CreateBenchmarkRunRequest(**request_fields), timeout=5
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(raised.value) == fields
    assert len(raised.value.details()) < 400  # huge input is not echoed back


def test_cuda_without_a_gpu_is_failed_precondition(server):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this host has a GPU")
    with server.channel() as channel, pytest.raises(grpc.RpcError) as raised:
        benchmark_pb2_grpc.BenchmarkServiceStub(channel).CreateBenchmarkRun(
            benchmark_pb2.CreateBenchmarkRunRequest(device="cuda"), timeout=120
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "CUDA" in raised.value.details()


@pytest.mark.parametrize(
    ("rpc", "request_message", "code", "fields"),
    [
        (
            "GetBenchmarkRun",
            benchmark_pb2.GetBenchmarkRunRequest(name="benchmarkRuns/0123abcd"),
            grpc.StatusCode.NOT_FOUND,
            [],
        ),
        ("GetBenchmarkRun", benchmark_pb2.GetBenchmarkRunRequest(name=""), grpc.StatusCode.INVALID_ARGUMENT, ["name"]),
        (
            "GetBenchmarkRun",
            benchmark_pb2.GetBenchmarkRunRequest(name="profiles/abc"),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["name"],
        ),
        (
            "GetBenchmarkRun",
            benchmark_pb2.GetBenchmarkRunRequest(name="benchmarkRuns/" + "a" * 300),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["name"],
        ),
        (
            "CancelBenchmarkRun",
            benchmark_pb2.CancelBenchmarkRunRequest(name="benchmarkRuns/../../etc"),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["name"],
        ),
        (
            "CancelBenchmarkRun",
            benchmark_pb2.CancelBenchmarkRunRequest(name="benchmarkRuns/ffff"),
            grpc.StatusCode.NOT_FOUND,
            [],
        ),
        (
            "ListBenchmarkRuns",
            benchmark_pb2.ListBenchmarkRunsRequest(page_size=-1),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["page_size"],
        ),
        (
            "ListBenchmarkRuns",
            benchmark_pb2.ListBenchmarkRunsRequest(page_size=1001),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["page_size"],
        ),
        (
            "ListBenchmarkRuns",
            benchmark_pb2.ListBenchmarkRunsRequest(page_token="bm90IG91cnM"),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["page_token"],
        ),
    ],
)
def test_bad_names_and_pages_are_refused_with_the_field(server, rpc, request_message, code, fields):
    with server.channel() as channel, pytest.raises(grpc.RpcError) as raised:
        getattr(benchmark_pb2_grpc.BenchmarkServiceStub(channel), rpc)(request_message, timeout=5)
    assert raised.value.code() == code
    assert field_violations(raised.value) == fields


def test_watch_of_an_unknown_run_is_not_found(server):
    with server.channel() as channel, pytest.raises(grpc.RpcError) as raised:
        list(
            benchmark_pb2_grpc.BenchmarkServiceStub(channel).WatchBenchmarkRun(
                benchmark_pb2.WatchBenchmarkRunRequest(name="benchmarkRuns/abc"), timeout=5
            )
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.slow
def test_quick_cpu_suite_runs_to_succeeded_and_its_profile_is_served(server):
    pytest.importorskip("flopwatt.bench.suites")
    with server.channel() as channel:
        stub = benchmark_pb2_grpc.BenchmarkServiceStub(channel)
        run = stub.CreateBenchmarkRun(
            benchmark_pb2.CreateBenchmarkRunRequest(suite="quick", device="cpu"), timeout=10
        ).benchmark_run
        updates = list(stub.WatchBenchmarkRun(benchmark_pb2.WatchBenchmarkRunRequest(name=run.name), timeout=600))
        final = updates[-1].benchmark_run
        assert final.state == State.STATE_SUCCEEDED, final.error
        assert final.progress == 1.0 and final.profile_name.startswith("profiles/")
        progress = [
            update.benchmark_run.progress for update in updates if update.benchmark_run.state == State.STATE_RUNNING
        ]
        assert len(progress) >= 3 and progress == sorted(progress)
        profile = stub.GetProfile(benchmark_pb2.GetProfileRequest(name=final.profile_name), timeout=10).profile
        document = json.loads(profile.profile_json)
        assert document["suite"] == "quick" and document["device"]["kind"] == "cpu"
        assert document["ceilings"]["matmul_flops_per_second"]["fp32"] > 0
        listed = stub.ListProfiles(benchmark_pb2.ListProfilesRequest(), timeout=10)
        assert final.profile_name in [p.name for p in listed.profiles]
        # the API's run annotates its profile as the CLI does: it knows the hardware it was measured on ...
        assert document["device"]["hardware_id"] == "cpu"
        estimator = estimator_pb2_grpc.EstimatorServiceStub(channel)

        def request(hardware_id: str) -> estimator_pb2.EstimateTrainingRequest:
            return estimator_pb2.EstimateTrainingRequest(
                model=common_pb2.ModelSpec(parameter_count=100_000_000),
                training_tokens=10**9,
                sequence_length=1024,
                hardware_id=hardware_id,
                accelerator_count=1,
                profile_id=final.profile_name,
            )

        # ... calibrates an estimate for that hardware ...
        on_cpu = estimator.EstimateTraining(request("cpu"), timeout=30)
        assert on_cpu.calibration.kind == common_pb2.Calibration.KIND_MEASURED_PROFILE
        # ... and is refused, naming profile_id, for another accelerator
        with pytest.raises(grpc.RpcError) as refused:
            estimator.EstimateTraining(request("h100-sxm"), timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(refused.value) == ["profile_id"]
        assert "measured on cpu, not h100-sxm" in refused.value.details()
    assert 'flopwatt_benchmark_runs_total{result="succeeded"} 1.0' in server.metrics_text()
