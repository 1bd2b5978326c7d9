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
