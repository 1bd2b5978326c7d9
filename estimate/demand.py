"""Demand-side sizing: a population served → request rates → serving replicas → accelerators.

Why a module of its own: the other campus capacities start from the supply side (watts, an
accelerator count, a budget) and ask what it delivers; a national assistant starts from the
people it serves and asks what must be built. The chain, each step stated in the assumptions:

1. Average request rate λ̄ = users × requests per user per day ÷ 86,400 s; the fleet is sized
   for the peak λ_peak = λ̄ × the peak-to-average ratio (a diurnal peak, not a burst).
2. One replica's deployment comes from the SLO planner (`continuous.plan_for_slo`): the
   tensor-parallel group (powers of two within one scale-up domain) and the running batch B
   (the engine's max_num_seqs) that give the most output tokens/s per accelerator with p99 TTFT
   and TPOT within the SLO and no queue. A replica then completes μ = B ÷ S(B) requests/s, S the
   time a request spends in service at batch B.
3. Headroom, from the queue and not from a rule of thumb: arrivals are Poisson, so a replica run
   at exactly μ has a queue that grows without bound. Each replica is an M/D/B queue (B slots,
   deterministic service S); replicas are added until the Erlang-C probability that an arrival
   waits for a slot at the peak is at most `DEFAULT_PEAK_WAIT_PROBABILITY` (1 %): the SLO is a
   p99 promise, so at most 1 % of requests may queue at the busiest hour. Replicas =
   max(ceil(λ_peak ÷ μ), that count); the peak utilisation of the replicas' SLO capacity follows
   (about 0.9 for B in the hundreds, lower for small batches, as Erlang C has it).
4. Accelerators = replicas × accelerators per replica; the campus (`campus.size_campus`) rounds
   them up to whole racks and adds hosts, fabric, PUE and capex as for any capacity.
5. Energy follows the *average* load: the fleet's busy fraction is λ̄ ÷ (installed accelerators
   ÷ accelerators per replica × μ), and the campus power model turns it into watts (measured
   idle + (load − idle) × busy with a profile, else an idle floor of TDP up to TDP × 0.76 at full
   busy; hosts and switches follow the same fraction). Idle and low-load hours are therefore
   modelled as the same linear interpolation, averaged over the day: the trough's lower draw
   and the peak's higher one average to the draw at the mean load.
6. Cost per user per month = (amortised capex + energy, i.e. installed accelerator-hours × the
   owner's cost per hour, or × the rental price when one is given) ÷ users ÷ 12. The campus model
   has no other opex (staff, maintenance, software): it is a lower bound on what a service costs.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from flopwatt.estimate.continuous import ContinuousBatching, SloPlan, erlang_c, estimate_continuous, plan_for_slo
from flopwatt.estimate.inference import InferenceEstimate, InferenceScenario

SECONDS_PER_DAY = 86_400.0
MONTHS_PER_YEAR = 12.0

# --- defaults, each with its basis (all overridable per request) -------------------------------
# Requests per user per day: OpenAI told Axios (2025-07-21) that ChatGPT receives 2.5 billion
# prompts a day, against the 500 million weekly users OpenAI reported in 2025-03: 5 per weekly
# user per day.
DEFAULT_REQUESTS_PER_USER_PER_DAY = 2.5e9 / 500e6
# Tokens per request: the shape of issue 12's SLO planning example (1,000 prompt and 200 output
# tokens, a chat turn with its conversation so far).
DEFAULT_INPUT_TOKENS = 1000
DEFAULT_OUTPUT_TOKENS = 200
# Peak-to-average: a population in one or two time zones uses an assistant by day, so the busiest
# hour carries about twice the daily mean. An assumption, not a measured figure: no national
# assistant's diurnal curve is published; override it with the request's peak_to_average_ratio.
DEFAULT_PEAK_TO_AVERAGE_RATIO = 2.0
# SLO: issue 12's planning example for a 70B model on H100 (TTFT ≤ 500 ms, TPOT ≤ 50 ms at p99):
# a first token within half a second and a stream faster than reading speed.
DEFAULT_TIME_TO_FIRST_TOKEN_SECONDS = 0.5
DEFAULT_TIME_PER_OUTPUT_TOKEN_SECONDS = 0.05
# Headroom: the largest probability that a request waits for a slot at the peak (see step 3).
DEFAULT_PEAK_WAIT_PROBABILITY = 0.01


@dataclass(frozen=True)
class Demand:
    """A population served. Counts and rates are plain floats (one scenario, not a sample array)."""

    users: float
    requests_per_user_per_day: float = DEFAULT_REQUESTS_PER_USER_PER_DAY
    peak_to_average_ratio: float = DEFAULT_PEAK_TO_AVERAGE_RATIO
    peak_wait_probability: float = DEFAULT_PEAK_WAIT_PROBABILITY

    @property
    def average_request_rate_per_second(self) -> float:
        return self.users * self.requests_per_user_per_day / SECONDS_PER_DAY

    @property
    def peak_request_rate_per_second(self) -> float:
        return self.average_request_rate_per_second * self.peak_to_average_ratio


@dataclass(frozen=True)
class DemandPlan:
    """What serving the demand takes, before rack rounding (the campus rounds up)."""

    demand: Demand
    slo_plan: SloPlan  # the replica's layout (TP, running batch) from the SLO planner
    replica_requests_per_second: float  # μ: one replica's rate at the SLO batch
    replica_service_seconds: float  # S(B): a request's time in service at that batch
    replicas: int
    accelerators_per_replica: int
    accelerator_count: int  # replicas × accelerators per replica
    peak_utilization: float  # λ_peak ÷ (replicas × μ)
    peak_wait_probability: float  # Erlang C at the peak, per replica
    at_peak: InferenceEstimate  # one replica at its share of the peak (p50/p99 TTFT, TPOT)

    @property
    def output_tokens_per_day(self) -> float:
        return self.demand.average_request_rate_per_second * SECONDS_PER_DAY * self.at_peak.scenario.output_tokens

    def average_utilization(self, installed_accelerators: float) -> float:
        """Busy fraction of the installed fleet at the average rate (step 5 of the module doc)."""
        installed_replicas = installed_accelerators / self.accelerators_per_replica
        return self.demand.average_request_rate_per_second / (installed_replicas * self.replica_requests_per_second)


def replicas_for_peak(peak_rate: float, replica_rate: float, slots: int, wait_probability: float) -> int:
    """The fewest replicas of `slots` concurrent sequences each, completing `replica_rate`
    requests/s at full batch, such that a Poisson arrival at `peak_rate` (split evenly) waits for
    a slot with probability at most `wait_probability` (Erlang C; monotone in the replica count,
    so a doubling then bisection search)."""
    service = slots / replica_rate

    def waits_too_often(replicas: int) -> bool:
        offered = peak_rate / replicas * service  # erlangs per replica
        return offered >= slots or erlang_c(slots, offered) > wait_probability

    low = max(1, math.ceil(peak_rate / replica_rate))  # the bare ceiling: below it the queue is unbounded
    if not waits_too_often(low):
        return low
    high = low * 2
    while waits_too_often(high):
        high *= 2
    while high - low > 1:  # invariant: low waits too often, high does not
        middle = (low + high) // 2
        low, high = (low, middle) if not waits_too_often(middle) else (middle, high)
    return high


def plan_demand(
    demand: Demand,
    replica: InferenceScenario,
    ttft_seconds: float,
    tpot_seconds: float,
    engine: ContinuousBatching | None = None,
) -> DemandPlan:
    """Size the serving fleet for `demand` (module docstring, steps 1-4). `replica` is the
    serving scenario with `accelerator_count` = the largest tensor-parallel group to consider.
    Raises continuous.SloUnreachable when no group meets the SLO."""
    engine = engine or ContinuousBatching.for_scenario(replica)
    plan = plan_for_slo(
        dataclasses.replace(replica, concurrency=0, request_rate_per_second=0.0), ttft_seconds, tpot_seconds, engine
    )
    tp, batch = plan.tensor_parallel_size, plan.max_running_batch
    replica_rate = plan.output_tokens_per_second_per_accelerator * tp / replica.output_tokens
    peak = demand.peak_request_rate_per_second
    replicas = replicas_for_peak(peak, replica_rate, batch, demand.peak_wait_probability)
    service = batch / replica_rate
    share = peak / replicas
    # One replica at its share of the peak, its engine capped at the planned batch (max_num_seqs).
    capped = dataclasses.replace(engine, max_num_seqs=batch)
    at_peak = estimate_continuous(
        dataclasses.replace(plan.scenario, concurrency=0, request_rate_per_second=share), capped
    )
    return DemandPlan(
        demand=demand,
        slo_plan=plan,
        replica_requests_per_second=replica_rate,
        replica_service_seconds=service,
        replicas=replicas,
        accelerators_per_replica=tp,
        accelerator_count=replicas * tp,
        peak_utilization=share / replica_rate,
        peak_wait_probability=erlang_c(batch, share * service),
        at_peak=at_peak,
    )


def cost_per_user_per_month_usd(annual_cost_usd: float, users: float) -> float:
    """Annual cost of the campus (amortised capex + energy, or rental) per user per month."""
    return annual_cost_usd / users / MONTHS_PER_YEAR
