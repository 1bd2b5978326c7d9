"""One realisation per group of published rows, fitted on a grid, and left-one-source-out.

Shared by the training stack calibration (stack_calibration.py) and the serving calibration
(serving_calibration.py): each evaluates every published row once on a whole grid of the
parameter (the physics takes arrays), so a fit is an argmin over a weighted error matrix and a
leave-one-source-out pass is that argmin repeated without one source. A row here is anything
with `source` (the LOSO unit), `key` (the parameter it informs), `published` (the published
value) and `predicted` (the model's value at each grid point).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np


class GridRow(Protocol):
    source: str

    @property
    def key(self) -> Hashable: ...

    @property
    def published(self) -> float: ...

    @property
    def predicted(self) -> np.ndarray: ...


Row = TypeVar("Row", bound=GridRow)
Given = TypeVar("Given")


def at_realisation(grid: np.ndarray, predicted: np.ndarray, realisation: float) -> float:
    """The predicted value at a realisation: log-log interpolation on the grid, clamped at its ends."""
    return float(np.exp(np.interp(np.log(realisation), np.log(grid), np.log(predicted))))


def source_weights(rows: Sequence[GridRow]) -> np.ndarray:
    """1 / (rows of the row's source): every source weighs the same, whatever its size."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.source] = counts.get(row.source, 0) + 1
    return np.array([1.0 / counts[row.source] for row in rows])


def mean_absolute_percentage_error(rows: Sequence[GridRow], realisations: Iterable[float], grid: np.ndarray) -> float:
    """MAPE in percent of the rows at the given realisations (NaN for no rows)."""
    errors = [abs(at_realisation(grid, row.predicted, r) / row.published - 1.0) for row, r in zip(rows, realisations)]
    return float(np.mean(errors) * 100.0) if errors else float("nan")


def best_index_on_grid(rows: Sequence[GridRow]) -> int:
    """Index of the grid point minimising the source-balanced mean |log(predicted / published)|
    (a grid of any dimension, flattened: each row's `predicted` holds one value per point)."""
    log_errors = np.abs(np.log(np.stack([row.predicted / row.published for row in rows])))
    return int(np.argmin(source_weights(rows) @ log_errors))


def best_on_grid(rows: Sequence[GridRow], grid: np.ndarray) -> float:
    """The grid value minimising the source-balanced mean |log(predicted / published)|."""
    return float(grid[best_index_on_grid(rows)])


def group_by_key(rows: Iterable[Row]) -> dict[Any, list[Row]]:
    groups: dict[Any, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.key, []).append(row)
    return groups


def leave_one_source_out(
    rows: Sequence[Row], fit: Callable[[list[Row]], Any], given: Callable[[Row, Any], Given]
) -> list[Given]:
    """For each row, `given(row, fit(rows of every other source))`."""
    answers: dict[int, Given] = {}
    for source in sorted({row.source for row in rows}):
        training = fit([row for row in rows if row.source != source])
        for index, row in enumerate(rows):
            if row.source == source:
                answers[index] = given(row, training)
    return [answers[index] for index in range(len(rows))]
