"""Catalog entry dataclasses (the domain side; the API edge converts them to protobuf)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from flopwatt.estimate.architecture import ModelArchitecture


@dataclass(frozen=True)
class SourceRef:
    """A published source backing some catalog numbers."""

    covers: str  # which fields, e.g. "peak_flops_per_second, memory_bandwidth_bytes_per_second"
    citation: str
    url: str
    date: str  # ISO 8601 publication or retrieval date


@dataclass(frozen=True)
class HardwareSpec:
    """Datasheet numbers of one accelerator. Rates are dense (no sparsity), base units."""

    id: str
    name: str
    vendor: str
    peak_flops_per_second: Mapping[
        str, float
    ]  # precision name ("fp32", "tf32", "bf16", "fp16", "fp8", "fp4") -> FLOP/s
    memory_bytes: int
    memory_bandwidth_bytes_per_second: float
    intra_node_bandwidth_bytes_per_second: float  # scale-up link bandwidth per accelerator, one direction
    scale_out_bandwidth_bytes_per_second: float  # scale-out NIC bandwidth per accelerator, one direction
    tdp_watts: float
    accelerators_per_node: int  # size of the scale-up (NVLink/ICI) domain in a standard node or rack
    sources: tuple[SourceRef, ...] = field(default_factory=tuple)
    accelerators_per_rack: int = 0  # 0: same as accelerators_per_node
    release_date: str = ""  # ISO date of the vendor's launch announcement
    notes: str = ""
    # Numeric fields the vendor does not publish (e.g. TPU v5p power); their value is 0 and
    # consumers must not treat it as a measurement (ask for a profile or a user value instead).
    unpublished: tuple[str, ...] = ()

    def peak_for(self, precision: str) -> float:
        """Dense peak at `precision`; raises KeyError naming the precision when the part lacks it."""
        try:
            return self.peak_flops_per_second[precision]
        except KeyError:
            raise KeyError(f"{self.id} has no {precision} rate in its datasheet") from None


@dataclass(frozen=True)
class ModelPreset:
    """A published model with its architecture and the source of those numbers."""

    id: str
    name: str
    architecture: ModelArchitecture
    parameter_count: int  # as published (count)
    active_parameter_count: int  # parameters used per token (count)
    sources: tuple[SourceRef, ...] = field(default_factory=tuple)
    notes: str = ""


# Where a stack's step option comes from. A fitted value has no origin here on purpose: the
# loader refuses any other word, so a number tuned to data cannot enter the catalog unmarked.
PARAMETER_ORIGINS = ("documented-default", "existing-stack-value", "unfitted-assumption")


@dataclass(frozen=True)
class StepOptionValue:
    """One StepOptions value of a stack, with its origin (PARAMETER_ORIGINS) and why."""

    name: str  # a StepOptions field, e.g. "data_parallel_overlap_fraction"
    value: bool | float
    origin: str
    basis: str


@dataclass(frozen=True)
class FrameworkSpec:
    """A software stack of the `framework` input: what it does by default (each behaviour backed by
    a source) and the StepOptions values it implies. `aliases` are other accepted names."""

    id: str
    name: str
    description: str
    aliases: tuple[str, ...]
    covers: tuple[str, ...]  # systems built on this stack, e.g. ("torchtitan", "llm-foundry")
    behaviour: Mapping[
        str, str
    ]  # attention_kernel, data_parallel_overlap, sharding_default, tensor_parallel, pipeline_parallel
    step_options: tuple[StepOptionValue, ...]
    sources: tuple[SourceRef, ...] = field(default_factory=tuple)

    def option(self, name: str) -> StepOptionValue:
        """The step option called `name`; KeyError naming it when the stack has none."""
        for option in self.step_options:
            if option.name == name:
                return option
        raise KeyError(f"framework {self.id} has no step option {name}")


# An engine parameter's allowed values: the KV cache precision rule and the KV reservation.
ENGINE_KV_PRECISION_RULES = ("checkpoint", "model-dtype")
ENGINE_KV_RESERVATIONS = ("on-demand", "full-sequence")
ENGINE_PARAMETER_ORIGINS = ("documented-default", "unfitted-assumption")


@dataclass(frozen=True)
class EngineParameter:
    """One number or rule a serving engine sets in the serving model, with its origin and why."""

    name: str  # kv_block_tokens, kv_cache_precision, kv_reservation, chunked_prefill
    value: bool | int | str
    origin: str  # ENGINE_PARAMETER_ORIGINS: nothing here is fitted
    basis: str


@dataclass(frozen=True)
class EngineHardwareDefaults:
    """An engine's defaults that depend on the accelerator: one tier by memory size."""

    min_memory_gib: float
    except_hardware: tuple[str, ...]  # hardware ids containing one of these fall to a lower tier
    token_budget: int  # tokens one step may carry (vLLM max_num_batched_tokens, SGLang chunked_prefill_size)
    max_num_seqs: int  # sequences per step; 0: bounded by the KV cache only
    cuda_graph_max_batch: int  # largest decode batch captured in a CUDA graph
    cuda_graph_max_batch_tp4: int  # the same at tensor parallelism >= 4 (0: as cuda_graph_max_batch)
    origin: str
    basis: str

    def graph_max_batch(self, tensor_parallel_size: int) -> int:
        if tensor_parallel_size >= 4 and self.cuda_graph_max_batch_tp4:
            return self.cuda_graph_max_batch_tp4
        return self.cuda_graph_max_batch


@dataclass(frozen=True)
class EngineSpec:
    """A serving engine of the `engine` input: its documented behaviour and the parameters it
    sets in the continuous-batching model (each backed by a source, none fitted)."""

    id: str
    name: str
    description: str
    version: str  # the source version the values were read at
    is_default: bool
    behaviour: Mapping[
        str, str
    ]  # kv_cache, kv_cache_precision, scheduler, chunked_prefill, cuda_graphs, prefix_caching
    parameters: tuple[EngineParameter, ...]
    hardware_defaults: tuple[EngineHardwareDefaults, ...]  # largest min_memory_gib first, the last at 0
    sources: tuple[SourceRef, ...] = field(default_factory=tuple)
    default_basis: str = ""  # why this engine is the default (the default engine only)

    def parameter(self, name: str) -> EngineParameter:
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise KeyError(f"engine {self.id} has no parameter {name}")

    @property
    def kv_block_tokens(self) -> int:
        return int(self.parameter("kv_block_tokens").value)

    @property
    def kv_cache_precision_rule(self) -> str:
        return str(self.parameter("kv_cache_precision").value)

    @property
    def kv_reservation(self) -> str:
        return str(self.parameter("kv_reservation").value)

    @property
    def chunked_prefill(self) -> bool:
        return bool(self.parameter("chunked_prefill").value)

    def defaults_for(self, hardware_id: str, memory_bytes: float) -> EngineHardwareDefaults:
        """The tier for this accelerator: the first whose memory it reaches and that does not exclude it."""
        gib = memory_bytes / 2**30
        name = hardware_id.lower()
        for tier in self.hardware_defaults:
            if gib >= tier.min_memory_gib and not any(word in name for word in tier.except_hardware):
                return tier
        return self.hardware_defaults[-1]
