"""How much of the modelled device rate a software stack realises, per hardware generation.

The step model's hardware constants (GEMM efficiency curve, host launch cost, step overhead) were
fitted on Megatron-family step tables (vTrain, Selene), where a stack term would be 1 by
construction. Other stacks realise less of the same hardware: unfused eager elementwise kernels,
SDPA's FlashAttention-2 where Transformer Engine runs cuDNN/FlashAttention-3 kernels, per-op
casts, FP8 scaling outside fused GEMMs. One interpretable number captures it per stack ×
hardware generation × precision class: `compute_realisation`, the fraction of the modelled rate
of device work (GEMMs, attention, elementwise passes) the stack sustains; communication keeps its
own model.

The values live in catalog/data/stack_calibration.json, written by
`python -m flopwatt.estimate.validation.stack_calibration --write`, which fits each on named
public step tables (objective: mean |log(predicted/published)|, each source weighing the same)
and reports leave-one-source-out cross-validated error beside the in-sample error
(`flopwatt validate`). The same file carries the spread of the cross-validated
residuals that sizes the model-error term of the Monte Carlo intervals (estimate/uncertainty.py).

A request whose stack × generation × precision was never fitted falls back, in order, to the same
stack and generation at the next wider precision class (fp4 → fp8 → 16-bit), else at the nearest
narrower one, to the same stack's fitted values across generations
(their geometric mean), and finally to 1 (the uncalibrated physics); the fallback is stated in
the estimate's assumptions.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, replace
from importlib import resources

from flopwatt.estimate.catalog import get_framework
from flopwatt.estimate.step_time import StepOptions, framework_step_options

DATA_FILE = "stack_calibration.json"
# StepOptions fields set here per stack × hardware generation (fitted or cited), not documented
# per stack in frameworks.json.
PER_GENERATION_STEP_OPTIONS = frozenset({"compute_realisation", "attention_fraction_of_peak"})

# The fused attention kernel a stack runs (frameworks.json `behaviour.attention_kernel`), where its
# sustained share of peak differs from the step model's FlashAttention-2 default on some generation.
STACK_ATTENTION_KERNEL = {"pytorch-fsdp": "flash-attention-2", "deepspeed": "flash-attention-2"}
# (kernel, generation) -> (sustained fraction of peak, source). Cited, not fitted.
ATTENTION_KERNEL_FRACTION_OF_PEAK = {
    ("flash-attention-2", "hopper"): (
        0.35,
        "FlashAttention-2 reaches 35 % utilization on H100 (Shah et al. 2024, FlashAttention-3, arXiv 2407.08608, "
        "abstract); SDPA dispatches to FlashAttention-2 kernels",
    ),
}
PRECISION_16_BIT = "16-bit"
PRECISION_FP8 = "fp8"
PRECISION_FP4 = "fp4"

# Hardware generation of each catalog accelerator: the kernels a stack ships (and how well they
# use the chip) change per architecture generation, not per SKU.
GENERATION_BY_HARDWARE = {
    "v100": "volta",
    "a100-40gb": "ampere",
    "a100-80gb": "ampere",
    "h100-sxm": "hopper",
    "h100-pcie": "hopper",
    "h800": "hopper",
    "h200": "hopper",
    "b200": "blackwell",
    "gb200": "blackwell",
    "b300": "blackwell",
    "gb300": "blackwell",
    "mi300x": "cdna3",
    "mi325x": "cdna3",
    "mi355x": "cdna4",
    "tpu-v3": "tpu-v3",
    "tpu-v4": "tpu-v4",
    "tpu-v5p": "tpu-v5p",
    "tpu-v6e": "tpu-v6e",
}


ACCELERATOR_GENERATIONS = frozenset(GENERATION_BY_HARDWARE.values())


def hardware_generation(hardware_id: str) -> str:
    """The generation of a catalog accelerator (its own id for hardware outside the table, e.g.
    the host-derived `cpu`: nothing fitted applies to it)."""
    return GENERATION_BY_HARDWARE.get(hardware_id, hardware_id)


def precision_class(precision: str) -> str:
    """fp4 (block-scaled 4-bit GEMMs, e.g. NVFP4), fp8 (scaled 8-bit GEMMs) or 16-bit (bf16/fp16/
    tf32/fp32 run through the 16-bit path): each realises its own share of its own peak."""
    name = precision.lower()
    if name.startswith("fp4") or name.startswith("nvfp4") or name.startswith("mxfp4"):
        return PRECISION_FP4
    return PRECISION_FP8 if name.startswith("fp8") else PRECISION_16_BIT


# Where a precision class has no fitted value on a generation, the next-wider class's is used,
# else the nearest narrower one's: the same stack on the same generation before any other
# generation (Megatron-Core's fitted values differ by 13 % between fp8 and 16-bit on Hopper but
# by 27 % between Hopper and Blackwell at fp8).
WIDER_PRECISION_CLASS = {PRECISION_FP4: PRECISION_FP8, PRECISION_FP8: PRECISION_16_BIT}
PRECISION_WIDTH_ORDER = (PRECISION_FP4, PRECISION_FP8, PRECISION_16_BIT)  # narrowest first


@dataclass(frozen=True)
class FittedRealisation:
    """One fitted `compute_realisation` and the evidence behind it."""

    stack: str
    generation: str
    precision_class: str
    value: float
    rows: int
    sources: tuple[str, ...]  # the public tables it was fitted on (source ids of `flopwatt validate`)
    in_sample_mape_percent: float
    cross_validated_mape_percent: float  # rows of this group, predicted with their own source left out


@dataclass(frozen=True)
class StackCalibration:
    fitted_on: str  # date
    method: str
    parameters: tuple[FittedRealisation, ...]
    # σ of the log of the realisation that would have matched each cross-validated row: the
    # model-error spread of the intervals. Rows whose key was fitted in their fold give the σ per
    # stack (pooled over generations); rows their fold had to predict across a generation or a
    # precision (the fallback) give the transfer σ, pooled over stacks: an estimate whose key was
    # never fitted is as uncertain as those were.
    model_error_sigma_by_stack: dict[str, float]
    model_error_sigma_overall: float
    model_error_rows_by_stack: dict[str, int]
    model_error_sigma_transfer: float
    model_error_rows_transfer: int


@dataclass(frozen=True)
class Realisation:
    """The realisation an estimate uses and why."""

    value: float
    basis: str  # what was fitted (or the fallback taken), with its sources
    fitted: FittedRealisation | None
    model_error_sigma: float
    model_error_basis: str


def parse_calibration(document: dict) -> StackCalibration:
    return StackCalibration(
        fitted_on=document["fitted_on"],
        method=document["method"],
        parameters=tuple(
            FittedRealisation(**{**item, "sources": tuple(item["sources"])}) for item in document["parameters"]
        ),
        model_error_sigma_by_stack=dict(document["model_error_sigma_by_stack"]),
        model_error_sigma_overall=float(document["model_error_sigma_overall"]),
        model_error_rows_by_stack=dict(document["model_error_rows_by_stack"]),
        model_error_sigma_transfer=float(document["model_error_sigma_transfer"]),
        model_error_rows_transfer=int(document["model_error_rows_transfer"]),
    )


@functools.lru_cache(maxsize=1)
def stack_calibration() -> StackCalibration:
    """The committed calibration (catalog/data/stack_calibration.json)."""
    text = resources.files("flopwatt.estimate.catalog").joinpath("data", DATA_FILE).read_text()
    return parse_calibration(json.loads(text))


def _describe(item: FittedRealisation) -> str:
    return (
        f"{item.value:.3f} fitted for {item.stack} on {item.generation} at {item.precision_class} on "
        f"{item.rows} rows of {', '.join(item.sources)} (in-sample MAPE {item.in_sample_mape_percent:.1f} %, "
        f"leave-one-source-out {item.cross_validated_mape_percent:.1f} %)"
    )


def choose_realisation(
    stack: str, generation: str, precision: str, calibration: StackCalibration
) -> tuple[float, str, FittedRealisation | None]:
    """The fitted value for the key, or the documented fallback (value, basis, fitted item)."""
    by_key = {(p.stack, p.generation, p.precision_class): p for p in calibration.parameters}
    exact = by_key.get((stack, generation, precision))
    if exact is not None:
        return exact.value, _describe(exact), exact
    wider = WIDER_PRECISION_CLASS.get(precision)
    while wider is not None:
        same_generation = by_key.get((stack, generation, wider))
        if same_generation is not None:
            return (
                same_generation.value,
                f"no {precision} data for {stack} on {generation}: its {wider} value, {_describe(same_generation)}",
                same_generation,
            )
        wider = WIDER_PRECISION_CLASS.get(wider)
    narrower = [p for p in calibration.parameters if p.stack == stack and p.generation == generation]
    if narrower:  # the same generation at a narrower precision: the generation moves the realisation more
        nearest = max(narrower, key=lambda p: PRECISION_WIDTH_ORDER.index(p.precision_class))
        return (
            nearest.value,
            f"no {precision} data for {stack} on {generation}: its {nearest.precision_class} value, {_describe(nearest)}",
            nearest,
        )
    of_stack = [p for p in calibration.parameters if p.stack == stack and p.precision_class == precision]
    of_stack = of_stack or [p for p in calibration.parameters if p.stack == stack]
    if of_stack and generation in ACCELERATOR_GENERATIONS:  # a host CPU learns nothing from GPU kernels
        value = math.exp(sum(math.log(p.value) for p in of_stack) / len(of_stack))
        generations = ", ".join(sorted({p.generation for p in of_stack}))
        return (
            value,
            f"not fitted for {stack} on {generation}: the geometric mean {value:.3f} of its fitted values on {generations}",
            None,
        )
    return 1.0, f"no public step table of {stack} was fitted: the uncalibrated physics (1.0)", None


@functools.lru_cache(maxsize=1024)
def realisation_for(framework: str, hardware_id: str, precision: str) -> Realisation:
    """The compute realisation and model-error spread of a stack on an accelerator at a precision
    (a pure function of its arguments and the committed file: cached, every estimate asks)."""
    calibration = stack_calibration()
    stack = get_framework(framework or "generic").id
    value, basis, fitted = choose_realisation(
        stack, hardware_generation(hardware_id), precision_class(precision), calibration
    )
    exact = fitted is not None and fitted.precision_class == precision_class(precision)
    sigma = calibration.model_error_sigma_by_stack.get(stack) if exact else None
    if sigma is not None:
        rows = calibration.model_error_rows_by_stack[stack]
        sigma_basis = f"σ {sigma:.3f} of the log realisation residuals of {rows} cross-validated {stack} rows"
    elif calibration.model_error_rows_transfer > 0:
        sigma = calibration.model_error_sigma_transfer
        sigma_basis = (
            f"σ {sigma:.3f} of the log realisation residuals of the {calibration.model_error_rows_transfer} "
            "cross-validated rows whose stack, generation and precision their fold had not fitted (this estimate's "
            "realisation is not fitted for its key either)"
        )
    else:
        sigma = calibration.model_error_sigma_overall
        sigma_basis = f"σ {sigma:.3f} of the log realisation residuals of every cross-validated row"
    return Realisation(value, basis, fitted, sigma, sigma_basis)


def attention_kernel_fraction(framework: str, hardware_id: str) -> tuple[float, str] | None:
    """The cited sustained share of peak of the stack's attention kernel on this generation, or
    None where the step model's default applies."""
    kernel = STACK_ATTENTION_KERNEL.get(get_framework(framework or "generic").id)
    return ATTENTION_KERNEL_FRACTION_OF_PEAK.get((kernel, hardware_generation(hardware_id)))


def generation_step_options(framework: str, hardware_id: str) -> StepOptions:
    """The stack's catalog StepOptions with its attention kernel's share of peak on this
    generation (no fitted value: the calibration fits on top of these)."""
    options = framework_step_options(framework)
    cited = attention_kernel_fraction(framework, hardware_id)
    return options if cited is None else replace(options, attention_fraction_of_peak=cited[0])


@functools.lru_cache(maxsize=1024)
def calibrated_step_options(framework: str, hardware_id: str, precision: str) -> StepOptions:
    """The stack's StepOptions on this generation with its fitted compute realisation (a pure
    function of its arguments and the committed files, like realisation_for: cached, every
    training estimate asks)."""
    return replace(
        generation_step_options(framework, hardware_id),
        compute_realisation=realisation_for(framework, hardware_id, precision).value,
    )
