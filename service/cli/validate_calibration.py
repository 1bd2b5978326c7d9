"""`flopwatt validate`'s stack-calibration section: each stack's fitted compute realisation, its
leave-one-source-out cross-validated error per source × hardware × stack next to the in-sample
and the uncalibrated error, and the out-of-sample coverage of the p5–p95 intervals.

Recomputed on every run from the published tables (about a second), and compared with the
committed catalog/data/stack_calibration.json that estimates read, so a stale file shows.
"""

from __future__ import annotations

from typing import Any

# Target of issue 11: leave-one-source-out MAPE per source with at least this many rows.
CV_TARGET_PERCENT = 12.0
CV_TARGET_MIN_ROWS = 10
COVERAGE_TARGET = (0.80, 0.95)


def calibration_report() -> dict[str, Any]:
    """The section as data (the --json document's `stack_calibration`)."""
    from flopwatt.estimate.stack_realisation import stack_calibration
    from flopwatt.estimate.validation.stack_calibration import (
        calibrate,
        calibration_document,
        calibration_rows,
        interval_coverage,
        source_errors,
    )

    rows = calibration_rows()
    fresh = calibration_document(calibrate(rows))
    committed = stack_calibration()
    committed_values = {(p.stack, p.generation, p.precision_class): round(p.value, 4) for p in committed.parameters}
    fresh_values = {(p["stack"], p["generation"], p["precision_class"]): p["value"] for p in fresh["parameters"]}
    return {
        "method": fresh["method"],
        "parameters": fresh["parameters"],
        "model_error_sigma_by_stack": fresh["model_error_sigma_by_stack"],
        "model_error_rows_by_stack": fresh["model_error_rows_by_stack"],
        "model_error_sigma_transfer": fresh["model_error_sigma_transfer"],
        "model_error_rows_transfer": fresh["model_error_rows_transfer"],
        "interval_coverage_p5_p95": interval_coverage(rows),
        "committed_fitted_on": committed.fitted_on,
        "committed_matches_fresh_fit": committed_values == fresh_values,
        "sources": [
            {
                "source": e.source,
                "hardware_id": e.hardware_id,
                "stack": e.stack,
                "precision_class": e.precision_class,
                "rows": e.rows,
                "uncalibrated_mape_percent": e.uncalibrated_mape_percent,
                "in_sample_mape_percent": e.in_sample_mape_percent,
                "cross_validated_mape_percent": e.cross_validated_mape_percent,
            }
            for e in source_errors(rows, calibrate(rows))
        ],
    }


def print_calibration(report: dict[str, Any]) -> None:
    print(
        "\nstack calibration: compute realisation per stack × generation × precision "
        "(LOSO CV = fitted without the row's own source; physics = realisation 1)"
    )
    print(
        f"{'source':<28} {'hardware':<10} {'stack':<14} {'precision':<9} {'rows':>5} {'physics':>8} {'in-sample':>9} {'LOSO CV':>8}"
    )
    for e in report["sources"]:
        total = e["hardware_id"] == "all"
        flag = ""
        if total and e["rows"] >= CV_TARGET_MIN_ROWS:
            flag = (
                "  (target ≤ 12 %: met)"
                if e["cross_validated_mape_percent"] <= CV_TARGET_PERCENT
                else "  (target ≤ 12 %: NOT met)"
            )
        print(
            f"{e['source']:<28} {e['hardware_id']:<10} {e['stack']:<14} {e['precision_class']:<9} {e['rows']:>5} "
            f"{e['uncalibrated_mape_percent']:>7.1f}% {e['in_sample_mape_percent']:>8.1f}% "
            f"{e['cross_validated_mape_percent']:>7.1f}%{flag}"
        )
    print(f"{'parameter (stack, generation, precision)':<44} {'value':>6} {'rows':>5}  fit data")
    for p in report["parameters"]:
        key = f"{p['stack']}, {p['generation']}, {p['precision_class']}"
        print(f"{key:<44} {p['value']:>6.3f} {p['rows']:>5}  {', '.join(p['sources'])}")
    sigmas = ", ".join(
        f"{stack} {sigma:.3f} ({report['model_error_rows_by_stack'][stack]} rows)"
        for stack, sigma in report["model_error_sigma_by_stack"].items()
    )
    if report["model_error_rows_transfer"]:
        sigmas += (
            f"; across generations or precisions (a key not fitted) {report['model_error_sigma_transfer']:.3f} "
            f"({report['model_error_rows_transfer']} rows)"
        )
    low, high = COVERAGE_TARGET
    coverage = report["interval_coverage_p5_p95"]
    met = "met" if low <= coverage <= high else "NOT met"
    print(
        f"intervals: p5–p95 covers {coverage:.1%} of the published rows out of sample (target {low:.0%}–{high:.0%}: {met}); "
        f"model-error σ of the log realisation: {sigmas}"
    )
    state = (
        "matches a fresh fit"
        if report["committed_matches_fresh_fit"]
        else "DIFFERS from a fresh fit: python -m flopwatt.estimate.validation.stack_calibration --write"
    )
    print(f"estimates read catalog data/stack_calibration.json (fitted {report['committed_fitted_on']}): {state}")
