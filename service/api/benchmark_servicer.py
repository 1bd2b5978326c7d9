"""BenchmarkService: stored profiles, and benchmark runs as resources managed by the run manager.

Thin adapters: the run RPCs call `flopwatt.service.api.runs.<fn>` with the server's
RunManager passed in; without a run manager (no data directory) they answer FAILED_PRECONDITION.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

import grpc

from flopwatt.service import errors
from flopwatt.service.api import profiles, runs
from flopwatt.v1 import benchmark_pb2, benchmark_pb2_grpc


class BenchmarkServicer(benchmark_pb2_grpc.BenchmarkServiceServicer):
    def __init__(self, profile_store: Any, run_manager: Any = None) -> None:
        self._profile_store = profile_store
        self._run_manager = run_manager
        self._list_profiles = profiles.list_profiles
        self._get_profile = profiles.get_profile
        self._create_run = runs.create_benchmark_run
        self._get_run = runs.get_benchmark_run
        self._list_runs = runs.list_benchmark_runs
        self._watch_run = runs.watch_benchmark_run
        self._cancel_run = runs.cancel_benchmark_run

    def _runs(self) -> Any:
        if self._run_manager is None:
            raise errors.FailedPrecondition("benchmark runs need the run store, which this server could not open")
        return self._run_manager

    async def ListProfiles(self, request: benchmark_pb2.ListProfilesRequest, context: grpc.aio.ServicerContext) -> Any:
        return self._list_profiles(request, self._profile_store)

    async def GetProfile(self, request: benchmark_pb2.GetProfileRequest, context: grpc.aio.ServicerContext) -> Any:
        return self._get_profile(request, self._profile_store)

    async def CreateBenchmarkRun(
        self, request: benchmark_pb2.CreateBenchmarkRunRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        return await self._create_run(request, self._runs())

    async def GetBenchmarkRun(
        self, request: benchmark_pb2.GetBenchmarkRunRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        return await self._get_run(request, self._runs())

    async def ListBenchmarkRuns(
        self, request: benchmark_pb2.ListBenchmarkRunsRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        return await self._list_runs(request, self._runs())

    async def WatchBenchmarkRun(
        self, request: benchmark_pb2.WatchBenchmarkRunRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        async for update in self._watch_run(request, self._runs(), context):
            yield update

    async def CancelBenchmarkRun(
        self, request: benchmark_pb2.CancelBenchmarkRunRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        return await self._cancel_run(request, self._runs())
