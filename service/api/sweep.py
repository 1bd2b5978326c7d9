"""SweepTraining: validate the grid, plan each structural combination with the estimator's
scenario builder (the one EstimateTraining uses) on workloads derived from the base's, evaluate chunks in a worker thread and stream them with back-pressure.

Each `yield` of the async generator waits until grpc.aio has handed the chunk to the transport,
so a slow client paces the producer; a cancelled call raises CancelledError at that await and
the generator stops. Axis values are doubles: `hardware_id` takes an index into the catalog as
ListHardware orders it, `precision` the Precision enum number; both also take names in
`string_values` ("h100-sxm", "bf16"), which become those numbers before validation.

A combination the estimator cannot plan (V100 has no bf16) becomes an infeasible point carrying
the reason rather than failing the grid; RankTraining keeps the best feasible points of a grid.
A request with `columnar` gets each chunk as packed arrays (SweepColumns): one list per output
instead of one message per point, which is what lets the wire keep up with the evaluator.

Abandoned sweeps stop (issue 14 item 3). Chunks are evaluated in the server's own sweep pool
(service/work.py), never in asyncio's default executor, which the run manager uses and which
asyncio.run waits for at exit: a chunk there outlived its client and the shutdown grace period.
A thread cannot be interrupted, so inside it a chunk is evaluated in slices of `SLICE_POINTS`
and its structural combinations are planned one by one, each step first checking a flag that
the generator sets when it ends for any reason (client gone, deadline passed, server stopping):
a left sweep burns at most one slice or one plan more (~15 ms). Before each chunk the generator
also ends by itself once the call's deadline has passed or the call is cancelled.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, AsyncIterator

import numpy as np

from flopwatt.estimate.catalog import list_hardware
from flopwatt.estimate.ranking import DEFAULT_LIMIT, Ranker
from flopwatt.estimate.scenario_errors import ScenarioError
from flopwatt.estimate.scenarios import TrainingWorkload, build_training_scenario, with_training_field
from flopwatt.estimate.sweep import (
    MAX_GRID_POINTS,
    MAX_STRUCTURAL_COMBINATIONS,
    RUN_LEVEL_FIELDS,
    Axis,
    Grid,
    Infeasible,
    SweepEvaluator,
    SweepOutputs,
)
from flopwatt.service.api import convert, packed
from flopwatt.service.api import training as training_api
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.finite import ensure_finite_columns
from flopwatt.service.api.request_bounds import (
    MAX_TRAINING_TOKENS,
    MIN_GOODPUT,
    PARALLELISM_MAXIMA,
    TRAINING_INTEGER_MAXIMA,
    Violations,
    number,
)
from flopwatt.service.errors import InvalidArgument, echo
from flopwatt.v1 import common_pb2, estimator_pb2

DEFAULT_CHUNK_POINTS = 2_000
MAX_CHUNK_POINTS = 20_000  # ~100 B per point: well under gRPC's 4 MiB message limit
# Points evaluated between checks for an abandoned sweep: ~15 ms of work at 126,000 points/s
# with messages (a structural combination's first plan adds its planner time once).
SLICE_POINTS = 2_000
MAX_AXES = 8
MAX_VALUES_PER_AXIS = 1_000_000
# Fields whose values may be given by name (SweepAxis.string_values).
NAMED_FIELDS = frozenset({"hardware_id", "precision"})
# RankTraining: objectives by enum number, and the most points one ranking may return.
RANK_OBJECTIVES = {
    estimator_pb2.RANK_OBJECTIVE_COST: "cost",
    estimator_pb2.RANK_OBJECTIVE_TIME: "time",
    estimator_pb2.RANK_OBJECTIVE_ENERGY: "energy",
    estimator_pb2.RANK_OBJECTIVE_CARBON: "carbon",
}
MAX_RANK_LIMIT = 1_000
# Structural fields EstimateTraining requires to be positive (0 is not "unset" for them).
REQUIRED_STRUCTURAL_FIELDS = frozenset({"accelerator_count", "sequence_length"})
# Structural fields: each distinct combination is planned once. Integer-valued unless noted.
STRUCTURAL_FIELDS = frozenset(
    {
        "accelerator_count",
        "sequence_length",
        "hardware_id",
        "precision",
        *(
            f"model.{name}"
            for name in (
                "parameter_count",
                "active_parameter_count",
                "layer_count",
                "hidden_size",
                "attention_head_count",
                "kv_head_count",
                "ffn_hidden_size",
                "vocab_size",
                "expert_count",
                "experts_per_token",
                "head_dim",
            )
        ),
        *(f"parallelism.{name}" for name in PARALLELISM_MAXIMA),  # every integer of Parallelism
    }
)
# Ranges of run-level values (inclusive unless the third item says the minimum is exclusive).
RUN_LEVEL_BOUNDS = {
    "training_tokens": (0.0, float(MAX_TRAINING_TOKENS), True),
    "goodput": (MIN_GOODPUT, 1.0, False),
    "facility.pue": (1.0, 5.0, False),
    "facility.carbon_intensity_grams_per_kwh": (0.0, 5000.0, False),
    "facility.electricity_price_usd_per_kwh": (0.0, 1e6, False),
    "facility.accelerator_hour_price_usd": (0.0, 1e6, True),
    "facility.wue_liters_per_kwh": (0.0, 100.0, False),
    "facility.host_power_watts_per_accelerator": (0.0, 1e6, False),
    "facility.network_power_watts_per_accelerator": (0.0, 1e6, False),
}


def _precision_number(name: str) -> int | None:
    """A Precision enum number from "bf16", "BF16" or "PRECISION_BF16" (None when unknown)."""
    upper = name.strip().upper()
    for candidate in (upper, f"PRECISION_{upper}"):
        if candidate in common_pb2.Precision.keys() and candidate != "PRECISION_UNSPECIFIED":
            return common_pb2.Precision.Value(candidate)
    return None


def _named_values(path: str, axis: estimator_pb2.SweepAxis, v: Violations) -> list[float] | None:
    """string_values as the axis's numeric form (catalog index, Precision number), or None."""
    if axis.field not in NAMED_FIELDS:
        v.add(
            f"{path}.string_values",
            f"names are taken only for {' and '.join(sorted(NAMED_FIELDS))}; give {echo(axis.field)} numbers in values",
        )
        return None
    if len(axis.values):
        v.add(f"{path}.values", "set values or string_values, not both")
        return None
    ids = [h.id for h in list_hardware()]
    numbers: list[float] = []
    for i, name in enumerate(axis.string_values):
        number_ = (ids.index(name) if name in ids else None) if axis.field == "hardware_id" else _precision_number(name)
        if number_ is None:
            known = (
                ", ".join(ids)
                if axis.field == "hardware_id"
                else ", ".join(sorted(set(convert.PRECISION_NAMES.values())))
            )
            v.add(f"{path}.string_values[{i}]", f"unknown {axis.field} {echo(name)}; known: {known}")
            return None
        numbers.append(float(number_))
    return numbers


def _axis_values(index: int, axis: estimator_pb2.SweepAxis, v: Violations) -> np.ndarray | None:
    """The axis's values as numbers (names translated), or None when a violation was added."""
    path = f"axes[{index}]"
    if axis.field not in STRUCTURAL_FIELDS and axis.field not in RUN_LEVEL_FIELDS:
        v.add(
            f"{path}.field",
            f"unknown or unsweepable field path {echo(axis.field)}; sweepable: {', '.join(sorted(STRUCTURAL_FIELDS | RUN_LEVEL_FIELDS))}",
        )
        return None
    if len(axis.string_values):
        named = _named_values(path, axis, v)
        return None if named is None else np.asarray(named, float)
    return np.asarray(axis.values, float)


def _check_axis(index: int, axis: estimator_pb2.SweepAxis, values: np.ndarray, v: Violations) -> None:
    path = f"axes[{index}]"
    if not 1 <= values.size <= MAX_VALUES_PER_AXIS:
        v.add(f"{path}.values", f"must hold 1 to {MAX_VALUES_PER_AXIS:,} values")
        return
    bad = ~np.isfinite(values)
    problem = "must be finite"
    if axis.field in RUN_LEVEL_BOUNDS:
        low, high, exclusive = RUN_LEVEL_BOUNDS[axis.field]
        out = (values <= low) if exclusive else (values < low)
        bad |= out | (values > high)
        problem = f"must be in {'(' if exclusive else '['}{low:g}, {high:g}]"
    else:
        bad |= (values != np.round(values)) | (values < 0)
        problem = "must be a non-negative whole number"
        if (
            axis.field in TRAINING_INTEGER_MAXIMA
        ):  # EstimateTraining's bounds on the field, so a point is refused as the request would be
            least = 1 if axis.field in REQUIRED_STRUCTURAL_FIELDS else 0
            maximum = TRAINING_INTEGER_MAXIMA[axis.field]
            bad |= (values < least) | (values > maximum)
            problem = f"must be a whole number from {least} to {maximum:,}"
        elif axis.field == "hardware_id":
            bad |= values >= len(list_hardware())
            problem = f"must be an index into ListHardware's order (0..{len(list_hardware()) - 1})"
        elif axis.field == "precision":
            bad |= ~np.isin(values, list(common_pb2.Precision.values()))
            problem = "must be a Precision enum number"
    if axis.field == "training_tokens":
        bad |= values != np.round(values)
    if bad.any():
        first = int(np.argmax(bad))
        v.add(f"{path}.values[{first}]", f"{problem}, got {number(values[first])}")


def _grid(request: estimator_pb2.SweepTrainingRequest) -> Grid:
    # Cheap bounds first (issue 14 item 2): one 4 MB request held 800,000 axes, and validating
    # each before the count was checked took 7 s of the event loop and 2.8 GB. The count alone
    # refuses it; nothing per axis is looked at.
    if len(request.axes) > MAX_AXES:
        raise InvalidArgument.field("axes", f"at most {MAX_AXES} axes, got {len(request.axes):,}")
    v = Violations()
    fields_seen: set[str] = set()
    numbers: list[np.ndarray] = []
    for index, axis in enumerate(request.axes):
        if axis.field in fields_seen:
            v.add(f"axes[{index}].field", f"{echo(axis.field)} appears twice")
        fields_seen.add(axis.field)
        values = _axis_values(index, axis, v)
        if values is not None:
            _check_axis(index, axis, values, v)
            numbers.append(values)
    if not 0 <= request.chunk_size <= MAX_CHUNK_POINTS:
        v.add("chunk_size", f"must be between 0 (server default) and {MAX_CHUNK_POINTS:,}")
    v.raise_if_any()
    grid = Grid(tuple(Axis(a.field, values) for a, values in zip(request.axes, numbers)))
    if grid.size > MAX_GRID_POINTS:
        raise InvalidArgument.field("axes", f"the grid has {grid.size:,} points; at most {MAX_GRID_POINTS:,}")
    combinations = 1
    for i in grid.structural:
        combinations *= len(grid.axes[i].values)
    if combinations > MAX_STRUCTURAL_COMBINATIONS:
        raise InvalidArgument.field(
            "axes",
            f"{combinations:,} combinations of structural axes ({', '.join(grid.axes[i].field for i in grid.structural)}) "
            f"each need a planner run; at most {MAX_STRUCTURAL_COMBINATIONS:,}",
        )
    return grid


def axis_label(path: str, value: float) -> str:
    """An axis value as a reader names it: catalog id, precision name, else the number."""
    decoded = _decoded(path, value) if path in STRUCTURAL_FIELDS else value
    return decoded if isinstance(decoded, str) else f"{decoded:g}"


def _decoded(path: str, value: float) -> int | str:
    """An axis value as the estimator's field value: catalog indices become ids, Precision
    enum numbers become names, everything else a whole number."""
    if path == "hardware_id":
        return list_hardware()[int(value)].id
    if path == "precision":
        return convert.precision_name(int(value))
    return int(value)


class SweepAbandoned(Exception):
    """The sweep's call ended while a chunk was being evaluated; nobody waits for the result."""


class _Planner:
    """Plans one structural combination with the estimator's scenario builder, on a workload
    derived from the base's (no request message is rebuilt per combination). Each plan is up to
    ~15 ms and a chunk may hold thousands of combinations, so it checks `abandoned` before each."""

    def __init__(self, base: TrainingWorkload, grid: Grid, abandoned: threading.Event | None = None) -> None:
        self._base = base
        self._fields = [grid.axes[i].field for i in grid.structural]
        self._abandoned = abandoned

    def workload_for(self, key: tuple[float, ...]) -> TrainingWorkload:
        workload = self._base
        for path, value in zip(self._fields, key):
            workload = with_training_field(workload, path, _decoded(path, value))
        return workload

    def __call__(self, key: tuple[float, ...]):
        """The planned scenario, or Infeasible with the estimator's reason (the grid goes on)."""
        if self._abandoned is not None and self._abandoned.is_set():
            raise SweepAbandoned
        try:
            return build_training_scenario(self.workload_for(key)).scenario
        except ScenarioError as error:
            return Infeasible("; ".join(f"{p.field}: {p.description}" for p in error.problems))


def sweep_points(outputs: SweepOutputs) -> list[estimator_pb2.SweepPoint]:
    """Domain arrays → SweepPoint messages (tolist() once per column: the fast path in Python)."""
    columns = zip(
        outputs.index.tolist(),
        outputs.axis_values.tolist(),
        outputs.wall_clock_seconds.tolist(),
        outputs.step_seconds.tolist(),
        outputs.accelerator_hours.tolist(),
        outputs.facility_energy_joules.tolist(),
        outputs.cost_usd.tolist(),
        outputs.co2e_kilograms.tolist(),
        outputs.model_flops_utilization.tolist(),
        outputs.fits_in_memory.tolist(),
        outputs.total_flops.tolist(),
        outputs.infeasible_reason.tolist(),
        outputs.cost_energy_only.tolist(),
    )
    point = estimator_pb2.SweepPoint
    return [
        point(
            index=i,
            axis_values=a,
            wall_clock_seconds=w,
            step_seconds=s,
            accelerator_hours=h,
            facility_energy_joules=e,
            cost_usd=c,
            co2e_kilograms=co2,
            model_flops_utilization=mfu,
            fits_in_memory=fit,
            total_flops=flops,
            infeasible_reason=why,
            cost_energy_only=energy_only,
        )
        for i, a, w, s, h, e, c, co2, mfu, fit, flops, why, energy_only in columns
    ]


# SweepColumns fields filled straight from the SweepOutputs column of the same name.
_DOUBLE_COLUMNS = (
    "wall_clock_seconds",
    "step_seconds",
    "accelerator_hours",
    "facility_energy_joules",
    "cost_usd",
    "co2e_kilograms",
    "model_flops_utilization",
    "total_flops",
)
_BOOL_COLUMNS = ("fits_in_memory", "cost_energy_only")


def _infeasible_positions(outputs: SweepOutputs) -> np.ndarray:
    """Positions of infeasible points: only points that do not fit can be (a cheap first cut
    before comparing strings)."""
    candidates = np.flatnonzero(~outputs.fits_in_memory)
    return candidates[outputs.infeasible_reason[candidates] != ""]


def sweep_columns(outputs: SweepOutputs) -> estimator_pb2.SweepColumns:
    """Domain arrays → one packed repeated field per output (no per-point message at all)."""
    infeasible = _infeasible_positions(outputs)
    doubles = {"axis_values": outputs.axis_values, **{name: getattr(outputs, name) for name in _DOUBLE_COLUMNS}}
    return packed.encode_columns(
        outputs.index,
        doubles,
        {name: getattr(outputs, name) for name in _BOOL_COLUMNS},
        outputs.index[infeasible],
        outputs.infeasible_reason[infeasible].tolist(),
    )


def prepare(
    request: estimator_pb2.SweepTrainingRequest, deps: ApiDependencies, abandoned: threading.Event | None = None
) -> tuple[SweepEvaluator, int]:
    """Validated grid and its evaluator (the base is planned now, so a bad base fails at once);
    once `abandoned` is set, planning a further combination raises SweepAbandoned."""
    training_api.build_scenario(request.base, deps)  # validates the base like EstimateTraining
    grid = _grid(request)
    base = training_api.training_workload(request.base, deps)
    evaluator = SweepEvaluator(grid, _Planner(base, grid, abandoned))
    return evaluator, request.chunk_size or DEFAULT_CHUNK_POINTS


def evaluate_outputs(
    evaluator: SweepEvaluator,
    start: int,
    stop: int,
    rpc_name: str = "SweepTraining",
    abandoned: threading.Event | None = None,
) -> SweepOutputs:
    """Points [start, stop) as arrays, checked finite (an infeasible point holds zeros, not NaN),
    evaluated `SLICE_POINTS` at a time; raises SweepAbandoned between slices once `abandoned` is set."""
    parts = []
    for low in range(start, stop, SLICE_POINTS):
        if abandoned is not None and abandoned.is_set():
            raise SweepAbandoned
        outputs = evaluator.evaluate(low, min(low + SLICE_POINTS, stop))
        ensure_finite_columns(vars(outputs), rpc_name)
        parts.append(outputs)
    return parts[0] if len(parts) == 1 else SweepOutputs.concatenate(parts)


def evaluate_chunk(
    evaluator: SweepEvaluator, start: int, stop: int, columnar: bool = False, abandoned: threading.Event | None = None
) -> estimator_pb2.SweepTrainingResponse:
    """Points [start, stop) as one response: packed columns when `columnar`, else SweepPoints."""
    outputs = evaluate_outputs(evaluator, start, stop, abandoned=abandoned)
    if columnar:
        return estimator_pb2.SweepTrainingResponse(
            columns=sweep_columns(outputs), total_point_count=evaluator.grid.size
        )
    return estimator_pb2.SweepTrainingResponse(points=sweep_points(outputs), total_point_count=evaluator.grid.size)


def _call_over(context: Any) -> bool:
    """Whether nobody waits for more: the call is cancelled or its deadline has passed."""
    if context is None:
        return False
    if context.cancelled():
        return True
    remaining = context.time_remaining()
    return remaining is not None and remaining <= 0


async def sweep_training(
    request: estimator_pb2.SweepTrainingRequest, deps: ApiDependencies, context: Any = None, *, pool: Any = None
) -> AsyncIterator[estimator_pb2.SweepTrainingResponse]:
    """The SweepTraining RPC: an async generator of chunks (the servicer re-yields them).
    `pool` is the server's sweep WorkPool; without one (tests) chunks run via asyncio.to_thread."""
    abandoned = threading.Event()
    evaluator, chunk = prepare(request, deps, abandoned)
    total = evaluator.grid.size
    run = pool.run if pool is not None else asyncio.to_thread
    try:
        for start in range(0, total, chunk):
            if _call_over(context):  # ended as grpc ends a cancelled call: counted Cancelled/DeadlineExceeded, not OK
                raise asyncio.CancelledError
            yield await run(evaluate_chunk, evaluator, start, min(start + chunk, total), request.columnar, abandoned)
    finally:
        abandoned.set()  # a chunk still in a thread stops at its next slice


def _ranker(request: estimator_pb2.RankTrainingRequest) -> Ranker:
    """The validated ranking options (checked before the grid, so a bad option costs no planning)."""
    v = Violations()
    if request.by not in RANK_OBJECTIVES:
        v.add("by", f"must be one of {', '.join(estimator_pb2.RankObjective.Name(k) for k in RANK_OBJECTIVES)}")
    for name in ("max_wall_clock_seconds", "max_cost_usd"):
        value = getattr(request, name)
        if not np.isfinite(value) or value < 0:
            v.add(name, f"must be 0 (none) or positive, got {number(value)}")
    if not 0 <= request.limit <= MAX_RANK_LIMIT:
        v.add("limit", f"must be between 0 ({DEFAULT_LIMIT}) and {MAX_RANK_LIMIT:,}")
    v.raise_if_any()
    return Ranker(
        RANK_OBJECTIVES[request.by],
        request.max_wall_clock_seconds,
        request.max_cost_usd,
        request.limit or DEFAULT_LIMIT,
    )


def rank_training(
    request: estimator_pb2.RankTrainingRequest, deps: ApiDependencies
) -> estimator_pb2.RankTrainingResponse:
    """The RankTraining RPC as a plain function: the whole grid, chunk by chunk, best kept."""
    ranker = _ranker(request)
    evaluator, _ = prepare(request.sweep, deps)
    total = evaluator.grid.size
    for start in range(0, total, MAX_CHUNK_POINTS):
        ranker.add(evaluate_outputs(evaluator, start, min(start + MAX_CHUNK_POINTS, total), "RankTraining"))
    fields = [axis.field for axis in evaluator.grid.axes]
    best = ranker.best()
    ranked = []
    if best is not None:
        for point in sweep_points(best):
            labels = [axis_label(name, value) for name, value in zip(fields, point.axis_values)]
            ranked.append(estimator_pb2.RankedPoint(point=point, axis_labels=labels))
    excluded = [
        common_pb2.Quantity(name=reason, value=count, unit="points") for reason, count in ranker.excluded.items()
    ]
    return estimator_pb2.RankTrainingResponse(
        points=ranked,
        eligible_point_count=ranker.eligible_count,
        total_point_count=ranker.total_count,
        excluded=excluded,
    )
