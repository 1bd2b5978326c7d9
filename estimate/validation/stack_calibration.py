"""Fit each stack's compute realisation on public step tables, with leave-one-source-out CV.

Run offline:  python -m flopwatt.estimate.validation.stack_calibration [--write]

What is fitted (estimate/stack_realisation.py): one number per software stack × hardware
generation × precision class, `compute_realisation`, the fraction of the modelled device rate the
stack sustains. Fit data, one LOSO unit per publication (SOURCES): the Llama 3 paper's H100 step
anchors, NVIDIA's Megatron-Bridge performance summary, MLPerf Training result logs (these three:
megatron-core), MosaicML's llm-foundry table and the PyTorch FSDP blog's table (pytorch-fsdp).
Every row is scored as the step anchors are (published plan, catalog accelerator, the row's own
network where stated). Not fitted here: Selene and vTrain (their Megatron stacks carry the
hardware constants of fitted_constants.py, so a stack term is 1 by construction), the whole runs
(only reported), and the sources the issues reserve as held-out test data, which are in no table.

Objective per parameter: mean |log(predicted / published)| with every source weighing the same
(a 201-row table must not drown a 6-row one), minimised on a log grid of realisations (each row
is evaluated once on the whole grid: the step model takes arrays). Leave-one-source-out: each
source's rows are predicted by parameters fitted on the other sources only, with the same
fallback an estimate takes when its key was not fitted (stack_realisation.choose_realisation).
The model-error spread of the intervals is the RMS log distance between the realisation each
cross-validated row would have needed and the one it was given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from flopwatt.estimate import stack_realisation
from flopwatt.estimate.catalog import get_framework
from flopwatt.estimate.stack_realisation import (
    FittedRealisation,
    StackCalibration,
    choose_realisation,
    generation_step_options,
    hardware_generation,
    precision_class,
)
from flopwatt.estimate.validation import fms_fsdp, llm_foundry, mlperf, scale_anchors
from flopwatt.estimate.validation.grid_fit import (
    at_realisation,
    best_on_grid,
    group_by_key,
    leave_one_source_out,
    mean_absolute_percentage_error,
    source_weights,
)
from flopwatt.estimate.validation.scale_anchors import ScaleAnchor, anchor_step_time, published_step_seconds

# Realisations the fit may choose: 0.2 … 1.6 on a log grid (0.7 % apart).
REALISATION_GRID = np.exp(np.linspace(np.log(0.2), np.log(1.6), 301))
# A published row's source string -> its LOSO unit (one publication each); an unknown source fails loudly.
SOURCE_PREFIXES = {
    "Dubey et al. 2024": "llama-3-paper",
    "NVIDIA Megatron-Bridge performance summary": "megatron-bridge-performance",
}
METHOD = (
    "compute_realisation per stack × hardware generation × precision class: argmin on a log grid (0.2-1.6) of the "
    "source-balanced mean |log(predicted/published)|; leave-one-source-out CV with the estimator's fallback; "
    "model-error σ = RMS log distance between each CV row's needed and given realisation (source-balanced)"
)


@dataclass(frozen=True)
class CalibrationRow:
    """One scored published row, evaluated on the whole realisation grid."""

    name: str
    source: str  # the LOSO unit
    stack: str
    hardware_id: str
    generation: str
    precision_class: str
    published_seconds: float
    predicted_seconds: np.ndarray  # one per REALISATION_GRID value (decreasing)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.stack, self.generation, self.precision_class)

    @property
    def published(self) -> float:
        return self.published_seconds

    @property
    def predicted(self) -> np.ndarray:
        return self.predicted_seconds

    def predicted_at(self, realisation: float) -> float:
        """Step seconds at a realisation (log-log interpolation on the grid, clamped at its ends)."""
        return at_realisation(REALISATION_GRID, self.predicted_seconds, realisation)

    def needed_realisation(self) -> float:
        """The realisation at which the model meets the published time (clamped to the grid)."""
        # predicted falls as the realisation rises: interpolate on the reversed (increasing) arrays
        log_predicted = np.log(self.predicted_seconds)[::-1]
        log_grid = np.log(REALISATION_GRID)[::-1]
        return float(np.exp(np.interp(np.log(self.published_seconds), log_predicted, log_grid)))


def _source_of_anchor(anchor: ScaleAnchor) -> str:
    for prefix, source in SOURCE_PREFIXES.items():
        if anchor.source.startswith(prefix):
            return source
    raise ValueError(f"{anchor.anchor}: no LOSO unit for source {anchor.source!r}")


def calibration_row(anchor: ScaleAnchor, source: str) -> CalibrationRow:
    options = replace(
        generation_step_options(anchor.framework, anchor.hardware_id), compute_realisation=REALISATION_GRID
    )
    predicted = np.asarray(anchor_step_time(anchor, options).total, dtype=float) * np.ones_like(REALISATION_GRID)
    return CalibrationRow(
        name=anchor.anchor,
        source=source,
        stack=get_framework(anchor.framework).id,
        hardware_id=anchor.hardware_id,
        generation=hardware_generation(anchor.hardware_id),
        precision_class=precision_class(anchor.precision),
        published_seconds=published_step_seconds(anchor),
        predicted_seconds=predicted,
    )


def calibration_rows() -> list[CalibrationRow]:
    """Every scored row of the fit sources."""
    anchors: list[tuple[ScaleAnchor, str]] = [(a, _source_of_anchor(a)) for a in scale_anchors.load_scale_anchors()]
    anchors += [(row.anchor, "mlperf-training") for row in mlperf.load_mlperf_rows()]
    anchors += [(row.anchor, "llm-foundry") for row in llm_foundry.load_llm_foundry_rows()]
    anchors += [(anchor, fms_fsdp.SOURCE_ID) for anchor in fms_fsdp.load_fms_fsdp_anchors()]
    return [calibration_row(anchor, source) for anchor, source in anchors if anchor.scored]


def _mape(rows: list[CalibrationRow], realisations: Iterable[float]) -> float:
    return mean_absolute_percentage_error(rows, realisations, REALISATION_GRID)


def fit_group(rows: list[CalibrationRow]) -> float:
    """The grid realisation minimising the source-balanced mean |log error| of the rows."""
    return best_on_grid(rows, REALISATION_GRID)


def fit(rows: list[CalibrationRow]) -> StackCalibration:
    """Parameters fitted on `rows` (CV and σ fields empty: see calibrate)."""
    parameters = []
    for (stack, generation, precision), group in sorted(group_by_key(rows).items()):
        value = fit_group(group)
        parameters.append(
            FittedRealisation(
                stack=stack,
                generation=generation,
                precision_class=precision,
                value=value,
                rows=len(group),
                sources=tuple(sorted({row.source for row in group})),
                in_sample_mape_percent=_mape(group, [value] * len(group)),
                cross_validated_mape_percent=float("nan"),
            )
        )
    return StackCalibration(
        fitted_on=dt.date.today().isoformat(),
        method=METHOD,
        parameters=tuple(parameters),
        model_error_sigma_by_stack={},
        model_error_sigma_overall=float("nan"),
        model_error_rows_by_stack={},
        model_error_sigma_transfer=float("nan"),
        model_error_rows_transfer=0,
    )


def given_realisation(row: CalibrationRow, calibration: StackCalibration) -> float:
    return choose_realisation(row.stack, row.generation, row.precision_class, calibration)[0]


def cross_validated(rows: list[CalibrationRow]) -> tuple[list[float], list[bool]]:
    """For each row, the realisation fitted without its source (the estimator's fallback applies),
    and whether its fold had fitted the row's own stack × generation × precision (else: transfer)."""

    def given(row: CalibrationRow, training: StackCalibration) -> tuple[float, bool]:
        fitted_keys = {(p.stack, p.generation, p.precision_class) for p in training.parameters}
        return given_realisation(row, training), row.key in fitted_keys

    answers = leave_one_source_out(rows, fit, given)
    return [value for value, _ in answers], [exact for _, exact in answers]


def cross_validated_realisations(rows: list[CalibrationRow]) -> list[float]:
    """For each row, the realisation fitted without its source (the estimator's fallback applies)."""
    return cross_validated(rows)[0]


def realisation_residuals(rows: list[CalibrationRow], realisations: list[float]) -> np.ndarray:
    """log(needed / given) realisation of each row."""
    return np.array([np.log(row.needed_realisation() / r) for row, r in zip(rows, realisations)])


def weighted_rms(values: np.ndarray, rows: list[CalibrationRow]) -> float:
    weights = source_weights(rows)
    return float(np.sqrt(np.sum(weights * values**2) / np.sum(weights)))


def calibrate(rows: list[CalibrationRow] | None = None) -> StackCalibration:
    """The full calibration: parameters on all rows, their LOSO CV error, and the model-error σ."""
    rows = calibration_rows() if rows is None else rows
    calibration = fit(rows)
    cv, exact = cross_validated(rows)
    residuals = realisation_residuals(rows, cv)
    parameters = []
    for item in calibration.parameters:
        members = [i for i, row in enumerate(rows) if row.key == (item.stack, item.generation, item.precision_class)]
        cv_mape = _mape([rows[i] for i in members], [cv[i] for i in members])
        parameters.append(replace(item, cross_validated_mape_percent=cv_mape))
    sigma_by_stack, rows_by_stack = {}, {}
    for stack in sorted({row.stack for row in rows}):
        members = [i for i, row in enumerate(rows) if row.stack == stack and exact[i]]
        if members:
            sigma_by_stack[stack] = weighted_rms(residuals[members], [rows[i] for i in members])
            rows_by_stack[stack] = len(members)
    transfer = [i for i in range(len(rows)) if not exact[i]]
    return replace(
        calibration,
        parameters=tuple(parameters),
        model_error_sigma_by_stack=sigma_by_stack,
        model_error_sigma_overall=weighted_rms(residuals, rows),
        model_error_rows_by_stack=rows_by_stack,
        model_error_sigma_transfer=(
            weighted_rms(residuals[transfer], [rows[i] for i in transfer]) if transfer else float("nan")
        ),
        model_error_rows_transfer=len(transfer),
    )


def calibration_document(calibration: StackCalibration) -> dict:
    """The JSON document of catalog/data/stack_calibration.json (rounded: it is read by people)."""
    return {
        "fitted_on": calibration.fitted_on,
        "method": calibration.method,
        "written_by": "python -m flopwatt.estimate.validation.stack_calibration --write",
        "parameters": [
            {
                "stack": p.stack,
                "generation": p.generation,
                "precision_class": p.precision_class,
                "value": round(p.value, 4),
                "rows": p.rows,
                "sources": list(p.sources),
                "in_sample_mape_percent": round(p.in_sample_mape_percent, 2),
                "cross_validated_mape_percent": round(p.cross_validated_mape_percent, 2),
            }
            for p in calibration.parameters
        ],
        "model_error_sigma_by_stack": {k: round(v, 4) for k, v in calibration.model_error_sigma_by_stack.items()},
        "model_error_sigma_overall": round(calibration.model_error_sigma_overall, 4),
        "model_error_rows_by_stack": calibration.model_error_rows_by_stack,
        "model_error_sigma_transfer": (
            round(calibration.model_error_sigma_transfer, 4) if calibration.model_error_rows_transfer else None
        ),
        "model_error_rows_transfer": calibration.model_error_rows_transfer,
    }


@dataclass(frozen=True)
class SourceError:
    """Error of one source × hardware × stack × precision group of rows, in percent."""

    source: str
    hardware_id: str
    stack: str
    precision_class: str
    rows: int
    uncalibrated_mape_percent: float  # realisation 1: the physics alone
    in_sample_mape_percent: float  # parameters fitted on every source, this one included
    cross_validated_mape_percent: float  # parameters fitted without this source


def source_errors(rows: list[CalibrationRow], calibration: StackCalibration) -> list[SourceError]:
    """The per source × hardware × stack table of `flopwatt validate`, and a row per source."""
    cv = cross_validated_realisations(rows)
    in_sample = [given_realisation(row, calibration) for row in rows]
    groups: dict[tuple[str, str, str, str], list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault((row.source, row.hardware_id, row.stack, row.precision_class), []).append(i)
    for source in sorted({row.source for row in rows}):
        groups[(source, "all", "all", "all")] = [i for i, row in enumerate(rows) if row.source == source]
    table = []
    for (source, hardware_id, stack, precision), members in sorted(groups.items()):
        chosen = [rows[i] for i in members]
        table.append(
            SourceError(
                source,
                hardware_id,
                stack,
                precision,
                len(members),
                _mape(chosen, [1.0] * len(chosen)),
                _mape(chosen, [in_sample[i] for i in members]),
                _mape(chosen, [cv[i] for i in members]),
            )
        )
    return table


def interval_coverage(rows: list[CalibrationRow], z: float = 1.6449) -> float:
    """Share of rows whose published time lies in the p5-p95 interval the estimator would give
    them out of sample: realisation from the other sources' fit, σ from the other sources'
    cross-validated residuals of the same kind as the row's prediction — rows their fold had
    fitted (same stack where it has any, else every stack) or rows predicted by transfer across a
    generation or precision (every stack). Source-balanced."""
    cv, exact = cross_validated(rows)
    residuals = realisation_residuals(rows, cv)
    inside = np.zeros(len(rows))
    for source in sorted({row.source for row in rows}):
        others = [i for i, row in enumerate(rows) if row.source != source]
        for i, row in enumerate(rows):
            if row.source != source:
                continue
            same_kind = [j for j in others if exact[j] == exact[i]]
            same_stack = [j for j in same_kind if rows[j].stack == row.stack] if exact[i] else []
            pool = same_stack or same_kind or others
            sigma = weighted_rms(residuals[pool], [rows[j] for j in pool])
            inside[i] = float(abs(np.log(row.needed_realisation() / cv[i])) <= z * sigma)
    weights = source_weights(rows)
    return float(np.sum(weights * inside) / np.sum(weights))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite catalog/data/stack_calibration.json")
    args = parser.parse_args(argv)
    rows = calibration_rows()
    calibration = calibrate(rows)
    document = calibration_document(calibration)
    print(json.dumps(document, indent=2))
    print(f"interval coverage (p5-p95, out of sample): {interval_coverage(rows):.1%}")
    if args.write:
        path = Path(stack_realisation.__file__).parent / "catalog" / "data" / stack_realisation.DATA_FILE
        path.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
