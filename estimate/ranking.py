"""Rank the points of a sweep: "what is the cheapest (fastest, lowest-energy, lowest-carbon)
configuration for this job, within a deadline or a budget?"

Why a streaming ranker: a grid can hold millions of points; only the best `limit` of each chunk
can ever reach the final top `limit`, so each chunk is cut to that before it is kept, and memory
stays bounded by `limit` whatever the grid. Every point left out is counted under its first
reason, so an empty ranking says why (nothing fits, everything is over the deadline, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from flopwatt.estimate.sweep import SweepOutputs

# Objective name → the SweepOutputs column it orders by (ascending).
OBJECTIVE_COLUMNS = {
    "cost": "cost_usd",
    "time": "wall_clock_seconds",
    "energy": "facility_energy_joules",
    "carbon": "co2e_kilograms",
}
# Why a point is left out, in the order the reasons are tested (a point counts under the first).
INFEASIBLE = "infeasible combination"
DOES_NOT_FIT = "does not fit in memory"
UNPRICED = "no published accelerator price (cost would count energy only)"
OVER_DEADLINE = "over the deadline"
OVER_BUDGET = "over the budget"
DEFAULT_LIMIT = 20


@dataclass
class Ranker:
    """Keeps the best `limit` eligible points of every chunk it is given."""

    by: str
    max_wall_clock_seconds: float = 0.0  # 0: no deadline
    max_cost_usd: float = 0.0  # 0: no budget
    limit: int = DEFAULT_LIMIT
    eligible_count: int = 0
    total_count: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    _best: SweepOutputs | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.by not in OBJECTIVE_COLUMNS:
            raise ValueError(f"rank by one of {', '.join(OBJECTIVE_COLUMNS)}, got {self.by!r}")

    def _exclusions(self, outputs: SweepOutputs) -> list[tuple[str, np.ndarray]]:
        """(reason, mask) pairs; cost only needs a price when it is the objective or bounded."""
        rules = [(INFEASIBLE, outputs.infeasible_reason != ""), (DOES_NOT_FIT, ~outputs.fits_in_memory)]
        if self.by == "cost" or self.max_cost_usd > 0:
            rules.append((UNPRICED, outputs.cost_energy_only))
        if self.max_wall_clock_seconds > 0:
            rules.append((OVER_DEADLINE, outputs.wall_clock_seconds > self.max_wall_clock_seconds))
        if self.max_cost_usd > 0:
            rules.append((OVER_BUDGET, outputs.cost_usd > self.max_cost_usd))
        return rules

    def add(self, outputs: SweepOutputs) -> None:
        """Count and keep the chunk's eligible points (only its best `limit` can matter)."""
        self.total_count += len(outputs.index)
        left_out = np.zeros(len(outputs.index), bool)
        for reason, mask in self._exclusions(outputs):
            newly = mask & ~left_out
            if newly.any():
                self.excluded[reason] = self.excluded.get(reason, 0) + int(newly.sum())
            left_out |= mask
        eligible = outputs.take(~left_out)
        self.eligible_count += len(eligible.index)
        if len(eligible.index):
            self._best = self._top(eligible if self._best is None else SweepOutputs.concatenate([self._best, eligible]))

    def _top(self, outputs: SweepOutputs) -> SweepOutputs:
        """The best `limit` points, ties broken by grid index (so a ranking is reproducible)."""
        order = np.lexsort((outputs.index, getattr(outputs, OBJECTIVE_COLUMNS[self.by])))
        return outputs.take(order[: self.limit])

    def best(self) -> SweepOutputs | None:
        """The ranked points, best first (None when no point was eligible)."""
        return self._best
