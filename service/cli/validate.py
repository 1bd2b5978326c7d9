"""`flopwatt validate`: the model against published measured iteration times, offline."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the model is imported lazily in run(); only the annotations need it here
    from flopwatt.estimate.validation.llm_foundry import LLMFoundryResult
    from flopwatt.estimate.validation.scale_anchors import AnchorResult

# Rows of the MosaicML llm-foundry table printed without --rows (the table has ~200): the worst ones.
LLM_FOUNDRY_ROWS_SHOWN = 10


def register(subparsers) -> None:
    parser = subparsers.add_parser("validate", help="compare the estimator with published measurements")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--rows", action="store_true", help="print every row, not only the Selene table and summaries")
    from flopwatt.service.cli.validate_local import register_arguments

    parser.set_defaults(handler=run, local_only_flags=register_arguments(parser))


def _finite_or_null(value):
    """NaN/inf (e.g. no published energy) become JSON null, so the output is strict JSON."""
    if isinstance(value, dict):
        return {k: _finite_or_null(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_null(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _anchor_json(a: AnchorResult) -> dict:
    """One step-level row (scale anchor or MLPerf submission) as JSON: plan outcome and provenance."""
    return {
        "anchor": a.anchor.anchor,
        "hardware_id": a.anchor.hardware_id,
        "precision": a.anchor.precision,
        "accelerator_count": a.anchor.accelerator_count,
        "published_metric": a.anchor.published_metric,
        "published_value": a.anchor.published_value,
        "published_step_seconds": a.published_step_seconds,
        "predicted_step_seconds": a.predicted_step_seconds,
        "step_time_error_percent": a.step_time_error * 100,
        "predicted_model_flops_utilization": a.predicted_model_flops_utilization,
        "fits_in_memory": a.fits_in_memory,
        "scored": a.anchor.scored,
        "exclusion_reason": a.anchor.exclusion_reason,
        "published": a.anchor.published,
        "assumed": a.anchor.assumed,
        "source": a.anchor.source,
        "url": a.anchor.url,
        "source_date": a.anchor.source_date,
        "step_parts_seconds": a.step_parts_seconds,
    }


def _print_anchor_table(title: str, results: list[AnchorResult]) -> None:
    """Step-level rows: published vs predicted step seconds at the published plan."""
    print(
        f"\n{title:<33} {'accelerator':<13} {'count':>6} {'published s':>11} {'predicted s':>11} {'error':>7} {'MFU':>5}  scored"
    )
    for a in results:
        scored = "yes" if a.anchor.scored else f"no ({a.anchor.exclusion_reason})"
        print(
            f"{a.anchor.anchor:<33} {a.anchor.hardware_id + ' ' + a.anchor.precision:<13} {a.anchor.accelerator_count:>6} "
            f"{a.published_step_seconds:>11.2f} {a.predicted_step_seconds:>11.2f} {a.step_time_error:>+7.1%} "
            f"{a.predicted_model_flops_utilization:>5.2f}  {scored}"
        )


def _llm_foundry_groups(results: list[LLMFoundryResult]) -> dict[str, dict[str, dict]]:
    """Scored error of the MosaicML MPT rows by README table, model size and sequence length (percent)."""
    from flopwatt.estimate.validation.llm_foundry import group_errors

    return {
        "by_table": {k: asdict(v) for k, v in group_errors(results, lambda r: r.row.table).items()},
        "by_size": {k: asdict(v) for k, v in group_errors(results, lambda r: r.row.model_size).items()},
        "by_sequence_length": {
            k: asdict(v) for k, v in group_errors(results, lambda r: str(r.row.anchor.sequence_length)).items()
        },
    }


def _print_llm_foundry(results: list[LLMFoundryResult], mape: float, every_row: bool) -> None:
    """The MPT rows (the worst scored ones unless every_row), then the MAPE and signed error by group."""
    shown = (
        [r.result for r in results]
        if every_row
        else sorted((r.result for r in results if r.result.anchor.scored), key=lambda a: -abs(a.step_time_error))[
            :LLM_FOUNDRY_ROWS_SHOWN
        ]
    )
    title = "MosaicML MPT (FSDP) step" if every_row else f"MosaicML MPT, {len(shown)} worst of {len(results)}"
    _print_anchor_table(title, shown)
    print(
        f"MosaicML llm-foundry MPT (FSDP ZeRO-3, TP1): MAPE {mape:.1f} % over scored rows (published tokens/s/GPU at the "
        f"published batch and recompute; physics alone; calibration fit data, CV below; every row: --rows, sources: --json)"
    )
    for kind, groups in _llm_foundry_groups(results).items():
        print(
            f"  {kind.replace('_', ' ')}: "
            + ", ".join(f"{name} {g['mean_signed_percent']:+.1f} % (n={g['rows']})" for name, g in groups.items())
            + "  [mean signed error]"
        )


def run(args: argparse.Namespace) -> int:
    if getattr(args, "local", False):
        from flopwatt.service.cli.validate_local import run_local

        return run_local(args)
    from flopwatt.service.cli.validate_local import refuse_local_only_flags

    refuse_local_only_flags(args, args.local_only_flags)
    import numpy as np

    from flopwatt.estimate import fitted_constants
    from flopwatt.estimate.validation.llm_foundry import run_llm_foundry
    from flopwatt.estimate.validation.mlperf import run_mlperf
    from flopwatt.estimate.validation.scale_anchors import run_scale_anchors, scored_mean_absolute_percentage_error
    from flopwatt.estimate.validation.step_tables import CLUSTERS, run_all
    from flopwatt.estimate.validation.whole_runs import (
        median_absolute_energy_error,
        median_absolute_hours_error,
        run_whole_runs,
    )
    from flopwatt.service.cli.validate_calibration import calibration_report, print_calibration
    from flopwatt.service.cli.validate_profiles import measured_profiles_report, print_measured_profiles
    from flopwatt.service.cli.validate_serving import print_serving, serving_report

    results = run_all()
    runs = run_whole_runs()
    anchors = run_scale_anchors()
    mlperf = run_mlperf()
    mlperf_mape = scored_mean_absolute_percentage_error([m.result for m in mlperf])
    llm_foundry = run_llm_foundry()
    llm_foundry_mape = scored_mean_absolute_percentage_error([m.result for m in llm_foundry])
    scale_anchors = {
        "scored_mean_absolute_percentage_error": scored_mean_absolute_percentage_error(anchors),
        "anchors": [_anchor_json(a) for a in anchors],
    }
    mlperf_training = {
        "scored_mean_absolute_percentage_error": mlperf_mape,
        "rows": [
            {
                **_anchor_json(m.result),
                "benchmark": m.row.benchmark,
                "round": m.row.round,
                "submitter": m.row.submitter,
                "system": m.row.system,
                "steps_per_block": m.row.steps_per_block,
                "block_tokens": m.row.block_tokens,
                "block_durations_ms": list(m.row.block_durations_milliseconds),
                "repository": m.row.repository,
                "read_from": m.row.read_from,
                "commit": m.row.commit,
                "config_path": m.row.config_path,
                "result_path": m.row.result_path,
            }
            for m in mlperf
        ],
    }
    llm_foundry_mpt = {
        "scored_mean_absolute_percentage_error": llm_foundry_mape,
        **_llm_foundry_groups(llm_foundry),
        "rows": [
            {
                **_anchor_json(m.result),
                "table": m.row.table,
                "model_size": m.row.model_size,
                "grad_accum": m.row.grad_accum,
                "num_params": m.row.num_params,
                "published_mfu_percent": m.row.published_mfu_percent,
                "fsdp_mixed_precision": m.row.fsdp_mixed_precision,
                "scale_out_gbps_per_node": m.row.scale_out_gbps_per_node,
                "commit": m.row.commit,
            }
            for m in llm_foundry
        ],
    }
    whole_runs = {
        "median_absolute_hours_error_percent": median_absolute_hours_error(runs) * 100,
        "median_absolute_energy_error_percent": median_absolute_energy_error(runs) * 100,
        "runs": [
            {
                "run": r.run.run,
                "hardware_id": r.run.hardware_id,
                "accelerator_count": r.run.accelerator_count,
                "accelerator_count_source": r.run.accelerator_count_source,
                "published_accelerator_hours": r.run.published_accelerator_hours,
                "predicted_accelerator_hours": r.predicted_accelerator_hours,
                "hours_error_percent": r.hours_error * 100,
                "published_energy_joules": r.run.published_energy_joules,
                "energy_kind": r.run.energy_kind,
                "predicted_accelerator_energy_joules": r.predicted_accelerator_energy_joules,
                "predicted_facility_energy_joules": r.predicted_facility_energy_joules,
                "energy_error_percent": r.energy_error * 100,
                "model_flops_utilization": r.model_flops_utilization,
                "goodput": r.goodput,
                "plan": r.plan,
                "hours_scope": r.run.hours_scope,
                "source": r.run.source,
                "source_date": r.run.source_date,
                "framework": r.run.framework or "generic",
                "scored": r.run.scored,
                "exclusion_reason": r.run.exclusion_reason,
            }
            for r in runs
        ],
    }
    calibration = calibration_report()
    serving = serving_report()
    measured_profiles = measured_profiles_report()
    if args.json:
        print(
            json.dumps(
                _finite_or_null(
                    {
                        "fit": fitted_constants.FIT_PROVENANCE,
                        "stack_calibration": calibration,
                        "serving_calibration": serving,
                        "clusters": {
                            name: {"description": c.description, "source": c.source} for name, c in CLUSTERS.items()
                        },
                        "datasets": [
                            {
                                "name": r.name,
                                "rows": len(r.labels),
                                "mean_absolute_percentage_error": r.mean_absolute_percentage_error,
                                "max_absolute_percentage_error": r.max_absolute_percentage_error,
                                "median_signed_percentage_error": float(np.median(r.relative_errors) * 100),
                                "rows_detail": [
                                    {"label": l, "measured_seconds": float(m), "predicted_seconds": float(p)}
                                    for l, m, p in zip(r.labels, r.measured_seconds, r.predicted_seconds)
                                ],
                            }
                            for r in results
                        ],
                        "scale_anchors": scale_anchors,
                        "mlperf_training": mlperf_training,
                        "llm_foundry_mpt": llm_foundry_mpt,
                        "whole_runs": whole_runs,
                        "measured_profiles": measured_profiles,
                    }
                ),
                indent=2,
                allow_nan=False,
            )
        )
        return 0
    for r in results:
        if r.name == "megatron-selene" or args.rows:
            print(f"\n{r.name}")
            print(f"{'configuration':<48} {'measured s':>11} {'predicted s':>12} {'error':>8}")
            for label, measured, predicted, error in zip(
                r.labels, r.measured_seconds, r.predicted_seconds, r.relative_errors
            ):
                print(f"{label:<48} {measured:>11.3f} {predicted:>12.3f} {error:>+8.1%}")
    print(f"\n{'data set':<28} {'rows':>5} {'MAPE':>7} {'max':>7} {'median signed':>14}")
    for r in results:
        print(
            f"{r.name:<28} {len(r.labels):>5} {r.mean_absolute_percentage_error:>6.2f}% {r.max_absolute_percentage_error:>6.1f}% "
            f"{np.median(r.relative_errors) * 100:>+13.1f}%"
        )
    _print_anchor_table("step anchor at scale", anchors)
    print(
        f"step anchors at scale: MAPE {scored_mean_absolute_percentage_error(anchors):.1f} % over scored rows (step time at the "
        f"published plan, physics alone; the stack calibration's fit data, CV below; published vs assumed: --json)"
    )
    _print_anchor_table("MLPerf Training step", [m.result for m in mlperf])
    print(
        f"MLPerf Training: MAPE {mlperf_mape:.1f} % over scored rows (mean step "
        f"time between evaluations from the submission logs, at the submitted plan; physics alone; calibration fit data, CV below)"
    )
    _print_llm_foundry(llm_foundry, llm_foundry_mape, args.rows)
    print_calibration(calibration)
    print_serving(serving)
    print(
        f"\n{'whole run (published)':<16} {'accelerator':<11} {'count':>6} {'published h':>12} {'predicted h':>12} {'error':>7} "
        f"{'MFU':>5} {'energy':>7}  plan"
    )
    for r in runs:
        energy = f"{r.energy_error:+.0%}" if r.run.energy_kind != "none" else "—"
        print(
            f"{r.run.run:<16} {r.run.hardware_id:<11} {r.run.accelerator_count:>6} {r.run.published_accelerator_hours:>12,.0f} "
            f"{r.predicted_accelerator_hours:>12,.0f} {r.hours_error:>+7.1%} {r.model_flops_utilization:>5.2f} {energy:>7}  {r.plan}"
            f"{'' if r.run.scored else '  [not scored: see --json exclusion_reason]'}"
        )
    print(
        f"median |error| accelerator-hours {median_absolute_hours_error(runs):.1%} over scored rows (target 15 %; calibrated stacks, "
        f"nothing fitted to a run); energy: no metered figure "
        f"published (nameplate GPU-hours × TDP rows shown, not scored); scope of each row: flopwatt validate --json"
    )
    print_measured_profiles(measured_profiles)
    print(f"\nfitted constants: {fitted_constants.FIT_PROVENANCE}")
    for name, cluster in CLUSTERS.items():
        print(f"{name}: {cluster.description} ({cluster.source})")
    return 0
