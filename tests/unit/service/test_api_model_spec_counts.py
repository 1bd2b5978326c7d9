"""A ModelSpec's parameter counts beside a preset or an architecture: refused when they would be
silently ignored (a sweep over model.parameter_count of a preset returned one point N times),
accepted when they are the preset's own published counts (a spec copied from ListModels)."""

from __future__ import annotations

import pytest

from flopwatt.estimate.catalog import get_model_preset
from flopwatt.service.api.catalog import model_to_proto
from flopwatt.service.api.convert import model_from_spec
from flopwatt.service.errors import InvalidArgument
from flopwatt.v1 import common_pb2


@pytest.mark.parametrize("preset_id", ["llama-3.1-70b", "mixtral-8x7b", "deepseek-v3"])
def test_list_models_spec_round_trips(preset_id):
    spec = model_to_proto(get_model_preset(preset_id)).spec
    arch, _, _ = model_from_spec(spec, "model")
    assert arch.layer_count == get_model_preset(preset_id).architecture.layer_count


@pytest.mark.parametrize("field", ["parameter_count", "active_parameter_count"])
def test_count_beside_a_preset_is_refused(field):
    spec = common_pb2.ModelSpec(preset_id="llama-3.1-70b", **{field: 7_000_000_000})
    with pytest.raises(InvalidArgument) as caught:
        model_from_spec(spec, "model")
    assert [v.field for v in caught.value.violations] == [f"model.{field}"]


def test_published_count_with_a_changed_architecture_is_refused():
    spec = model_to_proto(get_model_preset("llama-3.1-70b")).spec
    spec.layer_count += 2  # the published count no longer describes this model
    with pytest.raises(InvalidArgument, match="parameter_count"):
        model_from_spec(spec, "model")


def test_count_beside_an_explicit_architecture_is_refused():
    spec = common_pb2.ModelSpec(
        layer_count=32,
        hidden_size=4096,
        attention_head_count=32,
        ffn_hidden_size=11008,
        vocab_size=32000,
        parameter_count=1_000_000_000,
    )
    with pytest.raises(InvalidArgument, match="architecture fields"):
        model_from_spec(spec, "model")


def test_bare_count_still_sizes_a_model():
    arch, active, _ = model_from_spec(common_pb2.ModelSpec(parameter_count=7_000_000_000), "model")
    assert active == 7e9 and arch.layer_count > 0
