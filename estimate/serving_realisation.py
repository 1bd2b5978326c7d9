"""How much of the modelled decode step rate a serving engine sustains.

The serving model's decode step (inference.serving_metrics: weights and KV cache read at the
roofline, TP collectives, launches) is physics with each accelerator's own sustained fractions of
its datasheet (GEMM, HBM copy, all-reduce; constants.py, from published microbenchmarks). An
engine realises a share of it: its attention and GEMM kernels, sampling, scheduling and
detokenisation between steps, host work the CUDA graph does not hide. One interpretable number
captures it per engine, shared by every hardware generation: `decode_realisation`, the fraction of
the modelled decode step rate the engine sustains (every part of the decode step is divided by it).
A third, `prefill_realisation`, is the same for the prefill (a prompt's forward pass: TTFT, and the
chunks a continuous step carries): an engine's prefill runs its GEMMs and attention at a share of
the roofline, as a training stack's forward does (stack_realisation). The offline tables identify it
through their prefill-heavy shapes (1,024-2,048-token prompts, 128-token outputs) and it was
checked on the online rows the fit never sees (GPUStack's prefill-bound random-prompt runs on an
H100: +54 … +101 % with the decode pair alone, +12 … +30 % with it). One value per engine rather than
per engine × generation: the public tables each cover their own generations, so a per-generation
value is never predicted by another source, and what differs between accelerators is a hardware
property the hardware model carries.

A second number per engine, `per_sequence_step_seconds`, is the host time the engine spends per
running sequence per step while the accelerator waits: scheduling, input preparation and output
processing (detokenisation, stop checks) run in Python between the steps. vLLM's own profile of
Llama 3 8B on one H100 (v0.5.3) put 29 % of the time in scheduling and input preparation and only
38 % in GPU execution, with output processing "increasing as batch sizes grew" (vLLM blog, "vLLM
v0.6.0: 2.7x Throughput Improvement and 5x Latency Reduction", 2024-09-05); v0.6 overlapped part
of it, the rest remains on the critical path of each step. A multiplicative realisation cannot
express it: it is nothing at batch 8 and tens of milliseconds at batch 1,000 (a step of 1,000
sequences in microseconds each). It is fitted jointly with the realisations (a 3-D grid), on the
same tables and with the same leave-one-source-out rule. The accelerator work that also grows
per sequence, the sampler over the whole vocabulary, is physics (inference.sampling_seconds).

The values live in catalog/data/serving_calibration.json, written by
`python -m flopwatt.estimate.validation.serving_calibration --write`, which fits each on named
public serving tables (objective: mean |log(predicted/published)|, each source weighing the same)
and reports leave-one-source-out cross-validated error beside the in-sample error
(`flopwatt validate`).

A fitted value reaches an estimate only when its leave-one-source-out error is within the
issue's latency target (APPLY_MAX_CROSS_VALIDATED_MAPE_PERCENT): a parameter that does not hold
on the sources it was not fitted on would move answers by an amount nothing validates. Until then
the estimate uses the physics alone and its assumption says what was fitted and why it is not
applied. An engine with no fitted value, and a host CPU (which learns nothing from GPU kernels),
get 1 (the physics alone); the choice is stated in the estimate's assumptions.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

from flopwatt.estimate.catalog import get_engine
from flopwatt.estimate.stack_realisation import ACCELERATOR_GENERATIONS, hardware_generation

DATA_FILE = "serving_calibration.json"
# Issue 12's target for TTFT/TPOT below saturation; the decode realisation is a decode-step
# parameter, so it must hold that well out of sample before it changes an answer.
APPLY_MAX_CROSS_VALIDATED_MAPE_PERCENT = 20.0


@dataclass(frozen=True)
class FittedDecodeRealisation:
    """One fitted `decode_realisation` and the evidence behind it."""

    engine: str
    generations: tuple[str, ...]  # the hardware generations of its fit data
    value: float  # decode realisation
    rows: int
    sources: tuple[str, ...]  # the public tables it was fitted on (source ids of `flopwatt validate`)
    in_sample_mape_percent: float
    cross_validated_mape_percent: float  # rows of this key, predicted with their own source left out
    # host seconds per running sequence per step, fitted with `value` (0 in files that predate it)
    per_sequence_step_seconds: float = 0.0
    # fraction of the modelled prefill rate the engine sustains, fitted with both (1 in files that
    # predate it)
    prefill_realisation: float = 1.0


@dataclass(frozen=True)
class ServingCalibration:
    fitted_on: str  # date
    method: str
    parameters: tuple[FittedDecodeRealisation, ...]


@dataclass(frozen=True)
class DecodeRealisation:
    """The decode realisation and engine host time an estimate uses and why."""

    value: float
    per_sequence_step_seconds: float
    basis: str  # what was fitted (or the fallback taken), with its sources
    fitted: FittedDecodeRealisation | None
    prefill_realisation: float = 1.0


PHYSICS_ALONE = "the physics alone (decode and prefill realisation 1.0, no engine host time)"


def parse_calibration(document: dict) -> ServingCalibration:
    return ServingCalibration(
        fitted_on=document["fitted_on"],
        method=document["method"],
        parameters=tuple(
            FittedDecodeRealisation(
                **{**item, "sources": tuple(item["sources"]), "generations": tuple(item["generations"])}
            )
            for item in document["parameters"]
        ),
    )


@functools.lru_cache(maxsize=1)
def serving_calibration() -> ServingCalibration:
    """The committed calibration (catalog/data/serving_calibration.json)."""
    text = resources.files("flopwatt.estimate.catalog").joinpath("data", DATA_FILE).read_text()
    return parse_calibration(json.loads(text))


def _describe(item: FittedDecodeRealisation) -> str:
    return (
        f"decode realisation {item.value:.3f}, prefill realisation {item.prefill_realisation:.3f} and "
        f"{item.per_sequence_step_seconds * 1e6:.2f} µs of host time per running sequence per "
        f"step fitted for {item.engine} on {item.rows} rows ({', '.join(item.generations)}) of "
        f"{', '.join(item.sources)} (in-sample MAPE {item.in_sample_mape_percent:.1f} %, "
        f"leave-one-source-out {item.cross_validated_mape_percent:.1f} %)"
    )


def applies(item: FittedDecodeRealisation) -> bool:
    """Whether a fitted value holds out of sample well enough to change an estimate."""
    return item.cross_validated_mape_percent <= APPLY_MAX_CROSS_VALIDATED_MAPE_PERCENT


def choose_decode_realisation(
    engine: str, generation: str, calibration: ServingCalibration, validated_only: bool = True
) -> DecodeRealisation:
    """The engine's fitted triple (decode realisation, host seconds per sequence per step, prefill
    realisation), or the physics alone (1, 0, 1). `validated_only`: only a triple that holds out
    of sample (what an estimate uses); the cross-validation itself passes False, since it is what
    measures it."""
    if generation not in ACCELERATOR_GENERATIONS:
        return DecodeRealisation(
            1.0, 0.0, f"{generation} is no accelerator a public serving table measured: {PHYSICS_ALONE}", None
        )
    item = next((p for p in calibration.parameters if p.engine == engine), None)
    if item is None:
        return DecodeRealisation(1.0, 0.0, f"no public serving table of {engine} was fitted: {PHYSICS_ALONE}", None)
    if validated_only and not applies(item):
        return DecodeRealisation(
            1.0,
            0.0,
            f"{PHYSICS_ALONE}: {_describe(item)}, not applied because its leave-one-source-out error "
            f"exceeds {APPLY_MAX_CROSS_VALIDATED_MAPE_PERCENT:.0f} %",
            None,
        )
    where = "" if generation in item.generations else f"; carried to {generation}, which no fitted table measured"
    return DecodeRealisation(
        item.value, item.per_sequence_step_seconds, _describe(item) + where, item, item.prefill_realisation
    )


@functools.lru_cache(maxsize=256)
def decode_realisation_for(engine: str, hardware_id: str) -> DecodeRealisation:
    """The decode realisation and host time of an engine ("" = the default) on an accelerator
    (cached: a pure function of its arguments and the committed file)."""
    engine_id = get_engine(engine).id
    return choose_decode_realisation(engine_id, hardware_generation(hardware_id), serving_calibration())
