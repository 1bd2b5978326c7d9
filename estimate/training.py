"""A whole training run for a fixed plan: FLOPs, memory, step time, goodput, energy, cost.

`estimate_training_run` is the vectorised numeric core (every number in the scenario may be a
NumPy array; the planner, sweeps and Monte Carlo rely on it). Choosing a plan is `planner.py`'s
job; converting protobuf is the API edge's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flopwatt.estimate.accounting import flops_per_token, parameter_counts, training_flops_from_parameter_count
from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.constants import BACKWARD_FLOPS_PER_FORWARD_FLOP, CAUSAL_WORK_FRACTION, SECONDS_PER_HOUR
from flopwatt.estimate.hardware import HardwareModel
from flopwatt.estimate.memory import TrainingMemory, local_parameters, training_memory, usable_training_memory_bytes
from flopwatt.estimate.numeric import as_array, as_bool, as_float, clip, isfinite, where
from flopwatt.estimate.parallel_plan import RECOMPUTE_FULL, RECOMPUTE_SELECTIVE, ParallelPlan
from flopwatt.estimate.quick_init import quick_init
from flopwatt.estimate.run_cost import (
    FacilityInputs,
    GoodputInputs,
    RunCost,
    WallClockParts,
    parts_goodput,
    run_cost,
    wall_clock_parts,
)
from flopwatt.estimate.step_time import StepOptions, StepTime, training_step_time

ArrayLike = Any


@quick_init
@dataclass(frozen=True)
class TrainingScenario:
    """Everything a training estimate depends on, in domain units."""

    arch: ModelArchitecture
    training_tokens: ArrayLike
    sequence_length: ArrayLike
    hardware: HardwareModel
    plan: ParallelPlan
    facility: FacilityInputs
    options: StepOptions = field(default_factory=StepOptions)
    goodput_inputs: GoodputInputs = field(default_factory=GoodputInputs)
    goodput_override: ArrayLike = np.nan  # a request's fixed goodput (0..1]; NaN: modelled
    # When only a parameter count is known, model FLOPs use 6·N·D with this N (NaN: architecture).
    active_parameter_count_override: ArrayLike = np.nan
    # σ of the log of the stack's compute realisation from the calibration's cross-validated
    # residuals (stack_realisation.realisation_for); NaN: the pooled σ of every stack.
    model_error_sigma: float = np.nan
    model_error_basis: str = ""
    # A workload profile's operator table (estimate/operator_table.py): when set and the scenario
    # is one it covers, the step's device work is timed operator by operator from it.
    operator_table: Any = None


@quick_init
@dataclass(frozen=True)
class TrainingEstimate:
    """Outputs of a training estimate (arrays when the scenario holds arrays)."""

    scenario: TrainingScenario
    step: StepTime
    memory: TrainingMemory
    model_flops_per_token: ArrayLike
    hardware_flops_per_token: ArrayLike
    total_flops: ArrayLike
    step_count: ArrayLike
    step_seconds: ArrayLike
    productive_seconds: ArrayLike
    goodput: ArrayLike
    wall_clock_seconds: ArrayLike
    wall_clock: WallClockParts  # compute and each overhead; they sum to wall_clock_seconds
    accelerator_hours: ArrayLike
    model_flops_utilization: ArrayLike
    hardware_flops_utilization: ArrayLike
    tokens_per_second: ArrayLike
    accelerator_power_watts: ArrayLike
    cost: RunCost
    fits_in_memory: ArrayLike
    operator_coverage: Any = None  # OperatorStep when the step came from an operator table


@quick_init
@dataclass(frozen=True)
class StepEstimate:
    """The per-step part of an estimate: FLOPs per token, step time and memory. It depends only
    on the model, sequence, plan, hardware and options, never on the run-level inputs (tokens,
    facility, goodput), so a sweep computes it once per structural combination and reuses it for
    every point that shares the combination (most of a point's cost)."""

    step: StepTime
    memory: TrainingMemory
    model_flops_per_token: ArrayLike
    hardware_flops_per_token: ArrayLike
    operator_coverage: Any = None  # OperatorStep when the step came from an operator table


def estimate_step(scenario: TrainingScenario) -> StepEstimate:
    """FLOPs per token, step time and memory of the scenario's (fixed) plan."""
    arch, plan, hw = scenario.arch, scenario.plan, scenario.hardware
    seq = as_float(scenario.sequence_length)
    counts = parameter_counts(arch)  # once: step time, memory and FLOPs all need them
    per_token = flops_per_token(arch, seq, counts)
    override = as_float(scenario.active_parameter_count_override)
    model_per_token = where(
        isfinite(override),
        training_flops_from_parameter_count(where(isfinite(override), override, 0.0), 1.0),
        per_token.training_model,
    )
    recompute = as_array(plan.activation_recompute)
    flash = as_bool(scenario.options.flash_attention)
    # HFU counts the work the step executes; MFU keeps the convention of full (non-causal)
    # attention. A fused causal kernel computes about half the score matrix; unfused attention
    # (Megatron 2022) computes all of it and masks afterwards. Recomputation adds its forward.
    executed_attention_forward = per_token.attention_forward * where(flash, CAUSAL_WORK_FRACTION, 1.0)
    executed_forward = per_token.forward - per_token.attention_forward + executed_attention_forward
    recompute_extra = where(
        recompute == RECOMPUTE_FULL,
        executed_forward * clip(as_float(plan.recompute_layer_fraction), 0.0, 1.0),
        where((recompute == RECOMPUTE_SELECTIVE) & ~flash, per_token.attention_forward, 0.0),
    )
    executed_training = executed_forward * (1.0 + BACKWARD_FLOPS_PER_FORWARD_FLOP)
    hardware_per_token = (executed_training + recompute_extra) * model_per_token / per_token.training_model
    local = local_parameters(arch, plan, counts)  # once: step time and memory both need them
    step = training_step_time(arch, seq, plan, hw, scenario.options, counts, local)
    coverage = None
    if scenario.operator_table is not None:
        from flopwatt.estimate.operator_table import training_step_from_operators

        rebuilt = training_step_from_operators(arch, scenario.sequence_length, plan, hw, step, scenario.operator_table)
        if rebuilt is not None:
            step, coverage = rebuilt
    return StepEstimate(
        step=step,
        memory=training_memory(arch, seq, plan, flash, counts, local),
        model_flops_per_token=model_per_token,
        hardware_flops_per_token=hardware_per_token,
        operator_coverage=coverage,
    )


def estimate_training_run(scenario: TrainingScenario, step_estimate: StepEstimate | None = None) -> TrainingEstimate:
    """Run-level estimate for the scenario's (fixed) plan. `step_estimate`, when given, must be
    estimate_step of a scenario with the same structural inputs (a sweep passes one computed per
    structural combination and gathered to its points); the run-level inputs come from `scenario`."""
    plan, hw = scenario.plan, scenario.hardware
    seq = as_float(scenario.sequence_length)
    per_step = estimate_step(scenario) if step_estimate is None else step_estimate
    step, memory = per_step.step, per_step.memory
    model_per_token, hardware_per_token = per_step.model_flops_per_token, per_step.hardware_flops_per_token
    tokens_per_step = as_float(plan.global_batch_size) * seq
    step_count = np.ceil(as_float(scenario.training_tokens) / tokens_per_step)
    productive = step_count * step.total
    n = plan.accelerator_count
    modelled = wall_clock_parts(n, productive, scenario.goodput_inputs)
    fixed = as_float(scenario.goodput_override)
    # A fixed goodput replaces the model: its whole loss is one unattributed part (the request
    # said how much time is lost, not to what).
    is_fixed = isfinite(fixed)
    zero = 0.0 * productive
    parts = WallClockParts(
        compute=productive,
        checkpointing=where(is_fixed, zero, modelled.checkpointing),
        failures_and_restarts=where(is_fixed, zero, modelled.failures_and_restarts),
        startup=where(is_fixed, zero, modelled.startup),
        evaluation=where(is_fixed, zero, modelled.evaluation),
        request_goodput_loss=where(is_fixed, productive / where(is_fixed, fixed, 1.0) - productive, zero),
    )
    good = where(is_fixed, fixed, parts_goodput(modelled))
    wall = where(is_fixed, productive / where(is_fixed, fixed, 1.0), modelled.total)
    peak = n * hw.peak_flops_per_second
    power = hw.power_watts(step.busy_fraction)
    return TrainingEstimate(
        scenario=scenario,
        step=step,
        memory=memory,
        model_flops_per_token=model_per_token,
        hardware_flops_per_token=hardware_per_token,
        total_flops=model_per_token * as_float(scenario.training_tokens),
        step_count=step_count,
        step_seconds=step.total,
        productive_seconds=productive,
        goodput=good,
        wall_clock_seconds=wall,
        wall_clock=parts,
        accelerator_hours=n * wall / SECONDS_PER_HOUR,
        model_flops_utilization=model_per_token * tokens_per_step / (step.total * peak),
        hardware_flops_utilization=hardware_per_token * tokens_per_step / (step.total * peak),
        tokens_per_second=tokens_per_step / step.total,
        accelerator_power_watts=power,
        cost=run_cost(n, wall, power, scenario.facility),
        fits_in_memory=memory.total <= usable_training_memory_bytes(hw.memory_bytes),
        operator_coverage=per_step.operator_coverage,
    )
