"""Proto-free scenario builders: a workload (dataclasses) → the scenario the physics estimates,
with a chosen plan and every assumption that explains it.

Why here: EstimateTraining and EstimateInference, campus sizing (a training job at the largest
size one job can use, serving replicas) and sweeps (one planned scenario per structural
combination) all build scenarios. Composing them on dataclasses keeps the composers free of
protobuf and gives every path the same checks: a workload that cannot form a scenario raises
ScenarioError naming the request field, an unknown id CatalogLookupError. Range checks of the
message fields themselves (whole numbers, maxima, NaN) stay at the API edge.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import operator
from dataclasses import dataclass

from flopwatt.estimate import constants as C
from flopwatt.estimate import fitted_constants
from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.assumptions import Assumption
from flopwatt.estimate.catalog import CatalogLookupError, EngineSpec, engine_ids, get_engine, get_hardware
from flopwatt.estimate.facility_choice import FacilityChoice, facility_inputs
from flopwatt.estimate.hardware import (
    HardwareModel,
    ScaleOutUnavailableError,
    check_scale_out,
    memory_bound_dynamic_share,
    profiled_hardware_model,
    shared_datasheet_hardware_model,
)
from flopwatt.estimate.inference import (
    InferenceScenario,
    Speculation,
    check_expert_parallel_size,
    default_kv_cache_precision,
)
from flopwatt.estimate.measured_profile import MeasuredProfile
from flopwatt.estimate.model_choice import ModelChoice, resolve_model
from flopwatt.estimate.parallel_plan import RECOMPUTE_FULL, RECOMPUTE_NAMES, ParallelPlan
from flopwatt.estimate.planner import (
    PlanChoice,
    PlanConstraintError,
    PlanConstraints,
    choose_plan,
    complete_plan,
    expert_parallel_fits,
    interleaving_without_pipeline,
    virtual_stages_exceed_layers,
)
from flopwatt.estimate.profile_checks import profile_hardware_id
from flopwatt.estimate.quick_init import quick_init
from flopwatt.estimate.run_cost import GoodputInputs, goodput
from flopwatt.estimate.scenario_errors import Problem, ScenarioError
from flopwatt.estimate.serving_realisation import decode_realisation_for
from flopwatt.estimate.stack_realisation import calibrated_step_options, realisation_for
from flopwatt.estimate.step_time import (
    FRAMEWORK_GENERIC,
    FRAMEWORK_STEP_OPTIONS,
    framework_spec,
    framework_step_options,
)
from flopwatt.estimate.training import TrainingScenario

DATASHEET_CALIBRATION = Assumption(
    "calibration", "datasheet", "datasheet", "no profile_id: datasheet peaks with the fitted default efficiencies"
)
# Assumptions that depend only on module constants, formatted once at import rather than per request.
CONTEXT_PARALLEL = Assumption(
    "context_parallel",
    "K/V all-gathered per layer (forward and backward), gradients reduce-scattered, exposed",
    "default",
    "each rank holds sequence/CP tokens and 1/CP of the causal scores; the K/V exchange is not hidden behind attention "
    "(Llama 3 §3.3.2, all-gather CP; Megatron-Core's ring overlaps it, so this errs slow); gradients reduced and ZeRO "
    "sharded over DP × CP",
)
FLOP_CONVENTION = Assumption(
    "flop_convention",
    "MFU: 6·N per token + 12·L·s·d_attn (full, non-causal attention); HFU: executed FLOPs",
    "default",
    "MFU counts the full score matrix, the PaLM (appendix B) / Megatron convention (Kaplan 2020 for 6·N); HFU counts the work "
    "the step executes: a fused causal kernel computes about half the score matrix (FlashAttention-2), unfused attention all "
    "of it, and recomputation adds its forward (Korthikanti 2022). At long context HFU is therefore below MFU, and where "
    "attention dominates the step MFU can pass 1 (it counts score-matrix work the causal kernel skips)",
)
MEMORY_HEADROOM = Assumption(
    "memory_headroom",
    f"{C.TRAINING_MEMORY_HEADROOM_FRACTION:.0%} of accelerator memory left free",
    "default",
    "plans fit within the rest: allocator fragmentation and unmodelled peaks (constants.TRAINING_MEMORY_HEADROOM_FRACTION)",
)
FITTED_CONSTANTS = Assumption(
    "fitted_constants",
    f"GEMM half-efficiency dim {fitted_constants.GEMM_HALF_EFFICIENCY_DIMENSION:.0f}, "
    f"host {fitted_constants.HOST_SECONDS_PER_KERNEL * 1e6:.0f} µs/kernel",
    "fitted",
    fitted_constants.FIT_PROVENANCE,
)
# What the default goodput inputs give over Llama 3's 54-day snapshot on 16,384 GPUs, the run the
# failure rate comes from (Meta reports "higher than 90 %" effective training time there).
DEFAULT_GOODPUT_AT_LLAMA3_SCALE = float(goodput(C.LLAMA3_GPU_COUNT, C.LLAMA3_SNAPSHOT_DAYS * 24.0 * 3600.0))
# Each goodput input (GoodputInputs field) with its default's assumption text and source.
GOODPUT_DEFAULTS = {
    "failures_per_accelerator_hour": (
        f"{C.FAILURES_PER_ACCELERATOR_HOUR:.3g}",
        "Llama 3 (arXiv 2407.21783 §3.3.4, 2024): 419 unexpected interruptions in 54 days on 16,384 H100",
    ),
    "checkpoint_interval_seconds": (
        "Young/Daly optimal",
        "τ = sqrt(2 · checkpoint write · MTBF) (Young 1974; Daly 2006)",
    ),
    "checkpoint_write_seconds": (
        f"{C.CHECKPOINT_WRITE_SECONDS:g} s",
        f"assumed (asynchronous sharded checkpoints); with the default restart the model gives "
        f"{DEFAULT_GOODPUT_AT_LLAMA3_SCALE:.0%} goodput over Llama 3's 54 days on 16,384 GPUs, below its reported "
        "> 90 % effective training time (conservative)",
    ),
    "restart_seconds": (
        f"{C.RESTART_SECONDS:g} s",
        "assumed: detect, reschedule, reload (Llama 3 §3.3.4 automated recovery; MegaScale, arXiv 2402.15627, minutes)",
    ),
    "startup_seconds": (
        f"{C.RUN_STARTUP_SECONDS:g} s",
        "assumed: scheduling, loading, compilation, warm-up, once per run",
    ),
    "evaluation_fraction": (
        "0",
        "not modelled by default: the published runs do not report evaluation time separately",
    ),
}
_GOODPUT_UNITS = {
    "failures_per_accelerator_hour": "",
    "checkpoint_interval_seconds": " s",
    "checkpoint_write_seconds": " s",
    "restart_seconds": " s",
    "startup_seconds": " s",
    "evaluation_fraction": "",
}
MODELLED_GOODPUT = tuple(
    Assumption(name, value, "default", source) for name, (value, source) in GOODPUT_DEFAULTS.items()
)


_DEFAULT_GOODPUT_INPUTS = GoodputInputs()


@quick_init
@dataclass(frozen=True)
class GoodputChoice:
    """A request's goodput-model inputs; None = the default (GOODPUT_DEFAULTS). A checkpoint
    interval of 0 is the Young/Daly optimum, as unset."""

    failures_per_accelerator_hour: float | None = None
    checkpoint_interval_seconds: float | None = None
    checkpoint_write_seconds: float | None = None
    restart_seconds: float | None = None
    startup_seconds: float | None = None
    evaluation_fraction: float | None = None

    def inputs(self) -> GoodputInputs:
        # Shallow (dataclasses.asdict deep-copies every value, once per estimate); the field
        # names read from the instance dict, not dataclasses.fields() per call (quick_init
        # fills it with exactly the fields).
        values = {k: v for k, v in self.__dict__.items() if v is not None}
        # All defaults (the usual request): one shared frozen record instead of a new one.
        return GoodputInputs(**values) if values else _DEFAULT_GOODPUT_INPUTS

    def assumptions(self) -> list[Assumption]:
        """One per input: the request's value (origin "request") or the default with its source."""
        if all(map(operator.is_, self.__dict__.values(), itertools.repeat(None))):
            return list(MODELLED_GOODPUT)  # every input the default: the loop below gives these
        out = []
        for assumption in MODELLED_GOODPUT:
            value = getattr(self, assumption.name)
            if value is None:
                out.append(assumption)
            else:
                shown = (
                    "Young/Daly optimal" if assumption.name == "checkpoint_interval_seconds" and value == 0 else None
                )
                text = shown or f"{value:g}{_GOODPUT_UNITS[assumption.name]}"
                out.append(Assumption(assumption.name, text, "request", "request"))
        return out


OPERATOR_TABLE_STEP = Assumption(
    "step_time_source",
    "operator table",
    "profile",
    "the profile is a workload profile: each operator of the step (GEMMs, attention, norms, SwiGLU, rotary, residual "
    "adds, loss, AdamW) is timed from its operator table (exact shape, else interpolated within 8x in log-shape "
    "space, else the hardware model); communication, pipeline and framework overhead stay analytic; "
    "calibration.operator_table reports the coverage. Pipeline, context or expert parallelism, activation "
    "recompute, MoE and MLA keep the analytic step (docs/estimation.md)",
)


OPERATOR_TABLE_DECODE = Assumption(
    "step_time_source",
    "operator table",
    "profile",
    "the profile is a workload profile: the chosen batch's decode step (projection GEMMs, norms, SwiGLU, rotary, "
    "residual adds, KV-cache reads at the mean context, LM head) is timed from its operator table (exact shape, else "
    "interpolated within 8x in log-shape space, else the hardware model); the batch choice, prefill, TP "
    "communication and launch overhead stay analytic; continuous batching and expert parallelism keep the analytic "
    "decode step; calibration.operator_table reports the coverage",
)


@dataclass(frozen=True)
class MeasuredCalibration:
    """A measured profile named by the request, read once (the API looks it up by name)."""

    name: str
    profile: MeasuredProfile


def hardware_model(
    hardware_id: str, precision: str, calibration: MeasuredCalibration | None = None, path_prefix: str = ""
) -> tuple[HardwareModel, list[Assumption]]:
    """Catalog hardware at `precision`, calibrated by the measured profile when one is given."""
    spec = get_hardware(hardware_id)
    if precision not in spec.peak_flops_per_second:
        raise ScenarioError.field(
            f"{path_prefix}precision",
            f"{spec.id} has no {precision} rate (it has {', '.join(sorted(spec.peak_flops_per_second))})",
        )
    if calibration is None:
        return shared_datasheet_hardware_model(spec, precision), [DATASHEET_CALIBRATION]
    profile = calibration.profile
    measured_id = profile_hardware_id(profile)
    if measured_id != spec.id:
        measured_on = measured_id or f"{profile.device_description}, which is not in the catalog"
        raise ScenarioError.field(f"{path_prefix}profile_id", f"profile was measured on {measured_on}, not {spec.id}")
    try:
        model = profiled_hardware_model(spec, precision, profile, calibration.name)
    except ValueError as error:
        raise ScenarioError.field(f"{path_prefix}profile_id", str(error)) from None
    return model, [Assumption("calibration", f"profile {calibration.name}", "profile", model.calibration_source)]


UNKNOWN_ACCELERATOR_POWER = Assumption(
    "accelerator_power",
    "unknown: not counted",
    "default",
    "no measured power and no published TDP for this accelerator: energy, carbon and energy cost count hosts "
    "and network only; measure a profile (profile_id) for the accelerator's share",
)
SERVING_POWER_SOURCE = (
    "each second of the step at the power of the unit bounding it (accelerator_power.py); H100 SXM measured "
    "2026-11-28 (bench/results/h100-sxm-full-2026-11-28.json): idle 127.9 W, bf16 GEMM 699.2 W, memory-bound "
    "(STREAM triad, 3.0 TB/s) 554.1 W of a 700 W TDP"
)


def serving_power_assumptions(hw: HardwareModel) -> list[Assumption]:
    """How a serving estimate's accelerator power was obtained (accelerator_power.py): nothing to
    state for a profile that measured all three windows; the H100 ratio for a profile without a
    memory-bound window; the H100 fractions of TDP on the datasheet path, an assumption for any
    accelerator (the H100's own TDP included: the measurement was one GPU on one day)."""
    if hw.has_measured_power:
        if hw.memory_bound_watts is not None:
            return []
        share = memory_bound_dynamic_share()
        return [
            Assumption(
                "accelerator_power",
                f"memory-bound work at idle + {share:.0%} of the measured GEMM dynamic power",
                "default",
                f"the profile has no memory-bound power window; the share is the H100's: {SERVING_POWER_SOURCE}",
            )
        ]
    if not hw.tdp_watts > 0:
        return [UNKNOWN_ACCELERATOR_POWER]
    return [
        Assumption(
            "accelerator_power",
            f"serving: {C.SERVING_COMPUTE_BOUND_POWER_FRACTION_OF_TDP:.0%} of TDP compute-bound, "
            f"{C.SERVING_MEMORY_BOUND_POWER_FRACTION_OF_TDP:.0%} memory-bound, "
            f"{C.SERVING_IDLE_POWER_FRACTION_OF_TDP:.0%} idle (host, launch gaps, collectives)",
            "default",
            f"{SERVING_POWER_SOURCE}; applied to this accelerator's TDP of {hw.tdp_watts:.0f} W as an assumption",
        )
    ]


TDP_FRACTION_ACCELERATOR_POWER = Assumption(
    "accelerator_power",
    f"{C.TRAINING_POWER_FRACTION_OF_TDP:.0%} of TDP when busy, {C.IDLE_POWER_FRACTION_OF_TDP:.0%} idle",
    "default",
    "measured 8×H100 training nodes draw ≤ 76 % of nameplate (arXiv 2506.14551, 2025)",
)


def accelerator_power_assumptions(hw: HardwareModel) -> list[Assumption]:
    """How the accelerator's power was obtained for training, stated, including when it is
    unknown: an accelerator with neither measured power nor a published TDP (TPU v5p) draws 0 W
    in the model, so its energy, carbon and energy cost count hosts and network only. The
    assumptions are module constants (shared objects, so the response encoder's identity cache
    in service/api/wire.py hits)."""
    if hw.has_measured_power:
        return []
    if not hw.tdp_watts > 0:
        return [UNKNOWN_ACCELERATOR_POWER]
    return [TDP_FRACTION_ACCELERATOR_POWER]


@functools.lru_cache(maxsize=32)  # a few precision names × set or not
def precision_assumption(precision: str, precision_set: bool) -> Assumption:
    """The training precision as an assumption: a pure function of the name and whether the
    request set it, built once (one shared object per key, for the same identity cache)."""
    return Assumption(
        "precision", precision, "request" if precision_set else "default", "unspecified precision means bf16"
    )


def plan_description(plan: ParallelPlan) -> str:
    return (
        f"TP {plan.tensor_parallel_size} × CP {plan.context_parallel_size} × PP {plan.pipeline_parallel_size} (×{plan.pipeline_interleaving} interleaved) × DP "
        f"{plan.data_parallel_size}, EP {plan.expert_parallel_size}, micro-batch {plan.micro_batch_size}, global batch "
        f"{plan.global_batch_size}, ZeRO {plan.zero_stage}, recompute {RECOMPUTE_NAMES[int(plan.activation_recompute)]}"
        f"{f' ({float(plan.recompute_layer_fraction):.0%} of layers)' if int(plan.activation_recompute) == RECOMPUTE_FULL else ''}, "
        f"SP {'on' if plan.sequence_parallel else 'off'}"
    )


@functools.lru_cache(maxsize=len(FRAMEWORK_STEP_OPTIONS) + 1)
def _framework_assumptions(framework: str) -> tuple[Assumption, ...]:
    """The software stack's assumptions: a pure function of its name ("" = generic), which is
    one of FRAMEWORK_STEP_OPTIONS (so the cache holds them all)."""
    options = framework_step_options(framework)
    stack = framework_spec(framework)
    return (
        Assumption(
            "framework",
            framework or FRAMEWORK_GENERIC,
            "request" if framework else "default",
            f"software stack {stack.id} ({stack.name}): sets the attention kernel, the DP overlap "
            "(catalog data/frameworks.json, listed by ListFrameworks) and the compute realisation",
        ),
        Assumption(
            "attention_kernel",
            "fused causal flash attention" if options.flash_attention else "fused softmax, unfused attention GEMMs",
            "derived",
            "FlashAttention-2 (Dao 2023): 60 % of peak in datasheet mode; else Megatron's batched QKᵀ/AV GEMMs",
        ),
        Assumption(
            "data_parallel_overlap",
            f"{options.data_parallel_overlap_fraction:.0%}",
            "derived",
            "share of the gradient reduction hidden behind compute (framework behaviour), never more than that share of "
            "the compute beside it: the last micro-batch's backward, or the whole step's compute with ZeRO-3",
        ),
    )


@functools.lru_cache(maxsize=64)
def _expert_dispatch_assumption(framework: str, max_routed_nodes_per_token: int) -> Assumption:
    """How the stack moves MoE tokens over the expert-parallel group (estimate/expert_dispatch.py)."""
    options = framework_step_options(framework)
    copies = (
        "one copy per destination node over the scale-out network, fanned out over the scale-up links"
        + (
            f" (routing reaches at most {max_routed_nodes_per_token} nodes per token)"
            if max_routed_nodes_per_token
            else ""
        )
        if options.expert_dispatch_per_node
        else "one copy per routed expert"
    )
    fp8 = "; dispatched in FP8 when the run is FP8" if options.expert_dispatch_fp8 else ""
    overlap = options.expert_parallel_overlap_fraction
    hidden = f"; {overlap:.0%} of it hidden behind another micro-batch's compute, never more than that compute"
    share = options.compute_share_beside_communication
    reserved = f"; compute runs on {share:.1%} of the device (the rest runs communication)" if share < 1 else ""
    return Assumption(
        "expert_dispatch",
        copies,
        "derived",
        f"the {framework_spec(framework).id} stack's token dispatcher (catalog data/frameworks.json){fp8}"
        + (hidden if overlap > 0 else "; not overlapped with compute")
        + reserved,
    )


@functools.lru_cache(maxsize=256)
def _realisation_assumption(framework: str, hardware_id: str, precision: str) -> Assumption:
    """The stack's fitted compute realisation on this accelerator (a pure function of the key)."""
    realisation = realisation_for(framework, hardware_id, precision)
    return Assumption(
        "compute_realisation",
        f"{realisation.value:.3f}",
        "fitted" if realisation.fitted is not None else "derived",
        "fraction of the modelled device rate (GEMMs, attention, elementwise) the stack sustains: "
        + realisation.basis
        + " (catalog data/stack_calibration.json; flopwatt validate prints the cross-validation)",
    )


@quick_init
@dataclass(frozen=True)
class TrainingWorkload:
    """A training request in domain terms. `precision_set` says whether the request chose the
    precision (for the assumption's origin); `goodput` None = modelled."""

    model: ModelChoice
    training_tokens: int
    sequence_length: int
    hardware_id: str
    accelerator_count: int
    precision: str = "bf16"
    precision_set: bool = False
    calibration: MeasuredCalibration | None = None
    parallelism: PlanConstraints = PlanConstraints()
    framework: str = ""
    goodput: float | None = None
    facility: FacilityChoice = FacilityChoice()
    goodput_inputs: GoodputChoice = GoodputChoice()  # ignored when `goodput` fixes it


@quick_init
@dataclass(frozen=True)
class TrainingSetup:
    scenario: TrainingScenario
    assumptions: list[Assumption]
    candidates_evaluated: int


def effective_constraints(constraints: PlanConstraints) -> PlanConstraints:
    """A request that fixes TP, PP and DP but not CP (written before CP existed) means no CP.
    The copy is built from the instance dict (quick_init fills it with exactly the fields), as
    dataclasses.replace would build it, at a fifth of replace's cost (fields() and a getattr
    per field on every fixed-plan estimate)."""
    degrees = (constraints.tensor_parallel_size, constraints.pipeline_parallel_size, constraints.data_parallel_size)
    if constraints.context_parallel_size is None and all(degrees):
        return PlanConstraints(**{**constraints.__dict__, "context_parallel_size": 1})
    return constraints


def _plan_problems(w: TrainingWorkload) -> list[Problem]:
    """Fixed parallel degrees that cannot divide this workload (paths as in EstimateTrainingRequest)."""
    p = w.parallelism
    problems = []
    degrees = [p.tensor_parallel_size, p.pipeline_parallel_size, p.data_parallel_size]
    context = p.context_parallel_size
    if all(degrees) and math.prod(degrees) * (context or 1) != w.accelerator_count:
        problems.append(
            Problem(
                "parallelism",
                f"tensor × context × pipeline × data parallel sizes = {math.prod(degrees) * (context or 1)}, "
                f"not accelerator_count {w.accelerator_count} (context_parallel_size unset counts as 1)",
            )
        )
    elif w.accelerator_count % math.prod(d for d in [*degrees, context] if d):
        problems.append(
            Problem(
                "parallelism",
                "the product of the set tensor, context, pipeline and data parallel sizes must divide accelerator_count",
            )
        )
    if context and context > 1 and w.sequence_length % (2 * context):
        problems.append(
            Problem(
                "parallelism.context_parallel_size",
                f"2 × context_parallel_size must divide sequence_length {w.sequence_length} "
                "(each rank takes two balanced chunks of every causal sequence)",
            )
        )
    if (
        p.global_batch_size
        and p.micro_batch_size
        and p.data_parallel_size
        and p.global_batch_size % (p.micro_batch_size * p.data_parallel_size)
    ):
        problems.append(
            Problem("parallelism.global_batch_size", "must be a multiple of micro_batch_size × data_parallel_size")
        )
    return problems


def _check_fixed_pipeline(arch: ModelArchitecture, constraints: PlanConstraints) -> None:
    """A fixed pipeline gives every stage, and with interleaving every virtual stage, at least one
    layer (the planner's own choices do; Megatron-LM refuses fewer layers than stages), and
    interleaving splits stages of a pipeline: with one stage it has nothing to split. Without
    this check PP 1,024 of a 32-layer model was answered OK at 0.5 % MFU, 992 stages holding
    nothing, and PP 4 × 100 virtual stages shrank the bubble a hundredfold over 32 layers."""
    pp, v, layers = constraints.pipeline_parallel_size, constraints.pipeline_interleaving, arch.layer_count
    if interleaving_without_pipeline(pp, v):  # answered OK as "PP 1 × 4" before
        raise ScenarioError.field(
            "parallelism.pipeline_interleaving",
            f"{v} virtual stages per pipeline stage need pipeline_parallel_size > 1: leave it unset or 1",
        )
    if pp and pp > layers:
        raise ScenarioError.field(
            "parallelism.pipeline_parallel_size", f"must be at most the {layers} layers: each stage holds at least one"
        )
    if pp and virtual_stages_exceed_layers(pp, v, layers):
        raise ScenarioError.field(
            "parallelism.pipeline_interleaving",
            f"pipeline_parallel_size × pipeline_interleaving = {pp * v} must be at most the {layers} layers: "
            "each virtual stage holds at least one",
        )


def _check_fixed_expert_parallel(arch: ModelArchitecture, constraints: PlanConstraints) -> None:
    """A fixed expert_parallel_size > 1 splits the routed experts of an MoE model evenly (as the
    planner's own choices do and Megatron-Core requires) and, in a fully fixed plan, divides
    DP × CP; the planner keeps to the latter when it chooses the rest. Without these checks a
    dense model or an EP wider than the plan was answered as if the plan existed."""
    ep = constraints.expert_parallel_size
    if not ep or ep == 1:
        return
    path = "parallelism.expert_parallel_size"
    if not arch.is_moe:
        raise ScenarioError.field(path, "applies only to MoE models (expert_count > 1): leave it unset or 1")
    if arch.expert_count % ep:
        raise ScenarioError.field(path, f"must divide the {arch.expert_count} routed experts")
    dp, cp = constraints.data_parallel_size, constraints.context_parallel_size
    if constraints.complete and not expert_parallel_fits(ep, dp, cp):
        raise ScenarioError.field(
            path,
            f"must divide data_parallel_size × context_parallel_size ({dp} × {cp}): "
            "the expert-parallel group spans data-parallel ranks",
        )


def build_training_scenario(w: TrainingWorkload) -> TrainingSetup:
    """The scenario of a training workload, its plan chosen (or the fixed plan completed), with
    the assumptions of every input and choice."""
    problems = _plan_problems(w)
    if problems:
        raise ScenarioError(problems)
    model = resolve_model(w.model, "model")
    arch = model.architecture
    hw, hw_assumptions = hardware_model(w.hardware_id, w.precision, w.calibration)
    if w.accelerator_count > hw.accelerators_per_node and not hw.scale_out_bandwidth_bytes_per_second > 0:
        # Every plan would cross a link of zero bandwidth (a TPU pod's unpublished scale-out): its
        # step time is infinite, and pricing it produced NaN costs (and NumPy warnings) before the
        # range check refused the answer; say what is wrong instead.
        raise ScenarioError.field(
            "accelerator_count",
            f"{w.hardware_id} publishes no scale-out bandwidth between its "
            f"{hw.accelerators_per_node}-accelerator pods: at most {hw.accelerators_per_node} can train together",
        )
    facility, facility_assumptions = facility_inputs(w.facility, w.hardware_id)
    realisation = realisation_for(w.framework, w.hardware_id, w.precision)
    options = calibrated_step_options(w.framework, w.hardware_id, w.precision)
    try:
        check_scale_out(hw, w.accelerator_count)
    except ScaleOutUnavailableError as error:
        raise ScenarioError.field("accelerator_count", str(error)) from None
    constraints = effective_constraints(w.parallelism)
    if constraints.tensor_parallel_size and arch.attention_head_count % constraints.tensor_parallel_size:
        raise ScenarioError.field(
            "parallelism.tensor_parallel_size", f"must divide the {arch.attention_head_count} attention heads"
        )
    _check_fixed_pipeline(arch, constraints)
    _check_fixed_expert_parallel(arch, constraints)
    complete = constraints.complete
    if complete:  # nothing to search: the request's plan is evaluated once
        choice = PlanChoice(complete_plan(constraints), math.nan, math.nan, True, 1)
    else:
        try:
            choice = choose_plan(arch, w.accelerator_count, w.sequence_length, hw, constraints, options)
        except PlanConstraintError as error:
            raise ScenarioError.field(f"parallelism.{error.constraint}", error.description) from None
    chosen_by = "request" if complete else "derived"
    assumptions = (
        list(model.assumptions)
        + hw_assumptions
        + facility_assumptions
        + [
            precision_assumption(w.precision, w.precision_set),
            Assumption(
                "parallelism",
                plan_description(choice.plan),
                chosen_by,
                f"planner: of {choice.candidates_evaluated} candidate plans that fit memory, the shortest wall clock for the "
                f"requested tokens{' (with the batch free: the fewest seconds per token)' if choice.batch_policy else ' (the fastest step)'}"
                "; fixed fields honoured",
            ),
            FLOP_CONVENTION,
            MEMORY_HEADROOM,
            *_framework_assumptions(w.framework),
            _realisation_assumption(w.framework, w.hardware_id, w.precision),
            FITTED_CONSTANTS,
        ]
    )
    if choice.batch_policy is not None:
        batch_tokens = choice.plan.global_batch_size * w.sequence_length
        above = (
            (
                f"; above the largest published batch ({C.LARGEST_PUBLISHED_GLOBAL_BATCH_TOKENS / 2**20:.0f} M tokens, DeepSeek-V3 2024) "
                "because every plan's data parallelism needs it: fewer accelerators per job would train closer to it"
            )
            if choice.batch_above_published
            else ""
        )
        assumptions.append(
            Assumption(
                "global_batch_size",
                f"{choice.plan.global_batch_size} sequences ({batch_tokens / 2**20:.1f} M tokens)",
                "derived",
                choice.batch_policy.description() + above,
            )
        )
    if int(choice.plan.context_parallel_size) > 1:
        assumptions.append(CONTEXT_PARALLEL)
    if arch.is_moe and int(choice.plan.expert_parallel_size) > 1:
        assumptions.append(_expert_dispatch_assumption(w.framework, arch.max_routed_nodes_per_token))
    if w.calibration is not None and w.calibration.profile.operators:
        assumptions.append(OPERATOR_TABLE_STEP)
    if w.goodput is not None:
        assumptions.append(Assumption("goodput", f"{w.goodput:g}", "request", "request"))
    else:
        assumptions += w.goodput_inputs.assumptions()
    assumptions += accelerator_power_assumptions(hw)
    scenario = TrainingScenario(
        arch=arch,
        training_tokens=float(w.training_tokens),
        sequence_length=float(w.sequence_length),
        hardware=hw,
        plan=choice.plan,
        facility=facility,
        options=options,
        goodput_override=w.goodput if w.goodput is not None else math.nan,
        goodput_inputs=w.goodput_inputs.inputs(),
        active_parameter_count_override=model.active_parameter_count_override,
        model_error_sigma=realisation.model_error_sigma,
        model_error_basis=realisation.model_error_basis,
        operator_table=operator_table(w.calibration),
    )
    return TrainingSetup(scenario, assumptions, choice.candidates_evaluated)


def operator_table(calibration: MeasuredCalibration | None):
    """The calibration profile's operator table (a workload profile), else None."""
    if calibration is None or not calibration.profile.operators:
        return None
    from flopwatt.estimate.operator_table import OperatorTable

    return OperatorTable(calibration.profile.operators)


@quick_init
@dataclass(frozen=True)
class InferenceWorkload:
    """A serving request in domain terms: one replica of `accelerator_count` (tensor parallel,
    or expert parallel over the whole replica when `expert_parallel_size` > 1)."""

    model: ModelChoice
    hardware_id: str
    accelerator_count: int
    input_tokens: int
    output_tokens: int
    batch_size: int = 0  # 0: the throughput-optimal batch that fits
    precision: str = "bf16"
    precision_set: bool = False
    kv_cache_precision: str | None = None  # None: the default for the weights' precision
    expert_parallel_size: int = 1
    calibration: MeasuredCalibration | None = None
    facility: FacilityChoice = FacilityChoice()
    concurrency: int = 0  # closed loop of this many clients: continuous batching
    request_rate_per_second: float = 0.0  # open loop, Poisson arrivals: continuous batching
    speculation: SpeculationChoice | None = None  # speculative decoding / multi-token prediction
    engine: str = ""  # serving engine id (catalog/data/engines.json); "": the default engine


@dataclass(frozen=True)
class SpeculationChoice:
    """Speculative decoding as requested: k drafted tokens per step, the per-token acceptance
    rate, and the draft model (None: MTP heads or n-gram drafting at negligible cost)."""

    draft_tokens: int
    acceptance_rate: float
    draft_model: ModelChoice | None = None


SPECULATION_SOURCE = (
    "a verification step checks the k drafts and one more position in one forward pass (GEMMs at batch·(k+1) rows, "
    "the KV cache read once) and yields (1 − α^(k+1))/(1 − α) tokens on average (Leviathan, Kalman & Matias, "
    "'Fast Inference from Transformers via Speculative Decoding', ICML 2023, arXiv 2211.17192, eq. 1); "
    "TPOT = (k draft steps + the verification step) ÷ that expectation"
)


def _speculation(w: InferenceWorkload) -> tuple[Speculation | None, list[Assumption]]:
    """The scenario's speculation and its assumptions (none without one)."""
    choice = w.speculation
    if choice is None:
        return None, []
    draft_arch = None
    if choice.draft_model is not None:
        draft = resolve_model(choice.draft_model, "speculative_decoding.draft_model")
        draft_arch = draft.architecture
        if w.accelerator_count > 1 and draft_arch.attention_head_count % w.accelerator_count:
            raise ScenarioError.field(
                "speculative_decoding.draft_model",
                f"the draft runs at the model's tensor parallelism over {w.accelerator_count}, which must divide its "
                f"{draft_arch.attention_head_count} attention heads",
            )
    speculation = Speculation(choice.draft_tokens, choice.acceptance_rate, draft_arch)
    drafter = (
        f"draft model {choice.draft_model.preset_id or 'from the request'} at the same tensor parallelism "
        "(its k autoregressive steps, its prefill, weights and KV cache counted)"
        if draft_arch is not None
        else "multi-token-prediction heads or n-gram drafting: draft cost taken as negligible"
    )
    return speculation, [
        Assumption(
            "speculative_decoding",
            f"k={choice.draft_tokens}, α={choice.acceptance_rate:g}: "
            f"{speculation.expected_tokens:.3f} tokens per verification step",
            "request",
            SPECULATION_SOURCE,
        ),
        Assumption("speculative_draft", drafter, "request", "the acceptance rate is an input, not modelled"),
    ]


EXPERT_PARALLEL_LAYOUT_SOURCE = (
    "each accelerator runs its own sequences through the whole attention and shared experts, holds 1/ep of the routed "
    "experts, dispatch and combine all-to-all per layer (DeepSeek-V3 decode layout, arXiv 2412.19437 §3.4)"
)
EXPERT_LOAD_IMBALANCE = Assumption(
    "expert_load_imbalance",
    f"{C.EXPERT_PARALLEL_LOAD_IMBALANCE:.2f}",
    "default",
    "busiest device's routed-expert work over the mean: SGLang DeepSeek-V3 EP32, default vs perfectly balanced "
    "expert placement, 50,302 vs 59,337 tokens/s per node (LMSYS blog, 2025-05-05)",
)
DEFAULT_KV_CACHE_PRECISION_SOURCE = "FP8 when the weights are FP8 (FP8 checkpoints are served with an FP8 KV cache: TensorRT Model Optimizer, vLLM), BF16 otherwise"
ENGINE_KV_PRECISION_SOURCES = {
    "checkpoint": "the checkpoint's KV quantisation ('auto'): " + DEFAULT_KV_CACHE_PRECISION_SOURCE,
    "model-dtype": "'auto' uses the model data type: BF16, whatever the weights' precision",
}


def resolve_engine(engine_id: str) -> EngineSpec:
    """The serving engine of `engine` ("" = the default); ScenarioError naming `engine` otherwise."""
    try:
        return get_engine(engine_id)
    except CatalogLookupError:
        raise ScenarioError.field(
            "engine", f"unknown engine {engine_id!r}; one of {', '.join(engine_ids())} (empty: the default)"
        ) from None


def engine_assumptions(engine: EngineSpec, requested: bool, hw) -> list[Assumption]:
    """Which engine answered and the behaviour of it the serving model uses, with its version."""
    tier = engine.defaults_for(hw.hardware_id, hw.memory_bytes)
    why = "request" if requested else f"default engine: {engine.default_basis}"
    return [
        Assumption("engine", engine.id, "request" if requested else "default", f"{engine.name}; {why}"),
        Assumption(
            "engine_behaviour",
            f"KV blocks of {engine.kv_block_tokens} tokens ({engine.kv_reservation} reservation); chunked prefill "
            f"{'on' if engine.chunked_prefill else 'off'}, step budget {tier.token_budget} tokens; max sequences "
            f"{tier.max_num_seqs or 'KV-bound'}; CUDA graphs up to batch {tier.cuda_graph_max_batch}"
            + (f" ({tier.cuda_graph_max_batch_tp4} at TP ≥ 4)" if tier.cuda_graph_max_batch_tp4 else ""),
            "default",
            f"documented defaults, none fitted: {engine.version}",
        ),
    ]


def build_inference_scenario(w: InferenceWorkload) -> tuple[InferenceScenario, list[Assumption]]:
    """The serving scenario of one replica and the assumptions of its inputs."""
    model = resolve_model(w.model, "model")
    arch = model.architecture
    if w.accelerator_count > 1 and arch.attention_head_count % w.accelerator_count:
        raise ScenarioError.field(
            "accelerator_count",
            f"tensor parallelism over {w.accelerator_count} must divide the {arch.attention_head_count} attention heads",
        )
    engine = resolve_engine(w.engine)
    kv_precision = w.kv_cache_precision or default_kv_cache_precision(w.precision, engine)
    hw, hw_assumptions = hardware_model(w.hardware_id, w.precision, w.calibration)
    try:
        # One replica is one tensor-parallel group: past a scale-up domain without a published
        # link between domains (MI325X, MI355X, TPU v3/v6e) its all-reduces have no rate, and the
        # infinite step gave NaN busy fractions, costs out of range and INTERNAL errors.
        check_scale_out(hw, w.accelerator_count)
    except ScaleOutUnavailableError as error:
        raise ScenarioError.field("accelerator_count", str(error)) from None
    facility, facility_assumptions = facility_inputs(w.facility, w.hardware_id)
    try:
        check_expert_parallel_size(arch, w.accelerator_count, w.expert_parallel_size)
    except ValueError as error:
        raise ScenarioError.field("expert_parallel_size", str(error)) from None
    speculation, speculation_assumptions = _speculation(w)
    realisation = decode_realisation_for(engine.id, w.hardware_id)
    scenario = InferenceScenario(
        arch,
        hw,
        w.accelerator_count,
        w.batch_size,
        w.input_tokens,
        w.output_tokens,
        facility,
        kv_precision,
        w.expert_parallel_size,
        w.concurrency,
        w.request_rate_per_second,
        speculation,
        engine,
        operator_table=operator_table(w.calibration),
        decode_realisation=realisation.value,
        per_sequence_step_seconds=realisation.per_sequence_step_seconds,
        prefill_realisation=realisation.prefill_realisation,
    )
    assumptions = list(model.assumptions) + speculation_assumptions + engine_assumptions(engine, bool(w.engine), hw)
    assumptions.append(
        Assumption(
            "decode_realisation",
            f"{realisation.value:.3f}",
            "fitted" if realisation.fitted is not None else "default",
            f"fraction of the modelled decode step rate {engine.id} sustains on this accelerator generation "
            f"(every decode step part ÷ it): {realisation.basis}"
            + (
                "; the operator table's measured decode step replaces it" if scenario.operator_table is not None else ""
            ),
        )
    )
    assumptions.append(
        Assumption(
            "per_sequence_step_seconds",
            f"{realisation.per_sequence_step_seconds:.3g}",
            "fitted" if realisation.fitted is not None else "default",
            f"host seconds {engine.id} spends per running sequence per step while the accelerator waits "
            "(scheduling, input preparation, output processing; vLLM blog 2024-09-05), fitted with the "
            f"decode realisation: {realisation.basis}",
        )
    )
    assumptions.append(
        Assumption(
            "prefill_realisation",
            f"{realisation.prefill_realisation:.3f}",
            "fitted" if realisation.fitted is not None else "default",
            f"fraction of the modelled prefill rate {engine.id} sustains (every part of a prompt's prefill ÷ it: "
            f"TTFT, and the prefill chunks continuous batching adds to its steps), fitted with the decode "
            f"realisation: {realisation.basis}",
        )
    )
    if scenario.operator_table is not None:
        assumptions.append(OPERATOR_TABLE_DECODE)
    if w.expert_parallel_size > 1:
        assumptions += [
            Assumption(
                "expert_parallel_layout",
                f"EP{w.expert_parallel_size} with data-parallel attention",
                "request",
                EXPERT_PARALLEL_LAYOUT_SOURCE,
            ),
            EXPERT_LOAD_IMBALANCE,
        ]
    return scenario, assumptions + hw_assumptions + facility_assumptions + serving_power_assumptions(hw) + [
        Assumption("precision", w.precision, "request" if w.precision_set else "default", "weights and matmuls"),
        Assumption(
            "kv_cache_precision",
            kv_precision,
            "request" if w.kv_cache_precision else "default",
            "request"
            if w.kv_cache_precision
            else f"{engine.id} default: {ENGINE_KV_PRECISION_SOURCES[engine.kv_cache_precision_rule]}",
        ),
    ]


def with_training_field(workload: TrainingWorkload, path: str, value: int | str) -> TrainingWorkload:
    """The workload with one request field replaced, by its EstimateTrainingRequest path
    ("accelerator_count", "model.layer_count", "parallelism.tensor_parallel_size", "hardware_id",
    "precision" as a name): how a sweep derives each structural combination from its base."""
    head, _, name = path.partition(".")
    if head == "model":
        if name in ("parameter_count", "active_parameter_count"):
            return dataclasses.replace(workload, model=dataclasses.replace(workload.model, **{name: float(value)}))
        return dataclasses.replace(workload, model=workload.model.with_override(name, int(value)))
    if head == "parallelism":
        return dataclasses.replace(
            workload, parallelism=dataclasses.replace(workload.parallelism, **{name: int(value)})
        )
    if head == "precision":
        return dataclasses.replace(workload, precision=str(value), precision_set=True)
    if head == "hardware_id":
        return dataclasses.replace(workload, hardware_id=str(value))
    if head in ("accelerator_count", "sequence_length"):
        return dataclasses.replace(workload, **{head: int(value)})
    raise KeyError(f"{path!r} is not a structural training field")
