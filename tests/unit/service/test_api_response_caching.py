"""The per-request caches and scalar fast paths change no byte of any response.

Each response is compared, serialized, with one computed from empty caches, and with one
computed with every scalar fast path of estimate/numeric.py switched off (NumPy's own
functions on 0-d values, as before the fast paths existed).
"""

import asyncio
import dataclasses

import grpc
import pytest

from flopwatt.estimate import (
    accounting,
    architecture_terms,
    facility_choice,
    hardware,
    model_choice,
    numeric,
    scenarios,
    stack_realisation,
)
from flopwatt.estimate.catalog import get_hardware
from flopwatt.service.api import convert, training, wire
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.inference import estimate_inference
from flopwatt.service.api.training import estimate_training
from flopwatt.service.interceptors.decoding import RequestDecodingInterceptor
from flopwatt.service.interceptors.errors import ErrorInterceptor
from flopwatt.v1 import common_pb2, estimator_pb2

DEPS = ApiDependencies()
FIXED_PLAN = common_pb2.Parallelism(
    tensor_parallel_size=2,
    pipeline_parallel_size=2,
    data_parallel_size=16,
    expert_parallel_size=1,
    pipeline_interleaving=1,
    micro_batch_size=1,
    global_batch_size=256,
    zero_stage=1,
    activation_recompute=common_pb2.ACTIVATION_RECOMPUTE_FULL,
    activation_recompute_layer_fraction=0.5,
    sequence_parallel=True,
)


def _training(preset: str, **fields) -> estimator_pb2.EstimateTrainingRequest:
    return estimator_pb2.EstimateTrainingRequest(
        model=common_pb2.ModelSpec(preset_id=preset),
        training_tokens=10**12,
        sequence_length=4096,
        hardware_id="h100-sxm",
        accelerator_count=64,
        **fields,
    )


def _inference(preset: str, batch_size: int, **fields) -> estimator_pb2.EstimateInferenceRequest:
    return estimator_pb2.EstimateInferenceRequest(
        model=common_pb2.ModelSpec(preset_id=preset),
        hardware_id="h100-sxm",
        accelerator_count=8,
        batch_size=batch_size,
        input_tokens=1024,
        output_tokens=256,
        **fields,
    )


REQUESTS = {
    "training, fixed plan": (estimate_training, _training("llama-2-7b", parallelism=FIXED_PLAN)),
    "training, fixed plan, fp8, facility and goodput": (
        estimate_training,
        _training(
            "mixtral-8x7b",
            parallelism=FIXED_PLAN,
            precision=common_pb2.PRECISION_FP8,
            goodput=0.9,
            facility=common_pb2.Facility(pue=1.2, accelerator_hour_price_usd=2.0),
        ),
    ),
    "training, planner": (
        estimate_training,
        _training("llama-2-7b", parallelism=common_pb2.Parallelism(global_batch_size=512)),
    ),
    "inference, fixed batch": (estimate_inference, _inference("llama-2-7b", 32)),
    "inference, MoE, fixed batch": (
        estimate_inference,
        _inference("mixtral-8x7b", 16, facility=common_pb2.Facility(wue_liters_per_kwh=1.8)),
    ),
    "inference, batch search": (estimate_inference, _inference("llama-2-7b", 0)),
}


def _clear_caches() -> None:
    hardware._SHARED_DATASHEET_MODELS.clear()
    convert._DATASHEET_CALIBRATIONS.clear()
    wire.assumption_element.cache_clear()
    wire._quantity_parts.cache_clear()
    wire._quantity_layout.cache_clear()
    model_choice._PRESET_BASES.clear()
    model_choice._PLAIN_PRESETS.clear()
    stack_realisation.calibrated_step_options.cache_clear()
    facility_choice._facility_inputs.cache_clear()
    scenarios._framework_assumptions.cache_clear()
    accounting.parameter_counts.cache_clear()
    architecture_terms.architecture_terms.cache_clear()
    training._cached_response.cache_clear()


def _serialized(name: str) -> bytes:
    function, request = REQUESTS[name]
    return function(request, DEPS).SerializeToString(deterministic=True)


def _fresh(name: str) -> bytes:
    _clear_caches()
    return _serialized(name)


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_same_request_twice_matches_a_fresh_cache_computation(name):
    fresh = _fresh(name)
    assert _serialized(name) == fresh
    assert _serialized(name) == fresh


def test_interleaved_requests_match_fresh_cache_computations():
    names = sorted(REQUESTS)
    fresh = {name: _fresh(name) for name in names}
    _clear_caches()
    for name in names + names[::-1] + names:
        assert _serialized(name) == fresh[name], name


def test_scalar_fast_paths_change_no_byte(monkeypatch):
    fast = {name: _fresh(name) for name in REQUESTS}
    # With no type eligible, every helper falls through to NumPy's own function.
    monkeypatch.setattr(numeric, "_NUMBER_TYPES", frozenset())
    monkeypatch.setattr(numeric, "_BOOL_TYPES", frozenset())
    assert numeric.maximum(1.0, 2.0).__class__.__name__ == "float64" and numeric.where(True, 1.0, 2.0).shape == ()
    for name in REQUESTS:
        assert _fresh(name) == fast[name], name


def test_shared_datasheet_model_is_rebuilt_for_another_spec_with_the_same_id():
    spec = get_hardware("h100-sxm")
    shared = hardware.shared_datasheet_hardware_model(spec, "bf16")
    assert hardware.shared_datasheet_hardware_model(spec, "bf16") is shared
    assert shared == hardware.datasheet_hardware_model(spec, "bf16")
    edited = dataclasses.replace(spec, tdp_watts=spec.tdp_watts + 100.0)
    rebuilt = hardware.shared_datasheet_hardware_model(edited, "bf16")
    assert rebuilt.tdp_watts == spec.tdp_watts + 100.0
    assert convert.calibration_to_proto(rebuilt) != convert.calibration_to_proto(shared)


def test_interceptors_wrap_each_method_once_and_rewrap_a_replaced_handler():
    async def behaviour(request, context):
        return request

    first = grpc.unary_unary_rpc_method_handler(behaviour)
    second = grpc.unary_unary_rpc_method_handler(behaviour)

    class Details:
        method = "/flopwatt.v1.EstimatorService/EstimateTraining"
        invocation_metadata = ()

    async def intercepted(interceptor, handler):
        async def continuation(_details):
            return handler

        return await interceptor.intercept_service(continuation, Details())

    for interceptor in (ErrorInterceptor(), RequestDecodingInterceptor()):
        wrapped = asyncio.run(intercepted(interceptor, first))
        assert wrapped is not first and asyncio.run(intercepted(interceptor, first)) is wrapped
        assert asyncio.run(intercepted(interceptor, second)) is not wrapped
        assert asyncio.run(wrapped.unary_unary("ping", None)) == "ping"


@pytest.mark.parametrize("name", sorted(name for name in REQUESTS if name.startswith("training")))
def test_cached_training_response_matches_the_computed_one(name):
    _, request = REQUESTS[name]
    _clear_caches()
    computed = training.compute_training_estimate(request, DEPS).SerializeToString(deterministic=True)
    first = estimate_training(request, DEPS)
    hits_before = training._cached_response.cache_info().hits
    second = estimate_training(request, DEPS)
    assert training._cached_response.cache_info().hits == hits_before + 1
    assert first.SerializeToString(deterministic=True) == computed
    assert second.SerializeToString(deterministic=True) == computed
    # Each call gets its own message: editing one does not reach the cache.
    assert first is not second
    first.total_flops = -1.0
    assert estimate_training(request, DEPS).SerializeToString(deterministic=True) == computed


def test_training_cache_skips_profiles_samples_and_large_requests():
    _clear_caches()
    _, fixed = REQUESTS["training, fixed plan"]
    sampled = estimator_pb2.EstimateTrainingRequest()
    sampled.CopyFrom(fixed)
    sampled.uncertainty.samples = 16
    sampled.uncertainty.seed = 7
    for request in (sampled,):
        assert estimate_training(request, DEPS) == estimate_training(request, DEPS)
    large = estimator_pb2.EstimateTrainingRequest()
    large.CopyFrom(fixed)
    large.model.preset_id = "llama-2-7b" + " " * training.RESPONSE_CACHE_MAX_REQUEST_BYTES
    with pytest.raises(Exception):
        estimate_training(large, DEPS)  # an unknown preset: refused, neither cached nor computed twice
    assert training._cached_response.cache_info().currsize == 0
    profiled = estimator_pb2.EstimateTrainingRequest()
    profiled.CopyFrom(fixed)
    profiled.profile_id = "profiles/none"
    with pytest.raises(Exception):
        estimate_training(profiled, DEPS)  # DEPS has no profiles: NotFound, looked up every call
    assert training._cached_response.cache_info().currsize == 0
