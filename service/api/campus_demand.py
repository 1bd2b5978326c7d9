"""EstimateCampus's demand capacity: CampusDemand ↔ estimate/demand.py (protobuf only here).

The serving scenario of one replica is built by EstimateInference's own builder
(estimate/scenarios.py), the layout by its SLO planner, the fleet by estimate/demand.py; this
module validates the message, converts it, states every default it applied, and writes the
CampusDemandPlan. Field paths in errors are rooted at `demand.`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from flopwatt.estimate import demand as demand_model
from flopwatt.estimate.assumptions import Assumption
from flopwatt.estimate.campus import CampusSizing
from flopwatt.estimate.constants import (
    HOURS_PER_YEAR,
    IDLE_POWER_FRACTION_OF_TDP,
    JOULES_PER_KWH,
    TRAINING_POWER_FRACTION_OF_TDP,
)
from flopwatt.estimate.continuous import SloUnreachable
from flopwatt.estimate.scenario_errors import ScenarioError
from flopwatt.estimate.scenarios import InferenceWorkload, build_inference_scenario
from flopwatt.service.api import convert
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.request_bounds import (
    MAX_CAMPUS_ACCELERATORS,
    MAX_DEMAND_PEAK_TO_AVERAGE_RATIO,
    MAX_DEMAND_REQUESTS_PER_USER_PER_DAY,
    MAX_DEMAND_USERS,
    MAX_SEQUENCE_LENGTH,
    Violations,
    check_model_spec,
    check_slo,
    duration_seconds,
)
from flopwatt.service.api.training import MEMORY_EXCEEDED_REASON
from flopwatt.service.errors import FailedPrecondition, InvalidArgument, from_domain
from flopwatt.v1 import estimator_pb2

# Above one request in two waiting, the "headroom" is no longer a latency promise at all.
MAX_WAIT_PROBABILITY = 0.5


def check_demand(request: estimator_pb2.EstimateCampusRequest, v: Violations) -> None:
    """Every CampusDemand field, and the campus fields that the demand decides."""
    d = request.demand
    v.integer("demand.users", d.users, maximum=MAX_DEMAND_USERS, required=True)
    v.integer("demand.input_tokens", d.input_tokens, maximum=MAX_SEQUENCE_LENGTH)
    v.integer("demand.output_tokens", d.output_tokens, maximum=MAX_SEQUENCE_LENGTH)
    # (field, minimum, maximum, minimum excluded) of the optional reals; unset takes the default.
    for name, minimum, maximum, exclusive in (
        ("requests_per_user_per_day", 0.0, MAX_DEMAND_REQUESTS_PER_USER_PER_DAY, True),
        ("peak_to_average_ratio", 1.0, MAX_DEMAND_PEAK_TO_AVERAGE_RATIO, False),
        ("peak_wait_probability", 0.0, MAX_WAIT_PROBABILITY, True),
    ):
        if d.HasField(name):
            v.real(f"demand.{name}", getattr(d, name), minimum=minimum, maximum=maximum, exclusive_minimum=exclusive)
    check_model_spec(d.model, "demand.model", v)
    if not (d.model.preset_id or d.model.parameter_count):
        v.add("demand.model", "required: a preset_id (see ListModels) or a parameter_count")
    if d.HasField("slo"):
        check_slo(d.slo, "demand.slo", v)
    if request.HasField("utilization"):
        v.add("utilization", "exclusive with demand: the fleet's load follows from the demand")
    if request.HasField("inference"):
        v.add("inference", "exclusive with demand: demand.model is the workload served")


def _slo_seconds(d) -> tuple[float, float, str]:
    if not d.HasField("slo"):
        return (
            demand_model.DEFAULT_TIME_TO_FIRST_TOKEN_SECONDS,
            demand_model.DEFAULT_TIME_PER_OUTPUT_TOKEN_SECONDS,
            "default",
        )
    return duration_seconds(d.slo.time_to_first_token), duration_seconds(d.slo.time_per_output_token), "request"


@dataclass(frozen=True)
class DemandResult:
    plan: demand_model.DemandPlan
    assumptions: list[Assumption]


def _value(message, name: str, default: float) -> tuple[float, str]:
    return (getattr(message, name), "request") if message.HasField(name) else (default, "default")


def _replica_scenario(workload: InferenceWorkload):
    """(scenario, its assumptions, the largest tensor-parallel group the planner may try): the
    workload's group halved until the builder accepts it, e.g. 64 GB200 of an NVL72 rack down to
    32 for a model of 32 attention heads. Only the group size is retried; other problems raise."""
    group = workload.accelerator_count
    while True:
        try:
            scenario, assumptions = build_inference_scenario(replace(workload, accelerator_count=group))
            return scenario, assumptions, group
        except ScenarioError as error:
            if group == 1 or any(problem.field != "accelerator_count" for problem in error.problems):
                raise
            group //= 2


def plan(request: estimator_pb2.EstimateCampusRequest, deps: ApiDependencies, node_size: int) -> DemandResult:
    """The validated demand as the estimator's Demand, planned on one replica's scenario (TP up
    to the largest power of two in the `node_size` scale-up domain)."""
    d = request.demand
    requests_per_day, requests_origin = _value(
        d, "requests_per_user_per_day", demand_model.DEFAULT_REQUESTS_PER_USER_PER_DAY
    )
    ratio, ratio_origin = _value(d, "peak_to_average_ratio", demand_model.DEFAULT_PEAK_TO_AVERAGE_RATIO)
    wait, wait_origin = _value(d, "peak_wait_probability", demand_model.DEFAULT_PEAK_WAIT_PROBABILITY)
    input_tokens = d.input_tokens or demand_model.DEFAULT_INPUT_TOKENS
    output_tokens = d.output_tokens or demand_model.DEFAULT_OUTPUT_TOKENS
    ttft, tpot, slo_origin = _slo_seconds(d)
    demand = demand_model.Demand(float(d.users), requests_per_day, ratio, wait)
    largest_group = 2 ** int(math.log2(max(node_size, 1)))
    workload = InferenceWorkload(
        model=convert.model_choice(d.model),
        hardware_id=request.hardware_id,
        accelerator_count=largest_group,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        precision=convert.precision_name(d.precision, "demand.precision"),
        precision_set=bool(d.precision),
        kv_cache_precision=convert.precision_name(d.kv_cache_precision, "demand.kv_cache_precision")
        if d.kv_cache_precision
        else None,
        calibration=convert.measured_calibration(request.profile_id, deps),
        facility=convert.facility_choice(request.facility),
    )
    try:
        scenario, scenario_assumptions, largest_group = _replica_scenario(workload)
        planned = demand_model.plan_demand(demand, scenario, ttft, tpot)
    except ScenarioError as error:
        raise from_domain(error.rerooted("demand.")) from None
    except SloUnreachable as error:
        if not math.isfinite(error.best_ttft_seconds):
            raise FailedPrecondition(
                f"demand.model: does not fit in the memory of any tensor-parallel group of up to {largest_group} "
                f"{request.hardware_id} (one scale-up domain) with one sequence's KV cache",
                reason=MEMORY_EXCEEDED_REASON,
            ) from None
        raise FailedPrecondition(f"demand.slo: {error}", reason="SLO_UNREACHABLE") from None
    if planned.accelerator_count > MAX_CAMPUS_ACCELERATORS:
        raise InvalidArgument.field(
            "demand.users",
            f"needs {planned.accelerator_count:.3g} {request.hardware_id}; a campus has at most "
            f"{MAX_CAMPUS_ACCELERATORS:,} accelerators",
        )
    kept = {"model", "precision", "kv_cache_precision"}
    assumptions = [
        Assumption(f"demand.{a.name}", a.value, a.origin, a.source) for a in scenario_assumptions if a.name in kept
    ]
    assumptions += _input_assumptions(
        d, demand, requests_origin, ratio_origin, wait_origin, input_tokens, output_tokens, ttft, tpot, slo_origin
    )
    assumptions += _plan_assumptions(planned, ttft, tpot)
    return DemandResult(planned, assumptions)


def _input_assumptions(
    d, demand, requests_origin, ratio_origin, wait_origin, input_tokens, output_tokens, ttft, tpot, slo_origin
) -> list[Assumption]:
    def origin(given: bool) -> str:
        return "request" if given else "default"

    return [
        Assumption("demand.users", f"{d.users:,}", "request", "request"),
        Assumption(
            "demand.requests_per_user_per_day",
            f"{demand.requests_per_user_per_day:g}",
            requests_origin,
            "request"
            if requests_origin == "request"
            else "ChatGPT: 2.5 billion prompts a day (OpenAI to Axios, 2025-07-21) over 500 million weekly users (OpenAI, 2025-03)",
        ),
        Assumption(
            "demand.tokens_per_request",
            f"{input_tokens:,} in / {output_tokens:,} out",
            origin(bool(d.input_tokens and d.output_tokens)),
            "request"
            if d.input_tokens and d.output_tokens
            else "issue 12's SLO planning example (1,000 / 200 tokens, a chat turn with its context)",
        ),
        Assumption(
            "demand.peak_to_average_ratio",
            f"{demand.peak_to_average_ratio:g}",
            ratio_origin,
            "request"
            if ratio_origin == "request"
            else "assumed: a population in one or two time zones, busiest hour about twice the daily mean "
            "(no national assistant's diurnal curve is published)",
        ),
        Assumption(
            "demand.slo",
            f"p99 TTFT ≤ {ttft * 1e3:g} ms, p99 TPOT ≤ {tpot * 1e3:g} ms (0: unconstrained)",
            slo_origin,
            "request" if slo_origin == "request" else "issue 12's SLO planning example (TTFT ≤ 500 ms, TPOT ≤ 50 ms)",
        ),
        Assumption(
            "demand.peak_wait_probability",
            f"{demand.peak_wait_probability:g}",
            wait_origin,
            "request"
            if wait_origin == "request"
            else "headroom: at most 1 % of requests wait for a slot at the peak, as the SLO is a p99 promise "
            "(Erlang C per replica, M/D/B)",
        ),
    ]


def _plan_assumptions(planned: demand_model.DemandPlan, ttft: float, tpot: float) -> list[Assumption]:
    d = planned.demand
    return [
        Assumption(
            "demand.request_rates",
            f"{d.average_request_rate_per_second:,.1f} average, {d.peak_request_rate_per_second:,.1f} peak requests/s",
            "derived",
            "users × requests per user per day ÷ 86,400 s; peak = average × peak_to_average_ratio",
        ),
        Assumption(
            "demand.serving_plan",
            f"TP {planned.accelerators_per_replica} × {planned.replicas:,} replicas, max running batch "
            f"{planned.slo_plan.max_running_batch}, {planned.replica_requests_per_second:.3g} requests/s per replica",
            "derived",
            f"SLO planner: most output tokens/s per accelerator with p99 TTFT ≤ {ttft:g} s and TPOT ≤ {tpot:g} s "
            "(continuous batching, vLLM defaults); replicas: the fewest whose Erlang-C wait probability at the "
            f"peak is ≤ {d.peak_wait_probability:g} ({planned.peak_utilization:.0%} of their SLO capacity at the peak)",
        ),
        Assumption(
            "demand.energy_load",
            "campus power model at the average busy fraction",
            "derived",
            "busy fraction = average rate ÷ installed replicas' SLO capacity; accelerator power interpolates from "
            f"idle to loaded (measured with a profile, else TDP × {IDLE_POWER_FRACTION_OF_TDP:.0%} idle to "
            f"× {TRAINING_POWER_FRACTION_OF_TDP:.0%} busy), hosts and switches alike",
        ),
        Assumption(
            "demand.cost_per_user_per_month",
            "(amortised capex + energy) ÷ users ÷ 12",
            "derived",
            "installed accelerator-hours × the owner's cost per hour (or the rental price); no staff, maintenance "
            "or software: a lower bound",
        ),
    ]


def fill_plan(
    target: estimator_pb2.CampusDemandPlan,
    planned: demand_model.DemandPlan,
    sizing: CampusSizing,
    scalar,
) -> None:
    """Write the CampusDemandPlan of a sized campus (`scalar` reads a size_campus output)."""
    d = planned.demand
    installed = scalar(sizing.accelerator_count)
    annual_cost = installed * HOURS_PER_YEAR * scalar(sizing.cost_per_accelerator_hour_usd)
    target.average_request_rate_per_second = d.average_request_rate_per_second
    target.peak_request_rate_per_second = d.peak_request_rate_per_second
    target.serving_plan.tensor_parallel_size = planned.accelerators_per_replica
    target.serving_plan.max_running_batch_size = planned.slo_plan.max_running_batch
    target.serving_plan.replicas = planned.replicas
    target.serving_plan.accelerator_count = planned.accelerator_count
    target.replica_requests_per_second = planned.replica_requests_per_second
    target.peak_utilization = planned.peak_utilization
    target.average_utilization = planned.average_utilization(installed)
    target.peak_wait_probability = planned.peak_wait_probability
    target.time_to_first_token_p99.CopyFrom(convert.duration(planned.at_peak.ttft_p99))
    target.time_per_output_token_p99.CopyFrom(convert.duration(planned.at_peak.tpot_p99))
    target.output_tokens_per_day = planned.output_tokens_per_day
    target.annual_cost.CopyFrom(convert.money(annual_cost, "demand_plan.annual_cost"))
    target.cost_per_user_per_month.CopyFrom(
        convert.money(
            demand_model.cost_per_user_per_month_usd(annual_cost, d.users), "demand_plan.cost_per_user_per_month"
        )
    )
    target.annual_energy_per_user_kwh = scalar(sizing.annual_energy_joules) / JOULES_PER_KWH / d.users
