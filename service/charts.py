"""Campus and sweep charts (matplotlib, Agg backend): PNG or SVG chosen by the file suffix.

Why here and not in the model: charts read API responses (what a user actually got back), so
`flopwatt estimate campus --chart` and `flopwatt sweep --chart` draw exactly what they print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

SUFFIXES = (".png", ".svg")


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _check_suffix(path: Path) -> None:
    if path.suffix.lower() not in SUFFIXES:
        raise ValueError(f"chart file must end in {' or '.join(SUFFIXES)}, got {path.name!r}")


def _bar_chart(path: Path, labels: Sequence[str], values: Sequence[float], ylabel: str, title: str) -> Path:
    _check_suffix(path)
    plt = _figure()
    figure, axes = plt.subplots(figsize=(7, 4))
    bars = axes.bar(labels, values, color="#3b6ea5")
    axes.bar_label(bars, labels=[f"{v:,.3g}" for v in values])
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def campus_power_chart(response, path: Path) -> Path:
    """All-in watts per accelerator by part (accelerator, host, network, cooling)."""
    parts = [q for q in response.power_per_accelerator if q.name != "all_in"]
    return _bar_chart(Path(path), [q.name.replace("_", " ") for q in parts], [q.value for q in parts], "watts per accelerator",
                      f"{response.accelerator_count:,} accelerators, {response.facility_power_watts / 1e6:,.0f} MW facility")


def campus_cost_chart(response, path: Path) -> Path:
    """Capital cost by part (billions of US dollars)."""
    parts = [q for q in response.capital_cost if q.name != "annualised"]
    return _bar_chart(Path(path), [q.name.replace("_", " ") for q in parts], [q.value / 1e9 for q in parts], "US$ billion",
                      f"capital cost, {response.total_capital_cost.units / 1e9:,.1f} B US$ in all")


def pareto_front(seconds: np.ndarray, cost_usd: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both time and cost, fastest first."""
    order = np.lexsort((cost_usd, seconds))
    best = np.minimum.accumulate(cost_usd[order])
    keep = np.concatenate(([True], cost_usd[order][1:] < best[:-1]))
    return order[keep]


def sweep_pareto_chart(points, path: Path) -> Path:
    """Wall-clock time vs cost of every sweep point, with the Pareto front drawn over them."""
    path = Path(path)
    _check_suffix(path)
    days = np.array([p.wall_clock_seconds for p in points]) / 86400.0
    cost = np.array([p.cost_usd for p in points])
    front = pareto_front(days, cost)
    plt = _figure()
    figure, axes = plt.subplots(figsize=(7, 4.5))
    axes.scatter(days, cost, s=4, alpha=0.3, color="#999999", label=f"{len(points):,} scenarios")
    axes.plot(days[front], cost[front], "o-", color="#c0392b", label="Pareto front")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("wall-clock time (days)")
    axes.set_ylabel("cost (US$)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
