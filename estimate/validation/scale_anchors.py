"""Step-level anchors at scale: published per-GPU throughput of H100 runs with published plans.

Whole-run GPU-hours mix the step time with everything else a real run spends (failures beyond
the Young/Daly model, stages and experiments inside a model card's total, unknown GPU counts).
These anchors isolate the step: each row publishes the accelerator, the GPU count, the parallel
plan, the batch and the achieved throughput (validation/data/scale_anchors.csv; every row says
what is published and what we assumed). Nothing is fitted on them; rows whose plan uses a
feature the model does not have (context parallelism) are listed but not scored, with the
reason in the file.

Throughput is compared as seconds per step: published tokens/s/GPU, or published model TFLOP/s
per GPU converted with this model's FLOPs per token (the convention is an assumption per row), or
a step time read from a run's log (`step_seconds`, the MLPerf rows of mlperf.py).
"""

from __future__ import annotations

import csv
import dataclasses
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np

from flopwatt.estimate.accounting import flops_per_token
from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.catalog import get_hardware, get_model_preset
from flopwatt.estimate.hardware import HardwareModel, datasheet_hardware_model
from flopwatt.estimate.memory import training_memory, usable_training_memory_bytes
from flopwatt.estimate.parallel_plan import RECOMPUTE_BY_NAME, ParallelPlan
from flopwatt.estimate.stack_realisation import generation_step_options
from flopwatt.estimate.step_time import StepOptions, StepTime, training_step_time

DATA_FILE = "scale_anchors.csv"
METRIC_TOKENS = "tokens_per_second_per_accelerator"
METRIC_TFLOPS = "model_tflops_per_accelerator"
METRIC_STEP_SECONDS = "step_seconds"  # a step time read directly from a run's log (MLPerf rows)
SCORED = "yes"


@dataclass(frozen=True)
class ScaleAnchor:
    anchor: str
    arch: ModelArchitecture
    hardware_id: str
    precision: str
    sequence_length: int
    plan: ParallelPlan  # the published plan, context parallelism included
    framework: str
    published_metric: str
    published_value: float
    scored: bool
    exclusion_reason: str  # empty when scored
    published: str
    assumed: str
    source: str
    url: str
    source_date: str
    # The run's own cluster network where it differs from the catalog node (NaN: the catalog's).
    scale_out_bytes_per_second_per_accelerator: float = math.nan

    @property
    def accelerator_count(self) -> int:
        return int(self.plan.accelerator_count)


@dataclass(frozen=True)
class AnchorResult:
    anchor: ScaleAnchor
    published_step_seconds: float
    predicted_step_seconds: float
    predicted_model_flops_utilization: float
    fits_in_memory: bool
    step_parts_seconds: dict[str, float]

    @property
    def step_time_error(self) -> float:
        """(predicted − published) / published step time: > 0 means the model is too slow."""
        return self.predicted_step_seconds / self.published_step_seconds - 1.0


def plan_from_row(row: dict[str, str]) -> ParallelPlan:
    """The published parallel plan of one validation CSV row (shared by the anchor and MLPerf
    tables): DP = GPUs / (TP·PP·CP); a `data_parallel` column, where present, must agree.
    Sequence parallelism whenever TP > 1 (Megatron-Core practice)."""
    tp, pp, cp = int(row["tensor_parallel"]), int(row["pipeline_parallel"]), int(row["context_parallel"])
    gpus = int(row["accelerator_count"])
    dp, remainder = divmod(gpus, tp * pp * cp)
    if remainder or dp < 1 or (row.get("data_parallel") and int(row["data_parallel"]) != dp):
        raise ValueError(
            f"{row['anchor']}: accelerator_count {gpus} is not TP·PP·CP·DP = {tp}·{pp}·{cp}·{row.get('data_parallel', '?')}"
        )
    return ParallelPlan(
        tensor_parallel_size=tp,
        pipeline_parallel_size=pp,
        data_parallel_size=dp,
        expert_parallel_size=1,
        pipeline_interleaving=int(row["pipeline_interleaving"]),
        micro_batch_size=int(row["micro_batch"]),
        global_batch_size=int(row["global_batch_sequences"]),
        zero_stage=int(row["zero_stage"]),
        activation_recompute=RECOMPUTE_BY_NAME[row["activation_recompute"]],
        sequence_parallel=tp > 1,
        context_parallel_size=cp,
    )


def exclusion_reason(scored_cell: str) -> str:
    """'' for a scored row, else the reason after 'no:' in the `scored` column."""
    return "" if scored_cell.strip() == SCORED else scored_cell.split(":", 1)[-1].strip()


def anchor_from_row(row: dict, *, arch: ModelArchitecture, url: str, **published: object) -> ScaleAnchor:
    """A ScaleAnchor from a validation CSV row with the shared columns (anchor, hardware_id,
    precision, sequence_length, the plan columns, framework, published_metric/value, scored,
    published, assumed, source, source_date). Keyword arguments replace the row's value of a
    field where a table derives it (the anchor's name, the published metric, the source)."""
    reason = exclusion_reason(row["scored"])
    fields = dict(
        anchor=row.get("anchor"),
        hardware_id=row["hardware_id"],
        precision=row["precision"],
        sequence_length=int(row["sequence_length"]),
        plan=plan_from_row(row),
        framework=row["framework"],
        published_metric=row.get("published_metric"),
        published_value=float(row["published_value"]) if "published_value" in row else None,
        scored=not reason,
        exclusion_reason=reason,
        published=row["published"],
        assumed=row["assumed"],
        source=row.get("source"),
        source_date=row["source_date"],
    )
    fields.update(published)
    return ScaleAnchor(arch=arch, url=url, **fields)


def load_scale_anchors() -> list[ScaleAnchor]:
    text = resources.files("flopwatt.estimate.validation").joinpath("data", DATA_FILE).read_text()
    return [
        anchor_from_row(row, arch=get_model_preset(row["model_preset"]).architecture, url=row["url"])
        for row in csv.DictReader(text.splitlines())
    ]


def anchor_hardware(anchor: ScaleAnchor) -> HardwareModel:
    """The datasheet hardware model of the anchor's accelerator, on the run's own network where
    the source states one."""
    spec = get_hardware(anchor.hardware_id)
    if not math.isnan(anchor.scale_out_bytes_per_second_per_accelerator):
        spec = dataclasses.replace(
            spec, scale_out_bandwidth_bytes_per_second=anchor.scale_out_bytes_per_second_per_accelerator
        )
    return datasheet_hardware_model(spec, anchor.precision)


def published_step_seconds(anchor: ScaleAnchor) -> float:
    """The published figure as seconds per optimizer step at the published plan."""
    if anchor.published_metric == METRIC_STEP_SECONDS:
        return anchor.published_value
    seq = float(anchor.sequence_length)
    if anchor.published_metric == METRIC_TOKENS:
        tokens_per_second_per_accelerator = anchor.published_value
    elif anchor.published_metric == METRIC_TFLOPS:
        model_flops_per_token = float(flops_per_token(anchor.arch, seq).training_model)
        tokens_per_second_per_accelerator = anchor.published_value * 1e12 / model_flops_per_token
    else:
        raise ValueError(f"{anchor.anchor}: unknown published_metric {anchor.published_metric!r}")
    tokens_per_step = float(anchor.plan.global_batch_size) * seq
    return tokens_per_step / (tokens_per_second_per_accelerator * anchor.accelerator_count)


def anchor_step_time(anchor: ScaleAnchor, options: StepOptions) -> StepTime:
    """The step model at the anchor's published plan with the given stack options (which may hold
    arrays, e.g. a grid of compute realisations)."""
    return training_step_time(anchor.arch, float(anchor.sequence_length), anchor.plan, anchor_hardware(anchor), options)


def evaluate_anchor(anchor: ScaleAnchor, options: StepOptions | None = None) -> AnchorResult:
    """The step model at the anchor's published plan (context parallelism included), on the
    datasheet hardware, with the stack's options (default: its catalog options and its attention
    kernel on this generation, compute realisation 1: the physics before the stack calibration,
    for which these rows are fit data)."""
    hw = anchor_hardware(anchor)
    options = generation_step_options(anchor.framework, anchor.hardware_id) if options is None else options
    seq = float(anchor.sequence_length)
    step = anchor_step_time(anchor, options)
    tokens_per_step = float(anchor.plan.global_batch_size) * seq
    model_flops_per_token = float(flops_per_token(anchor.arch, seq).training_model)
    predicted_step = float(step.total)
    mfu = (
        model_flops_per_token * tokens_per_step / (predicted_step * anchor.accelerator_count * hw.peak_flops_per_second)
    )
    memory = training_memory(anchor.arch, seq, anchor.plan, options.flash_attention)
    parts = {name: float(value) for name, value in step.as_dict().items() if name not in ("total", "busy_fraction")}
    return AnchorResult(
        anchor,
        published_step_seconds(anchor),
        predicted_step,
        mfu,
        bool(float(memory.total) <= usable_training_memory_bytes(hw.memory_bytes)),
        parts,
    )


def run_scale_anchors() -> list[AnchorResult]:
    return [evaluate_anchor(anchor) for anchor in load_scale_anchors()]


def scored_mean_absolute_percentage_error(results: list[AnchorResult]) -> float:
    """Mean |step-time error| in percent over the scored rows (NaN when none is scored)."""
    errors = [abs(r.step_time_error) for r in results if r.anchor.scored]
    return float(np.mean(errors) * 100.0) if errors else float("nan")
