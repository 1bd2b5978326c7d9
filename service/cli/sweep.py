"""`flopwatt sweep`: evaluate a grid of training scenarios in-process; JSON lines or CSV out.

The base scenario is an EstimateTrainingRequest (JSON/YAML, proto JSON mapping) given with
--request; a file holding a whole SweepTrainingRequest ({"base": ..., "axes": [...]}) works too.
Each --axis FIELD=V1,V2,... adds an axis (`hardware_id` takes catalog indices; see ListHardware).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from flopwatt.service.cli.errors import CliError, user_errors
from flopwatt.service.cli.request_file import load_request

COLUMNS = ("index", "wall_clock_seconds", "step_seconds", "accelerator_hours", "facility_energy_joules", "cost_usd",
           "co2e_kilograms", "model_flops_utilization", "fits_in_memory", "total_flops")


def register(subparsers) -> None:
    parser = subparsers.add_parser("sweep", help="evaluate a grid of training scenarios in-process")
    parser.add_argument("--request", type=Path, required=True, help="EstimateTrainingRequest or SweepTrainingRequest (JSON/YAML)")
    parser.add_argument("--axis", action="append", default=[], metavar="FIELD=V1,V2,...", help="an axis of the grid (repeatable)")
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    parser.add_argument("--output", type=Path, help="write here instead of standard output")
    parser.add_argument("--chart", type=Path, help="write the time-vs-cost Pareto chart (.png or .svg)")
    parser.set_defaults(handler=run)


def parse_axis(text: str):
    from flopwatt.v1 import estimator_pb2

    field, _, values = text.partition("=")
    try:
        numbers = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise CliError(f"--axis {text!r}: values must be numbers separated by commas") from None
    if not field or not numbers:
        raise CliError(f"--axis {text!r}: expected FIELD=V1,V2,...")
    return estimator_pb2.SweepAxis(field=field.strip(), values=numbers)


def build_request(args: argparse.Namespace):
    from flopwatt.v1 import estimator_pb2

    request = estimator_pb2.SweepTrainingRequest()
    load_request(args.request, request, wrap_in="base")
    request.axes.extend(parse_axis(text) for text in args.axis)
    return request


def _rows(point, axis_names):
    values = {name: getattr(point, name) for name in COLUMNS}
    values.update(zip(axis_names, point.axis_values))
    return values


def run(args: argparse.Namespace) -> int:
    from flopwatt.service import charts
    from flopwatt.service.api import sweep as sweep_api
    from flopwatt.service.api.deps import ApiDependencies

    request = build_request(args)
    axis_names = [axis.field for axis in request.axes]
    with user_errors():  # the grid and its base are validated before any output is opened
        evaluator, chunk = sweep_api.prepare(request, ApiDependencies())
    try:
        out = args.output.open("w", newline="") if args.output else sys.stdout
    except OSError as error:
        raise CliError(f"--output: cannot write {args.output}: {error.strerror}") from None
    kept = []
    try:
        writer = csv.DictWriter(out, fieldnames=[*axis_names, *COLUMNS]) if args.format == "csv" else None
        if writer:
            writer.writeheader()
        for start in range(0, evaluator.grid.size, chunk):
            with user_errors():  # a structural combination whose planning fails names its grid point
                points = sweep_api.evaluate_chunk(evaluator, start, min(start + chunk, evaluator.grid.size)).points
            for point in points:
                row = _rows(point, axis_names)
                writer.writerow(row) if writer else out.write(json.dumps(row) + "\n")
            if args.chart:
                kept.extend(points)
    finally:
        if args.output:
            out.close()
    if args.chart:
        try:
            charts.sweep_pareto_chart(kept, args.chart)
        except ValueError as error:
            raise CliError(str(error)) from None
    return 0
