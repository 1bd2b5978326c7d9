"""Sweeps: a grid of training scenarios evaluated by the same vectorised core as EstimateTraining.

Why this shape: `training.estimate_training_run` accepts NumPy arrays in every number of a
scenario *for a fixed plan*. A grid point's plan depends only on its "structural" inputs (model,
sequence length, accelerator count, hardware, precision, parallelism); run-level inputs (tokens,
facility, prices, goodput) never change it. So the sweep plans each distinct structural
combination once (cached), gathers the planned scenarios into arrays, applies the run-level axes
as arrays, and evaluates a whole chunk of points in one call per hardware calibration. There is
no second, simplified model: a sweep point *is* the EstimateTraining number.

A combination that cannot run (a V100 has no bf16, a tensor-parallel size that does not divide the
heads) is planned as `Infeasible`: its points carry the reason, zeros and fits_in_memory false,
and the rest of the grid goes on, since "which hardware can do this job?" is the question asked.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any, Callable, Hashable, Mapping, Sequence

import numpy as np

from flopwatt.estimate.training import StepEstimate, TrainingScenario, estimate_step, estimate_training_run

# Grid bounds: points in the whole grid, and distinct structural combinations (each costs one
# planner run of a few milliseconds).
MAX_GRID_POINTS = 10_000_000
MAX_STRUCTURAL_COMBINATIONS = 20_000

# Run-level fields: how an array of values replaces part of a planned scenario.
_FACILITY_FIELDS = {
    "facility.pue": "pue",
    "facility.carbon_intensity_grams_per_kwh": "carbon_intensity_grams_per_kwh",
    "facility.electricity_price_usd_per_kwh": "electricity_price_usd_per_kwh",
    "facility.accelerator_hour_price_usd": "accelerator_hour_price_usd",
    "facility.wue_liters_per_kwh": "wue_liters_per_kwh",
    "facility.host_power_watts_per_accelerator": "host_power_watts_per_accelerator",
    "facility.network_power_watts_per_accelerator": "network_power_watts_per_accelerator",
}
RUN_LEVEL_FIELDS = frozenset({"training_tokens", "goodput", *_FACILITY_FIELDS})


@dataclass(frozen=True)
class Infeasible:
    """A structural combination that cannot form a scenario, and why (what a planner returns
    instead of raising, so one bad combination does not fail the grid)."""

    reason: str


@dataclass(frozen=True)
class Axis:
    field: str
    values: np.ndarray


@dataclass(frozen=True)
class Grid:
    """The product of the axes, row-major (the last axis varies fastest)."""

    axes: tuple[Axis, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(axis.values) for axis in self.axes)

    @property
    def size(self) -> int:
        size = 1
        for n in self.shape:
            size *= n
        return size

    def axis_indices(self, start: int, stop: int) -> np.ndarray:
        """(points, axes) indices of grid points start..stop-1."""
        flat = np.arange(start, stop, dtype=np.int64)
        if not self.axes:
            return np.zeros((len(flat), 0), dtype=np.int64)
        return np.stack(np.unravel_index(flat, self.shape), axis=1)

    @property
    def structural(self) -> tuple[int, ...]:
        return tuple(i for i, axis in enumerate(self.axes) if axis.field not in RUN_LEVEL_FIELDS)

    @property
    def run_level(self) -> tuple[int, ...]:
        return tuple(i for i, axis in enumerate(self.axes) if axis.field in RUN_LEVEL_FIELDS)


@dataclass(frozen=True)
class SweepOutputs:
    """Main outputs of a chunk of points (arrays of the chunk's length)."""

    index: np.ndarray
    axis_values: np.ndarray  # (points, axes)
    wall_clock_seconds: np.ndarray
    step_seconds: np.ndarray
    accelerator_hours: np.ndarray
    facility_energy_joules: np.ndarray
    cost_usd: np.ndarray
    co2e_kilograms: np.ndarray
    model_flops_utilization: np.ndarray
    fits_in_memory: np.ndarray
    total_flops: np.ndarray
    # Why each point cannot run ('' where it can): an object array of str.
    infeasible_reason: np.ndarray
    # Whether cost_usd counts electricity only: no price for the accelerator and no hour price.
    cost_energy_only: np.ndarray

    def take(self, which: np.ndarray) -> "SweepOutputs":
        """The points at positions `which` (an index or boolean array), every column alike."""
        return SweepOutputs(**{f.name: getattr(self, f.name)[which] for f in fields(self)})

    @staticmethod
    def concatenate(parts: Sequence["SweepOutputs"]) -> "SweepOutputs":
        """The points of `parts` one after the other (parts share their axes)."""
        return SweepOutputs(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(parts[0])})


def cost_is_energy_only(facility: Any) -> np.ndarray:
    """Per point: neither a capital cost nor a positive hour price, so cost counts energy only."""
    capex = np.asarray(facility.capex_usd_per_accelerator, float)
    price = np.asarray(facility.accelerator_hour_price_usd, float)
    return ~np.isfinite(capex) & ~(np.isfinite(price) & (price > 0))


def _gather(objects: Sequence[Any], which: np.ndarray) -> Any:
    """A dataclass whose every field is the per-point array of that field over `objects`."""
    first = objects[0]
    values = {}
    for f in fields(first):
        column = np.array([np.asarray(getattr(o, f.name)).item() for o in objects])
        values[f.name] = column[which]
    return type(first)(**values)


def stack_scenarios(planned: Sequence[TrainingScenario], which: np.ndarray) -> TrainingScenario:
    """One array-valued scenario whose point i is planned[which[i]] (same hardware for all)."""
    first = planned[0]
    override = np.array([float(s.active_parameter_count_override) for s in planned])[which]
    goodput = np.array([float(s.goodput_override) for s in planned])[which]
    return replace(
        first,
        arch=_gather([s.arch for s in planned], which),
        plan=_gather([s.plan for s in planned], which),
        facility=_gather([s.facility for s in planned], which),
        training_tokens=np.array([float(s.training_tokens) for s in planned])[which],
        sequence_length=np.array([float(s.sequence_length) for s in planned])[which],
        goodput_override=goodput,
        active_parameter_count_override=override,
    )


def _take_points(value: Any, which: np.ndarray, combinations: int) -> Any:
    """`value` (a dataclass of per-combination arrays, nested) at the points' combinations:
    arrays of one value per combination are indexed by `which`; scalars broadcast as they are."""
    if is_dataclass(value):
        return type(value)(
            **{f.name: _take_points(getattr(value, f.name), which, combinations) for f in fields(value) if f.init}
        )
    array = np.asarray(value)
    return array[which] if array.ndim == 1 and array.shape[0] == combinations else value


def step_per_point(step: StepEstimate, which: np.ndarray, combinations: int) -> StepEstimate:
    """The per-combination step estimate gathered to the points (point i uses which[i])."""
    return _take_points(step, which, combinations)


def apply_run_level(scenario: TrainingScenario, values: Mapping[str, np.ndarray]) -> TrainingScenario:
    """Replace run-level inputs by per-point arrays (field path → values)."""
    facility_changes = {_FACILITY_FIELDS[name]: v for name, v in values.items() if name in _FACILITY_FIELDS}
    changes: dict[str, Any] = {}
    if facility_changes:
        changes["facility"] = replace(scenario.facility, **facility_changes)
    if "training_tokens" in values:
        changes["training_tokens"] = values["training_tokens"]
    if "goodput" in values:
        changes["goodput_override"] = values["goodput"]
    return replace(scenario, **changes) if changes else scenario


class SweepEvaluator:
    """Evaluates chunks of a grid; plans each structural combination once (cached)."""

    def __init__(
        self, grid: Grid, plan_combination: Callable[[tuple[float, ...]], TrainingScenario | Infeasible]
    ) -> None:
        self.grid = grid
        self._plan_combination = plan_combination
        self._planned: dict[tuple[float, ...], TrainingScenario | Infeasible] = {}

    def _scenario(self, key: tuple[float, ...]) -> TrainingScenario | Infeasible:
        if key not in self._planned:
            self._planned[key] = self._plan_combination(key)
        return self._planned[key]

    def evaluate(self, start: int, stop: int) -> SweepOutputs:
        grid = self.grid
        indices = grid.axis_indices(start, stop)
        axis_values = (
            np.column_stack([axis.values[indices[:, i]] for i, axis in enumerate(grid.axes)])
            if grid.axes
            else np.zeros((stop - start, 0))
        )
        structural = list(grid.structural)
        if structural:
            keys, which = _distinct_rows(indices[:, structural], tuple(grid.shape[a] for a in structural))
        else:
            keys, which = np.zeros((1, 0), np.int64), np.zeros(stop - start, np.int64)
        planned = [
            self._scenario(tuple(float(grid.axes[a].values[k]) for a, k in zip(structural, row))) for row in keys
        ]
        outputs = {
            name: np.zeros(stop - start)
            for name in (
                "wall_clock_seconds",
                "step_seconds",
                "accelerator_hours",
                "facility_energy_joules",
                "cost_usd",
                "co2e_kilograms",
                "model_flops_utilization",
                "fits_in_memory",
                "total_flops",
                "cost_energy_only",
            )
        }
        reasons = np.full(stop - start, "", dtype=object)
        groups: dict[Hashable, list[int]] = {}
        for position, scenario in enumerate(planned):
            if isinstance(scenario, Infeasible):
                reasons[which == position] = scenario.reason
                continue
            groups.setdefault(_calibration_key(scenario), []).append(position)
        for members in groups.values():
            mask = np.isin(which, members)
            remap = np.full(len(planned), -1)
            remap[members] = np.arange(len(members))
            combinations = [planned[m] for m in members]
            point_which = remap[which[mask]]
            # The step (most of the work) once per combination, then the run level per point.
            step = step_per_point(
                estimate_step(stack_scenarios(combinations, np.arange(len(members)))), point_which, len(members)
            )
            run_values = {grid.axes[a].field: axis_values[mask, a] for a in grid.run_level}
            scenario = apply_run_level(stack_scenarios(combinations, point_which), run_values)
            estimate = estimate_training_run(scenario, step)
            n = int(mask.sum())
            outputs["cost_energy_only"][mask] = np.broadcast_to(cost_is_energy_only(scenario.facility), (n,))
            for name, value in (
                ("wall_clock_seconds", estimate.wall_clock_seconds),
                ("step_seconds", estimate.step_seconds),
                ("accelerator_hours", estimate.accelerator_hours),
                ("facility_energy_joules", estimate.cost.facility_energy_joules),
                ("cost_usd", estimate.cost.cost_usd),
                ("co2e_kilograms", estimate.cost.co2e_kilograms),
                ("model_flops_utilization", estimate.model_flops_utilization),
                ("fits_in_memory", estimate.fits_in_memory),
                ("total_flops", estimate.total_flops),
            ):
                outputs[name][mask] = np.broadcast_to(np.asarray(value, float), (n,))
        return SweepOutputs(
            index=np.arange(start, stop, dtype=np.int64),
            axis_values=axis_values,
            fits_in_memory=outputs.pop("fits_in_memory") > 0.5,
            cost_energy_only=outputs.pop("cost_energy_only") > 0.5,
            infeasible_reason=reasons,
            **outputs,
        )


# Structural sub-grids up to this many cells are deduplicated with a presence table (linear time);
# larger ones (only reachable by bypassing the service's bound) fall back to sorting.
MAX_PRESENCE_TABLE_CELLS = 10_000_000


def _distinct_rows(rows: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(rows, axis=0, return_inverse=True)` for rows of indices into a grid of `shape`.

    Why not np.unique: it sorts the rows (a lexicographic argsort, ~40 % of a chunk's time),
    while the structural sub-grid is small, so marking the cells present in a table and reading
    them back in row-major order gives the same keys, in the same (sorted) order, in linear time."""
    cells = int(np.prod(shape))
    if cells > MAX_PRESENCE_TABLE_CELLS:
        keys, which = np.unique(rows, axis=0, return_inverse=True)
        return keys, np.asarray(which).reshape(-1)
    codes = np.ravel_multi_index(tuple(rows.T), shape)
    present = np.zeros(cells, bool)
    present[codes] = True
    distinct = np.flatnonzero(present)
    position = np.zeros(cells, np.int64)
    position[distinct] = np.arange(len(distinct))
    return np.stack(np.unravel_index(distinct, shape), axis=1), position[codes]


def _calibration_key(scenario: TrainingScenario) -> Hashable:
    """Points evaluated together must share one hardware model (catalog id, precision, profile)."""
    hw = scenario.hardware
    return (hw.hardware_id, hw.precision, hw.profile_name)
