"""`flopwatt estimate campus`: size a campus in-process (registered by `estimate`'s parser).

Capacity by flag (--power-watts, --accelerators, or --budget-usd with --term-years) or from a
JSON/YAML EstimateCampusRequest; prints a table, or JSON with --json; --chart-power and
--chart-cost write PNG/SVG breakdowns.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from flopwatt.service.cli.errors import CliError, user_errors
from flopwatt.service.cli.request_file import load_request, set_field, whole_number

SECONDS_PER_YEAR = 365.25 * 86400


def register(kinds) -> None:
    """Add `campus` to the sub-parsers of `flopwatt estimate`."""
    sub = kinds.add_parser("campus", help="size a campus from power, accelerators or a budget")
    sub.add_argument("--request", type=Path, help="JSON or YAML EstimateCampusRequest (proto JSON mapping)")
    sub.add_argument("--hardware", help="hardware id, e.g. gb200")
    capacity = sub.add_mutually_exclusive_group()
    capacity.add_argument("--power-watts", type=float, help="facility power budget, PUE included (W)")
    capacity.add_argument("--accelerators", type=int, help="accelerators installed")
    capacity.add_argument("--budget-usd", type=float, help="contract value in US dollars (with --term-years)")
    sub.add_argument("--term-years", type=float, help="term of the budget (years)")
    sub.add_argument("--pue", type=float)
    sub.add_argument("--price-per-hour", type=float, help="accelerator-hour rental price (USD)")
    sub.add_argument("--utilization", type=float)
    sub.add_argument("--ramp-months", type=int, help="build-out ramp to full capacity (months)")
    sub.add_argument("--samples", type=int, default=0, help="Monte Carlo samples for intervals")
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--json", action="store_true", help="print the response as JSON")
    sub.add_argument("--chart-power", type=Path, help="write the power breakdown chart (.png or .svg)")
    sub.add_argument("--chart-cost", type=Path, help="write the capital cost chart (.png or .svg)")
    sub.set_defaults(handler=run)


def build_request(args: argparse.Namespace):
    from flopwatt.v1 import estimator_pb2

    request = estimator_pb2.EstimateCampusRequest()
    if args.request:
        load_request(args.request, request)
    if args.hardware:
        request.hardware_id = args.hardware
    if args.power_watts is not None:
        request.facility_power_watts = args.power_watts
    if args.accelerators is not None:
        set_field(request, "accelerator_count", args.accelerators, "--accelerators")
    if args.budget_usd is not None:
        # Whole dollars: Money's nanos must stay below 1e9 and a campus budget has no cents.
        request.budget.currency_code = "USD"
        set_field(
            request,
            "budget.units",
            whole_number(round(args.budget_usd) if math.isfinite(args.budget_usd) else args.budget_usd, "--budget-usd"),
            "--budget-usd",
        )
        request.budget.nanos = 0
    if args.term_years is not None:
        if not math.isfinite(args.term_years):
            raise CliError(f"--term-years: must be a finite number, got {args.term_years!r}")
        set_field(request, "term.seconds", int(args.term_years * SECONDS_PER_YEAR), "--term-years")
    if args.pue is not None:
        request.facility.pue = args.pue
    if args.price_per_hour is not None:
        request.facility.accelerator_hour_price_usd = args.price_per_hour
    if args.utilization is not None:
        request.utilization = args.utilization
    if args.ramp_months is not None:
        set_field(request, "buildout.ramp_months", args.ramp_months, "--ramp-months")
    if args.samples:
        set_field(request, "uncertainty.samples", args.samples, "--samples")
        set_field(request, "uncertainty.seed", args.seed, "--seed")
    return request


def table(response) -> str:
    lines = [
        f"accelerators            {response.accelerator_count:,} ({response.rack_count:,} racks of {response.accelerators_per_rack})",
        f"IT / facility power     {response.it_power_watts / 1e6:,.1f} MW / {response.facility_power_watts / 1e6:,.1f} MW",
        *(f"  per accelerator {q.name:<26} {q.value:,.0f} W" for q in response.power_per_accelerator),
        f"peak / sustained        {response.peak_flops_per_second:.3e} / {response.sustained_flops_per_second:.3e} FLOP/s",
        f"annual energy           {response.annual_energy_joules / 3.6e15:,.2f} TWh, {response.annual_energy_cost.units / 1e6:,.0f} M US$, "
        f"{response.annual_co2e_kilograms / 1e9:,.2f} Mt CO2e",
        f"annual accelerator-hours {response.annual_accelerator_hours:,.0f}",
        f"capital cost            {response.total_capital_cost.units / 1e9:,.1f} B US$",
        *(f"  {q.name:<30} {q.value / 1e9:,.2f} B US$" for q in response.capital_cost),
        # Reactors read best with two decimals (1.20); households are whole homes (683,251).
        *(
            f"comparison {q.name:<13} {q.value:,.{2 if q.value < 100 else 0}f} ({q.description})"
            for q in response.comparisons
        ),
    ]
    if response.single_job_feasibility:
        lines += [
            f"training runs per year  {response.training_runs_per_year:,.1f}",
            f"one job on the site?    {response.single_job_feasibility}",
        ]
    if response.output_tokens_per_day:
        lines.append(f"output tokens per day   {response.output_tokens_per_day:.3e}")
    for period in response.buildout:
        lines.append(
            f"  month {period.end_month:>3}: {period.accelerator_count:>10,} installed, {period.cumulative_accelerator_hours:,.0f} h, "
            f"{period.cumulative_spend_usd / 1e9:,.2f} B US$ cumulative"
        )
    for name, item in sorted(response.intervals.items()):
        lines.append(f"  {name:<28} p5 {item.p5:.4g}  p50 {item.p50:.4g}  p95 {item.p95:.4g}")
    lines += [f"  [{a.origin}] {a.name} = {a.value}: {a.source}" for a in response.assumptions]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from google.protobuf import json_format

    from flopwatt.service import charts
    from flopwatt.service.api.campus import estimate_campus
    from flopwatt.service.api.deps import ApiDependencies

    with user_errors():
        response = estimate_campus(build_request(args), ApiDependencies())
    print(json.dumps(json_format.MessageToDict(response), indent=2) if args.json else table(response))
    try:
        if args.chart_power:
            charts.campus_power_chart(response, args.chart_power)
        if args.chart_cost:
            charts.campus_cost_chart(response, args.chart_cost)
    except ValueError as error:
        raise CliError(str(error)) from None
    return 0
