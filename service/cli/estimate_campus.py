"""`flopwatt estimate campus`: size a campus in-process (registered by `estimate`'s parser).

Capacity by flag (--power-watts, --accelerators, --budget-usd with --term-years, or --users for
a population served) or from a JSON/YAML EstimateCampusRequest; prints a table, or JSON with
--json; --chart-power and --chart-cost write PNG/SVG breakdowns. The demand flags' defaults are
the API's (estimate/demand.py, with their sources): 5 requests per user per day, 1,000 / 200
tokens, peak-to-average 2, p99 TTFT 500 ms and TPOT 50 ms, model llama-3.1-70b.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from flopwatt.service.cli.errors import CliError, user_errors
from flopwatt.service.cli.profile_lookup import add_data_dir_argument, cli_dependencies
from flopwatt.service.cli.request_file import (
    apply_slo_flags,
    load_request,
    set_field,
    slo_flag_fields,
    typed_flags,
    whole_number,
)

SECONDS_PER_YEAR = 365.25 * 86400
DEFAULT_DEMAND_MODEL = "llama-3.1-70b"
DEMAND_FLAGS = (
    "model",
    "precision",
    "kv_cache_precision",
    "requests_per_user_per_day",
    "input_tokens",
    "output_tokens",
    "peak_to_average",
    "ttft_ms",
    "tpot_ms",
    "peak_wait_probability",
)

# (flag destination, field of the demand) of the demand's plain numbers, set as typed.
DEMAND_NUMBER_FIELDS = (
    ("requests_per_user_per_day", "requests_per_user_per_day"),
    ("peak_to_average", "peak_to_average_ratio"),
    ("peak_wait_probability", "peak_wait_probability"),
    ("input_tokens", "input_tokens"),
    ("output_tokens", "output_tokens"),
)
# (flag destination, request field) of every flag that sets a field: user_errors names the typed
# flag when the API refuses the field (`--accelerators: ...`, not `accelerator_count: ...`).
CAMPUS_FLAG_FIELDS = (
    ("hardware", "hardware_id"),
    ("power_watts", "facility_power_watts"),
    ("accelerators", "accelerator_count"),
    ("budget_usd", "budget.units"),
    ("term_years", "term.seconds"),
    ("users", "demand.users"),
    ("pue", "facility.pue"),
    ("price_per_hour", "facility.accelerator_hour_price_usd"),
    ("utilization", "utilization"),
    ("ramp_months", "buildout.ramp_months"),
    ("model", "demand.model.preset_id"),
    ("precision", "demand.precision"),
    ("kv_cache_precision", "demand.kv_cache_precision"),
    *((flag, "demand." + field) for flag, field in DEMAND_NUMBER_FIELDS),
    *slo_flag_fields("demand.slo"),
)
# Set only with --samples (--seed defaults to 0 and goes with it).
SAMPLING_FLAG_FIELDS = (("samples", "uncertainty.samples"), ("seed", "uncertainty.seed"))


def register(kinds) -> None:
    """Add `campus` to the sub-parsers of `flopwatt estimate`."""
    sub = kinds.add_parser("campus", help="size a campus from power, accelerators or a budget")
    sub.add_argument("--request", type=Path, help="JSON or YAML EstimateCampusRequest (proto JSON mapping)")
    sub.add_argument("--hardware", help="hardware id, e.g. gb200")
    add_data_dir_argument(sub)
    capacity = sub.add_mutually_exclusive_group()
    capacity.add_argument("--power-watts", type=float, help="facility power budget, PUE included (W)")
    capacity.add_argument("--accelerators", type=int, help="accelerators installed")
    capacity.add_argument("--budget-usd", type=float, help="contract value in US dollars (with --term-years)")
    capacity.add_argument("--users", type=float, help="people served: size the campus for their demand")
    sub.add_argument("--term-years", type=float, help="term of the budget (years)")
    sub.add_argument("--pue", type=float)
    sub.add_argument("--price-per-hour", type=float, help="accelerator-hour rental price (USD)")
    sub.add_argument("--utilization", type=float)
    sub.add_argument("--ramp-months", type=int, help="build-out ramp to full capacity (months)")
    demand = sub.add_argument_group("demand (with --users)")
    demand.add_argument("--model", help=f"model preset served (default {DEFAULT_DEMAND_MODEL})")
    demand.add_argument("--precision", choices=("fp32", "tf32", "bf16", "fp16", "fp8", "fp4"))
    demand.add_argument("--kv-cache-precision", choices=("fp32", "bf16", "fp16", "fp8"))
    demand.add_argument("--requests-per-user-per-day", type=float, help="default 5")
    demand.add_argument("--input-tokens", type=int, help="prompt tokens per request (default 1000)")
    demand.add_argument("--output-tokens", type=int, help="generated tokens per request (default 200)")
    demand.add_argument("--peak-to-average", type=float, help="busiest-hour rate over the daily mean (default 2)")
    demand.add_argument("--ttft-ms", type=float, help="p99 time to first token target (default 500; 0: none)")
    demand.add_argument("--tpot-ms", type=float, help="p99 time per output token target (default 50; 0: none)")
    demand.add_argument(
        "--peak-wait-probability", type=float, help="largest share of requests waiting at the peak (default 0.01)"
    )
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
    if args.users is not None:
        set_field(request, "demand.users", whole_number(args.users, "--users"), "--users")
    if request.WhichOneof("capacity") == "demand":
        _demand_flags(args, request)
    else:
        given = [name for name in DEMAND_FLAGS if getattr(args, name) is not None]
        if given:
            raise CliError(f"--{given[0].replace('_', '-')}: only with --users (a demand capacity)")
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


def _demand_flags(args: argparse.Namespace, request) -> None:
    """The demand flags onto request.demand (the model defaults to DEFAULT_DEMAND_MODEL)."""
    from flopwatt.v1 import common_pb2

    demand = request.demand
    if args.model:
        demand.model.preset_id = args.model
    elif not (demand.model.preset_id or demand.model.parameter_count):
        demand.model.preset_id = DEFAULT_DEMAND_MODEL
    if args.precision:
        demand.precision = request.precision = common_pb2.Precision.Value(f"PRECISION_{args.precision.upper()}")
    if args.kv_cache_precision:
        demand.kv_cache_precision = common_pb2.Precision.Value(f"PRECISION_{args.kv_cache_precision.upper()}")
    for flag, field in DEMAND_NUMBER_FIELDS:
        value = getattr(args, flag)
        if value is not None:
            set_field(demand, field, value, f"--{flag.replace('_', '-')}")
    apply_slo_flags(args, demand.slo)


def _demand_lines(response) -> list[str]:
    """The demand plan's lines: what the population asks for and how the fleet serves it."""
    plan = response.demand_plan
    serving = plan.serving_plan
    return [
        f"requests / s            {plan.average_request_rate_per_second:,.1f} average, {plan.peak_request_rate_per_second:,.1f} peak",
        f"serving plan            TP {serving.tensor_parallel_size} x {serving.replicas:,} replicas "
        f"({serving.accelerator_count:,} accelerators), max running batch {serving.max_running_batch_size}",
        f"per replica             {plan.replica_requests_per_second:,.2f} requests/s at the SLO; "
        f"{plan.peak_utilization:.0%} used at the peak, {plan.peak_wait_probability:.2%} of requests wait",
        f"p99 at the peak         TTFT {plan.time_to_first_token_p99.ToNanoseconds() / 1e6:,.0f} ms, "
        f"TPOT {plan.time_per_output_token_p99.ToNanoseconds() / 1e6:,.1f} ms",
        f"fleet busy on average   {plan.average_utilization:.1%}",
        f"output tokens per day   {plan.output_tokens_per_day:.3e}",
        f"annual cost             {_usd(plan.annual_cost) / 1e6:,.1f} M US$ (capex amortised + energy)",
        f"cost per user per month {_usd(plan.cost_per_user_per_month):,.3f} US$",
        f"energy per user         {plan.annual_energy_per_user_kwh:,.2f} kWh per year",
    ]


def _usd(money) -> float:
    return money.units + money.nanos / 1e9


def _energy(joules: float) -> str:
    """TWh for a gigawatt site, GWh below one TWh a year (a national assistant's few megawatts)."""
    return f"{joules / 3.6e15:,.2f} TWh" if joules >= 3.6e15 else f"{joules / 3.6e12:,.2f} GWh"


def _carbon(kilograms: float) -> str:
    return f"{kilograms / 1e9:,.2f} Mt CO2e" if kilograms >= 1e9 else f"{kilograms / 1e6:,.2f} kt CO2e"


def _dollars(usd: float, digits: int, billions: bool | None = None) -> str:
    """B US$ from a billion up (or when `billions` says so, to keep a breakdown in one unit), else M US$."""
    if billions if billions is not None else usd >= 1e9:
        return f"{usd / 1e9:,.{digits}f} B US$"
    return f"{usd / 1e6:,.{digits}f} M US$"


def table(response) -> str:
    billions = response.total_capital_cost.units >= 1e9
    lines = [
        f"accelerators            {response.accelerator_count:,} ({response.rack_count:,} racks of {response.accelerators_per_rack})",
        f"IT / facility power     {response.it_power_watts / 1e6:,.1f} MW / {response.facility_power_watts / 1e6:,.1f} MW",
        *(f"  per accelerator {q.name:<26} {q.value:,.0f} W" for q in response.power_per_accelerator),
        f"peak / sustained        {response.peak_flops_per_second:.3e} / {response.sustained_flops_per_second:.3e} FLOP/s",
        f"annual energy           {_energy(response.annual_energy_joules)}, {response.annual_energy_cost.units / 1e6:,.{0 if response.annual_energy_cost.units >= 1e8 else 2}f} M US$, "
        f"{_carbon(response.annual_co2e_kilograms)}",
        f"annual accelerator-hours {response.annual_accelerator_hours:,.0f}",
        f"capital cost            {_dollars(response.total_capital_cost.units, 1)}",
        *(f"  {q.name:<30} {_dollars(q.value, 2, billions)}" for q in response.capital_cost),
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
    if response.HasField("demand_plan"):
        lines += _demand_lines(response)
    elif response.output_tokens_per_day:
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

    flags = typed_flags(args, CAMPUS_FLAG_FIELDS + (SAMPLING_FLAG_FIELDS if args.samples else ()))
    with user_errors(flags):
        response = estimate_campus(build_request(args), cli_dependencies(args.data_dir))
    print(json.dumps(json_format.MessageToDict(response), indent=2) if args.json else table(response))
    try:
        if args.chart_power:
            charts.campus_power_chart(response, args.chart_power)
        if args.chart_cost:
            charts.campus_cost_chart(response, args.chart_cost)
    except ValueError as error:
        raise CliError(str(error)) from None
    return 0
