"""`flopwatt sweep`: evaluate a grid of training scenarios in-process; JSON lines, CSV, Parquet
or Arrow out. `flopwatt rank`: the best points of a grid by cost, time, energy or carbon.

The base scenario is an EstimateTrainingRequest (JSON/YAML, proto JSON mapping) given with
--request; a file holding a whole SweepTrainingRequest ({"base": ..., "axes": [...]}) works too.
Each --axis FIELD=V1,V2,... adds an axis: numbers, or for `hardware_id` and `precision` names
(`hardware_id=a100-80gb,h100-sxm`, `precision=bf16,fp8`; catalog indices still work).
Parquet and Arrow need pyarrow (`pip install 'flopwatt[parquet]'`).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from flopwatt.service.cli.errors import CliError, user_errors
from flopwatt.service.cli.profile_lookup import add_data_dir_argument, cli_dependencies
from flopwatt.service.cli.request_file import load_request, set_field

COLUMNS = (
    "index",
    "wall_clock_seconds",
    "step_seconds",
    "accelerator_hours",
    "facility_energy_joules",
    "cost_usd",
    "co2e_kilograms",
    "model_flops_utilization",
    "fits_in_memory",
    "total_flops",
    "infeasible_reason",
    "cost_energy_only",
)
# Fields whose axis values are written by name (catalog id, precision) rather than as numbers.
NAMED_FIELDS = ("hardware_id", "precision")
COLUMNAR_FORMATS = ("parquet", "arrow")
SECONDS_PER_DAY = 86400.0
RANK_OBJECTIVES = ("cost", "time", "energy", "carbon")


def _add_grid_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--request", type=Path, required=True, help="EstimateTrainingRequest or SweepTrainingRequest (JSON/YAML)"
    )
    parser.add_argument(
        "--axis",
        action="append",
        default=[],
        metavar="FIELD=V1,V2,...",
        help="an axis of the grid (repeatable); hardware_id and precision take names",
    )
    add_data_dir_argument(parser)


def register(subparsers) -> None:
    parser = subparsers.add_parser("sweep", help="evaluate a grid of training scenarios in-process")
    _add_grid_arguments(parser)
    parser.add_argument(
        "--format",
        choices=("jsonl", "csv", *COLUMNAR_FORMATS),
        default="jsonl",
        help="parquet and arrow (Feather v2) need pyarrow: pip install 'flopwatt[parquet]'",
    )
    parser.add_argument(
        "--output", type=Path, help="write here instead of standard output (required for parquet and arrow)"
    )
    parser.add_argument(
        "--chart", type=Path, help="write the time-vs-cost Pareto chart (.png or .svg), front points labelled"
    )
    parser.set_defaults(handler=run)
    rank = subparsers.add_parser("rank", help="the best configurations of a grid by cost, time, energy or carbon")
    _add_grid_arguments(rank)
    rank.add_argument("--by", choices=RANK_OBJECTIVES, default="cost", help="what to minimise (default cost)")
    rank.add_argument("--deadline-days", type=float, default=0.0, help="leave out runs longer than this (days)")
    rank.add_argument(
        "--budget-usd", type=float, default=0.0, help="leave out runs costing more than this (US dollars)"
    )
    rank.add_argument("--limit", type=int, default=10, help="rows to print (default 10)")
    rank.add_argument("--format", choices=("table", "json"), default="table")
    rank.set_defaults(handler=run_rank)


def parse_axis(text: str):
    from flopwatt.v1 import estimator_pb2

    field, _, values = text.partition("=")
    field = field.strip()
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not field or not items:
        raise CliError(f"--axis {text!r}: expected FIELD=V1,V2,...")
    try:
        return estimator_pb2.SweepAxis(field=field, values=[float(v) for v in items])
    except ValueError:
        if field in NAMED_FIELDS:
            return estimator_pb2.SweepAxis(field=field, string_values=items)
        raise CliError(
            f"--axis {text!r}: values must be numbers separated by commas (names only for {', '.join(NAMED_FIELDS)})"
        ) from None


def build_request(args: argparse.Namespace):
    from flopwatt.v1 import estimator_pb2

    request = estimator_pb2.SweepTrainingRequest()
    load_request(args.request, request, wrap_in="base")
    request.axes.extend(parse_axis(text) for text in args.axis)
    return request


def _labeller(axis_names):
    """Per axis, how its value is written: names for hardware_id/precision, else the number."""
    from flopwatt.service.api.sweep import axis_label

    return [
        (lambda value, name=name: axis_label(name, value)) if name in NAMED_FIELDS else (lambda value: value)
        for name in axis_names
    ]


def _rows(point, axis_names, labellers):
    values = {name: getattr(point, name) for name in COLUMNS}
    values.update((name, label(v)) for name, label, v in zip(axis_names, labellers, point.axis_values))
    return values


def _arrow_table(outputs_parts, axis_names, labellers):
    """The evaluated chunks as one Arrow table: axis columns first, then the outputs."""
    try:
        import numpy as np
        import pyarrow as pa
    except ImportError:
        raise CliError("--format parquet/arrow needs pyarrow: pip install 'flopwatt[parquet]'") from None
    from flopwatt.estimate.sweep import SweepOutputs

    outputs = SweepOutputs.concatenate(outputs_parts)
    columns = {}
    for j, (name, label) in enumerate(zip(axis_names, labellers)):
        values = outputs.axis_values[:, j]
        columns[name] = pa.array([label(v) for v in values.tolist()]) if name in NAMED_FIELDS else pa.array(values)
    for name in COLUMNS:
        values = getattr(outputs, name)
        columns[name] = pa.array(values.astype(str) if values.dtype == object else np.asarray(values))
    return pa.table(columns)


def _write_columnar(path: Path, fmt: str, table) -> None:
    import pyarrow.feather as feather
    import pyarrow.parquet as parquet

    try:
        parquet.write_table(table, path) if fmt == "parquet" else feather.write_feather(table, path)
    except OSError as error:
        raise CliError(f"--output: cannot write {path}: {error}") from None


def _warn_unpriced(energy_only: int, total: int) -> None:
    """Refuse the silent comparison: points whose cost counts energy only (no published price for
    their accelerator, e.g. TPUs, which are rented, never sold) are named on standard error."""
    if energy_only:
        print(
            f"flopwatt sweep: warning: {energy_only:,} of {total:,} points (cost_energy_only true) use an accelerator with no "
            "published price: their cost_usd counts electricity only and is not comparable with the others; set "
            "facility.accelerator_hour_price_usd (in the request or as an axis) to compare costs",
            file=sys.stderr,
        )


def run(args: argparse.Namespace) -> int:
    from flopwatt.service import charts
    from flopwatt.service.api import sweep as sweep_api

    request = build_request(args)
    axis_names = [axis.field for axis in request.axes]
    labellers = _labeller(axis_names)
    if args.format in COLUMNAR_FORMATS and not args.output:
        raise CliError(f"--format {args.format} writes a binary file: give --output FILE")
    with user_errors():  # the grid and its base are validated before any output is opened
        evaluator, chunk = sweep_api.prepare(request, cli_dependencies(args.data_dir))
    total = evaluator.grid.size
    kept = []
    energy_only = 0
    if args.format in COLUMNAR_FORMATS:
        with user_errors():
            parts = [
                sweep_api.evaluate_outputs(evaluator, start, min(start + chunk, total))
                for start in range(0, total, chunk)
            ]
        _write_columnar(args.output, args.format, _arrow_table(parts, axis_names, labellers))
        energy_only = sum(int(part.cost_energy_only.sum()) for part in parts)
        if args.chart:
            kept = [p for part in parts for p in sweep_api.sweep_points(part)]
    else:
        try:
            out = args.output.open("w", newline="") if args.output else sys.stdout
        except OSError as error:
            raise CliError(f"--output: cannot write {args.output}: {error.strerror}") from None
        try:
            writer = csv.DictWriter(out, fieldnames=[*axis_names, *COLUMNS]) if args.format == "csv" else None
            if writer:
                writer.writeheader()
            for start in range(0, total, chunk):
                with user_errors():  # an output past its representable range is one line, not a traceback
                    points = sweep_api.evaluate_chunk(evaluator, start, min(start + chunk, total)).points
                for point in points:
                    energy_only += point.cost_energy_only
                    row = _rows(point, axis_names, labellers)
                    writer.writerow(row) if writer else out.write(json.dumps(row) + "\n")
                if args.chart:
                    kept.extend(points)
        finally:
            if args.output:
                out.close()
    _warn_unpriced(energy_only, total)
    if args.chart:
        labels = [
            ", ".join(f"{name}={sweep_api.axis_label(name, v)}" for name, v in zip(axis_names, p.axis_values))
            for p in kept
        ]
        try:
            charts.sweep_pareto_chart(kept, args.chart, labels)
        except ValueError as error:
            raise CliError(str(error)) from None
    return 0


def rank_request(args: argparse.Namespace):
    from flopwatt.v1 import estimator_pb2

    if args.deadline_days < 0 or args.budget_usd < 0 or args.limit < 1:
        raise CliError("--deadline-days and --budget-usd must be 0 (none) or positive, --limit at least 1")
    request = estimator_pb2.RankTrainingRequest(
        sweep=build_request(args),
        by=estimator_pb2.RankObjective.Value(f"RANK_OBJECTIVE_{args.by.upper()}"),
        max_wall_clock_seconds=args.deadline_days * SECONDS_PER_DAY,
        max_cost_usd=args.budget_usd,
    )
    set_field(request, "limit", args.limit, "--limit")  # int32: a larger --limit is refused naming it
    return request


def format_ranking(response, axis_names) -> str:
    """The ranking as an aligned text table, then what was left out and why."""
    header = ["#", *axis_names, "days", "cost US$", "energy MWh", "t CO2e", "MFU"]
    rows = [
        [
            str(i + 1),
            *ranked.axis_labels,
            f"{ranked.point.wall_clock_seconds / SECONDS_PER_DAY:,.1f}",
            f"{ranked.point.cost_usd:,.0f}",
            f"{ranked.point.facility_energy_joules / 3.6e9:,.1f}",
            f"{ranked.point.co2e_kilograms / 1000:,.1f}",
            f"{ranked.point.model_flops_utilization:.3f}",
        ]
        for i, ranked in enumerate(response.points)
    ]
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(len(header))]
    lines = [
        "  ".join(
            cell.rjust(w) if c >= len(axis_names) + 1 else cell.ljust(w) for c, (cell, w) in enumerate(zip(row, widths))
        )
        for row in [header, *rows]
    ]
    lines.append(f"{response.eligible_point_count:,} of {response.total_point_count:,} points eligible")
    lines.extend(f"  left out: {int(q.value):,} {q.name}" for q in response.excluded)
    return "\n".join(lines)


def run_rank(args: argparse.Namespace) -> int:
    from google.protobuf import json_format

    from flopwatt.service.api import sweep as sweep_api

    request = rank_request(args)
    with user_errors():
        response = sweep_api.rank_training(request, cli_dependencies(args.data_dir))
    if args.format == "json":
        print(json_format.MessageToJson(response, indent=2))
    else:
        print(format_ranking(response, [axis.field for axis in request.sweep.axes]))
    return 0
