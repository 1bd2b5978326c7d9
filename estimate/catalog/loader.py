"""Load and validate the catalog data files (data/hardware.json, data/models.json,
data/frameworks.json, data/engines.json) once.

Why validate at load time: every catalog number reaches users through estimates, so a typo
(a sparse rate, a missing source, a negative bandwidth) must stop the service at start-up with
the file, entry and field named, not surface later as a NaN in an estimate. The data files ship
as package data and are read through importlib.resources, so an installed wheel works too.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import fields
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.catalog.entries import (
    ENGINE_KV_PRECISION_RULES,
    ENGINE_KV_RESERVATIONS,
    ENGINE_PARAMETER_ORIGINS,
    PARAMETER_ORIGINS,
    EngineHardwareDefaults,
    EngineParameter,
    EngineSpec,
    FrameworkSpec,
    HardwareSpec,
    ModelPreset,
    SourceRef,
    StepOptionValue,
)

HARDWARE_FILE = "hardware.json"
MODELS_FILE = "models.json"
FRAMEWORKS_FILE = "frameworks.json"
ENGINES_FILE = "engines.json"
SUPPORTED_SCHEMA_VERSION = 1

# Precision names the API knows (proto `Precision` enum, lower-case without the prefix).
PRECISION_NAMES = ("fp32", "tf32", "bf16", "fp16", "fp8", "fp4")

_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")
_DATE_PATTERN = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")

# Numeric hardware fields; each must be positive and named by some source's `covers`.
_HARDWARE_FLOAT_FIELDS = (
    "memory_bandwidth_bytes_per_second",
    "intra_node_bandwidth_bytes_per_second",
    "scale_out_bandwidth_bytes_per_second",
    "tdp_watts",
)
_HARDWARE_INT_FIELDS = ("memory_bytes", "accelerators_per_node")
# Fields an entry may declare `unpublished` (the vendor gives no figure); they are then 0.
_HARDWARE_MAY_BE_UNPUBLISHED = frozenset({"scale_out_bandwidth_bytes_per_second", "tdp_watts"})
_HARDWARE_REQUIRED_STR_FIELDS = ("name", "vendor", "release_date")
_HARDWARE_KNOWN_KEYS = frozenset(f.name for f in fields(HardwareSpec))

# Architecture integers that may be 0 (meaning "derived" or "absent"); the rest must be >= 1.
_ARCHITECTURE_OPTIONAL_INTS = frozenset(
    {
        "head_dim",
        "shared_expert_count",
        "dense_layer_count",
        "dense_ffn_hidden_size",
        "kv_lora_rank",
        "qk_rope_head_dim",
        "max_routed_nodes_per_token",
    }
)
_ARCHITECTURE_FIELDS = {f.name: f for f in fields(ModelArchitecture)}
_ARCHITECTURE_BOOL_FIELDS = frozenset({"gated_mlp", "tied_embeddings", "dropout"})
_MODEL_KNOWN_KEYS = frozenset(f.name for f in fields(ModelPreset))

# What every software stack must document (each a sentence backed by a source), and the
# step_time.StepOptions fields a stack sets with their JSON types (a test holds these names equal
# to StepOptions'; the loader cannot import step_time, which imports the catalog).
FRAMEWORK_BEHAVIOUR_KEYS = (
    "attention_kernel",
    "data_parallel_overlap",
    "sharding_default",
    "tensor_parallel",
    "pipeline_parallel",
    "expert_parallel",
)
FRAMEWORK_STEP_OPTION_TYPES: Mapping[str, type] = MappingProxyType(
    {
        "flash_attention": bool,
        "data_parallel_overlap_fraction": float,
        "expert_dispatch_per_node": bool,
        "expert_dispatch_fp8": bool,
        "expert_parallel_overlap_fraction": float,
        "compute_share_beside_communication": float,
    }
)
_FRAMEWORK_KNOWN_KEYS = frozenset(
    {"id", "aliases", "name", "description", "covers", "behaviour", "step_options", "sources"}
)


# What every serving engine must document, and the parameters it sets in the serving model with
# their allowed values (a type, or a tuple of the allowed strings).
ENGINE_BEHAVIOUR_KEYS = (
    "kv_cache",
    "kv_cache_precision",
    "scheduler",
    "chunked_prefill",
    "cuda_graphs",
    "prefix_caching",
)
ENGINE_PARAMETER_TYPES: Mapping[str, Any] = MappingProxyType(
    {
        "kv_block_tokens": int,
        "kv_cache_precision": ENGINE_KV_PRECISION_RULES,
        "kv_reservation": ENGINE_KV_RESERVATIONS,
        "chunked_prefill": bool,
    }
)
_ENGINE_KNOWN_KEYS = frozenset(
    {"id", "name", "description", "version", "behaviour", "parameters", "hardware_defaults", "sources"}
)
_ENGINE_TIER_KEYS = frozenset(
    {
        "min_memory_gib",
        "except_hardware",
        "token_budget",
        "max_num_seqs",
        "cuda_graph_max_batch",
        "cuda_graph_max_batch_tp4",
        "origin",
        "basis",
    }
)


class CatalogLookupError(LookupError):
    """No catalog entry has this id. The estimator knows no transport: the API maps this to NOT_FOUND."""

    def __init__(self, resource_type: str, name: str) -> None:
        self.resource_type = resource_type
        self.name = name
        super().__init__(f"{resource_type} {name!r} not found")


class CatalogError(Exception):
    """A catalog data file is malformed; the message names the file, the entry and the field."""

    def __init__(self, file: str, entry: str, field: str, problem: str) -> None:
        self.file = file
        self.entry = entry
        self.field = field
        self.problem = problem
        super().__init__(f"{file}: entry {entry!r}, field {field!r}: {problem}")


class _EntryContext:
    """Where a value sits (file, entry id) so every error message can name it."""

    def __init__(self, file: str, entry: str) -> None:
        self.file = file
        self.entry = entry

    def error(self, field: str, problem: str) -> CatalogError:
        return CatalogError(self.file, self.entry, field, problem)

    def require(self, raw: Mapping[str, Any], field: str) -> Any:
        if field not in raw:
            raise self.error(field, "required field is missing")
        return raw[field]

    def string(self, raw: Mapping[str, Any], field: str, *, required: bool = True) -> str:
        value = self.require(raw, field) if required else raw.get(field, "")
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.error(field, f"must be a non-empty string, got {value!r}")
        return value

    def positive_number(self, value: Any, field: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(field, f"must be a number, got {value!r}")
        if not math.isfinite(value) or value <= 0:
            raise self.error(field, f"must be a positive finite number, got {value!r}")
        return float(value)

    def integer(self, value: Any, field: str, *, minimum: int) -> int:
        # JSON writers emit 8.0e10 for large integers; accept integral floats, refuse 1.5.
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(field, f"must be an integer, got {value!r}")
        if value < minimum:
            raise self.error(field, f"must be >= {minimum}, got {value}")
        return value


def _parse_sources(ctx: _EntryContext, raw: Mapping[str, Any]) -> tuple[SourceRef, ...]:
    items = ctx.require(raw, "sources")
    if not isinstance(items, list) or not items:
        raise ctx.error("sources", "must be a non-empty list of sources")
    sources = []
    for index, item in enumerate(items):
        where = f"sources[{index}]"
        if not isinstance(item, Mapping):
            raise ctx.error(where, "must be an object with covers, citation, url, date")
        values = {}
        for key in ("covers", "citation", "url", "date"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise ctx.error(f"{where}.{key}", "required non-empty string")
            values[key] = item[key].strip()
        if not _DATE_PATTERN.match(values["date"]):
            raise ctx.error(f"{where}.date", f"must be an ISO 8601 date (YYYY-MM[-DD]), got {values['date']!r}")
        if not values["url"].startswith(("https://", "http://", "file:", "derived:")):
            raise ctx.error(f"{where}.url", f"must be a URL, got {values['url']!r}")
        sources.append(SourceRef(**values))
    return tuple(sources)


def _covered_names(sources: Sequence[SourceRef]) -> frozenset[str]:
    names: set[str] = set()
    for source in sources:
        names.update(part.strip() for part in source.covers.split(",") if part.strip())
    return frozenset(names)


def _check_covered(ctx: _EntryContext, covered: frozenset[str], field: str) -> None:
    """A field `a.b` is covered by a source naming `a.b` or its parent `a`."""
    parts = field.split(".")
    if not any(".".join(parts[: i + 1]) in covered for i in range(len(parts))):
        raise ctx.error(field, "no source covers this number (add it to some source's `covers`)")


def _check_unknown_keys(ctx: _EntryContext, raw: Mapping[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ctx.error(unknown[0], "unknown field (typo?)")


def _entry_context(file: str, index: int, raw: Any) -> tuple[_EntryContext, str]:
    ctx = _EntryContext(file, f"#{index}")
    if not isinstance(raw, Mapping):
        raise ctx.error("", "entry must be a JSON object")
    entry_id = raw.get("id")
    if not isinstance(entry_id, str) or not _ID_PATTERN.match(entry_id):
        raise ctx.error("id", f"must be a lower-case id of [a-z0-9.-], got {entry_id!r}")
    return _EntryContext(file, entry_id), entry_id


def _parse_unpublished(ctx: _EntryContext, raw: Mapping[str, Any]) -> tuple[str, ...]:
    """Fields declared unpublished must be allowed to be, absent, and explained in `notes`."""
    names = raw.get("unpublished", [])
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ctx.error("unpublished", "must be a list of field names")
    for name in names:
        if name not in _HARDWARE_MAY_BE_UNPUBLISHED:
            raise ctx.error(
                "unpublished",
                f"{name!r} may not be unpublished; allowed: {', '.join(sorted(_HARDWARE_MAY_BE_UNPUBLISHED))}",
            )
        if name in raw:
            raise ctx.error(name, "declared unpublished but has a value")
    if names and not str(raw.get("notes", "")).strip():
        raise ctx.error("notes", "must explain the unpublished fields")
    return tuple(names)


def parse_hardware_entry(raw: Mapping[str, Any], ctx: _EntryContext) -> HardwareSpec:
    """Validate one hardware object and build its HardwareSpec."""
    _check_unknown_keys(ctx, raw, _HARDWARE_KNOWN_KEYS)
    sources = _parse_sources(ctx, raw)
    covered = _covered_names(sources)
    strings = {name: ctx.string(raw, name) for name in _HARDWARE_REQUIRED_STR_FIELDS}
    if not _DATE_PATTERN.match(strings["release_date"]):
        raise ctx.error("release_date", f"must be an ISO 8601 date, got {strings['release_date']!r}")
    _check_covered(ctx, covered, "release_date")

    peaks_raw = ctx.require(raw, "peak_flops_per_second")
    if not isinstance(peaks_raw, Mapping) or not peaks_raw:
        raise ctx.error("peak_flops_per_second", "must be a non-empty object of precision -> FLOP/s")
    peaks: dict[str, float] = {}
    for precision, value in peaks_raw.items():
        field = f"peak_flops_per_second.{precision}"
        if precision not in PRECISION_NAMES:
            raise ctx.error(field, f"unknown precision; expected one of {', '.join(PRECISION_NAMES)}")
        peaks[precision] = ctx.positive_number(value, field)
        _check_covered(ctx, covered, field)

    unpublished = _parse_unpublished(ctx, raw)
    numbers: dict[str, Any] = {}
    for name in _HARDWARE_FLOAT_FIELDS:
        if name in unpublished:
            numbers[name] = 0.0
            continue
        numbers[name] = ctx.positive_number(ctx.require(raw, name), name)
        _check_covered(ctx, covered, name)
    for name in _HARDWARE_INT_FIELDS:
        numbers[name] = ctx.integer(ctx.require(raw, name), name, minimum=1)
        _check_covered(ctx, covered, name)
    rack = ctx.integer(raw.get("accelerators_per_rack", 0), "accelerators_per_rack", minimum=0)
    if rack:
        _check_covered(ctx, covered, "accelerators_per_rack")
    return HardwareSpec(
        id=ctx.entry,
        peak_flops_per_second=MappingProxyType(peaks),
        sources=sources,
        accelerators_per_rack=rack,
        unpublished=unpublished,
        notes=ctx.string(raw, "notes", required=False),
        **strings,
        **numbers,
    )


def _parse_architecture(ctx: _EntryContext, raw: Any, covered: frozenset[str]) -> ModelArchitecture:
    if not isinstance(raw, Mapping):
        raise ctx.error("architecture", "must be an object with the ModelArchitecture fields")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        field = f"architecture.{key}"
        if key not in _ARCHITECTURE_FIELDS:
            raise ctx.error(field, "unknown architecture field (typo?)")
        if key in _ARCHITECTURE_BOOL_FIELDS:
            if not isinstance(value, bool):
                raise ctx.error(field, f"must be true or false, got {value!r}")
        else:
            value = ctx.integer(value, field, minimum=0 if key in _ARCHITECTURE_OPTIONAL_INTS else 1)
        _check_covered(ctx, covered, field)
        values[key] = value
    for required in (
        "layer_count",
        "hidden_size",
        "attention_head_count",
        "kv_head_count",
        "ffn_hidden_size",
        "vocab_size",
    ):
        if required not in values:
            raise ctx.error(f"architecture.{required}", "required field is missing")
    architecture = ModelArchitecture(**values)
    if architecture.attention_head_count % architecture.kv_head_count:
        raise ctx.error("architecture.kv_head_count", "must divide attention_head_count (GQA groups)")
    if architecture.experts_per_token > architecture.expert_count:
        raise ctx.error("architecture.experts_per_token", "exceeds expert_count")
    if architecture.dense_layer_count > architecture.layer_count:
        raise ctx.error("architecture.dense_layer_count", "exceeds layer_count")
    if architecture.dense_layer_count and not architecture.dense_ffn_hidden_size:
        raise ctx.error("architecture.dense_ffn_hidden_size", "required when dense_layer_count > 0")
    if architecture.qk_rope_head_dim and not architecture.kv_lora_rank:
        raise ctx.error("architecture.qk_rope_head_dim", "only with kv_lora_rank (MLA)")
    return architecture


def parse_model_entry(raw: Mapping[str, Any], ctx: _EntryContext) -> ModelPreset:
    """Validate one model-preset object and build its ModelPreset."""
    _check_unknown_keys(ctx, raw, _MODEL_KNOWN_KEYS)
    sources = _parse_sources(ctx, raw)
    covered = _covered_names(sources)
    architecture = _parse_architecture(ctx, ctx.require(raw, "architecture"), covered)
    counts = {}
    for name in ("parameter_count", "active_parameter_count"):
        counts[name] = ctx.integer(ctx.require(raw, name), name, minimum=1)
        _check_covered(ctx, covered, name)
    if counts["active_parameter_count"] > counts["parameter_count"]:
        raise ctx.error("active_parameter_count", "exceeds parameter_count")
    if not architecture.is_moe and counts["active_parameter_count"] != counts["parameter_count"]:
        raise ctx.error("active_parameter_count", "must equal parameter_count for a dense model")
    return ModelPreset(
        id=ctx.entry,
        name=ctx.string(raw, "name"),
        architecture=architecture,
        sources=sources,
        notes=ctx.string(raw, "notes", required=False),
        **counts,
    )


def _string_list(
    ctx: _EntryContext,
    raw: Mapping[str, Any],
    field: str,
    *,
    pattern: re.Pattern[str] | None = None,
    required: bool = True,
) -> tuple[str, ...]:
    values = raw.get(field, [])
    if (
        not isinstance(values, list)
        or not all(isinstance(v, str) and v.strip() for v in values)
        or (required and not values)
    ):
        raise ctx.error(field, f"must be a {'non-empty ' if required else ''}list of non-empty strings, got {values!r}")
    for value in values:
        if pattern is not None and not pattern.match(value):
            raise ctx.error(field, f"{value!r} must be a lower-case id of [a-z0-9.-]")
    if len(set(values)) != len(values):
        raise ctx.error(field, "lists a name twice")
    return tuple(values)


def _parse_step_option(ctx: _EntryContext, name: str, raw: Any, covered: frozenset[str]) -> StepOptionValue:
    """{"value": ..., "origin": one of PARAMETER_ORIGINS, "basis": why}; a value of the wrong type,
    an overlap share outside [0, 1] or an origin that is not one of the three is refused."""
    field = f"step_options.{name}"
    if not isinstance(raw, Mapping) or set(raw) != {"value", "origin", "basis"}:
        raise ctx.error(field, "must be an object with exactly value, origin, basis")
    value = raw["value"]
    if FRAMEWORK_STEP_OPTION_TYPES[name] is bool:
        if not isinstance(value, bool):
            raise ctx.error(f"{field}.value", f"must be true or false, got {value!r}")
    else:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not 0.0 <= value <= 1.0
        ):
            raise ctx.error(f"{field}.value", f"must be a share between 0 and 1, got {value!r}")
        value = float(value)
    if raw["origin"] not in PARAMETER_ORIGINS:
        raise ctx.error(
            f"{field}.origin",
            f"must be one of {', '.join(PARAMETER_ORIGINS)} (fitted parameters are not allowed), got {raw['origin']!r}",
        )
    basis = ctx.string(raw, "basis")
    _check_covered(ctx, covered, field)
    return StepOptionValue(name=name, value=value, origin=raw["origin"], basis=basis)


def _parse_behaviour(
    ctx: _EntryContext, raw: Mapping[str, Any], keys: Sequence[str], covered: frozenset[str]
) -> dict[str, str]:
    """The `behaviour` object of a stack or an engine: exactly `keys`, each a sentence some source
    covers."""
    behaviour_raw = ctx.require(raw, "behaviour")
    if not isinstance(behaviour_raw, Mapping) or set(behaviour_raw) != set(keys):
        raise ctx.error("behaviour", f"must be an object with exactly {', '.join(keys)}")
    behaviour = {}
    for key in keys:
        behaviour[key] = ctx.string(behaviour_raw, key)
        _check_covered(ctx, covered, f"behaviour.{key}")
    return behaviour


def parse_framework_entry(raw: Mapping[str, Any], ctx: _EntryContext) -> FrameworkSpec:
    """Validate one software-stack object and build its FrameworkSpec."""
    _check_unknown_keys(ctx, raw, _FRAMEWORK_KNOWN_KEYS)
    sources = _parse_sources(ctx, raw)
    covered = _covered_names(sources)
    behaviour = _parse_behaviour(ctx, raw, FRAMEWORK_BEHAVIOUR_KEYS, covered)
    options_raw = ctx.require(raw, "step_options")
    if not isinstance(options_raw, Mapping) or set(options_raw) != set(FRAMEWORK_STEP_OPTION_TYPES):
        raise ctx.error("step_options", f"must be an object with exactly {', '.join(FRAMEWORK_STEP_OPTION_TYPES)}")
    options = tuple(_parse_step_option(ctx, name, options_raw[name], covered) for name in FRAMEWORK_STEP_OPTION_TYPES)
    aliases = _string_list(ctx, raw, "aliases", pattern=_ID_PATTERN, required=False)
    if ctx.entry in aliases:
        raise ctx.error("aliases", "lists the entry's own id")
    return FrameworkSpec(
        id=ctx.entry,
        name=ctx.string(raw, "name"),
        description=ctx.string(raw, "description"),
        aliases=aliases,
        covers=_string_list(ctx, raw, "covers"),
        behaviour=MappingProxyType(behaviour),
        step_options=options,
        sources=sources,
    )


def _parse_engine_parameter(ctx: _EntryContext, name: str, raw: Any, covered: frozenset[str]) -> EngineParameter:
    """{"value": ..., "origin": documented-default | unfitted-assumption, "basis": why}."""
    field = f"parameters.{name}"
    if not isinstance(raw, Mapping) or set(raw) != {"value", "origin", "basis"}:
        raise ctx.error(field, "must be an object with exactly value, origin, basis")
    value, kind = raw["value"], ENGINE_PARAMETER_TYPES[name]
    if kind is bool:
        if not isinstance(value, bool):
            raise ctx.error(f"{field}.value", f"must be true or false, got {value!r}")
    elif kind is int:
        value = ctx.integer(value, f"{field}.value", minimum=1)
    elif value not in kind:
        raise ctx.error(f"{field}.value", f"must be one of {', '.join(kind)}, got {value!r}")
    if raw["origin"] not in ENGINE_PARAMETER_ORIGINS:
        raise ctx.error(
            f"{field}.origin",
            f"must be one of {', '.join(ENGINE_PARAMETER_ORIGINS)} (fitted parameters are not allowed), "
            f"got {raw['origin']!r}",
        )
    _check_covered(ctx, covered, field)
    return EngineParameter(name=name, value=value, origin=raw["origin"], basis=ctx.string(raw, "basis"))


def _parse_engine_tiers(ctx: _EntryContext, raw: Mapping[str, Any]) -> tuple[EngineHardwareDefaults, ...]:
    """Tiers by accelerator memory, largest first, the last at 0 GiB so that every accelerator has one."""
    items = ctx.require(raw, "hardware_defaults")
    if not isinstance(items, list) or not items:
        raise ctx.error("hardware_defaults", "must be a non-empty list of tiers")
    tiers = []
    for index, item in enumerate(items):
        field = f"hardware_defaults[{index}]"
        if not isinstance(item, Mapping):
            raise ctx.error(field, "must be an object")
        unknown = sorted(set(item) - _ENGINE_TIER_KEYS)
        if unknown:
            raise ctx.error(f"{field}.{unknown[0]}", "unknown field (typo?)")
        memory = ctx.require(item, "min_memory_gib")
        if isinstance(memory, bool) or not isinstance(memory, (int, float)) or not 0 <= memory < 1e6:
            raise ctx.error(f"{field}.min_memory_gib", f"must be a number of GiB >= 0, got {memory!r}")
        if item.get("origin") not in ENGINE_PARAMETER_ORIGINS:
            raise ctx.error(f"{field}.origin", f"must be one of {', '.join(ENGINE_PARAMETER_ORIGINS)}")
        tiers.append(
            EngineHardwareDefaults(
                min_memory_gib=float(memory),
                except_hardware=_string_list(ctx, item, "except_hardware", required=False),
                token_budget=ctx.integer(ctx.require(item, "token_budget"), f"{field}.token_budget", minimum=1),
                max_num_seqs=ctx.integer(ctx.require(item, "max_num_seqs"), f"{field}.max_num_seqs", minimum=0),
                cuda_graph_max_batch=ctx.integer(
                    ctx.require(item, "cuda_graph_max_batch"), f"{field}.cuda_graph_max_batch", minimum=0
                ),
                cuda_graph_max_batch_tp4=ctx.integer(
                    item.get("cuda_graph_max_batch_tp4", 0), f"{field}.cuda_graph_max_batch_tp4", minimum=0
                ),
                origin=item["origin"],
                basis=ctx.string(item, "basis"),
            )
        )
    memories = [tier.min_memory_gib for tier in tiers]
    if memories != sorted(memories, reverse=True) or len(set(memories)) != len(memories) or memories[-1] != 0:
        raise ctx.error("hardware_defaults", "tiers must be ordered by min_memory_gib, largest first, the last at 0")
    return tuple(tiers)


def parse_engine_entry(raw: Mapping[str, Any], ctx: _EntryContext) -> EngineSpec:
    """Validate one serving-engine object and build its EngineSpec."""
    _check_unknown_keys(ctx, raw, _ENGINE_KNOWN_KEYS)
    sources = _parse_sources(ctx, raw)
    covered = _covered_names(sources)
    behaviour = _parse_behaviour(ctx, raw, ENGINE_BEHAVIOUR_KEYS, covered)
    parameters_raw = ctx.require(raw, "parameters")
    if not isinstance(parameters_raw, Mapping) or set(parameters_raw) != set(ENGINE_PARAMETER_TYPES):
        raise ctx.error("parameters", f"must be an object with exactly {', '.join(ENGINE_PARAMETER_TYPES)}")
    parameters = tuple(
        _parse_engine_parameter(ctx, name, parameters_raw[name], covered) for name in ENGINE_PARAMETER_TYPES
    )
    tiers = _parse_engine_tiers(ctx, raw)
    _check_covered(ctx, covered, "hardware_defaults")
    return EngineSpec(
        id=ctx.entry,
        name=ctx.string(raw, "name"),
        description=ctx.string(raw, "description"),
        version=ctx.string(raw, "version"),
        is_default=False,
        behaviour=MappingProxyType(behaviour),
        parameters=parameters,
        hardware_defaults=tiers,
        sources=sources,
    )


def parse_document(
    document: Any, file: str, list_key: str, parse_entry: Callable[[Mapping[str, Any], _EntryContext], Any]
) -> tuple[Any, ...]:
    """Validate a whole data document ({"schema_version": 1, list_key: [...]}) entry by entry."""
    top = _EntryContext(file, "(document)")
    if not isinstance(document, Mapping):
        raise top.error("", "document must be a JSON object")
    if document.get("schema_version") != SUPPORTED_SCHEMA_VERSION:
        raise top.error("schema_version", f"must be {SUPPORTED_SCHEMA_VERSION}, got {document.get('schema_version')!r}")
    items = document.get(list_key)
    if not isinstance(items, list) or not items:
        raise top.error(list_key, "must be a non-empty list of entries")
    entries = []
    seen: set[str] = set()
    for index, raw in enumerate(items):
        ctx, entry_id = _entry_context(file, index, raw)
        if entry_id in seen:
            raise ctx.error("id", "duplicate id")
        seen.add(entry_id)
        entries.append(parse_entry(raw, ctx))
    return tuple(entries)


def parse_hardware_document(document: Any, file: str = HARDWARE_FILE) -> tuple[HardwareSpec, ...]:
    return parse_document(document, file, "hardware", parse_hardware_entry)


def parse_models_document(document: Any, file: str = MODELS_FILE) -> tuple[ModelPreset, ...]:
    return parse_document(document, file, "models", parse_model_entry)


def parse_frameworks_document(document: Any, file: str = FRAMEWORKS_FILE) -> tuple[FrameworkSpec, ...]:
    """Validate the software-stack document; an alias may name one stack only and never an id."""
    entries = parse_document(document, file, "frameworks", parse_framework_entry)
    owner = {entry.id: entry.id for entry in entries}
    for entry in entries:
        for alias in entry.aliases:
            if alias in owner:
                raise CatalogError(file, entry.id, "aliases", f"{alias!r} already names framework {owner[alias]!r}")
            owner[alias] = entry.id
    return entries


def parse_engines_document(document: Any, file: str = ENGINES_FILE) -> tuple[EngineSpec, ...]:
    """Validate the serving-engine document; `default_engine` must name one of its engines and
    `default_basis` say why."""
    entries = parse_document(document, file, "engines", parse_engine_entry)
    top = _EntryContext(file, "(document)")
    default = document.get("default_engine")
    if default not in {entry.id for entry in entries}:
        raise top.error("default_engine", f"must name one of the engines, got {default!r}")
    basis = top.string(document, "default_basis")
    return tuple(
        dataclasses.replace(entry, is_default=True, default_basis=basis) if entry.id == default else entry
        for entry in entries
    )


def _read_data_file(name: str) -> Any:
    resource = resources.files("flopwatt.estimate.catalog").joinpath("data", name)
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError(name, "(document)", "", "data file is missing from the package") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CatalogError(name, "(document)", "", f"invalid JSON at line {error.lineno}: {error.msg}") from None


@lru_cache(maxsize=1)
def _hardware_by_id() -> Mapping[str, HardwareSpec]:
    from flopwatt.estimate.catalog.host_cpu import HOST_CPU_ID, describe_host_cpu

    entries = parse_hardware_document(_read_data_file(HARDWARE_FILE))
    by_id = {entry.id: entry for entry in entries}
    if HOST_CPU_ID in by_id:
        raise CatalogError(HARDWARE_FILE, HOST_CPU_ID, "id", "reserved for the host CPU, derived at load time")
    # The host entry goes through the same validation as the data files.
    host = describe_host_cpu()
    host_document = {"schema_version": SUPPORTED_SCHEMA_VERSION, "hardware": [host]}
    by_id[HOST_CPU_ID] = parse_hardware_document(host_document, "host cpu (derived)")[0]
    return by_id


@lru_cache(maxsize=1)
def _models_by_id() -> Mapping[str, ModelPreset]:
    return {entry.id: entry for entry in parse_models_document(_read_data_file(MODELS_FILE))}


@lru_cache(maxsize=1)
def _frameworks() -> tuple[tuple[FrameworkSpec, ...], Mapping[str, FrameworkSpec]]:
    """The stacks in data-file order and every accepted name (ids and aliases) -> its stack."""
    entries = parse_frameworks_document(_read_data_file(FRAMEWORKS_FILE))
    by_name = {name: entry for entry in entries for name in (entry.id, *entry.aliases)}
    return entries, MappingProxyType(by_name)


def list_frameworks() -> tuple[FrameworkSpec, ...]:
    """Every software stack, in data-file order."""
    return _frameworks()[0]


def framework_names() -> tuple[str, ...]:
    """Every name the `framework` input accepts (ids and aliases), sorted."""
    return tuple(sorted(_frameworks()[1]))


def get_framework(name: str) -> FrameworkSpec:
    """The stack with this id or alias; CatalogLookupError("framework", name) when there is none."""
    try:
        return _frameworks()[1][name]
    except KeyError:
        raise CatalogLookupError("framework", name) from None


@lru_cache(maxsize=1)
def _engines() -> tuple[EngineSpec, ...]:
    return parse_engines_document(_read_data_file(ENGINES_FILE))


def list_engines() -> tuple[EngineSpec, ...]:
    """Every serving engine, in data-file order."""
    return _engines()


def engine_ids() -> tuple[str, ...]:
    """Every id the `engine` input accepts, sorted."""
    return tuple(sorted(entry.id for entry in _engines()))


def default_engine() -> EngineSpec:
    """The engine an empty `engine` means (engines.json `default_engine`)."""
    return next(entry for entry in _engines() if entry.is_default)


def get_engine(engine_id: str) -> EngineSpec:
    """The engine with this id ("" = the default); CatalogLookupError("engine", id) when there is none."""
    if not engine_id:
        return default_engine()
    for entry in _engines():
        if entry.id == engine_id:
            return entry
    raise CatalogLookupError("engine", engine_id)


def list_hardware() -> tuple[HardwareSpec, ...]:
    """Every hardware entry, in data-file order, the host `cpu` last."""
    return tuple(_hardware_by_id().values())


def list_model_presets() -> tuple[ModelPreset, ...]:
    """Every model preset, in data-file order."""
    return tuple(_models_by_id().values())


def get_hardware(hardware_id: str) -> HardwareSpec:
    """The entry with this id; CatalogLookupError("hardware", id) when there is none."""
    try:
        return _hardware_by_id()[hardware_id]
    except KeyError:
        raise CatalogLookupError("hardware", hardware_id) from None


def get_model_preset(preset_id: str) -> ModelPreset:
    """The preset with this id; CatalogLookupError("model preset", id) when there is none."""
    try:
        return _models_by_id()[preset_id]
    except KeyError:
        raise CatalogLookupError("model preset", preset_id) from None
