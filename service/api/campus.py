"""EstimateCampus: validate, size the site, size its workloads, explain (protobuf only here).

The training workload is built by the estimator's own scenario builder (estimate/scenarios.py,
the one EstimateTraining uses, planner included) at the largest job the site can run as one
job; the serving workload by the same builder as EstimateInference, per replica. Both are
composed on dataclasses, not on request messages. The site itself is `estimate/campus.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from flopwatt.estimate import campus as campus_model
from flopwatt.estimate import campus_defaults as cd
from flopwatt.estimate import constants as C
from flopwatt.estimate import uncertainty
from flopwatt.estimate.assumptions import Assumption
from flopwatt.estimate.buildout import MAX_MONTHS, RampInputs, quarterly_periods
from flopwatt.estimate.constants import IT_DEPRECIATION_YEARS, SECONDS_PER_HOUR
from flopwatt.estimate.facility_choice import facility_inputs
from flopwatt.estimate.inference import estimate_serving
from flopwatt.estimate.scenario_errors import Problem, ScenarioError
from flopwatt.estimate.scenarios import (
    InferenceWorkload,
    TrainingSetup,
    TrainingWorkload,
    build_inference_scenario,
    build_training_scenario,
    hardware_model,
    plan_description,
)
from flopwatt.estimate.training import estimate_training_run
from flopwatt.service.api import campus_demand, convert
from flopwatt.service.api import training as training_api
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.finite import ensure_finite
from flopwatt.service.api.request_bounds import (
    MAX_CAMPUS_ACCELERATORS,
    MAX_PRICE_USD,
    Violations,
    check_duration,
    check_facility,
    check_model_spec,
    check_money,
    check_uncertainty,
)
from flopwatt.service.errors import InvalidArgument, domain_errors, from_domain
from flopwatt.v1 import common_pb2, estimator_pb2

# Request bounds: far beyond any announced site (the largest plans are ~10 GW, ~10^7 GPUs).
MAX_FACILITY_POWER_WATTS = 1.0e12
MAX_BUDGET_USD = 1.0e14
MAX_TERM_SECONDS = 100 * 365.25 * 86400.0
MAX_DEPRECIATION_YEARS = 100.0
# A budget is spent on accelerator-hours over its term; a term under a day buys a fleet for
# hours (1e9 USD over 1 ns asked for 10^24 accelerators), which is renting, not a campus.
MIN_TERM_SECONDS = 86400.0
# No server or building is written off in less than half a year (US tax lives are 5 years for
# servers, 39 for buildings); shorter lives only inflate the annualised cost, to infinity at 1e-300.
MIN_DEPRECIATION_YEARS = 0.5
# Beyond the largest published global batch (DeepSeek-V3's; see constants), more data
# parallelism stops paying off (critical batch size, McCandlish et al. 2018), so a bigger site
# runs several jobs instead.
MAX_GLOBAL_BATCH_TOKENS = C.LARGEST_PUBLISHED_GLOBAL_BATCH_TOKENS
JOB_SHRINK_ATTEMPTS = 12
SECONDS_PER_DAY = 86400.0


def _validate(request: estimator_pb2.EstimateCampusRequest) -> float:
    """All field checks at once; returns the budget in USD (NaN without one)."""
    v = Violations()
    which = request.WhichOneof("capacity")
    budget = math.nan
    if which is None:
        v.add("capacity", "give one of facility_power_watts, accelerator_count, budget (with term) or demand")
    elif which == "demand":
        campus_demand.check_demand(request, v)
    elif which == "facility_power_watts":
        v.real(
            "facility_power_watts",
            request.facility_power_watts,
            minimum=0.0,
            maximum=MAX_FACILITY_POWER_WATTS,
            exclusive_minimum=True,
        )
    elif which == "accelerator_count":
        v.integer("accelerator_count", request.accelerator_count, maximum=MAX_CAMPUS_ACCELERATORS, required=True)
    else:
        budget = check_money(request.budget, "budget", v, maximum_usd=MAX_BUDGET_USD)
        term = check_duration(request.term, "term", v)
        if not request.HasField("term") or term <= 0:
            v.add("term", "required with budget: a positive duration")
        elif term < MIN_TERM_SECONDS:
            v.add("term", "must be at least one day")
        elif term > MAX_TERM_SECONDS:
            v.add("term", "must be at most 100 years")
    if not request.hardware_id:
        v.add("hardware_id", "required (see ListHardware)")
    check_facility(request.facility, "facility", v)
    if request.HasField("utilization"):
        v.real("utilization", request.utilization, minimum=0.0, maximum=1.0, exclusive_minimum=True)
    costs = request.capital_costs
    for name in (
        "accelerator_usd",
        "server_usd_per_accelerator",
        "network_usd_per_accelerator",
        "building_usd_per_watt",
    ):
        if costs.HasField(name):
            v.real(f"capital_costs.{name}", getattr(costs, name), minimum=0.0, maximum=MAX_PRICE_USD * 100)
    for name in ("it_depreciation_years", "building_depreciation_years"):
        if costs.HasField(name):
            v.real(
                f"capital_costs.{name}",
                getattr(costs, name),
                minimum=MIN_DEPRECIATION_YEARS,
                maximum=MAX_DEPRECIATION_YEARS,
            )
    if request.HasField("buildout"):
        v.integer("buildout.ramp_months", request.buildout.ramp_months, maximum=MAX_MONTHS, required=True)
        v.integer("buildout.horizon_months", request.buildout.horizon_months, maximum=MAX_MONTHS)
    check_uncertainty(request.uncertainty, "uncertainty", v)
    if request.HasField("training"):
        check_model_spec(request.training.model, "training.model", v)
        v.integer("training.training_tokens", request.training.training_tokens, maximum=10**17, required=True)
        v.integer("training.sequence_length", request.training.sequence_length, maximum=10_000_000, required=True)
    if request.HasField("inference"):
        check_model_spec(request.inference.model, "inference.model", v)
        v.integer("inference.input_tokens", request.inference.input_tokens, maximum=10_000_000, required=True)
        v.integer("inference.output_tokens", request.inference.output_tokens, maximum=10_000_000, required=True)
        v.integer("inference.accelerators_per_replica", request.inference.accelerators_per_replica, maximum=1_000_000)
    v.raise_if_any()
    return budget


def _value(request_message, name: str, default: float) -> tuple[float, str]:
    return (getattr(request_message, name), "request") if request_message.HasField(name) else (default, "default")


def _capital_costs(
    request: estimator_pb2.EstimateCampusRequest, assumptions: list[Assumption]
) -> campus_model.CapitalCosts:
    costs = request.capital_costs
    defaults = cd.capital_cost_defaults(request.hardware_id)
    missing = [
        name
        for name in ("accelerator_usd", "server_usd_per_accelerator", "network_usd_per_accelerator")
        if not costs.HasField(name)
    ]
    if defaults is None and missing:
        # No published price: capex counts only what the request gives (stated, never invented).
        defaults = cd.CapitalCostDefaults(
            0.0, 0.0, 0.0, f"no published price for {request.hardware_id}: set capital_costs"
        )
    values = {}
    for name, default, source in (
        ("accelerator_usd", defaults and defaults.accelerator_usd, defaults and defaults.source),
        ("server_usd_per_accelerator", defaults and defaults.server_usd_per_accelerator, defaults and defaults.source),
        (
            "network_usd_per_accelerator",
            defaults and defaults.network_usd_per_accelerator,
            defaults and defaults.source,
        ),
        (
            "building_usd_per_watt",
            cd.BUILDING_USD_PER_WATT,
            "Bernstein 2025-08: $2.5 M facility per NVL72 rack at $35 B/GW",
        ),
        ("it_depreciation_years", IT_DEPRECIATION_YEARS, "Cottier et al. 2024 (arXiv 2405.21015)"),
        (
            "building_depreciation_years",
            cd.BUILDING_DEPRECIATION_YEARS,
            "Epoch AI 1 GW data-centre cost model, 2026-05-14",
        ),
    ):
        value, origin = _value(costs, name, float(default or 0.0))
        values[name] = value
        assumptions.append(
            Assumption(
                f"capital_costs.{name}", f"{value:,.2f}", origin, "request" if origin == "request" else str(source)
            )
        )
    return campus_model.CapitalCosts(**values)


@dataclass(frozen=True)
class _Site:
    inputs: campus_model.CampusInputs
    facility: object  # run_cost.FacilityInputs used by the workloads (EstimateTraining's defaults)
    assumptions: list[Assumption]


def _site(request: estimator_pb2.EstimateCampusRequest, budget_usd: float, deps: ApiDependencies) -> _Site:
    spec = convert.catalog_hardware(request.hardware_id)
    if not spec.tdp_watts > 0:
        # A site is provisioned for nameplate power: without one (TPU v5p publishes none) every
        # watt, count and joule below would be NaN or zero.
        raise InvalidArgument.field(
            "hardware_id", f"{spec.id} has no published accelerator power (TDP), which campus sizing provisions for"
        )
    precision = convert.precision_name(request.precision)
    with domain_errors():
        hw, assumptions = hardware_model(
            request.hardware_id, precision, convert.measured_calibration(request.profile_id, deps)
        )
    facility, facility_assumptions = facility_inputs(convert.facility_choice(request.facility), request.hardware_id)
    # The campus provisions nameplate host and fabric power; the estimator's averaged defaults
    # for these two are replaced below (a request value is taken as the nameplate figure).
    per_run = ("host_power_watts_per_accelerator", "network_power_watts_per_accelerator", "capex_usd_per_accelerator")
    assumptions += [a for a in facility_assumptions if a.name not in per_run]
    host, host_origin = campus_model.host_watts_per_accelerator(spec.id, spec.tdp_watts)
    if request.facility.HasField("host_power_watts_per_accelerator"):
        host, host_origin = request.facility.host_power_watts_per_accelerator, "request"
    assumptions.append(
        Assumption(
            "host_power_watts_per_accelerator",
            f"{host:.0f} W nameplate",
            host_origin,
            "node/rack maximum minus its accelerators' TDP (NVIDIA DGX/NVL72 specifications, campus_defaults.py)",
        )
    )
    network_override = (
        request.facility.network_power_watts_per_accelerator
        if request.facility.HasField("network_power_watts_per_accelerator")
        else math.nan
    )
    assumptions.append(
        Assumption(
            "network_power_watts_per_accelerator",
            "fat tree, grows with fleet" if math.isnan(network_override) else f"{network_override:g} W",
            "derived" if math.isnan(network_override) else "request",
            f"(2·tiers − 1) ports × ({cd.SWITCH_NAMEPLATE_WATTS:g} W / {cd.SWITCH_RADIX_PORTS} ports + {cd.TRANSCEIVER_WATTS_PER_PORT:g} W optics); QM9700, LinkX 2023",
        )
    )
    utilization, origin = _value(request, "utilization", cd.DEFAULT_FLEET_UTILIZATION)
    assumptions.append(
        Assumption(
            "utilization",
            f"{utilization:.0%}",
            origin,
            "Llama 3 (arXiv 2407.21783 §3.3.4): > 90 % effective training time",
        )
    )
    rack = spec.accelerators_per_rack or spec.accelerators_per_node
    assumptions.append(
        Assumption("accelerators_per_rack", str(rack), "datasheet", f"{spec.name}: counts round to whole racks/nodes")
    )
    capacity = campus_model.Capacity(
        facility_power_watts=request.facility_power_watts
        if request.WhichOneof("capacity") == "facility_power_watts"
        else math.nan,
        accelerator_count=float(request.accelerator_count)
        if request.WhichOneof("capacity") == "accelerator_count"
        else math.nan,
        budget_usd=budget_usd,
        term_seconds=request.term.seconds + request.term.nanos / 1e9 if math.isfinite(budget_usd) else math.nan,
    )
    inputs = campus_model.CampusInputs(
        hardware=hw,
        capacity=capacity,
        power=campus_model.SitePower(spec.tdp_watts, host, network_override, facility.pue),
        capex=_capital_costs(request, assumptions),
        accelerators_per_rack=rack,
        utilization=utilization,
        carbon_intensity_grams_per_kwh=facility.carbon_intensity_grams_per_kwh,
        electricity_price_usd_per_kwh=facility.electricity_price_usd_per_kwh,
        accelerator_hour_price_usd=facility.accelerator_hour_price_usd,
        wue_liters_per_kwh=facility.wue_liters_per_kwh,
    )
    return _Site(inputs, facility, assumptions)


@dataclass
class _TrainingResult:
    runs_per_year: float
    response: estimator_pb2.EstimateTrainingResponse
    feasibility: str
    scenario: object
    concurrent_jobs: float


def _training_workload(request: estimator_pb2.EstimateCampusRequest, deps: ApiDependencies) -> TrainingWorkload:
    """The site's training workload, for the accelerator count of one job (set per attempt)."""
    w = request.training
    return TrainingWorkload(
        model=convert.model_choice(w.model),
        training_tokens=w.training_tokens,
        sequence_length=w.sequence_length,
        hardware_id=request.hardware_id,
        accelerator_count=0,
        precision=convert.precision_name(w.precision, "training.precision"),
        precision_set=bool(w.precision),
        calibration=convert.measured_calibration(request.profile_id, deps),
        facility=convert.facility_choice(request.facility),
    )


def _build_training_scenario(workload: TrainingWorkload, job: int) -> TrainingSetup:
    """EstimateTraining's scenario builder at `job` accelerators; field paths re-rooted under `training`."""
    try:
        return build_training_scenario(replace(workload, accelerator_count=job))
    except ScenarioError as error:
        raise from_domain(error.rerooted("training.")) from None


def _size_training(
    request: estimator_pb2.EstimateCampusRequest,
    fleet: int,
    rack: int,
    utilization: float,
    deps: ApiDependencies,
    it_capex_usd_per_accelerator: float,
) -> _TrainingResult:
    """Plan one job on as much of the site as one job can use; the rest runs further copies.
    The job's amortised capex is the site's IT capex per accelerator (request overrides of
    capital_costs included), so the campus and its training answer price an accelerator alike."""
    job = fleet
    reasons: list[str] = []
    spec = convert.catalog_hardware(request.hardware_id)
    if job > spec.accelerators_per_node and not spec.scale_out_bandwidth_bytes_per_second > 0:
        # No published bandwidth between pods (TPU v3/v4): one job stays inside one.
        job = spec.accelerators_per_node
        reasons.append(
            f"{spec.name} publishes no bandwidth between its {spec.accelerators_per_node}-accelerator pods, so one job spans one pod"
        )
    workload = _training_workload(request, deps)
    for _ in range(JOB_SHRINK_ATTEMPTS):
        with domain_errors():
            setup = _build_training_scenario(workload, job)
        scenario = replace(
            setup.scenario,
            facility=replace(setup.scenario.facility, capex_usd_per_accelerator=it_capex_usd_per_accelerator),
        )
        assumptions = [a for a in setup.assumptions if a.name != "capex_usd_per_accelerator"] + [
            Assumption(
                "capex_usd_per_accelerator",
                f"{it_capex_usd_per_accelerator:,.0f} USD over {IT_DEPRECIATION_YEARS:g} years",
                "derived",
                "the campus's IT capex per accelerator (capital_costs accelerator + server + network)",
            )
        ]
        plan = scenario.plan
        batch_tokens = float(plan.global_batch_size) * request.training.sequence_length
        estimate = estimate_training_run(scenario)
        fits = bool(np.asarray(estimate.fits_in_memory).reshape(-1)[0])
        if batch_tokens <= MAX_GLOBAL_BATCH_TOKENS and fits:
            break
        if not fits:
            reasons.append(
                f"at {job:,} accelerators the best plan needs {float(np.asarray(estimate.memory.total).reshape(-1)[0]) / 2**30:.0f} GiB per accelerator"
            )
            break
        reasons.append(
            f"at {job:,} accelerators data parallelism {int(plan.data_parallel_size):,} needs a global batch of "
            f"{batch_tokens / 1e6:.0f} M tokens, above the largest published ({MAX_GLOBAL_BATCH_TOKENS / 1e6:.0f} M, DeepSeek-V3 2024)"
        )
        scale = MAX_GLOBAL_BATCH_TOKENS / batch_tokens
        job = max(rack, int(job * scale // rack) * rack)
    wall = float(np.asarray(estimate.wall_clock_seconds).reshape(-1)[0])
    jobs = fleet // job
    runs = jobs * utilization * campus_model.SECONDS_PER_YEAR / wall if fits else 0.0
    if not fits:
        feasibility = "no: the model does not fit in memory with any plan; " + "; ".join(reasons)
    elif job == fleet:
        feasibility = f"yes: one job uses all {fleet:,} accelerators ({plan_description(plan)})"
    else:
        feasibility = (
            f"no: one job can use {job:,} of {fleet:,} accelerators, so {jobs} copies run side by side; "
            + "; ".join(reasons)
        )
    response = training_api.to_response(estimate, assumptions)
    return _TrainingResult(runs, response, feasibility, scenario, jobs)


@dataclass
class _ServingResult:
    tokens_per_day: float
    accelerators_per_replica: int
    replicas: int
    scenario: object  # model.inference.InferenceScenario of one replica (for the intervals)
    batch_size: int


def _size_inference(
    request: estimator_pb2.EstimateCampusRequest, fleet: int, node: int, utilization: float, deps: ApiDependencies
) -> _ServingResult:
    """Output tokens per day = replicas × replica throughput × day, with EstimateInference's own
    scenario builder and serving model (the smallest power-of-two replica that fits)."""
    w = request.inference
    sizes = (
        [w.accelerators_per_replica] if w.accelerators_per_replica else [2**i for i in range(int(math.log2(node)) + 1)]
    )
    workload = InferenceWorkload(
        model=convert.model_choice(w.model),
        hardware_id=request.hardware_id,
        accelerator_count=1,
        input_tokens=w.input_tokens,
        output_tokens=w.output_tokens,
        precision=convert.precision_name(w.precision, "inference.precision"),
        precision_set=bool(w.precision),
        calibration=convert.measured_calibration(request.profile_id, deps),
        facility=convert.facility_choice(request.facility),
    )
    for tp in sizes:
        try:
            scenario, _ = build_inference_scenario(replace(workload, accelerator_count=tp))
        except ScenarioError as error:
            raise from_domain(_replica_error(error)) from None
        estimate = estimate_serving(scenario)
        if estimate.fits_in_memory:
            replicas = fleet // tp
            return _ServingResult(
                replicas * estimate.output_tokens_per_second * SECONDS_PER_DAY * utilization,
                tp,
                replicas,
                scenario,
                estimate.batch_size,
            )
    return _ServingResult(0.0, sizes[-1], 0, None, 0)


def _replica_error(error: ScenarioError) -> ScenarioError:
    """The serving builder's problems as paths of this request: its `accelerator_count` (one
    replica's tensor-parallel group) is `inference.accelerators_per_replica` here, a field the
    client can change; `inference.accelerator_count` does not exist."""
    renamed = [
        Problem("accelerators_per_replica" if p.field == "accelerator_count" else p.field, p.description)
        for p in error.problems
    ]
    return ScenarioError(renamed).rerooted("inference.")


def _scalar(value) -> float:
    return float(np.asarray(value, float).reshape(-1)[0])


def _power_parts(s: campus_model.CampusSizing) -> list[common_pb2.Quantity]:
    parts = {
        "accelerator": s.accelerator_watts,
        "host": s.host_watts,
        "network": s.network_watts,
        "cooling_and_power_delivery": s.cooling_and_power_watts,
        "all_in": s.facility_watts_per_accelerator,
    }
    descriptions = {
        "accelerator": "accelerator TDP (nameplate)",
        "host": "CPUs, memory, NICs, NVLink switches, fans (nameplate)",
        "network": "scale-out switches and optics, fat tree sized to the fleet",
        "cooling_and_power_delivery": "(PUE − 1) × IT",
        "all_in": "facility watts provisioned per accelerator",
    }
    return convert.quantities({k: _scalar(v) for k, v in parts.items()}, "watts", descriptions)


def _capex_parts(s: campus_model.CampusSizing) -> list[common_pb2.Quantity]:
    parts = {
        "accelerators": s.capex_accelerators_usd,
        "servers": s.capex_servers_usd,
        "network": s.capex_network_usd,
        "building_power_cooling": s.capex_building_usd,
        "annualised": s.annual_capex_usd,
    }
    return convert.quantities({k: _scalar(v) for k, v in parts.items()}, "usd")


def _comparisons(s: campus_model.CampusSizing) -> list[common_pb2.Quantity]:
    return [
        common_pb2.Quantity(
            name="reactors",
            value=_scalar(s.reactors),
            unit="count",
            description=f"1 GW reactors running flat out to supply the facility power ({cd.REACTOR_WATTS / 1e9:g} GW each)",
        ),
        common_pb2.Quantity(
            name="households",
            value=_scalar(s.households),
            unit="count",
            description=f"average US homes using the same energy per year ({cd.HOUSEHOLD_KWH_PER_YEAR:,.0f} kWh each, EIA)",
        ),
    ]


def _buildout(
    request, sizing: campus_model.CampusSizing, rack: int, utilization: float
) -> list[estimator_pb2.BuildoutPeriod]:
    count = _scalar(sizing.accelerator_count)
    installed_hours = count * campus_model.SECONDS_PER_YEAR / SECONDS_PER_HOUR
    ramp = RampInputs(
        accelerator_count=count,
        accelerators_per_rack=rack,
        ramp_months=request.buildout.ramp_months,
        horizon_months=request.buildout.horizon_months,
        utilization=utilization,
        facility_joules_per_accelerator_hour=_scalar(sizing.annual_energy_joules) / installed_hours,
        spend_usd_per_accelerator_hour=_scalar(sizing.cost_per_accelerator_hour_usd),
    )
    return [estimator_pb2.BuildoutPeriod(**vars(p)) for p in quarterly_periods(ramp)]


def _check_fleet(request: estimator_pb2.EstimateCampusRequest, site: _Site, sizing: campus_model.CampusSizing) -> None:
    """The fleet a power or budget buys must be at least one rack and at most the accelerator
    count a request may name (MAX_CAMPUS_ACCELERATORS): a bigger one is no site anyone plans,
    and its counts would overflow the response's integers. The capacity field is named."""
    field = request.WhichOneof("capacity")
    rack = site.inputs.accelerators_per_rack
    count = _scalar(sizing.accelerator_count)
    if not count >= rack:
        raise InvalidArgument.field(
            field,
            f"buys less than one rack of {rack} {request.hardware_id} "
            f"({_scalar(sizing.facility_watts_per_accelerator) * rack / 1e3:,.0f} kW all-in per rack)",
        )
    if count > MAX_CAMPUS_ACCELERATORS:
        raise InvalidArgument.field(
            field,
            f"buys {count:.3g} {request.hardware_id}; a campus has at most {MAX_CAMPUS_ACCELERATORS:,} accelerators",
        )


def _site_for_demand(site: _Site, demand: campus_demand.DemandResult) -> _Site:
    """The site sized for a demand: the planned accelerators (rounded up to whole racks by
    size_campus), and the fleet's utilisation the demand's average busy fraction of them."""
    inputs = replace(
        site.inputs, capacity=campus_model.Capacity(accelerator_count=float(demand.plan.accelerator_count))
    )
    busy = demand.plan.average_utilization(_scalar(campus_model.size_campus(inputs).accelerator_count))
    inputs = replace(inputs, utilization=busy)
    assumptions = [a for a in site.assumptions if a.name != "utilization"]
    assumptions.append(
        Assumption(
            "utilization",
            f"{busy:.1%}",
            "derived",
            "average request rate ÷ the installed replicas' SLO capacity (demand.energy_load)",
        )
    )
    return _Site(inputs, site.facility, assumptions + demand.assumptions)


def estimate_campus(
    request: estimator_pb2.EstimateCampusRequest, deps: ApiDependencies
) -> estimator_pb2.EstimateCampusResponse:
    """The EstimateCampus RPC as a plain function (the servicer calls it)."""
    budget = _validate(request)
    site = _site(request, budget, deps)
    demand = None
    if request.WhichOneof("capacity") == "demand":
        demand = campus_demand.plan(request, deps, site.inputs.hardware.accelerators_per_node)
        site = _site_for_demand(site, demand)
    sizing = campus_model.size_campus(site.inputs)
    _check_fleet(request, site, sizing)
    count = int(_scalar(sizing.accelerator_count))
    assumptions = list(site.assumptions)
    utilization = float(site.inputs.utilization)
    response = estimator_pb2.EstimateCampusResponse(
        accelerator_count=count,
        rack_count=int(_scalar(sizing.rack_count)),
        accelerators_per_rack=site.inputs.accelerators_per_rack,
        it_power_watts=_scalar(sizing.it_power_watts),
        facility_power_watts=_scalar(sizing.facility_power_watts),
        annual_energy_joules=_scalar(sizing.annual_energy_joules),
        annual_energy_cost=convert.money(_scalar(sizing.annual_energy_cost_usd), "annual_energy_cost"),
        annual_co2e_kilograms=_scalar(sizing.annual_co2e_kilograms),
        annual_water_liters=_scalar(sizing.annual_water_liters),
        annual_accelerator_hours=_scalar(sizing.annual_accelerator_hours),
        peak_flops_per_second=_scalar(sizing.peak_flops_per_second),
        sustained_flops_per_second=_scalar(sizing.sustained_flops_per_second),
        power_per_accelerator=_power_parts(sizing),
        capital_cost=_capex_parts(sizing),
        total_capital_cost=convert.money(_scalar(sizing.total_capex_usd), "total_capital_cost"),
        comparisons=_comparisons(sizing),
        calibration=convert.calibration_to_proto(site.inputs.hardware),
    )
    assumptions.append(
        Assumption(
            "fabric_tiers",
            f"{int(_scalar(sizing.fabric_tiers))}",
            "derived",
            f"non-blocking fat tree of {cd.SWITCH_RADIX_PORTS}-port switches for {count:,} endpoints",
        )
    )
    if math.isfinite(budget):
        assumptions.append(
            Assumption(
                "contract_accelerator_hours",
                f"{_scalar(sizing.contract_accelerator_hours):,.0f} h",
                "derived",
                f"budget ÷ {_scalar(sizing.cost_per_accelerator_hour_usd):.3f} USD per accelerator-hour over the term",
            )
        )
    training = None
    if request.HasField("training"):
        c = site.inputs.capex
        it_capex = c.accelerator_usd + c.server_usd_per_accelerator + c.network_usd_per_accelerator
        training = _size_training(request, count, site.inputs.accelerators_per_rack, utilization, deps, it_capex)
        response.training_runs_per_year = training.runs_per_year
        response.training_estimate.CopyFrom(training.response)
        response.single_job_feasibility = training.feasibility
    serving = None
    if request.HasField("inference"):
        serving = _size_inference(request, count, site.inputs.hardware.accelerators_per_node, utilization, deps)
        response.output_tokens_per_day = serving.tokens_per_day
        assumptions.append(
            Assumption(
                "inference.accelerators_per_replica",
                str(serving.accelerators_per_replica),
                "request" if request.inference.accelerators_per_replica else "derived",
                "smallest power-of-two tensor-parallel group whose memory holds the model"
                if not request.inference.accelerators_per_replica
                else "request",
            )
        )
    if demand is not None:
        campus_demand.fill_plan(response.demand_plan, demand.plan, sizing, _scalar)
        response.output_tokens_per_day = demand.plan.output_tokens_per_day
    if request.HasField("buildout"):
        response.buildout.extend(_buildout(request, sizing, site.inputs.accelerators_per_rack, utilization))
    if request.uncertainty.samples > 0:
        assumptions += _campus_intervals(request, site, training, serving, response)
    response.assumptions.extend(convert.assumptions_to_proto(assumptions))
    return ensure_finite(response, "EstimateCampus")


def _campus_intervals(
    request, site: _Site, training: _TrainingResult | None, serving: _ServingResult | None, response
) -> list[Assumption]:
    samples, seed = request.uncertainty.samples, request.uncertainty.seed
    draws = uncertainty.draw(samples, seed)
    outputs = uncertainty.campus_outputs(uncertainty.campus_samples(site.inputs, draws))
    names = uncertainty.CAMPUS_INPUTS
    if training is not None and training.runs_per_year > 0:
        sampled = uncertainty.training_samples(training.scenario, draws)  # same draws: coupled inputs
        outputs["training_runs_per_year"] = (
            training.concurrent_jobs
            * float(site.inputs.utilization)
            * campus_model.SECONDS_PER_YEAR
            / sampled.wall_clock_seconds
        )
        names = tuple(dict.fromkeys(names + uncertainty.TRAINING_INPUTS))  # the site's draws and the run's
    if serving is not None and serving.tokens_per_day > 0:
        sampled_serving = uncertainty.inference_samples(serving.scenario, serving.batch_size, draws)  # same draws again
        outputs["output_tokens_per_day"] = (
            serving.replicas
            * sampled_serving.output_tokens_per_second
            * SECONDS_PER_DAY
            * float(site.inputs.utilization)
        )
    convert.set_intervals(response.intervals, uncertainty.intervals(outputs))
    return uncertainty.assumptions(names, samples, seed)
