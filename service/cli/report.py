"""`flopwatt report profile|campus|sweep ...`: charts (PNG or SVG, by the output's suffix).

- `report profile PROFILE --output roofline.png`: a roofline chart of a hardware profile. PROFILE
  is a JSON file or a stored profile ("profiles/{id}" or the id). The roof is the datasheet of
  the profile's catalog hardware (peak FLOP/s per precision, HBM bandwidth); for CPUs and
  uncatalogued devices it is the profile's own measured ceilings.
- `report campus RESPONSE.json --output p.png [--breakdown power|cost]`: the power-per-
  accelerator (default) or capital-cost breakdown of a campus estimate (`flopwatt estimate
  campus --json`). Every report writes its chart with `--output`; the older `--power-output` and
  `--cost-output` still work (and may be given together), as aliases of `--breakdown power|cost
  --output`.
- PROFILE "profiles/{id}" is read from the same store `flopwatt serve` and `flopwatt bench` use
  (--data-dir, else $FLOPWATT_DATA_DIR, else the standard data directory); a miss names the
  store it looked in.
- `report serving-load --model M --hardware H --accelerators N --output load.png`: TTFT (p50,
  p99), TPOT and output tokens/s against concurrency 1, 2, 4, ... 512 under continuous batching
  (`EstimateInference` with `concurrency`).
- `report sweep POINTS --output pareto.png`: the time-vs-cost Pareto front of a sweep's points
  (`flopwatt sweep` output, JSON lines or CSV).
- `report closed-loop [RESULT] --output loop.png`: predicted vs measured of a closed-loop result
  (`flopwatt validate --local --json` output, or the file it stores; without RESULT the newest
  in the data directory's `closed_loop/`): per operator group for the training and decode steps
  (operator table vs the profiled real step) and for the whole steps (datasheet path, operator
  table path, measured).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from flopwatt.service.cli.errors import CliError
from flopwatt.service.cli.request_file import not_utf8, one_line, set_field

CAMPUS_BREAKDOWNS = ("power", "cost")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="draw charts: a profile's roofline, a campus breakdown, a sweep's Pareto front, a closed loop",
    )
    kinds = parser.add_subparsers(dest="kind", metavar="KIND")
    kinds.required = True
    profile = kinds.add_parser("profile", help="roofline chart of a hardware profile")
    profile.add_argument("profile", help="profile JSON file, or profiles/{id} from the data directory")
    profile.add_argument("--output", required=True, help="chart file, .png or .svg")
    profile.add_argument(
        "--data-dir",
        help="data directory, as for serve and bench (default: $FLOPWATT_DATA_DIR or ~/.local/share/flopwatt)",
    )
    profile.set_defaults(handler=run)
    campus = kinds.add_parser(
        "campus", help="power and capital-cost breakdowns of `flopwatt estimate campus --json` output"
    )
    campus.add_argument("response", type=Path, help="EstimateCampusResponse as JSON")
    campus.add_argument("--output", type=Path, help="chart file, .png or .svg")
    campus.add_argument(
        "--breakdown",
        choices=CAMPUS_BREAKDOWNS,
        default="power",
        help="what --output charts: power per accelerator or capital cost (default %(default)s)",
    )
    campus.add_argument("--power-output", type=Path, help="alias of --breakdown power --output FILE")
    campus.add_argument("--cost-output", type=Path, help="alias of --breakdown cost --output FILE")
    campus.set_defaults(handler=run_campus)
    sweep = kinds.add_parser("sweep", help="time-vs-cost Pareto front of `flopwatt sweep` output")
    sweep.add_argument("points", type=Path, help="sweep points, JSON lines or CSV")
    sweep.add_argument("--output", type=Path, required=True, help="chart file, .png or .svg")
    sweep.set_defaults(handler=run_sweep)
    load = kinds.add_parser("serving-load", help="TTFT, TPOT and throughput vs concurrency under continuous batching")
    load.add_argument("--model", required=True, help="model preset id, e.g. llama-3.1-70b")
    load.add_argument("--hardware", required=True, help="hardware id, e.g. h100-sxm")
    load.add_argument("--accelerators", type=int, default=1, help="accelerators per replica (default %(default)s)")
    load.add_argument("--precision", choices=("bf16", "fp16", "fp8", "fp4"), default="bf16")
    load.add_argument("--input-tokens", type=int, default=1000)
    load.add_argument("--output-tokens", type=int, default=200)
    load.add_argument(
        "--max-concurrency", type=int, default=512, help="sweep 1, 2, 4, ... up to this (default %(default)s)"
    )
    load.add_argument("--output", type=Path, required=True, help="chart file, .png or .svg")
    load.set_defaults(handler=run_serving_load)
    loop = kinds.add_parser(
        "closed-loop", help="predicted vs measured, per operator and per step, of `flopwatt validate --local`"
    )
    loop.add_argument("result", nargs="?", type=Path, help="closed-loop result JSON (default: the newest stored one)")
    loop.add_argument("--output", type=Path, required=True, help="chart file, .png or .svg")
    loop.add_argument(
        "--data-dir",
        help="data directory, as for validate --local (default: $FLOPWATT_DATA_DIR or ~/.local/share/flopwatt)",
    )
    loop.set_defaults(handler=run_closed_loop)


def load_profile(reference: str, data_dir: str | None) -> dict:
    from flopwatt.bench.errors import ProfileFormatError
    from flopwatt.bench.profile import parse_profile_file
    from flopwatt.bench.store import DATA_DIR_ENV, ProfileNotFound, database_path
    from flopwatt.service.cli.profile_lookup import open_profile_store

    path = Path(reference)
    if path.is_file():
        try:
            documents = parse_profile_file(path.read_text(), reference)
        except ProfileFormatError as error:
            raise CliError(str(error)) from None
        except UnicodeDecodeError as error:
            raise CliError(f"{reference}: not UTF-8 text: {not_utf8(error)}") from None
        if len(documents) != 1:
            raise CliError(f"{reference}: holds {len(documents)} profiles; export one and chart that")
        return documents[0]
    database = database_path(data_dir)
    if not database.exists():
        raise CliError(
            f"{reference}: no such file, and no profile store at {database} (--data-dir or ${DATA_DIR_ENV} picks another)"
        )
    try:
        return open_profile_store(database).get(reference.removeprefix("profiles/"))
    except ProfileNotFound:
        raise CliError(
            f"{reference}: no such file, and no such profile in the store at {database} "
            f"(--data-dir or ${DATA_DIR_ENV} picks another; `flopwatt bench list` shows what it holds)"
        ) from None


def roof_for(document: dict):
    from flopwatt.bench.roofline import Roof, roof_from_ceilings

    hardware_id = document["device"].get("hardware_id")
    if document["device"]["kind"] == "cuda" and hardware_id:
        from flopwatt.estimate.catalog import get_hardware

        spec = get_hardware(hardware_id)
        return Roof(dict(spec.peak_flops_per_second), spec.memory_bandwidth_bytes_per_second, f"datasheet {spec.id}")
    return roof_from_ceilings(document["ceilings"])


def run(args: argparse.Namespace) -> int:
    from flopwatt.bench.roofline import draw_roofline

    document = load_profile(args.profile, args.data_dir)
    try:
        output = draw_roofline(document, roof_for(document), args.output)
    except ValueError as error:
        raise CliError(str(error)) from None
    print(f"wrote {output}")
    return 0


def run_campus(args: argparse.Namespace) -> int:
    from google.protobuf import json_format

    from flopwatt.service import charts
    from flopwatt.v1 import estimator_pb2

    charts_to_draw = [
        (path, breakdown)
        for path, breakdown in ((args.output, args.breakdown), (args.power_output, "power"), (args.cost_output, "cost"))
        if path
    ]
    if not charts_to_draw:
        raise CliError("give --output FILE (with --breakdown power|cost)")
    try:
        response = json_format.Parse(args.response.read_text(), estimator_pb2.EstimateCampusResponse())
    except OSError as error:
        raise CliError(f"{args.response}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise CliError(f"{args.response}: not UTF-8 text: {not_utf8(error)}") from None
    except json_format.ParseError as error:
        raise CliError(f"{args.response}: not an EstimateCampusResponse: {one_line(error)}") from None
    try:
        draw = {"power": charts.campus_power_chart, "cost": charts.campus_cost_chart}
        for output, breakdown in charts_to_draw:
            print(f"wrote {draw[breakdown](response, output)}")
    except ValueError as error:
        raise CliError(str(error)) from None
    return 0


def _sweep_flag(value: object) -> bool:
    """A boolean column of `flopwatt sweep` output: JSON true/false, or CSV's "True"/"False"."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _sweep_points(path: Path) -> list:
    """Rows of `flopwatt sweep` output as objects with the chart's attributes: time, cost, and
    whether the point is infeasible or priced by energy only (the chart leaves those out, so
    they must come from the file too; files written before those columns existed have neither,
    and their points count as feasible and priced)."""
    import csv
    import json
    import math
    from types import SimpleNamespace

    text = path.read_text()
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
    else:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    points = []
    for number, row in enumerate(rows, start=1):
        try:
            point = SimpleNamespace(
                wall_clock_seconds=float(row["wall_clock_seconds"]),
                cost_usd=float(row["cost_usd"]),
                infeasible_reason=str(row.get("infeasible_reason") or ""),
                cost_energy_only=_sweep_flag(row.get("cost_energy_only", False)),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ValueError(f"row {number} has no numeric wall_clock_seconds and cost_usd") from None
        if not (math.isfinite(point.wall_clock_seconds) and math.isfinite(point.cost_usd)):
            raise ValueError(f"row {number}: wall_clock_seconds and cost_usd must be finite numbers")
        points.append(point)
    if not points:
        raise ValueError("no sweep points")
    return points


def run_sweep(args: argparse.Namespace) -> int:
    import json

    from flopwatt.service import charts

    try:
        points = _sweep_points(args.points)
    except OSError as error:
        raise CliError(f"{args.points}: {error.strerror}") from None
    except (ValueError, json.JSONDecodeError) as error:
        raise CliError(f"{args.points}: {error}") from None
    try:  # the chart's own errors (suffix, unwritable output) name the output, not the points file
        print(f"wrote {charts.sweep_pareto_chart(points, args.output)}")
    except ValueError as error:
        raise CliError(str(error)) from None
    return 0


def concurrency_sweep(maximum: int) -> list[int]:
    """1, 2, 4, ... up to `maximum` (and `maximum` itself)."""
    values = [1]
    while values[-1] * 2 <= maximum:
        values.append(values[-1] * 2)
    return values if values[-1] == maximum else values + [maximum]


def serving_load_responses(request, concurrencies: list[int]) -> list:
    """EstimateInference at each concurrency (in process), the rest of `request` fixed."""
    from flopwatt.service.api.deps import ApiDependencies
    from flopwatt.service.api.inference import estimate_inference

    deps = ApiDependencies()
    responses = []
    for concurrency in concurrencies:
        request.concurrency = concurrency
        responses.append(estimate_inference(request, deps))
    return responses


def run_serving_load(args: argparse.Namespace) -> int:
    from flopwatt.service import charts
    from flopwatt.service.cli.errors import user_errors
    from flopwatt.v1 import common_pb2, estimator_pb2

    if args.max_concurrency < 1:
        raise CliError("--max-concurrency must be at least 1")
    request = estimator_pb2.EstimateInferenceRequest(
        hardware_id=args.hardware, precision=common_pb2.Precision.Value(f"PRECISION_{args.precision.upper()}")
    )
    # int32 fields: protobuf's ValueError for a value past them is reported against the flag
    for flag in ("accelerators", "input_tokens", "output_tokens"):
        field = "accelerator_count" if flag == "accelerators" else flag
        set_field(request, field, getattr(args, flag), "--" + flag.replace("_", "-"))
    request.model.preset_id = args.model
    concurrencies = concurrency_sweep(args.max_concurrency)
    with user_errors():
        responses = serving_load_responses(request, concurrencies)
    title = f"{args.model} {args.precision.upper()} on {args.accelerators}× {args.hardware}, {args.input_tokens}/{args.output_tokens} tokens"
    try:
        print(f"wrote {charts.serving_load_chart(responses, concurrencies, args.output, title)}")
    except ValueError as error:
        raise CliError(str(error)) from None
    return 0


def newest_closed_loop_result(data_dir: str | None) -> Path:
    """The newest `closed-loop-*.json` that `flopwatt validate --local` stored (its names end in
    a UTC time, so the newest sorts last within a profile; across profiles the file time decides)."""
    from flopwatt.bench.store import database_path
    from flopwatt.service.cli.validate_local import CLOSED_LOOP_FOLDER

    folder = database_path(data_dir).parent / CLOSED_LOOP_FOLDER
    stored = sorted(folder.glob("closed-loop-*.json"), key=lambda p: (p.stat().st_mtime, p.name))
    if not stored:
        raise CliError(
            f"no closed-loop result in {folder}: run `flopwatt validate --local` with a profile, or name a file"
        )
    return stored[-1]


def run_closed_loop(args: argparse.Namespace) -> int:
    import json

    from flopwatt.service import charts

    path = args.result or newest_closed_loop_result(args.data_dir)
    try:
        result = json.loads(path.read_text())
        print(f"wrote {charts.closed_loop_chart(result, args.output)}")
    except OSError as error:
        raise CliError(f"{path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise CliError(f"{path}: not JSON: {error}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise CliError(f"{path}: {error}") from None
    return 0
