"""EstimateInference as a plain function."""

import pytest

from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.inference import estimate_inference
from flopwatt.service.errors import InvalidArgument, NotFound
from flopwatt.v1 import common_pb2, estimator_pb2

DEPS = ApiDependencies()


def request_70b(**overrides):
    request = estimator_pb2.EstimateInferenceRequest(
        model=common_pb2.ModelSpec(preset_id="llama-3.1-70b"),
        hardware_id="h100-sxm",
        accelerator_count=8,
        input_tokens=1024,
        output_tokens=512,
    )
    for key, value in overrides.items():
        setattr(request, key, value)
    return request


def test_llama_70b_on_8_h100_is_complete():
    response = estimate_inference(request_70b(), DEPS)
    assert response.fits_in_memory and response.batch_size >= 1 and response.max_batch_size >= response.batch_size
    # 2 × 80 layers × 8 KV heads × 128 × 2 bytes
    assert response.kv_cache_bytes_per_token == 327_680
    assert response.output_tokens_per_second == pytest.approx(8 * response.output_tokens_per_second_per_accelerator)
    assert (
        response.energy_per_output_token_joules > 0 and response.cost_per_million_output_tokens.currency_code == "USD"
    )
    assert {"pue", "batch_size", "time_to_first_token"} <= {a.name for a in response.assumptions}


def test_batch_one_decode_is_bandwidth_bound():
    response = estimate_inference(request_70b(batch_size=1), DEPS)
    tpot = response.time_per_output_token.seconds + response.time_per_output_token.nanos / 1e9
    # weights 141 GB / 8 GPUs at 3.35 TB/s ≈ 5.3 ms is the floor; launch + TP all-reduces add to it.
    assert 5.3e-3 < tpot < 30e-3


def test_too_small_a_group_does_not_fit():
    response = estimate_inference(request_70b(accelerator_count=1), DEPS)
    assert not response.fits_in_memory


def test_bad_fields_are_named():
    with pytest.raises(InvalidArgument) as error:
        estimate_inference(request_70b(input_tokens=-1, output_tokens=0, batch_size=-3), DEPS)
    assert {"input_tokens", "output_tokens", "batch_size"} <= {v.field for v in error.value.violations}
    with pytest.raises(InvalidArgument) as error:
        estimate_inference(request_70b(accelerator_count=3), DEPS)
    assert error.value.violations[0].field == "accelerator_count"
    with pytest.raises(InvalidArgument) as error:
        estimate_inference(request_70b(precision=common_pb2.PRECISION_FP4), DEPS)
    assert error.value.violations[0].field == "precision"


def test_unknown_hardware_is_not_found():
    with pytest.raises(NotFound):
        estimate_inference(request_70b(hardware_id="nope"), DEPS)


def test_kv_cache_precision_is_an_input_with_a_stated_default():
    fp8 = estimate_inference(request_70b(precision=common_pb2.PRECISION_FP8), DEPS)
    assert fp8.kv_cache_bytes_per_token == 327_680 // 2
    row = {a.name: a for a in fp8.assumptions}["kv_cache_precision"]
    assert (row.value, row.origin) == ("fp8", "default")
    bf16_cache = estimate_inference(
        request_70b(precision=common_pb2.PRECISION_FP8, kv_cache_precision=common_pb2.PRECISION_BF16), DEPS
    )
    assert bf16_cache.kv_cache_bytes_per_token == 327_680
    assert {a.name: a for a in bf16_cache.assumptions}["kv_cache_precision"].origin == "request"
    assert bf16_cache.max_batch_size < fp8.max_batch_size


def test_mla_fields_travel_through_model_spec():
    """ListModels' DeepSeek-V3 spec carries its MLA latent; a spec copied from it (no preset)
    sizes the same latent cache; a RoPE key without a latent is refused."""
    from flopwatt.service.api.catalog import list_models

    spec = {m.id: m for m in list_models(estimator_pb2.ListModelsRequest()).models}["deepseek-v3"].spec
    assert (spec.kv_lora_rank, spec.qk_rope_head_dim) == (512, 64)
    explicit = common_pb2.ModelSpec()
    explicit.CopyFrom(spec)
    explicit.preset_id, explicit.parameter_count, explicit.active_parameter_count = "", 0, 0
    request = estimator_pb2.EstimateInferenceRequest(
        model=explicit,
        hardware_id="h200",
        accelerator_count=8,
        precision=common_pb2.PRECISION_FP8,
        kv_cache_precision=common_pb2.PRECISION_BF16,
        input_tokens=1024,
        output_tokens=512,
    )
    assert estimate_inference(request, DEPS).kv_cache_bytes_per_token == 61 * 576 * 2
    bad = common_pb2.ModelSpec(preset_id="llama-3.1-8b", qk_rope_head_dim=64)
    with pytest.raises(InvalidArgument) as error:
        estimate_inference(
            estimator_pb2.EstimateInferenceRequest(
                model=bad, hardware_id="h100-sxm", accelerator_count=1, input_tokens=8, output_tokens=8
            ),
            DEPS,
        )
    assert error.value.violations[0].field == "model.qk_rope_head_dim"


def test_expert_parallel_size_is_an_input_over_the_whole_replica():
    request = estimator_pb2.EstimateInferenceRequest(
        model=common_pb2.ModelSpec(preset_id="deepseek-v3"),
        hardware_id="h200",
        accelerator_count=8,
        precision=common_pb2.PRECISION_FP8,
        input_tokens=1024,
        output_tokens=512,
        expert_parallel_size=8,
    )
    response = estimate_inference(request, DEPS)
    names = {a.name for a in response.assumptions}
    assert {"expert_parallel_layout", "expert_load_imbalance"} <= names
    assert "expert_parallel_communication" in {q.name for q in response.breakdown.step_time}
    for bad in (request_70b(expert_parallel_size=8), request_70b(expert_parallel_size=4)):
        with pytest.raises(InvalidArgument) as error:
            estimate_inference(bad, DEPS)
        assert error.value.violations[0].field == "expert_parallel_size"
