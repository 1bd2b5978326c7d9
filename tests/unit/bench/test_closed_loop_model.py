"""The closed loop's model (bench/closed_loop_model.py): field validation naming the field,
grouped-query attention built and run on the CPU through the real code path, the presets, and
the memory count that fits the micro-batch on CUDA checked against what autograd really keeps."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from flopwatt.bench.closed_loop import measure_decode, measure_training, profile_decode
from flopwatt.bench.closed_loop_model import (
    PRESETS,
    ClosedLoopModel,
    activation_bytes_per_token,
    build_model,
    fit_micro_batch,
    parameter_count,
)

TINY_GQA = ClosedLoopModel(
    layer_count=2,
    hidden_size=64,
    attention_head_count=8,
    kv_head_count=2,
    ffn_hidden_size=128,
    vocab_size=256,
    sequence_length=32,
    micro_batch_size=2,
    warmup_steps=1,
    timed_steps=2,
    decode_batch=2,
    decode_context=16,
    decode_tokens=3,
)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kv_head_count": 3}, "kv_head_count"),
        ({"kv_head_count": -1}, "kv_head_count"),
        ({"hidden_size": 65}, "hidden_size"),
        ({"dtype": "fp16"}, "dtype"),
        ({"micro_batch_size": 0}, "micro_batch_size"),
        ({"decode_context": 0}, "decode_context"),
        ({"timed_steps": 0}, "timed_steps"),
        ({"warmup_steps": -1}, "warmup_steps"),
        ({"ddp_world_size": 1}, "ddp_world_size"),
        ({"layer_count": 2.5}, "layer_count"),
    ],
)
def test_a_bad_field_is_named_in_the_error(changes, field):
    with pytest.raises(ValueError, match=rf"^{field}: "):
        dataclasses.replace(TINY_GQA, **changes)


def test_gqa_projections_and_kv_cache_have_the_kv_heads_shape():
    model = build_model(TINY_GQA)
    d = TINY_GQA.hidden_size // TINY_GQA.attention_head_count
    assert model.blocks[0].qkv.weight.shape == ((8 + 2 * 2) * d, 64)  # q: 8 heads, k and v: 2 each
    assert sum(p.numel() for p in model.parameters()) == parameter_count(TINY_GQA)
    mha = dataclasses.replace(TINY_GQA, kv_head_count=0)
    assert parameter_count(TINY_GQA) < parameter_count(mha)
    assert build_model(mha).blocks[0].qkv.weight.shape == (3 * 64, 64)


def test_gqa_equals_mha_with_each_kv_head_repeated():
    """The grouped-query forward through SDPA's enable_gqa is multi-head attention whose key and
    value heads are each shared by heads / kv heads query heads: copy the GQA weights into an MHA
    model with the k/v rows repeated and the logits agree."""
    gqa = build_model(TINY_GQA)
    mha_config = dataclasses.replace(TINY_GQA, kv_head_count=0)
    mha = build_model(mha_config)
    d, heads, kv = 8, 8, 2
    with torch.no_grad():
        for source, target in zip(gqa.modules(), mha.modules()):
            for name, parameter in source.named_parameters(recurse=False):
                if name == "weight" and parameter.shape[0] == (heads + 2 * kv) * d:  # qkv
                    q, k, v = parameter.split((heads * d, kv * d, kv * d))
                    repeat = [
                        t.view(kv, d, -1).repeat_interleave(heads // kv, dim=0).reshape(heads * d, -1) for t in (k, v)
                    ]
                    getattr(target, name).copy_(torch.cat([q, *repeat]))
                else:
                    getattr(target, name).copy_(parameter)
    tokens = torch.randint(0, 256, (2, 32), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(gqa(tokens), mha(tokens), rtol=1e-4, atol=1e-4)


def test_gqa_training_and_decode_run_through_the_measurement_code_on_the_cpu():
    training = measure_training(TINY_GQA)
    assert training["parameters"] == parameter_count(TINY_GQA) and len(training["samples_seconds"]) == 2
    decode = measure_decode(TINY_GQA)
    assert decode["batch"] == 2 and decode["context_end"] - decode["context_start"] == 3
    assert len(decode["samples_seconds"]) == 3 and decode["median_seconds"] > 0
    profiled = profile_decode(TINY_GQA)
    assert profiled["seconds"]["gemm"] > 0 and profiled["seconds"]["attention"] > 0


def test_the_activation_count_matches_what_autograd_saves():
    """`activation_bytes_per_token` counts the forward's saved tensors from the code; autograd's
    saved-tensor hooks see the real ones (distinct storages, parameters excluded). The count
    leaves out the per-token statistics and a few tensors the CPU kernels keep besides: within
    15 %, which the fit's 85 % share of device memory absorbs."""
    for config in (TINY_GQA, dataclasses.replace(TINY_GQA, kv_head_count=0)):
        model = build_model(config)
        parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
        saved: dict[int, int] = {}

        def pack(tensor):
            storage = tensor.untyped_storage()
            if storage.data_ptr() not in parameters:
                saved[storage.data_ptr()] = storage.nbytes()
            return tensor

        tokens = torch.randint(0, config.vocab_size, (config.micro_batch_size, config.sequence_length))
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            model(tokens)
        counted = activation_bytes_per_token(config) * tokens.numel()
        assert counted == pytest.approx(sum(saved.values()), rel=0.15)


def test_the_1b_class_preset_is_llama_3_2_1b_shaped_and_fits_an_80_gb_card_at_micro_batch_4():
    preset = PRESETS["llama-3.2-1b-class"]
    shape = (preset.layer_count, preset.hidden_size, preset.attention_head_count, preset.key_value_heads)
    assert shape == (16, 2048, 32, 8) and (preset.ffn_hidden_size, preset.vocab_size) == (8192, 128256)
    assert preset.sequence_length == 2048 and preset.dtype == "bf16"
    assert parameter_count(preset) == pytest.approx(1.50e9, rel=0.01)  # untied head: 1.24 B + 263 M
    assert fit_micro_batch(preset, 80 * 2**30).micro_batch_size == 4
    assert fit_micro_batch(preset, 40 * 2**30).micro_batch_size == 2
    assert fit_micro_batch(preset, 24 * 2**30).micro_batch_size == 1
    with pytest.raises(ValueError, match="^micro_batch_size: even 1 sequence"):
        fit_micro_batch(preset, 16 * 2**30)
