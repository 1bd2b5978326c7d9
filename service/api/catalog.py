"""ListHardware, ListModels, ListFrameworks and ListEngines: the catalog at the API edge (dataclasses -> protobuf).

Paging follows AIP-158: page_size 0 returns everything, a page token is opaque to clients. The
token encodes the collection and the offset so that a token from one list cannot silently page
another; a token that does not decode is refused with the field named, never a crash.
"""

from __future__ import annotations

from typing import Sequence, TypeVar

from flopwatt.estimate import catalog
from flopwatt.estimate.catalog import EngineSpec, FrameworkSpec, HardwareSpec, ModelPreset, SourceRef
from flopwatt.service.api.pagination import decode_token_text, encode_token_text, refuse_token, token_number
from flopwatt.service.errors import InvalidArgument
from flopwatt.v1 import common_pb2, estimator_pb2

T = TypeVar("T")

HARDWARE_COLLECTION = "hardware"
MODELS_COLLECTION = "models"
FRAMEWORKS_COLLECTION = "frameworks"
ENGINES_COLLECTION = "engines"


def encode_page_token(collection: str, offset: int) -> str:
    """Opaque token for the page starting at `offset` of `collection`."""
    return encode_token_text(f"{collection}:{offset}")


def decode_page_token(token: str, collection: str, total: int) -> int:
    """The offset a token points at; InvalidArgument naming `page_token` when it is not ours."""
    if not token:
        return 0
    problem = "is not a token returned by this list; start again without page_token"
    prefix, _, number = decode_token_text(token, problem).partition(":")
    if prefix != collection:
        raise refuse_token(problem)
    return token_number(number, problem, maximum=total)


def paginate(items: Sequence[T], page_size: int, page_token: str, collection: str) -> tuple[Sequence[T], str]:
    """One page of `items` and the next page's token ("" on the last page). A page_size larger
    than the catalog is clamped to it (AIP-158 allows that; estimator.proto says so)."""
    if page_size < 0:
        raise InvalidArgument.field("page_size", f"must be >= 0 (0 returns all), got {page_size}")
    start = decode_page_token(page_token, collection, len(items))
    end = len(items) if page_size == 0 else min(len(items), start + page_size)
    next_token = encode_page_token(collection, end) if end < len(items) else ""
    return items[start:end], next_token


def source_to_proto(source: SourceRef) -> common_pb2.Source:
    return common_pb2.Source(covers=source.covers, citation=source.citation, url=source.url, date=source.date)


def hardware_to_proto(spec: HardwareSpec) -> estimator_pb2.Hardware:
    """Unpublished numbers (HardwareSpec.unpublished) stay 0, proto3's 'unset'."""
    return estimator_pb2.Hardware(
        id=spec.id,
        name=spec.name,
        vendor=spec.vendor,
        peak_flops_per_second=dict(spec.peak_flops_per_second),
        memory_bytes=spec.memory_bytes,
        memory_bandwidth_bytes_per_second=spec.memory_bandwidth_bytes_per_second,
        intra_node_bandwidth_bytes_per_second=spec.intra_node_bandwidth_bytes_per_second,
        scale_out_bandwidth_bytes_per_second=spec.scale_out_bandwidth_bytes_per_second,
        tdp_watts=spec.tdp_watts,
        accelerators_per_node=spec.accelerators_per_node,
        sources=[source_to_proto(source) for source in spec.sources],
        accelerators_per_rack=spec.accelerators_per_rack or spec.accelerators_per_node,
        release_date=spec.release_date,
        notes=spec.notes,
        unpublished_fields=list(spec.unpublished),
    )


def model_to_proto(preset: ModelPreset) -> estimator_pb2.Model:
    arch = preset.architecture
    spec = common_pb2.ModelSpec(
        preset_id=preset.id,
        parameter_count=preset.parameter_count,
        active_parameter_count=preset.active_parameter_count,
        layer_count=arch.layer_count,
        hidden_size=arch.hidden_size,
        attention_head_count=arch.attention_head_count,
        kv_head_count=arch.kv_head_count,
        ffn_hidden_size=arch.ffn_hidden_size,
        vocab_size=arch.vocab_size,
        expert_count=arch.expert_count,
        experts_per_token=arch.experts_per_token,
        tied_embeddings=arch.tied_embeddings,
        gated_mlp=arch.gated_mlp,
        head_dim=arch.effective_head_dim,
        shared_expert_count=arch.shared_expert_count,
        dense_layer_count=arch.dense_layer_count,
        dense_ffn_hidden_size=arch.dense_ffn_hidden_size,
        kv_lora_rank=arch.kv_lora_rank,
        qk_rope_head_dim=arch.qk_rope_head_dim,
        max_routed_nodes_per_token=arch.max_routed_nodes_per_token,
    )
    return estimator_pb2.Model(
        id=preset.id,
        name=preset.name,
        spec=spec,
        sources=[source_to_proto(s) for s in preset.sources],
        notes=preset.notes,
    )


def list_hardware(request: estimator_pb2.ListHardwareRequest) -> estimator_pb2.ListHardwareResponse:
    """ListHardware: the hardware catalog, the host `cpu` entry last."""
    page, next_token = paginate(catalog.list_hardware(), request.page_size, request.page_token, HARDWARE_COLLECTION)
    return estimator_pb2.ListHardwareResponse(
        hardware=[hardware_to_proto(spec) for spec in page], next_page_token=next_token
    )


def list_models(request: estimator_pb2.ListModelsRequest) -> estimator_pb2.ListModelsResponse:
    """ListModels: the model presets."""
    page, next_token = paginate(catalog.list_model_presets(), request.page_size, request.page_token, MODELS_COLLECTION)
    return estimator_pb2.ListModelsResponse(
        models=[model_to_proto(preset) for preset in page], next_page_token=next_token
    )


def framework_to_proto(spec: FrameworkSpec) -> estimator_pb2.Framework:
    """A stack with its documented behaviour and its parameters (a yes/no option as 1 or 0)."""
    return estimator_pb2.Framework(
        id=spec.id,
        aliases=list(spec.aliases),
        name=spec.name,
        description=spec.description,
        covers=list(spec.covers),
        sources=[source_to_proto(source) for source in spec.sources],
        behaviour=dict(spec.behaviour),
        parameters=[
            estimator_pb2.FrameworkParameter(
                name=option.name, value=float(option.value), origin=option.origin, basis=option.basis
            )
            for option in spec.step_options
        ],
    )


def list_frameworks(request: estimator_pb2.ListFrameworksRequest) -> estimator_pb2.ListFrameworksResponse:
    """ListFrameworks: the software stacks `framework` accepts, in data-file order."""
    page, next_token = paginate(catalog.list_frameworks(), request.page_size, request.page_token, FRAMEWORKS_COLLECTION)
    return estimator_pb2.ListFrameworksResponse(
        frameworks=[framework_to_proto(spec) for spec in page], next_page_token=next_token
    )


def engine_to_proto(spec: EngineSpec) -> estimator_pb2.Engine:
    """An engine with its documented behaviour, parameters (values as text) and hardware tiers."""
    return estimator_pb2.Engine(
        id=spec.id,
        name=spec.name,
        description=spec.description,
        version=spec.version,
        is_default=spec.is_default,
        behaviour=dict(spec.behaviour),
        parameters=[
            estimator_pb2.EngineParameter(
                name=p.name,
                value=str(p.value).lower() if isinstance(p.value, bool) else str(p.value),
                origin=p.origin,
                basis=p.basis,
            )
            for p in spec.parameters
        ],
        hardware_defaults=[
            estimator_pb2.EngineHardwareDefaults(
                min_memory_gib=tier.min_memory_gib,
                except_hardware=list(tier.except_hardware),
                token_budget=tier.token_budget,
                max_num_seqs=tier.max_num_seqs,
                cuda_graph_max_batch=tier.cuda_graph_max_batch,
                cuda_graph_max_batch_tp4=tier.cuda_graph_max_batch_tp4,
                basis=tier.basis,
            )
            for tier in spec.hardware_defaults
        ],
        sources=[source_to_proto(source) for source in spec.sources],
    )


def list_engines(request: estimator_pb2.ListEnginesRequest) -> estimator_pb2.ListEnginesResponse:
    """ListEngines: the serving engines `engine` accepts, in data-file order."""
    page, next_token = paginate(catalog.list_engines(), request.page_size, request.page_token, ENGINES_COLLECTION)
    return estimator_pb2.ListEnginesResponse(
        engines=[engine_to_proto(spec) for spec in page], next_page_token=next_token
    )
