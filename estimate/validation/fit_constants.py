"""Fits the datasheet-mode constants of `fitted_constants.py` to the fitting subset of the validation data.

Run offline:  python -m flopwatt.estimate.validation.fit_constants [--write]

Subset: the even-indexed rows of vTrain's single-node file (720 of 1,440 rows, see
`step_tables.fit_mask`). Everything else — the odd single-node rows, all 109 multi-node rows and
the eight Selene rows — is held out and only reported. Objective: mean |log(predicted/measured)|.
Not fitted: the large-GEMM ceiling (published mamf-finder rate, constants.py) and every cluster
input of the validation rows (network, recomputation, DP overlap: step_tables.ValidationCluster).
Optimiser: Nelder-Mead on the logarithms of the parameters (NumPy only, deterministic).
With --write, the result replaces fitted_constants.py (with today's date and the errors in its provenance).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Callable

import numpy as np

from flopwatt.estimate import fitted_constants
from flopwatt.estimate.validation import step_tables

# Parameters fitted, with their starting values (log-space search keeps them positive).
PARAMETERS = ("GEMM_HALF_EFFICIENCY_DIMENSION", "HOST_SECONDS_PER_KERNEL", "STEP_OVERHEAD_SECONDS")
START = (32.0, 1.0e-5, 0.01)
MAX_ITERATIONS = 400


def nelder_mead(
    objective: Callable[[np.ndarray], float], start: np.ndarray, step: float = 0.3, iterations: int = MAX_ITERATIONS
) -> np.ndarray:
    """Standard Nelder-Mead (reflection 1, expansion 2, contraction ½, shrink ½)."""
    simplex = [start] + [start + step * np.eye(len(start))[i] for i in range(len(start))]
    values = [objective(x) for x in simplex]
    for _ in range(iterations):
        order = np.argsort(values)
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        centroid = np.mean(simplex[:-1], axis=0)
        reflected = centroid + (centroid - simplex[-1])
        f_reflected = objective(reflected)
        if f_reflected < values[0]:
            expanded = centroid + 2.0 * (centroid - simplex[-1])
            f_expanded = objective(expanded)
            simplex[-1], values[-1] = (expanded, f_expanded) if f_expanded < f_reflected else (reflected, f_reflected)
        elif f_reflected < values[-2]:
            simplex[-1], values[-1] = reflected, f_reflected
        else:
            contracted = centroid + 0.5 * (simplex[-1] - centroid)
            f_contracted = objective(contracted)
            if f_contracted < values[-1]:
                simplex[-1], values[-1] = contracted, f_contracted
            else:
                simplex = [simplex[0] + 0.5 * (x - simplex[0]) for x in simplex]
                values = [objective(x) for x in simplex]
    return simplex[int(np.argmin(values))]


def _apply(log_values: np.ndarray) -> None:
    for name, log_value in zip(PARAMETERS, log_values):
        setattr(fitted_constants, name, float(np.exp(log_value)))


def fit() -> dict[str, float]:
    data = step_tables.load_vtrain_single()
    mask = step_tables.fit_mask(data)

    def objective(log_values: np.ndarray) -> float:
        _apply(log_values)
        result = step_tables.evaluate(data)
        return float(np.mean(np.abs(np.log(result.predicted_seconds[mask] / result.measured_seconds[mask]))))

    best = nelder_mead(objective, np.log(np.array(START)))
    _apply(best)
    return {name: float(getattr(fitted_constants, name)) for name in PARAMETERS}


def render(values: dict[str, float], summary: str) -> str:
    today = dt.date.today().isoformat()
    return f'''"""Constants fitted to validation data (written by `python -m flopwatt.estimate.validation.fit_constants --write`).

Fitted on the vTrain single-node rows whose index is even (720 rows, `step_tables.fit_mask`);
everything else (odd single-node rows, all multi-node rows, the Selene table) is held out and
reported by `flopwatt validate`. Objective: mean |log(predicted/measured)|, Nelder-Mead.
The vTrain rows are evaluated as measured: full activation recomputation, DP all-reduce not
overlapped, 12.5 GB/s/GPU scale-out (validation.VTRAIN). The large-GEMM ceiling is not fitted: it
is the published mamf-finder rate (constants.GEMM_MAX_FRACTION_OF_PEAK_BY_HARDWARE).
"""

# GEMM efficiency per dimension x is x / (x + this) (elements).
GEMM_HALF_EFFICIENCY_DIMENSION = {values["GEMM_HALF_EFFICIENCY_DIMENSION"]:.2f}
# Host (CPU) time per kernel launched by an eager PyTorch framework (seconds).
HOST_SECONDS_PER_KERNEL = {values["HOST_SECONDS_PER_KERNEL"]:.3e}
# Fixed host work per optimizer step (seconds).
STEP_OVERHEAD_SECONDS = {values["STEP_OVERHEAD_SECONDS"]:.4f}
FIT_PROVENANCE = "fitted {today} by estimate/validation/fit_constants.py on vTrain single-node even rows (720); {summary}"
'''


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite fitted_constants.py with the result")
    args = parser.parse_args(argv)
    values = fit()
    results = step_tables.run_all()
    summary = ", ".join(f"{r.name} MAPE {r.mean_absolute_percentage_error:.2f} %" for r in results)
    for name, value in values.items():
        print(f"{name} = {value:.6g}")
    print(summary)
    if args.write:
        Path(fitted_constants.__file__).write_text(render(values, summary))
        print(f"wrote {fitted_constants.__file__}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
