"""The bounded work pool, the estimator servicer's choice of loop or pool, and admission's peer key."""

from __future__ import annotations

import asyncio
import threading

import pytest

from flopwatt.service import errors
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.estimator_servicer import EstimatorServicer, inference_is_heavy, training_is_heavy
from flopwatt.service.interceptors.admission import peer_address
from flopwatt.service.metrics import create_metrics
from flopwatt.service.work import WorkPool
from flopwatt.v1 import common_pb2, estimator_pb2


def test_the_pool_refuses_beyond_its_bound_and_frees_slots_when_work_ends():
    async def scenario() -> None:
        pool = WorkPool("test", workers=1, queue=1)
        release = threading.Event()
        running = asyncio.ensure_future(pool.run(release.wait, 10))
        waiting = asyncio.ensure_future(pool.run(lambda: "second"))
        await asyncio.sleep(0.05)
        assert pool.held == 2
        with pytest.raises(errors.ResourceExhausted):
            await pool.run(lambda: "third")
        waiting.cancel()  # not started: its slot is free at once
        await asyncio.sleep(0.05)
        assert pool.held == 1
        running.cancel()  # started: its thread still works, so its slot stays taken until it ends
        await asyncio.sleep(0.05)
        assert pool.held == 1
        release.set()
        for _ in range(100):
            if pool.held == 0:
                break
            await asyncio.sleep(0.01)
        assert pool.held == 0
        assert (await pool.run(lambda: threading.current_thread().name)).startswith("flopwatt-test")
        pool.close()
        with pytest.raises(errors.Unavailable):
            await pool.run(lambda: None)

    asyncio.run(scenario())


def _training(samples: int = 0, fixed: bool = True) -> estimator_pb2.EstimateTrainingRequest:
    request = estimator_pb2.EstimateTrainingRequest(
        model=common_pb2.ModelSpec(preset_id="llama-2-7b"),
        training_tokens=2 * 10**12,
        sequence_length=4096,
        hardware_id="h100-sxm",
        accelerator_count=512,
    )
    if fixed:
        request.parallelism.CopyFrom(
            common_pb2.Parallelism(
                tensor_parallel_size=1, pipeline_parallel_size=1, data_parallel_size=512, global_batch_size=1024
            )
        )
    request.uncertainty.samples = samples
    return request


def test_what_counts_as_heavy():
    assert not training_is_heavy(_training())
    assert training_is_heavy(_training(samples=1000))
    assert training_is_heavy(_training(fixed=False))  # the planner searches plans
    assert not inference_is_heavy(estimator_pb2.EstimateInferenceRequest(batch_size=0))
    assert inference_is_heavy(estimator_pb2.EstimateInferenceRequest(uncertainty=common_pb2.Uncertainty(samples=5000)))


def test_cheap_estimates_stay_on_the_loop_and_heavy_ones_use_the_pool():
    async def scenario() -> None:
        pool = WorkPool("estimate", workers=1, queue=0)
        servicer = EstimatorServicer(ApiDependencies(), create_metrics(), estimate_pool=pool)
        threads = []

        def record(request, deps):
            threads.append(threading.current_thread().name)
            return estimator_pb2.EstimateTrainingResponse()

        servicer._estimate_training = record
        servicer._estimate_campus = record
        await servicer.EstimateTraining(_training(), None)
        await servicer.EstimateTraining(_training(samples=100_000), None)
        await servicer.EstimateCampus(estimator_pb2.EstimateCampusRequest(), None)
        pool.close()
        assert threads[0] == threading.current_thread().name
        assert threads[1].startswith("flopwatt-estimate") and threads[2].startswith("flopwatt-estimate")

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "peer, expected",
    [
        ("ipv4:10.0.0.5:51234", "ipv4:10.0.0.5"),
        ("ipv6:[::1]:5000", "ipv6:[::1]"),
        ("unix:/tmp/socket", "unix:/tmp/socket"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_streams_are_budgeted_per_client_address_not_per_connection(peer, expected):
    assert peer_address(peer) == expected
