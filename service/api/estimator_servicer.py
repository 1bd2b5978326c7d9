"""EstimatorService: thin async adapters from gRPC to the plain handler functions.

Cheap estimates (a fixed or nearly fixed plan, few or no Monte Carlo samples: 0.2-1 ms) run on
the event loop: a thread hop (~50 µs) would cost a tenth of the work for nothing. Heavy ones run
in the server's bounded estimate pool (service/work.py), so health and cheap calls stay fast
while they compute: Monte Carlo intervals with `HEAVY_SAMPLES` samples or more, training
estimates whose planner searches plans (5-15 ms), and every campus estimate (it sizes a training
run with the planner). Sweeps run in their own pool, chunk by chunk, so the loop stays
responsive and the client's flow control paces the producer.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

import grpc

from flopwatt.service.api import campus, catalog, inference, sweep, training
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.metrics import ServiceMetrics
from flopwatt.service.work import WorkPool
from flopwatt.v1 import estimator_pb2, estimator_pb2_grpc

# Monte Carlo samples from which an estimate leaves the loop: 1,000 samples add ~1-3 ms of work
# (10,000: ~10 ms; 100,000: 50-90 ms), so below it the hop costs more than it saves.
HEAVY_SAMPLES = 1_000
# The plan dimensions whose search makes the planner slow: with all four fixed, what is left to
# choose (ZeRO stage, recompute, micro-batch...) is a handful of candidates (~0.5 ms).
_SEARCHED_PLAN_FIELDS = ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "global_batch_size")


def training_is_heavy(request: estimator_pb2.EstimateTrainingRequest) -> bool:
    """Whether EstimateTraining's work belongs off the loop (samples, or a plan search)."""
    if request.uncertainty.samples >= HEAVY_SAMPLES:
        return True
    parallelism = request.parallelism
    return any(getattr(parallelism, name) <= 0 for name in _SEARCHED_PLAN_FIELDS)


def inference_is_heavy(request: estimator_pb2.EstimateInferenceRequest) -> bool:
    """Whether EstimateInference's work belongs off the loop (its batch search is ~0.7 ms: not)."""
    return request.uncertainty.samples >= HEAVY_SAMPLES


class EstimatorServicer(estimator_pb2_grpc.EstimatorServiceServicer):
    def __init__(
        self,
        deps: ApiDependencies,
        metrics: ServiceMetrics,
        *,
        estimate_pool: WorkPool | None = None,
        sweep_pool: WorkPool | None = None,
    ) -> None:
        """Without pools (tests, embedding) heavy work runs on the caller's loop, as it used to."""
        self._deps = deps
        self._metrics = metrics
        self._estimate_pool = estimate_pool
        self._sweep_pool = sweep_pool
        self._estimate_training = training.estimate_training
        self._estimate_inference = inference.estimate_inference
        self._estimate_campus = campus.estimate_campus
        self._sweep_training = sweep.sweep_training
        self._rank_training = sweep.rank_training
        self._list_hardware = catalog.list_hardware
        self._list_models = catalog.list_models
        self._list_frameworks = catalog.list_frameworks
        self._list_engines = catalog.list_engines
        self._estimate_counters: dict[str, Any] = {}

    async def EstimateTraining(
        self, request: estimator_pb2.EstimateTrainingRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        response = await self._run(training_is_heavy(request), self._estimate_training, request)
        self._estimates("training").inc()
        return response

    async def EstimateInference(
        self, request: estimator_pb2.EstimateInferenceRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        response = await self._run(inference_is_heavy(request), self._estimate_inference, request)
        self._estimates("inference").inc()
        return response

    async def EstimateCampus(
        self, request: estimator_pb2.EstimateCampusRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        response = await self._run(True, self._estimate_campus, request)
        self._estimates("campus").inc()
        return response

    async def SweepTraining(
        self, request: estimator_pb2.SweepTrainingRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        async for chunk in self._sweep_training(request, self._deps, context, pool=self._sweep_pool):
            self._estimates("sweep_point").inc(len(chunk.points) or len(chunk.columns.index))
            yield chunk

    async def RankTraining(self, request: estimator_pb2.RankTrainingRequest, context: grpc.aio.ServicerContext) -> Any:
        # A whole grid is evaluated: heavy work, in the bounded estimate pool (off the event loop).
        response = await self._run(True, self._rank_training, request)
        self._estimates("sweep_point").inc(response.total_point_count)
        return response

    async def ListHardware(self, request: estimator_pb2.ListHardwareRequest, context: grpc.aio.ServicerContext) -> Any:
        return self._list_hardware(request)

    async def ListModels(self, request: estimator_pb2.ListModelsRequest, context: grpc.aio.ServicerContext) -> Any:
        return self._list_models(request)

    async def ListFrameworks(
        self, request: estimator_pb2.ListFrameworksRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        return self._list_frameworks(request)

    async def ListEngines(self, request: estimator_pb2.ListEnginesRequest, context: grpc.aio.ServicerContext) -> Any:
        return self._list_engines(request)

    async def _run(self, heavy: bool, handler: Any, request: Any) -> Any:
        """handler(request, deps): in the estimate pool when heavy and there is one, else here."""
        if heavy and self._estimate_pool is not None:
            return await self._estimate_pool.run(handler, request, self._deps)
        return handler(request, self._deps)

    def _estimates(self, kind: str) -> Any:
        """The estimates counter of `kind`, its child looked up once (`labels()` hashes and locks
        on every call); created on first use so the exposition lists only kinds served."""
        counter = self._estimate_counters.get(kind)
        if counter is None:
            counter = self._estimate_counters[kind] = self._metrics.estimates.labels(kind=kind)
        return counter
