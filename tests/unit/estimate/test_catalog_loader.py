"""The loader refuses malformed catalog data with the file, entry and field named."""

from __future__ import annotations

import copy
import json
import math
from importlib import resources

import pytest

from flopwatt.estimate.catalog import (
    CatalogError,
    CatalogLookupError,
    get_hardware,
    get_model_preset,
    list_hardware,
    list_model_presets,
    loader,
)


def _document(name: str) -> dict:
    return json.loads(resources.files("flopwatt.estimate.catalog").joinpath("data", name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def hardware_document() -> dict:
    return _document(loader.HARDWARE_FILE)


@pytest.fixture(scope="module")
def models_document() -> dict:
    return _document(loader.MODELS_FILE)


def _entry(document: dict, list_key: str, entry_id: str) -> dict:
    return next(entry for entry in document[list_key] if entry["id"] == entry_id)


def test_shipped_files_parse(hardware_document, models_document):
    assert len(loader.parse_hardware_document(hardware_document)) == len(hardware_document["hardware"])
    assert len(loader.parse_models_document(models_document)) == len(models_document["models"])


def _break_h100(document: dict, mutate) -> dict:
    broken = copy.deepcopy(document)
    mutate(_entry(broken, "hardware", "h100-sxm"))
    return broken


HARDWARE_BREAKAGES = [
    ("missing field", lambda e: e.pop("tdp_watts"), "tdp_watts"),
    (
        "negative bandwidth",
        lambda e: e.update(memory_bandwidth_bytes_per_second=-3.35e12),
        "memory_bandwidth_bytes_per_second",
    ),
    ("zero watts", lambda e: e.update(tdp_watts=0), "tdp_watts"),
    ("NaN peak", lambda e: e["peak_flops_per_second"].update(bf16=math.nan), "peak_flops_per_second.bf16"),
    ("infinite peak", lambda e: e["peak_flops_per_second"].update(fp8=math.inf), "peak_flops_per_second.fp8"),
    ("string number", lambda e: e.update(memory_bytes="80GB"), "memory_bytes"),
    ("fractional count", lambda e: e.update(accelerators_per_node=7.5), "accelerators_per_node"),
    ("boolean number", lambda e: e.update(tdp_watts=True), "tdp_watts"),
    ("unknown precision", lambda e: e["peak_flops_per_second"].update(int8=1.9e15), "peak_flops_per_second.int8"),
    ("unknown key", lambda e: e.update(tdp_wats=700), "tdp_wats"),
    ("upper-case id", lambda e: e.update(id="H100-SXM"), "id"),
    ("no sources", lambda e: e.update(sources=[]), "sources"),
    ("source without url", lambda e: e["sources"][0].pop("url"), "sources[0].url"),
    ("source with bad date", lambda e: e["sources"][0].update(date="March 2022"), "sources[0].date"),
    ("bad release date", lambda e: e.update(release_date="2022"), "release_date"),
    ("unsupported unpublished field", lambda e: e.update(unpublished=["memory_bytes"]), "unpublished"),
    ("unpublished field with a value", lambda e: e.update(unpublished=["tdp_watts"]), "tdp_watts"),
]


@pytest.mark.parametrize("label, mutate, field", HARDWARE_BREAKAGES, ids=[case[0] for case in HARDWARE_BREAKAGES])
def test_broken_hardware_names_file_entry_and_field(hardware_document, label, mutate, field):
    with pytest.raises(CatalogError) as raised:
        loader.parse_hardware_document(_break_h100(hardware_document, mutate))
    assert raised.value.file == loader.HARDWARE_FILE
    assert raised.value.field == field
    assert loader.HARDWARE_FILE in str(raised.value) and field in str(raised.value)


def test_uncovered_number_is_refused(hardware_document):
    def drop_release_source(entry):
        entry["sources"] = [s for s in entry["sources"] if "release_date" not in s["covers"]]

    with pytest.raises(CatalogError) as raised:
        loader.parse_hardware_document(_break_h100(hardware_document, drop_release_source))
    assert (raised.value.entry, raised.value.field) == ("h100-sxm", "release_date")


def test_a_precision_can_be_covered_on_its_own(hardware_document):
    def split_cover(entry):
        entry["sources"][0]["covers"] = (
            "peak_flops_per_second.fp32, peak_flops_per_second.tf32, peak_flops_per_second.bf16, peak_flops_per_second.fp16"
        )

    with pytest.raises(CatalogError) as raised:
        loader.parse_hardware_document(_break_h100(hardware_document, split_cover))
    assert raised.value.field == "peak_flops_per_second.fp8"


def test_duplicate_id_is_refused(hardware_document):
    broken = copy.deepcopy(hardware_document)
    broken["hardware"].append(copy.deepcopy(broken["hardware"][0]))
    with pytest.raises(CatalogError, match="duplicate id"):
        loader.parse_hardware_document(broken)


def test_wrong_schema_version_is_refused(hardware_document):
    broken = dict(hardware_document, schema_version=2)
    with pytest.raises(CatalogError) as raised:
        loader.parse_hardware_document(broken)
    assert raised.value.field == "schema_version"


def test_reserved_cpu_id_in_data_file_is_refused(hardware_document, monkeypatch):
    broken = copy.deepcopy(hardware_document)
    _entry(broken, "hardware", "v100")["id"] = "cpu"
    monkeypatch.setattr(loader, "_read_data_file", lambda name: broken)
    loader._hardware_by_id.cache_clear()
    try:
        with pytest.raises(CatalogError, match="reserved"):
            loader.list_hardware()
    finally:
        monkeypatch.undo()
        loader._hardware_by_id.cache_clear()


MODEL_BREAKAGES = [
    ("missing architecture field", lambda e: e["architecture"].pop("vocab_size"), "architecture.vocab_size"),
    ("zero layers", lambda e: e["architecture"].update(layer_count=0), "architecture.layer_count"),
    ("kv heads not dividing", lambda e: e["architecture"].update(kv_head_count=7), "architecture.kv_head_count"),
    ("bool as string", lambda e: e["architecture"].update(gated_mlp="yes"), "architecture.gated_mlp"),
    ("unknown architecture field", lambda e: e["architecture"].update(rope_theta=500000), "architecture.rope_theta"),
    (
        "active above total",
        lambda e: e.update(active_parameter_count=e["parameter_count"] + 1),
        "active_parameter_count",
    ),
    ("negative count", lambda e: e.update(parameter_count=-1), "parameter_count"),
]


@pytest.mark.parametrize("label, mutate, field", MODEL_BREAKAGES, ids=[case[0] for case in MODEL_BREAKAGES])
def test_broken_model_names_file_entry_and_field(models_document, label, mutate, field):
    broken = copy.deepcopy(models_document)
    mutate(_entry(broken, "models", "llama-3.1-70b"))
    with pytest.raises(CatalogError) as raised:
        loader.parse_models_document(broken)
    assert (raised.value.file, raised.value.entry, raised.value.field) == (loader.MODELS_FILE, "llama-3.1-70b", field)


def test_dense_model_must_have_equal_active_count(models_document):
    broken = copy.deepcopy(models_document)
    entry = _entry(broken, "models", "llama-2-7b")
    entry["active_parameter_count"] = entry["parameter_count"] // 2
    with pytest.raises(CatalogError, match="dense model"):
        loader.parse_models_document(broken)


def test_invalid_json_names_the_file(monkeypatch):
    class _Broken:
        def joinpath(self, *parts):
            return self

        def read_text(self, encoding):
            return '{"schema_version": 1, "hardware": [}'

    monkeypatch.setattr(loader.resources, "files", lambda package: _Broken())
    with pytest.raises(CatalogError, match="hardware.json.*invalid JSON"):
        loader._read_data_file(loader.HARDWARE_FILE)


def test_lookups_and_not_found():
    assert get_hardware("h100-sxm").name.startswith("NVIDIA H100")
    assert get_model_preset("llama-3.1-405b").architecture.layer_count == 126
    with pytest.raises(CatalogLookupError) as hardware_missing:
        get_hardware("h100-sxm5")
    assert (hardware_missing.value.resource_type, hardware_missing.value.name) == ("hardware", "h100-sxm5")
    with pytest.raises(CatalogLookupError) as model_missing:
        get_model_preset("gpt-5")
    assert model_missing.value.resource_type == "model preset"


def test_loaded_once():
    assert list_hardware() is not None and loader._hardware_by_id() is loader._hardware_by_id()
    assert list_model_presets()[0] is list_model_presets()[0]


def test_peaks_are_read_only():
    with pytest.raises(TypeError):
        get_hardware("a100-80gb").peak_flops_per_second["bf16"] = 1.0  # type: ignore[index]
