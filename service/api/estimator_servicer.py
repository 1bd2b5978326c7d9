"""EstimatorService: thin async adapters from gRPC to the plain handler functions.

Estimates are pure CPU work of about a millisecond; they run on the event loop (a thread hop
would cost more than the work). Sweeps run in a worker thread, chunk by chunk, so the loop
stays responsive and the client's flow control paces the producer.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import grpc

from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api import campus, catalog, inference, sweep, training
from flopwatt.service.metrics import ServiceMetrics
from flopwatt.v1 import estimator_pb2, estimator_pb2_grpc


class EstimatorServicer(estimator_pb2_grpc.EstimatorServiceServicer):
    def __init__(self, deps: ApiDependencies, metrics: ServiceMetrics) -> None:
        self._deps = deps
        self._metrics = metrics
        self._estimate_training = training.estimate_training
        self._estimate_inference = inference.estimate_inference
        self._estimate_campus = campus.estimate_campus
        self._sweep_training = sweep.sweep_training
        self._rank_training = sweep.rank_training
        self._list_hardware = catalog.list_hardware
        self._list_models = catalog.list_models
        self._list_frameworks = catalog.list_frameworks
        self._estimate_counters: dict[str, Any] = {}

    async def EstimateTraining(self, request: estimator_pb2.EstimateTrainingRequest, context: grpc.aio.ServicerContext) -> Any:
        response = self._estimate_training(request, self._deps)
        self._estimates("training").inc()
        return response

    async def EstimateInference(self, request: estimator_pb2.EstimateInferenceRequest, context: grpc.aio.ServicerContext) -> Any:
        response = self._estimate_inference(request, self._deps)
        self._estimates("inference").inc()
        return response

    async def EstimateCampus(self, request: estimator_pb2.EstimateCampusRequest, context: grpc.aio.ServicerContext) -> Any:
        response = self._estimate_campus(request, self._deps)
        self._estimates("campus").inc()
        return response

    async def SweepTraining(self, request: estimator_pb2.SweepTrainingRequest, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        async for chunk in self._sweep_training(request, self._deps, context):
            self._estimates("sweep_point").inc(len(chunk.points) or len(chunk.columns.index))
            yield chunk

    async def RankTraining(self, request: estimator_pb2.RankTrainingRequest, context: grpc.aio.ServicerContext) -> Any:
        # A whole grid is evaluated: off the event loop, like a sweep's chunks.
        response = await asyncio.to_thread(self._rank_training, request, self._deps)
        self._estimates("sweep_point").inc(response.total_point_count)
        return response

    async def ListHardware(self, request: estimator_pb2.ListHardwareRequest, context: grpc.aio.ServicerContext) -> Any:
        return self._list_hardware(request)

    async def ListModels(self, request: estimator_pb2.ListModelsRequest, context: grpc.aio.ServicerContext) -> Any:
        return self._list_models(request)

    async def ListFrameworks(self, request: estimator_pb2.ListFrameworksRequest, context: grpc.aio.ServicerContext) -> Any:
        return self._list_frameworks(request)

    def _estimates(self, kind: str) -> Any:
        """The estimates counter of `kind`, its child looked up once (`labels()` hashes and locks
        on every call); created on first use so the exposition lists only kinds served."""
        counter = self._estimate_counters.get(kind)
        if counter is None:
            counter = self._estimate_counters[kind] = self._metrics.estimates.labels(kind=kind)
        return counter
