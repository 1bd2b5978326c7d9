"""Monte Carlo intervals: the same vectorised model evaluated at sampled uncertain inputs.

Why this shape: every uncertain input is drawn as a log-normal whose *median is the value the
deterministic estimate uses*, so the deterministic answer is the model at the inputs' medians
and the p50 of the samples sits next to it; the spreads come from the published error of each
input (cited below). Samples are drawn from one seeded generator in a fixed order, so a seed
reproduces the intervals exactly. The plan (and the serving batch) stay at the deterministic
choice: the intervals describe the uncertainty of one plan's outcome, not of the planner.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

import numpy as np

from flopwatt.estimate.assumptions import Assumption
from flopwatt.estimate.hardware import HardwareModel, MeasuredGemmMap
from flopwatt.estimate.inference import InferenceScenario, ServingMetrics, scenario_serving_metrics
from flopwatt.estimate.stack_realisation import stack_calibration
from flopwatt.estimate.training import TrainingEstimate, TrainingScenario, estimate_training_run

ArrayLike = Any
# Largest sample count a request may ask for (each output is an array of this length).
MAX_SAMPLES = 100_000
PERCENTILES = (5.0, 50.0, 95.0)


@dataclass(frozen=True)
class UncertainInput:
    """A log-normal input: value = floor + (median − floor) · exp(sigma · z), z ~ N(0, 1)."""

    name: str
    sigma: float  # standard deviation of the log (dimensionless)
    source: str
    floor: float = 0.0  # PUE uses 1: only the overhead above 1 is uncertain


# Model error of the GEMM-efficiency-driven step time: vTrain's published MAPE is 8.37 % single
# node and 14.73 % multi-node (MICRO'24); for a log-normal, MAPE ≈ 0.8·σ, so σ = 0.12 sits between.
# The multiplier applies to the kernel throughputs the step-time model rests on (GEMM rate and
# memory bandwidth): the MAPE it comes from is that of whole step times, not of GEMMs alone, and
# serving's decode step is bandwidth-bound.
COMPUTE_EFFICIENCY = UncertainInput(
    "compute_efficiency",
    0.12,
    "kernel throughput multiplier (GEMM rate and memory bandwidth), median 1; σ from vTrain step-time MAPE 8.4-14.7 % (2024) via MAPE ≈ 0.8σ",
)
# Power model error: a FLOP-calibrated node power model has 11.4 % MAPE (arXiv 2506.14551, 2025).
POWER_DRAW = UncertainInput(
    "power_draw",
    0.14,
    "accelerator power multiplier, median 1; σ from 11.4 % MAPE of measured node power models (arXiv 2506.14551, 2025)",
)
# Interruption rates of large runs differ by about 2× between reports (Llama 3, arXiv 2407.21783;
# MegaScale, arXiv 2402.15627; OPT-175B logbook, 2022): 90 % of draws within ×/÷ 2.3 → σ = 0.5.
FAILURE_RATE = UncertainInput(
    "failure_rate",
    0.5,
    "failures per accelerator-hour multiplier (goodput), median 1; σ 0.5 from the ~2× spread of published rates",
)
# PUE of AI facilities: Google fleet 1.10 (2023) to the industry's 1.58 (Uptime 2023): σ 0.3 on PUE − 1.
PUE = UncertainInput(
    "pue", 0.3, "PUE − 1 log-normal, median the estimate's PUE; σ 0.3 (Google 1.10 … Uptime 1.58, 2023)", floor=1.0
)
# US industrial electricity prices 2023 range ~5-15 ¢/kWh by state (EIA Electric Power Monthly, 2024).
ELECTRICITY_PRICE = UncertainInput(
    "electricity_price", 0.25, "price multiplier, median 1; σ 0.25 from the US state spread (EIA 2024)"
)
# Cloud accelerator-hour prices for one part differ by ~±40 % across providers and terms (Cottier et
# al. 2024, arXiv 2405.21015, cloud price data).
HOUR_PRICE = UncertainInput(
    "accelerator_hour_price",
    0.25,
    "hour price multiplier, median 1; σ 0.25 from the cloud price spread (Cottier et al. 2024)",
)
# Model error of a training step: the stack's compute realisation is uncertain by the spread of
# the leave-one-source-out residuals of its calibration (stack_realisation: the realisation each
# held-out published row would have needed against the one the estimator gave it). This σ is the
# pooled one; a scenario carries its stack's (TrainingScenario.model_error_sigma). It replaces
# COMPUTE_EFFICIENCY for training: those residuals already hold the kernel-throughput error.
STEP_MODEL_ERROR = UncertainInput(
    "step_model_error",
    stack_calibration().model_error_sigma_overall,
    "compute-realisation multiplier, median 1; σ of the log realisation residuals of every cross-validated "
    "published step row (catalog data/stack_calibration.json; coverage of p5-p95 on the CV folds: flopwatt validate)",
)
# Drawn in this order (appended inputs keep the earlier inputs' draws for a given seed).
INPUTS = (COMPUTE_EFFICIENCY, POWER_DRAW, FAILURE_RATE, PUE, ELECTRICITY_PRICE, HOUR_PRICE, STEP_MODEL_ERROR)


@dataclass(frozen=True)
class Draws:
    """Multipliers (median 1) per uncertain input, each an array of `samples` values."""

    factors: Mapping[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.factors[name]

    def pue(self, median: ArrayLike) -> np.ndarray:
        """PUE samples: 1 + (median − 1) · factor, so PUE ≥ 1 always."""
        return PUE.floor + (np.asarray(median, float) - PUE.floor) * self.factors[PUE.name]


def draw(samples: int, seed: int) -> Draws:
    """Seeded draws of every input, in the fixed order of INPUTS (reproducible)."""
    if not 1 <= samples <= MAX_SAMPLES:
        raise ValueError(f"samples must be between 1 and {MAX_SAMPLES}")
    rng = np.random.default_rng(np.uint64(seed & 0xFFFFFFFFFFFFFFFF))
    normals = rng.standard_normal((len(INPUTS), samples))
    return Draws({item.name: np.exp(item.sigma * z) for item, z in zip(INPUTS, normals)})


def median_draws(samples: int = 1) -> Draws:
    """Every input at its median (factor 1): the deterministic estimate."""
    return Draws({item.name: np.ones(samples) for item in INPUTS})


@dataclass(frozen=True)
class Interval:
    p5: float
    p50: float
    p95: float


def interval(values: ArrayLike) -> Interval:
    """p5/p50/p95 of the finite samples (NaN interval when none is finite)."""
    array = np.asarray(values, float).reshape(-1)
    finite = array[np.isfinite(array)]
    if finite.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    p5, p50, p95 = np.percentile(finite, PERCENTILES)
    return Interval(float(p5), float(p50), float(p95))


def intervals(outputs: Mapping[str, ArrayLike]) -> dict[str, Interval]:
    return {name: interval(values) for name, values in outputs.items()}


# The unit of every output an interval is drawn for, by response field name. Why a table: a
# reader of `intervals["cost"]` cannot tell USD from cents, nor seconds from hours, without it;
# an output missing here fails loudly (KeyError) instead of reaching a client without a unit.
OUTPUT_UNITS = {
    # EstimateTraining
    "wall_clock_duration": "seconds",
    "step_duration": "seconds",
    "accelerator_hours": "hours",
    "accelerator_energy_joules": "joules",
    "facility_energy_joules": "joules",
    "cost": "usd",
    "co2e_kilograms": "kilograms_co2e",
    "model_flops_utilization": "ratio",
    "goodput": "ratio",
    # EstimateInference
    "time_to_first_token": "seconds",
    "time_per_output_token": "seconds",
    "output_tokens_per_second": "tokens_per_second",
    "energy_per_output_token_joules": "joules",
    "cost_per_million_output_tokens": "usd",
    # EstimateCampus
    "accelerator_count": "count",
    "annual_energy_joules": "joules",
    "annual_energy_cost": "usd",
    "annual_co2e_kilograms": "kilograms_co2e",
    "sustained_flops_per_second": "flops_per_second",
    "total_capital_cost": "usd",
    "training_runs_per_year": "runs_per_year",
    "output_tokens_per_day": "tokens_per_day",
}


def assumptions(names: tuple[str, ...], samples: int, seed: int) -> list[Assumption]:
    """The distributions used, one assumption each, plus the sampling itself."""
    used = [item for item in INPUTS if item.name in names]
    items = [
        Assumption(f"uncertainty.{item.name}", f"log-normal σ={item.sigma:g}", "default", item.source) for item in used
    ]
    items.append(
        Assumption(
            "uncertainty.samples",
            f"{samples} samples, seed {seed}",
            "request",
            "Monte Carlo; intervals are p5/p50/p95; the plan and batch stay at the deterministic choice",
        )
    )
    return items


# --- applying draws to the model's inputs -------------------------------------------------------------


@dataclass(frozen=True)
class ScaledGemmMap:
    """A measured GEMM map whose rates are multiplied by `factor` (an array of samples)."""

    base: MeasuredGemmMap
    factor: np.ndarray

    def rate(self, m: ArrayLike, n: ArrayLike, k: ArrayLike) -> np.ndarray:
        return self.base.rate(m, n, k) * self.factor


def scale_hardware(hw: HardwareModel, compute_factor: ArrayLike, power_factor: ArrayLike) -> HardwareModel:
    """Hardware whose kernel throughput (GEMM rate, memory bandwidth) and power draw are
    multiplied by the given factors."""
    changes: dict[str, Any] = {
        "tdp_watts": hw.tdp_watts * power_factor,
        "memory_bandwidth_bytes_per_second": hw.memory_bandwidth_bytes_per_second * np.asarray(compute_factor, float),
    }
    if hw.gemm_map is not None:
        changes["gemm_map"] = ScaledGemmMap(hw.gemm_map, np.asarray(compute_factor, float))
    else:
        changes["sustained_gemm_flops_per_second"] = hw.sustained_gemm_flops_per_second * compute_factor
    if hw.idle_watts is not None and hw.load_watts is not None:
        changes["idle_watts"] = hw.idle_watts * power_factor
        changes["load_watts"] = hw.load_watts * power_factor
    if hw.memory_bound_watts is not None:
        changes["memory_bound_watts"] = hw.memory_bound_watts * power_factor
    return replace(hw, **changes)


def scale_facility(facility: Any, draws: Draws) -> Any:
    """run_cost.FacilityInputs with PUE and prices at the drawn values (NaN prices stay NaN)."""
    return replace(
        facility,
        pue=draws.pue(facility.pue),
        electricity_price_usd_per_kwh=np.asarray(facility.electricity_price_usd_per_kwh, float)
        * draws[ELECTRICITY_PRICE.name],
        accelerator_hour_price_usd=np.asarray(facility.accelerator_hour_price_usd, float) * draws[HOUR_PRICE.name],
    )


def model_error_sigma(scenario: TrainingScenario) -> float:
    """The scenario's stack σ, or the pooled one when it carries none."""
    return STEP_MODEL_ERROR.sigma if np.isnan(scenario.model_error_sigma) else float(scenario.model_error_sigma)


def training_samples(scenario: TrainingScenario, draws: Draws) -> TrainingEstimate:
    """The training estimate of the scenario at the drawn inputs, in one vectorised call.

    The step's model error enters as the stack's compute realisation times a log-normal factor of
    the scenario's σ (the drawn factor is exp(σ_pooled·z), so factor^(σ/σ_pooled) = exp(σ·z): the
    same z, hence coupled with any other estimate drawn from these draws). Goodput is sampled
    through the failure rate unless the request fixed goodput."""
    error = np.asarray(draws[STEP_MODEL_ERROR.name], float) ** (model_error_sigma(scenario) / STEP_MODEL_ERROR.sigma)
    options = replace(scenario.options, compute_realisation=np.asarray(scenario.options.compute_realisation) * error)
    hw = scale_hardware(scenario.hardware, np.ones_like(error), draws[POWER_DRAW.name])
    goodput_inputs = replace(
        scenario.goodput_inputs,
        failures_per_accelerator_hour=np.asarray(scenario.goodput_inputs.failures_per_accelerator_hour, float)
        * draws[FAILURE_RATE.name],
    )
    return estimate_training_run(
        replace(
            scenario,
            hardware=hw,
            options=options,
            facility=scale_facility(scenario.facility, draws),
            goodput_inputs=goodput_inputs,
        )
    )


TRAINING_INPUTS = (
    STEP_MODEL_ERROR.name,
    POWER_DRAW.name,
    FAILURE_RATE.name,
    PUE.name,
    ELECTRICITY_PRICE.name,
    HOUR_PRICE.name,
)


def training_outputs(estimate: TrainingEstimate) -> dict[str, np.ndarray]:
    """The main outputs of a (sampled) training estimate, keyed by response field name."""
    return {
        "wall_clock_duration": estimate.wall_clock_seconds,
        "step_duration": estimate.step_seconds,
        "accelerator_hours": estimate.accelerator_hours,
        "accelerator_energy_joules": estimate.cost.accelerator_energy_joules,
        "facility_energy_joules": estimate.cost.facility_energy_joules,
        "cost": estimate.cost.cost_usd,
        "co2e_kilograms": estimate.cost.co2e_kilograms,
        "model_flops_utilization": estimate.model_flops_utilization,
        "goodput": estimate.goodput,
    }


def training_intervals(
    scenario: TrainingScenario, samples: int, seed: int
) -> tuple[dict[str, Interval], list[Assumption]]:
    """Intervals of EstimateTraining's main outputs (seconds for durations, USD for cost).

    Integration at the API edge: `intervals, extra = training_intervals(scenario, u.samples, u.seed)`
    then `response.intervals[name].CopyFrom(Interval(p5=.., p50=.., p95=..))` and extend assumptions."""
    estimate = training_samples(scenario, draw(samples, seed))
    return intervals(training_outputs(estimate)), training_assumptions(scenario, samples, seed)


def training_assumptions(scenario: TrainingScenario, samples: int, seed: int) -> list[Assumption]:
    """The training distributions, the model error stated with the scenario's own σ and basis."""
    items = assumptions(TRAINING_INPUTS, samples, seed)
    if not np.isnan(scenario.model_error_sigma):
        sigma = model_error_sigma(scenario)
        items = [
            replace(
                item,
                value=f"log-normal σ={sigma:.3g}",
                source=f"compute-realisation multiplier, median 1; {scenario.model_error_basis}",
            )
            if item.name == f"uncertainty.{STEP_MODEL_ERROR.name}"
            else item
            for item in items
        ]
    return items


INFERENCE_INPUTS = (COMPUTE_EFFICIENCY.name, POWER_DRAW.name, PUE.name, ELECTRICITY_PRICE.name, HOUR_PRICE.name)


def inference_samples(scenario: InferenceScenario, batch_size: int, draws: Draws) -> ServingMetrics:
    """Serving at `batch_size` (the deterministic choice) at the drawn inputs, in one call."""
    hw = scale_hardware(scenario.hardware, draws[COMPUTE_EFFICIENCY.name], draws[POWER_DRAW.name])
    return scenario_serving_metrics(
        scenario, float(batch_size), hardware=hw, facility=scale_facility(scenario.facility, draws)
    )


def inference_outputs(metrics: ServingMetrics) -> dict[str, np.ndarray]:
    """The main serving outputs, keyed by EstimateInferenceResponse field name (seconds, USD)."""
    return {
        "time_to_first_token": metrics.time_to_first_token_seconds,
        "time_per_output_token": metrics.time_per_output_token_seconds,
        "output_tokens_per_second": metrics.output_tokens_per_second,
        "energy_per_output_token_joules": metrics.energy_per_output_token_joules,
        "cost_per_million_output_tokens": metrics.cost_per_million_output_tokens_usd,
    }


def inference_intervals(
    scenario: InferenceScenario, batch_size: int, samples: int, seed: int
) -> tuple[dict[str, Interval], list[Assumption]]:
    """Intervals of EstimateInference's main outputs at the deterministic batch."""
    metrics = inference_samples(scenario, batch_size, draw(samples, seed))
    return intervals(inference_outputs(metrics)), assumptions(INFERENCE_INPUTS, samples, seed)


CAMPUS_INPUTS = (COMPUTE_EFFICIENCY.name, POWER_DRAW.name, PUE.name, ELECTRICITY_PRICE.name, HOUR_PRICE.name)


def campus_samples(inputs: Any, draws: Draws) -> Any:
    """campus.size_campus at the drawn inputs (one vectorised call). A power budget with a drawn
    PUE changes the accelerator count; a count or a budget keeps it (up to the tiers)."""
    from flopwatt.estimate.campus import size_campus

    return size_campus(
        replace(
            inputs,
            power=replace(inputs.power, pue=draws.pue(inputs.power.pue)),
            electricity_price_usd_per_kwh=np.asarray(inputs.electricity_price_usd_per_kwh, float)
            * draws[ELECTRICITY_PRICE.name],
            accelerator_hour_price_usd=np.asarray(inputs.accelerator_hour_price_usd, float) * draws[HOUR_PRICE.name],
            power_draw_factor=draws[POWER_DRAW.name],
            compute_efficiency_factor=draws[COMPUTE_EFFICIENCY.name],
        )
    )


def campus_outputs(sizing: Any) -> dict[str, np.ndarray]:
    """The main campus outputs, keyed by EstimateCampusResponse field name."""
    return {
        "accelerator_count": sizing.accelerator_count,
        "annual_energy_joules": sizing.annual_energy_joules,
        "annual_energy_cost": sizing.annual_energy_cost_usd,
        "annual_co2e_kilograms": sizing.annual_co2e_kilograms,
        "sustained_flops_per_second": sizing.sustained_flops_per_second,
        "total_capital_cost": sizing.total_capex_usd,
    }
