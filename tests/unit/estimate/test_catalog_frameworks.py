"""The software-stack catalog (issue 11): `framework` names a stack with documented behaviour, each
step option says where it comes from and none is fitted; ListFrameworks and the CLI list them."""

from __future__ import annotations

import copy
import json
from dataclasses import fields
from pathlib import Path

import pytest

from flopwatt.estimate import constants as C
from flopwatt.estimate.catalog import CatalogError, CatalogLookupError, framework_names, get_framework, list_frameworks
from flopwatt.estimate.catalog.entries import PARAMETER_ORIGINS
from flopwatt.estimate.catalog.loader import (
    FRAMEWORK_BEHAVIOUR_KEYS,
    FRAMEWORK_STEP_OPTION_TYPES,
    FRAMEWORKS_FILE,
    _read_data_file,
    parse_frameworks_document,
)
from flopwatt.estimate.step_time import FRAMEWORK_STEP_OPTIONS, StepOptions, framework_spec, framework_step_options
from flopwatt.service.api import catalog as api
from flopwatt.service.errors import InvalidArgument
from flopwatt.v1 import common_pb2, estimator_pb2

BINDING_IDS = ("megatron-core", "pytorch-fsdp", "deepspeed", "jax", "megatron-lm-2022", "megatron-deepspeed")
# Stacks added beyond the issue's binding ids (a published run's own framework).
ADDED_IDS = ("hai-llm",)
REPO = Path(__file__).resolve().parents[3]


def test_binding_ids_and_aliases():
    assert tuple(spec.id for spec in list_frameworks()) == BINDING_IDS + ADDED_IDS
    assert set(framework_names()) == set(BINDING_IDS + ADDED_IDS) | {"megatron-lm", "generic", "deepseek"}
    assert get_framework("generic").id == get_framework("megatron-lm").id == "megatron-core"
    assert framework_spec("").id == "megatron-core"  # an empty request means generic = megatron-core
    with pytest.raises(CatalogLookupError):
        get_framework("caffe")


def test_covers_name_the_systems_of_the_issue():
    covers = {spec.id: set(spec.covers) for spec in list_frameworks()}
    assert {"Megatron-LM", "NeMo", "Megatron-Bridge"} <= covers["megatron-core"]
    assert {"torchtitan", "llm-foundry", "Hugging Face Accelerate"} <= covers["pytorch-fsdp"]
    assert {"MaxText", "Pax", "Levanter"} <= covers["jax"]


def test_step_option_names_are_the_step_options_fields():
    """The loader cannot import step_time (which imports the catalog): the names it validates are
    held equal to StepOptions' here, so a new StepOptions field must be documented per stack
    (or be set per hardware generation by stack_realisation: fitted or cited, never in frameworks.json)."""
    from flopwatt.estimate.stack_realisation import PER_GENERATION_STEP_OPTIONS

    assert set(FRAMEWORK_STEP_OPTION_TYPES) == {f.name for f in fields(StepOptions)} - PER_GENERATION_STEP_OPTIONS
    for spec in list_frameworks():
        assert {option.name for option in spec.step_options} == set(FRAMEWORK_STEP_OPTION_TYPES)


def test_existing_stacks_keep_their_behaviour():
    """The validation tables rely on these: `flopwatt validate` output must not change."""
    default = StepOptions(flash_attention=True, data_parallel_overlap_fraction=C.DEFAULT_DATA_PARALLEL_OVERLAP_FRACTION)
    assert (
        framework_step_options("")
        == framework_step_options("generic")
        == framework_step_options("megatron-lm")
        == default
    )
    legacy = StepOptions(flash_attention=False, data_parallel_overlap_fraction=0.0)
    assert framework_step_options("megatron-lm-2022") == framework_step_options("megatron-deepspeed") == legacy


def test_hai_llm_declares_deepseek_v3s_documented_moe_behaviour():
    """DeepSeek-V3 §3.2: per-node dispatch (IB then NVLink), FP8 dispatch, DualPipe hiding the
    all-to-all, 20 of 132 SMs for communication; every other stack keeps the per-expert copy,
    unoverlapped, on all compute units (Megatron-Core's documented alltoall default)."""
    hai = framework_step_options("deepseek")
    assert hai.expert_dispatch_per_node and hai.expert_dispatch_fp8
    assert hai.expert_parallel_overlap_fraction == 1.0
    assert hai.compute_share_beside_communication == pytest.approx(112 / 132)
    spec = get_framework("hai-llm")
    for name in ("expert_dispatch_per_node", "expert_dispatch_fp8", "expert_parallel_overlap_fraction"):
        assert spec.option(name).origin == "documented-default"
    for stack in BINDING_IDS:
        options = framework_step_options(stack)
        assert not options.expert_dispatch_per_node and not options.expert_dispatch_fp8, stack
        assert options.expert_parallel_overlap_fraction == 0.0 and options.compute_share_beside_communication == 1.0
    assert get_framework("megatron-core").option("expert_dispatch_per_node").origin == "documented-default"


def test_new_stacks_use_documented_defaults_or_the_unfitted_default():
    assert (
        framework_step_options("pytorch-fsdp")
        == framework_step_options("jax")
        == framework_step_options("megatron-core")
    )
    deepspeed = get_framework("deepspeed")
    assert deepspeed.option("data_parallel_overlap_fraction").value == 0.0  # overlap_comm defaults to stage == 3
    assert deepspeed.option("data_parallel_overlap_fraction").origin == "documented-default"
    assert framework_step_options("deepspeed").flash_attention
    for spec in list_frameworks():
        for option in spec.step_options:
            assert option.origin in PARAMETER_ORIGINS and option.basis
            if option.name == "data_parallel_overlap_fraction" and option.origin == "unfitted-assumption":
                assert option.value == C.DEFAULT_DATA_PARALLEL_OVERLAP_FRACTION


def test_every_stack_documents_its_behaviour_with_sources():
    for spec in list_frameworks():
        assert set(spec.behaviour) == set(FRAMEWORK_BEHAVIOUR_KEYS)
        assert spec.sources and all(source.url and source.date for source in spec.sources)


# Held-out test data of the project (reserved): citing a framework's documentation of its features
# is fine, citing these results is not.
RESERVED_SOURCE_MARKERS = (
    "torchtitan/blob/main/docs/performance",
    "benchmarks/",
    "dgxc-benchmarking",
    "tpu-recipes",
    "perf-overview",
    "performance-overview",
    "build.nvidia.com",
    "docs.nvidia.com/nim",
    "lambdalabs",
    "lambda.ai",
)


def test_no_source_is_reserved_benchmark_data():
    for spec in list_frameworks():
        for source in spec.sources:
            assert not any(marker in source.url.lower() for marker in RESERVED_SOURCE_MARKERS), (spec.id, source.url)


def _document():
    return copy.deepcopy(_read_data_file(FRAMEWORKS_FILE))


def _entry(document, framework_id):
    return next(entry for entry in document["frameworks"] if entry["id"] == framework_id)


def test_loader_refuses_a_fitted_parameter():
    document = _document()
    _entry(document, "jax")["step_options"]["data_parallel_overlap_fraction"]["origin"] = "fitted"
    with pytest.raises(CatalogError) as caught:
        parse_frameworks_document(document)
    assert caught.value.entry == "jax" and caught.value.field == "step_options.data_parallel_overlap_fraction.origin"


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (
            lambda e: e["step_options"]["data_parallel_overlap_fraction"].update(value=1.5),
            "step_options.data_parallel_overlap_fraction.value",
        ),
        (lambda e: e["step_options"]["flash_attention"].update(value=1), "step_options.flash_attention.value"),
        (lambda e: e["behaviour"].pop("pipeline_parallel"), "behaviour"),
        (lambda e: e["step_options"].pop("flash_attention"), "step_options"),
        (lambda e: e.update(aliases=["megatron-lm"]), "aliases"),  # already megatron-core's
        (lambda e: e.update(aliases=["deepspeed"]), "aliases"),  # the entry's own id
        (
            lambda e: [
                s.update(covers=s["covers"].replace(", step_options.flash_attention", "")) for s in e["sources"]
            ],
            "step_options.flash_attention",
        ),
        (lambda e: e.update(tuned=True), "tuned"),
    ],
)
def test_loader_refuses_malformed_stacks(edit, field):
    document = _document()
    edit(_entry(document, "deepspeed"))
    with pytest.raises(CatalogError) as caught:
        parse_frameworks_document(document)
    assert caught.value.entry == "deepspeed" and caught.value.field == field


def test_framework_step_options_table_covers_every_name():
    assert set(FRAMEWORK_STEP_OPTIONS) == set(framework_names())


# --- ListFrameworks ------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [0, 1, 4, 100])
def test_list_frameworks_pages_every_stack_once(page_size):
    ids, token = [], ""
    for _ in range(20):
        response = api.list_frameworks(estimator_pb2.ListFrameworksRequest(page_size=page_size, page_token=token))
        ids += [stack.id for stack in response.frameworks]
        token = response.next_page_token
        if not token:
            break
    assert ids == list(BINDING_IDS + ADDED_IDS)


def test_list_frameworks_converts_every_field():
    response = api.list_frameworks(estimator_pb2.ListFrameworksRequest())
    core = next(stack for stack in response.frameworks if stack.id == "megatron-core")
    assert list(core.aliases) == ["megatron-lm", "generic"]
    assert core.name and core.description and "NeMo" in core.covers and core.sources
    assert set(core.behaviour) == set(FRAMEWORK_BEHAVIOUR_KEYS)
    parameters = {p.name: p for p in core.parameters}
    assert parameters["flash_attention"].value == 1.0
    assert parameters["data_parallel_overlap_fraction"].value == pytest.approx(C.DEFAULT_DATA_PARALLEL_OVERLAP_FRACTION)
    assert parameters["data_parallel_overlap_fraction"].origin == "unfitted-assumption"


@pytest.mark.parametrize(
    ("request_kwargs", "field"),
    [
        ({"page_size": -1}, "page_size"),
        ({"page_token": "not-a-token"}, "page_token"),
        ({"page_token": api.encode_page_token(api.HARDWARE_COLLECTION, 1)}, "page_token"),  # another list's token
        ({"page_token": "x" * 65}, "page_token"),
    ],
)
def test_list_frameworks_refuses_bad_paging(request_kwargs, field):
    with pytest.raises(InvalidArgument) as caught:
        api.list_frameworks(estimator_pb2.ListFrameworksRequest(**request_kwargs))
    assert caught.value.violations[0].field == field


def test_estimator_service_serves_list_frameworks():
    import asyncio

    from flopwatt.service.api.deps import ApiDependencies
    from flopwatt.service.api.estimator_servicer import EstimatorServicer

    servicer = EstimatorServicer(ApiDependencies(), metrics=None)
    response = asyncio.run(servicer.ListFrameworks(estimator_pb2.ListFrameworksRequest(page_size=2), context=None))
    assert [stack.id for stack in response.frameworks] == list(BINDING_IDS[:2]) and response.next_page_token


# --- the framework input of a training estimate ---------------------------------------------------


def _request(framework: str) -> estimator_pb2.EstimateTrainingRequest:
    return estimator_pb2.EstimateTrainingRequest(
        model=common_pb2.ModelSpec(preset_id="llama-3.1-8b"),
        training_tokens=1_000_000_000_000,
        sequence_length=8192,
        hardware_id="h100-sxm",
        accelerator_count=256,
        framework=framework,
        parallelism=common_pb2.Parallelism(
            tensor_parallel_size=1,
            pipeline_parallel_size=1,
            data_parallel_size=256,
            micro_batch_size=1,
            global_batch_size=512,
        ),
    )


def test_every_stack_name_estimates_and_is_reported():
    from flopwatt.service.api.deps import ApiDependencies
    from flopwatt.service.api.training import estimate_training

    steps = {}
    for name in framework_names():
        response = estimate_training(_request(name), ApiDependencies())
        framework = {a.name: a for a in response.assumptions}["framework"]
        assert framework.value == name and get_framework(name).id in framework.source
        steps[name] = response.step_duration.ToTimedelta()
        realisation = {a.name: a for a in response.assumptions}["compute_realisation"]
        assert 0.2 <= float(realisation.value) <= 1.6 and "stack_calibration.json" in realisation.source
    assert steps["megatron-lm"] == steps["generic"] == steps["megatron-core"]  # aliases of one stack
    # FSDP stacks realise less of the hardware than Megatron-Core (fitted on llm-foundry and the
    # PyTorch FSDP blog against the Llama 3 paper / Megatron-Bridge / MLPerf rows)
    assert steps["pytorch-fsdp"] > steps["megatron-core"]


def test_unknown_framework_is_invalid_argument_naming_the_field():
    from flopwatt.service.api.deps import ApiDependencies
    from flopwatt.service.api.training import estimate_training

    with pytest.raises(InvalidArgument) as caught:
        estimate_training(_request("tensorflow-mesh"), ApiDependencies())
    assert caught.value.violations[0].field == "framework"
    assert "pytorch-fsdp" in caught.value.violations[0].description


# --- CLI and docs ----------------------------------------------------------------------------------


def test_cli_lists_frameworks(capsys):
    from flopwatt.service.cli import main

    assert main(["estimate", "frameworks"]) == 0
    text = capsys.readouterr().out
    for spec in list_frameworks():
        assert f"{spec.id}" in text
    assert "unfitted-assumption" in text and "documented-default" in text
    assert main(["estimate", "frameworks", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [stack["id"] for stack in listed["frameworks"]] == list(BINDING_IDS + ADDED_IDS)


def test_cli_training_framework_flag_sets_the_request():
    from flopwatt.service.cli import build_parser
    from flopwatt.service.cli.estimate import build_request

    args = build_parser().parse_args(
        [
            "estimate",
            "training",
            "--model",
            "llama-3.1-8b",
            "--hardware",
            "h100-sxm",
            "--accelerators",
            "8",
            "--tokens",
            "1e9",
            "--sequence-length",
            "4096",
            "--framework",
            "deepspeed",
        ]
    )
    assert build_request(args).framework == "deepspeed"


def test_estimation_doc_describes_every_stack_and_alias():
    text = (REPO / "docs" / "estimation.md").read_text(encoding="utf-8")
    for name in framework_names():
        assert f"`{name}`" in text, name


def test_list_frameworks_refuses_a_token_with_a_huge_offset():
    import base64

    token = base64.urlsafe_b64encode(f"{api.FRAMEWORKS_COLLECTION}:{'9' * 5000}".encode()).decode()
    with pytest.raises(InvalidArgument) as caught:
        api.list_frameworks(estimator_pb2.ListFrameworksRequest(page_token=token))
    assert caught.value.violations[0].field == "page_token"
    past_the_end = api.encode_page_token(api.FRAMEWORKS_COLLECTION, len(BINDING_IDS + ADDED_IDS) + 1)
    with pytest.raises(InvalidArgument):
        api.list_frameworks(estimator_pb2.ListFrameworksRequest(page_token=past_the_end))
