"""Whole-run validation: accelerator-hours (and energy, where published) of real training runs.

Each published run (validation/data/published_runs.csv, every row with its source and date) is
estimated the way EstimateTraining would, in datasheet mode, from what the run published: model,
accelerator, precision, accelerator count, tokens, sequence length, global batch and whatever
parallelism was published (the planner chooses the rest). Nothing is fitted on this table; it
tests the whole chain at once: step time × steps ÷ goodput.

Energy: most published "energy" figures are GPU-hours × TDP (a nameplate convention, not a
meter reading: Llama's model cards, BLOOM's 433 MWh). Those rows show our accelerator energy
beside them (expected ≈ 24 % lower: measured training nodes draw ~76 % of nameplate) but are not
scored; rows whose energy kind is "metered" would be scored against our facility energy.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, replace
from importlib import resources

import numpy as np

from flopwatt.estimate import constants as C
from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.campus_defaults import it_capex_usd_per_accelerator
from flopwatt.estimate.catalog import get_hardware, get_model_preset
from flopwatt.estimate.hardware import datasheet_hardware_model
from flopwatt.estimate.parallel_plan import RECOMPUTE_BY_NAME, RECOMPUTE_FULL
from flopwatt.estimate.planner import PlanConstraints, choose_plan
from flopwatt.estimate.run_cost import FacilityInputs
from flopwatt.estimate.stack_realisation import calibrated_step_options
from flopwatt.estimate.training import TrainingScenario, estimate_training_run

DATA_FILE = "published_runs.csv"
JOULES_PER_KWH = C.JOULES_PER_KWH
BYTES_PER_GB = 1e9
# Architectures of published runs without a catalog preset. BLOOM-176B: 70 layers, hidden 14,336,
# 112 heads, GeLU MLP of 4h, 250,880-token vocabulary, tied embeddings (BigScience 2022, arXiv
# 2211.05100, Table 3).
ARCHITECTURES = {
    "bloom-176b": ModelArchitecture(
        layer_count=70,
        hidden_size=14336,
        attention_head_count=112,
        kv_head_count=112,
        ffn_hidden_size=4 * 14336,
        vocab_size=250880,
        gated_mlp=False,
        tied_embeddings=True,
    ),
}
ENERGY_SCORED_KINDS = ("metered",)


@dataclass(frozen=True)
class PublishedRun:
    run: str
    arch: ModelArchitecture
    hardware_id: str
    precision: str
    accelerator_count: int
    accelerator_count_source: str
    training_tokens: float
    sequence_length: int
    global_batch_sequences: int
    tensor_parallel_size: int | None
    pipeline_parallel_size: int | None
    context_parallel_size: int | None  # 1 where the plan is published (no CP); None: the planner chooses
    # The rest of the plan where the run's own publications state it (None: the planner chooses).
    # A published field is always fixed, whichever way it moves the row: choosing which published
    # inputs to honour would be fitting by selection.
    expert_parallel_size: int | None
    micro_batch_size: int | None
    zero_stage: int | None
    activation_recompute: int | None  # RECOMPUTE_NONE / _SELECTIVE / _FULL
    # The run's published effective-training-time share, a request's fixed goodput (NaN: modelled).
    published_goodput: float
    published_accelerator_hours: float
    published_energy_joules: float  # NaN when none is published
    energy_kind: str  # "nameplate" (hours × TDP), "metered", or "none"
    hours_scope: str  # what the published hours include that we do or do not model
    source: str
    source_date: str
    framework: str = ""  # the published software stack ("" = generic), a request input
    # Published cluster scale-out bandwidth per accelerator per direction (NaN: the catalog
    # accelerator's default node, e.g. a DGX's one 400 Gb/s NIC per H100).
    scale_out_bytes_per_second: float = math.nan
    exclusion_reason: str = ""  # why the row is shown but not scored ("" = scored)

    @property
    def scored(self) -> bool:
        return not self.exclusion_reason


@dataclass(frozen=True)
class WholeRunResult:
    run: PublishedRun
    predicted_accelerator_hours: float
    predicted_accelerator_energy_joules: float
    predicted_facility_energy_joules: float
    model_flops_utilization: float
    goodput: float
    plan: str
    fits_in_memory: bool

    @property
    def hours_error(self) -> float:
        """(predicted − published) / published accelerator-hours."""
        return self.predicted_accelerator_hours / self.run.published_accelerator_hours - 1.0

    @property
    def energy_error(self) -> float:
        """Our energy of the published kind against the published figure (NaN without one):
        facility energy for a metered figure, accelerator energy for a nameplate one."""
        published = self.run.published_energy_joules
        ours = (
            self.predicted_facility_energy_joules
            if self.run.energy_kind == "metered"
            else self.predicted_accelerator_energy_joules
        )
        return ours / published - 1.0 if math.isfinite(published) else math.nan


def _optional_int(text: str) -> int | None:
    return int(text) if text.strip() else None


def _optional_recompute(text: str) -> int | None:
    """none / selective / full (parallel_plan.RECOMPUTE_NAMES), or None when not published."""
    name = text.strip()
    if not name:
        return None
    if name not in RECOMPUTE_BY_NAME:
        raise ValueError(f"activation_recompute {name!r} is not one of {sorted(RECOMPUTE_BY_NAME)}")
    return RECOMPUTE_BY_NAME[name]


def load_published_runs() -> list[PublishedRun]:
    text = resources.files("flopwatt.estimate.validation").joinpath("data", DATA_FILE).read_text()
    runs = []
    for row in csv.DictReader(text.splitlines()):
        arch = get_model_preset(row["model_preset"]).architecture if row["model_preset"] else ARCHITECTURES[row["run"]]
        arch = replace(arch, dropout=row["dropout"].strip() == "yes")
        scale_out = row["scale_out_gb_per_s_per_accelerator"].strip()
        energy = float(row["published_energy_kwh"]) * JOULES_PER_KWH if row["published_energy_kwh"] else math.nan
        runs.append(
            PublishedRun(
                run=row["run"],
                arch=arch,
                hardware_id=row["hardware_id"],
                precision=row["precision"],
                accelerator_count=int(row["accelerator_count"]),
                accelerator_count_source=row["accelerator_count_source"],
                training_tokens=float(row["training_tokens"]),
                sequence_length=int(row["sequence_length"]),
                global_batch_sequences=int(row["global_batch_sequences"]),
                tensor_parallel_size=_optional_int(row["tensor_parallel"]),
                pipeline_parallel_size=_optional_int(row["pipeline_parallel"]),
                context_parallel_size=_optional_int(row["context_parallel"]),
                expert_parallel_size=_optional_int(row["expert_parallel"]),
                micro_batch_size=_optional_int(row["micro_batch"]),
                zero_stage=_optional_int(row["zero_stage"]),
                activation_recompute=_optional_recompute(row["activation_recompute"]),
                published_goodput=float(row["goodput"]) if row["goodput"].strip() else math.nan,
                published_accelerator_hours=float(row["published_accelerator_hours"]),
                published_energy_joules=energy,
                energy_kind=row["energy_kind"],
                hours_scope=row["hours_scope"],
                source=row["source"],
                source_date=row["source_date"],
                framework=row["framework"],
                scale_out_bytes_per_second=float(scale_out) * BYTES_PER_GB if scale_out else math.nan,
                exclusion_reason="" if row["scored"].strip() == "yes" else row["scored"].split(":", 1)[-1].strip(),
            )
        )
    return runs


def _default_facility(hardware_id: str) -> FacilityInputs:
    """The estimator's sourced defaults (constants.py): what a request without facility gets."""
    return FacilityInputs(
        pue=C.DEFAULT_PUE,
        carbon_intensity_grams_per_kwh=C.DEFAULT_CARBON_INTENSITY_GRAMS_PER_KWH,
        electricity_price_usd_per_kwh=C.DEFAULT_ELECTRICITY_PRICE_USD_PER_KWH,
        host_power_watts_per_accelerator=C.HOST_POWER_WATTS_PER_ACCELERATOR,
        network_power_watts_per_accelerator=C.NETWORK_POWER_WATTS_PER_ACCELERATOR,
        capex_usd_per_accelerator=it_capex_usd_per_accelerator(hardware_id),
    )


def estimate_run(run: PublishedRun) -> WholeRunResult:
    """The estimate of one published run on its published framework (generic when none is
    published) with that stack's fitted compute realisation, as a user's estimate would be (no
    run is in the realisation's fit data), with the planner for the unpublished fields."""
    spec = get_hardware(run.hardware_id)
    if math.isfinite(run.scale_out_bytes_per_second):
        spec = replace(spec, scale_out_bandwidth_bytes_per_second=run.scale_out_bytes_per_second)
    hw = datasheet_hardware_model(spec, run.precision)
    options = calibrated_step_options(run.framework, run.hardware_id, run.precision)
    fixed = PlanConstraints(
        tensor_parallel_size=run.tensor_parallel_size,
        pipeline_parallel_size=run.pipeline_parallel_size,
        context_parallel_size=run.context_parallel_size,
        expert_parallel_size=run.expert_parallel_size,
        micro_batch_size=run.micro_batch_size,
        zero_stage=run.zero_stage,
        activation_recompute=run.activation_recompute,
        global_batch_size=run.global_batch_sequences,
    )
    choice = choose_plan(run.arch, run.accelerator_count, run.sequence_length, hw, fixed, options)
    scenario = TrainingScenario(
        arch=run.arch,
        training_tokens=run.training_tokens,
        sequence_length=float(run.sequence_length),
        hardware=hw,
        plan=choice.plan,
        facility=_default_facility(run.hardware_id),
        options=options,
        goodput_override=run.published_goodput,
    )
    estimate = estimate_training_run(scenario)
    scalar = lambda value: float(np.asarray(value, float).reshape(-1)[0])  # noqa: E731
    p = choice.plan
    plan = (
        f"TP{p.tensor_parallel_size} CP{p.context_parallel_size} PP{p.pipeline_parallel_size}×{p.pipeline_interleaving} DP{p.data_parallel_size} "
        f"EP{p.expert_parallel_size} mb{p.micro_batch_size} ZeRO{p.zero_stage} rc{p.activation_recompute}"
        + (
            f"({p.recompute_layer_fraction:.2f})"
            if p.activation_recompute == RECOMPUTE_FULL and p.recompute_layer_fraction < 1
            else ""
        )
    )
    return WholeRunResult(
        run,
        scalar(estimate.accelerator_hours),
        scalar(estimate.cost.accelerator_energy_joules),
        scalar(estimate.cost.facility_energy_joules),
        scalar(estimate.model_flops_utilization),
        scalar(estimate.goodput),
        plan,
        bool(scalar(estimate.fits_in_memory)),
    )


def run_whole_runs() -> list[WholeRunResult]:
    return [estimate_run(run) for run in load_published_runs()]


def median_absolute_hours_error(results: list[WholeRunResult]) -> float:
    """Over the scored rows (rows excluded with a stated reason are shown, not scored)."""
    return float(np.median([abs(r.hours_error) for r in results if r.run.scored]))


def median_absolute_energy_error(results: list[WholeRunResult]) -> float:
    """Over rows with a metered energy figure only (NaN when there is none)."""
    scored = [abs(r.energy_error) for r in results if r.run.energy_kind in ENERGY_SCORED_KINDS and r.run.scored]
    return float(np.median(scored)) if scored else math.nan
