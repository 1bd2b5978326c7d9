"""ListHardware / ListModels handlers: conversion and paging."""

from __future__ import annotations

import pytest

from flopwatt.estimate.catalog import list_hardware, list_model_presets
from flopwatt.service.api import catalog as api
from flopwatt.service.errors import InvalidArgument
from flopwatt.v1 import estimator_pb2


def _walk(call, request_type, field: str, page_size: int) -> list[str]:
    ids, token, pages = [], "", 0
    while True:
        response = call(request_type(page_size=page_size, page_token=token))
        ids += [item.id for item in getattr(response, field)]
        token, pages = response.next_page_token, pages + 1
        if not token:
            return ids
        assert pages < 100, "paging does not terminate"


@pytest.mark.parametrize("page_size", [1, 3, 5, 100])
def test_paging_visits_every_hardware_entry_once(page_size):
    assert _walk(api.list_hardware, estimator_pb2.ListHardwareRequest, "hardware", page_size) == [
        s.id for s in list_hardware()
    ]


@pytest.mark.parametrize("page_size", [0, 4])
def test_paging_visits_every_model_once(page_size):
    assert _walk(api.list_models, estimator_pb2.ListModelsRequest, "models", page_size) == [
        p.id for p in list_model_presets()
    ]


def test_page_size_zero_returns_all_without_token():
    response = api.list_hardware(estimator_pb2.ListHardwareRequest())
    assert len(response.hardware) == len(list_hardware()) and response.next_page_token == ""


def _violation_field(error: InvalidArgument) -> str:
    return error.violations[0].field


def test_negative_page_size_is_invalid():
    with pytest.raises(InvalidArgument) as raised:
        api.list_models(estimator_pb2.ListModelsRequest(page_size=-1))
    assert _violation_field(raised.value) == "page_size"


@pytest.mark.parametrize(
    "token",
    [
        "not base64!",
        "Zm9v",
        api.encode_page_token("hardware", 3),
        api.encode_page_token("models", 10_000),
        "\u00e9t\u00e9",
    ],
)
def test_foreign_or_bad_token_is_invalid(token):
    with pytest.raises(InvalidArgument) as raised:
        api.list_models(estimator_pb2.ListModelsRequest(page_size=2, page_token=token))
    assert _violation_field(raised.value) == "page_token"


def test_hardware_conversion():
    h100 = next(h for h in api.list_hardware(estimator_pb2.ListHardwareRequest()).hardware if h.id == "h100-sxm")
    assert h100.peak_flops_per_second["bf16"] == 989.4e12
    assert h100.memory_bytes == 80 * 2**30 and h100.accelerators_per_node == 8
    assert h100.sources and all(s.url and s.date and s.covers for s in h100.sources)


def test_model_conversion_sets_presence_of_booleans():
    models = {m.id: m for m in api.list_models(estimator_pb2.ListModelsRequest()).models}
    gpt3, mixtral, deepseek = models["gpt-3-175b"], models["mixtral-8x7b"], models["deepseek-v3"]
    assert gpt3.spec.HasField("gated_mlp") and not gpt3.spec.gated_mlp and gpt3.spec.tied_embeddings
    assert mixtral.spec.expert_count == 8 and mixtral.spec.experts_per_token == 2
    assert mixtral.spec.active_parameter_count < mixtral.spec.parameter_count
    assert deepseek.spec.dense_layer_count == 3 and deepseek.spec.shared_expert_count == 1
    assert deepseek.spec.max_routed_nodes_per_token == 4 and mixtral.spec.max_routed_nodes_per_token == 0
    assert models["llama-2-7b"].spec.head_dim == 128  # derived width is filled in for clients
