"""Serving engines as inputs (issue 12 item 4): the catalog's documented defaults and each knob's
effect on the serving model. Each physics test fails when the engine's behaviour is ignored."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from flopwatt.estimate import continuous
from flopwatt.estimate.catalog import CatalogError, engine_ids, get_engine, get_model_preset, list_engines
from flopwatt.estimate.catalog.loader import _read_data_file, parse_engines_document
from flopwatt.estimate.inference import serving_metrics
from flopwatt.estimate.model_choice import ModelChoice
from flopwatt.estimate.scenario_errors import ScenarioError
from flopwatt.estimate.scenarios import InferenceWorkload, build_inference_scenario


def workload(engine="", precision="fp8", kv=None, prompt=1000, output=200, concurrency=512, count=2):
    return InferenceWorkload(
        model=ModelChoice(preset_id="llama-3.1-70b"),
        hardware_id="h100-sxm",
        accelerator_count=count,
        input_tokens=prompt,
        output_tokens=output,
        precision=precision,
        precision_set=True,
        kv_cache_precision=kv,
        concurrency=concurrency,
        engine=engine,
    )


def scenario(**kwargs):
    return build_inference_scenario(workload(**kwargs))[0]


def test_the_catalog_has_the_three_engines_with_vllm_the_default():
    assert engine_ids() == ("sglang", "tensorrt-llm", "vllm")
    defaults = [engine.id for engine in list_engines() if engine.is_default]
    assert defaults == ["vllm"] and get_engine("").id == "vllm" and get_engine("").default_basis
    assert {e.id: e.kv_block_tokens for e in list_engines()} == {"vllm": 16, "sglang": 1, "tensorrt-llm": 32}
    for engine in list_engines():
        assert all(p.origin in ("documented-default", "unfitted-assumption") for p in engine.parameters)


def test_the_loader_refuses_a_fitted_origin_and_an_unknown_default():
    document = _read_data_file("engines.json")
    broken = json.loads(json.dumps(document))
    broken["engines"][0]["parameters"]["kv_block_tokens"]["origin"] = "fitted"
    with pytest.raises(CatalogError, match="kv_block_tokens.origin"):
        parse_engines_document(broken)
    broken = json.loads(json.dumps(document))
    broken["default_engine"] = "tgi"
    with pytest.raises(CatalogError, match="default_engine"):
        parse_engines_document(broken)


def test_an_unknown_engine_names_the_field_and_the_accepted_ids():
    with pytest.raises(ScenarioError) as error:
        scenario(engine="tgi")
    assert error.value.problems[0].field == "engine"
    assert "sglang, tensorrt-llm, vllm" in error.value.problems[0].description


def test_unspecified_kv_precision_follows_the_engine():
    assert scenario(engine="vllm").resolved_kv_cache_precision == "fp8"  # the FP8 checkpoint's KV quantisation
    assert scenario(engine="tensorrt-llm").resolved_kv_cache_precision == "fp8"
    assert scenario(engine="sglang").resolved_kv_cache_precision == "bf16"  # 'auto' = the model dtype
    assert scenario(engine="sglang", kv="fp8").resolved_kv_cache_precision == "fp8"  # a request wins
    _, assumptions = build_inference_scenario(workload(engine="sglang"))
    kv = next(a for a in assumptions if a.name == "kv_cache_precision")
    assert kv.value == "bf16" and "sglang default" in kv.source


def test_a_coarser_block_fits_fewer_sequences():
    s = scenario(prompt=200, output=40, count=4)
    base = continuous.ContinuousBatching.for_scenario(s)
    b16 = continuous.kv_bound(s, dataclasses.replace(base, block_tokens=16))
    b64 = continuous.kv_bound(s, dataclasses.replace(base, block_tokens=64))
    # Expected waste (b − 1)/2 tokens per sequence: 31.5 vs 7.5 tokens on a 220-token mean context.
    assert b64 < b16 * (220 + 7.5) / (220 + 31.5) * 1.001
    assert base.sequence_tokens(200, 40) == 220 + 7.5


def test_reserving_blocks_to_completion_bounds_the_batch_by_the_final_context():
    s = scenario(engine="tensorrt-llm", prompt=1000, output=1000)
    engine = continuous.ContinuousBatching.for_scenario(s)
    assert engine.full_sequence_reservation and engine.sequence_tokens(1000, 1000) == 2000 + 15.5
    on_demand = dataclasses.replace(engine, full_sequence_reservation=False)
    assert continuous.kv_bound(s, engine) < continuous.kv_bound(s, on_demand)


def test_the_engines_token_budget_sets_the_prefill_chunk():
    vllm = scenario(engine="vllm", prompt=20000, output=200, concurrency=1)
    curve = continuous.load_curve(vllm)
    assert curve.chunk_tokens[0] == 8192 - 1  # max_num_batched_tokens less the decode token
    trt = scenario(engine="tensorrt-llm", prompt=20000, output=200, concurrency=1)
    whole = continuous.load_curve(trt)
    assert whole.chunk_tokens[0] == 20000  # chunked prefill off: the prompt in one step
    assert whole.ttft[0] < curve.ttft[0]  # one step instead of three, each with a decode step


def test_sglangs_budget_and_graph_size_follow_the_accelerator_and_tp():
    s = scenario(engine="sglang", count=2)
    assert continuous.ContinuousBatching.for_scenario(s).cuda_graph_max_batch == 256
    s4 = scenario(engine="sglang", count=4)
    assert continuous.ContinuousBatching.for_scenario(s4).cuda_graph_max_batch == 512
    assert continuous.ContinuousBatching.for_scenario(s4).sequence_cap == continuous.UNCAPPED_SEQUENCES


def test_decode_beyond_the_captured_batch_pays_a_launch_per_kernel():
    s = scenario()
    arch = get_model_preset("llama-3.1-70b").architecture
    batches = np.array([64.0, 256.0])

    def launches(graph_max):
        m = serving_metrics(
            arch,
            s.hardware,
            2,
            batches,
            1000,
            200,
            s.facility,
            kv_bytes_per_element=1.0,
            cuda_graph_max_batch=graph_max,
        )
        return np.asarray(m.decode_breakdown["kernel_launch"]), np.asarray(m.time_per_output_token_seconds)

    all_graphed, tpot_graphed = launches(0)
    capped, tpot_capped = launches(128)
    assert capped[0] == all_graphed[0]  # batch 64 is captured
    ratio = s.hardware.launch_overhead_seconds / s.hardware.graph_launch_overhead_seconds
    assert capped[1] == pytest.approx(all_graphed[1] * ratio)  # batch 256 launches each kernel
    assert tpot_capped[1] > tpot_graphed[1]
    # TensorRT-LLM captures up to 128: its engine carries that into the serving model.
    assert continuous.ContinuousBatching.for_scenario(scenario(engine="tensorrt-llm")).cuda_graph_max_batch == 128
