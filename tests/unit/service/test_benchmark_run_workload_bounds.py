"""CreateBenchmarkRun's workload.model meets the ModelSpec bounds every estimate applies
(request_bounds.MODEL_SPEC_MAXIMA): INVALID_ARGUMENT naming `workload.model.<field>` before
anything is queued. Checked in-process on the request validation (`runs.workload_json`): no
run is created, nothing is measured."""

from __future__ import annotations

import pytest

from flopwatt.service.api.runs import workload_json
from flopwatt.service.errors import InvalidArgument
from flopwatt.v1 import benchmark_pb2, common_pb2


def _request(**model) -> benchmark_pb2.CreateBenchmarkRunRequest:
    return benchmark_pb2.CreateBenchmarkRunRequest(
        suite="workload",
        device="cpu",
        workload=benchmark_pb2.BenchmarkWorkload(model=common_pb2.ModelSpec(**model), sequence_length=128),
    )


@pytest.mark.parametrize(
    ("model", "field", "words"),
    [
        ({"parameter_count": 2**62}, "workload.model.parameter_count", "at most"),
        ({"parameter_count": 10**15 + 1}, "workload.model.parameter_count", "at most"),
        ({"parameter_count": -5}, "workload.model.parameter_count", "must not be negative"),
        ({"preset_id": "llama-3.1-8b", "layer_count": 20_000}, "workload.model.layer_count", "at most"),
        ({"preset_id": "llama-3.1-8b", "ffn_hidden_size": 2_000_000}, "workload.model.ffn_hidden_size", "at most"),
    ],
)
def test_a_workload_model_past_the_model_spec_bounds_is_refused_naming_the_field(model, field, words):
    with pytest.raises(InvalidArgument) as raised:
        workload_json(_request(**model))
    assert [(v.field, words in v.description) for v in raised.value.violations] == [(field, True)]


def test_a_workload_model_within_the_bounds_is_still_accepted():
    assert '"model_id": "llama-3.1-8b"' in workload_json(_request(preset_id="llama-3.1-8b"))
    assert workload_json(_request(parameter_count=10**9))
