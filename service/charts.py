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


def _save(plt, figure, path: Path) -> None:
    """Write the figure and close it. An unwritable path (missing folder, a directory, no
    permission) is a ValueError naming the file, like a wrong suffix: every command that draws a
    chart reports ValueError as one line, and the OSError savefig raises escaped them all as a
    traceback. The figure is closed either way (pyplot keeps open figures alive)."""
    try:
        figure.savefig(path)
    except OSError as error:
        raise ValueError(f"cannot write chart {path}: {error.strerror or error}") from None
    finally:
        plt.close(figure)


def _bar_chart(path: Path, labels: Sequence[str], values: Sequence[float], ylabel: str, title: str) -> Path:
    _check_suffix(path)
    plt = _figure()
    figure, axes = plt.subplots(figsize=(7, 4))
    bars = axes.bar(labels, values, color="#3b6ea5")
    axes.bar_label(bars, labels=[f"{v:,.3g}" for v in values])
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    figure.tight_layout()
    _save(plt, figure, path)
    return path


def campus_power_chart(response, path: Path) -> Path:
    """All-in watts per accelerator by part (accelerator, host, network, cooling)."""
    parts = [q for q in response.power_per_accelerator if q.name != "all_in"]
    return _bar_chart(
        Path(path),
        [q.name.replace("_", " ") for q in parts],
        [q.value for q in parts],
        "watts per accelerator",
        f"{response.accelerator_count:,} accelerators, {response.facility_power_watts / 1e6:,.0f} MW facility",
    )


def campus_cost_chart(response, path: Path) -> Path:
    """Capital cost by part (billions of US dollars)."""
    parts = [q for q in response.capital_cost if q.name != "annualised"]
    return _bar_chart(
        Path(path),
        [q.name.replace("_", " ") for q in parts],
        [q.value / 1e9 for q in parts],
        "US$ billion",
        f"capital cost, {response.total_capital_cost.units / 1e9:,.1f} B US$ in all",
    )


def pareto_front(seconds: np.ndarray, cost_usd: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both time and cost, fastest first."""
    order = np.lexsort((cost_usd, seconds))
    best = np.minimum.accumulate(cost_usd[order])
    keep = np.concatenate(([True], cost_usd[order][1:] < best[:-1]))
    return order[keep]


# Front points labelled on a Pareto chart at most (evenly spread along the front beyond that).
MAX_PARETO_LABELS = 12


def _label_positions(count: int) -> list[int]:
    """Which of `count` front points get a label: all, or MAX_PARETO_LABELS spread evenly."""
    if count <= MAX_PARETO_LABELS:
        return list(range(count))
    return sorted({round(i * (count - 1) / (MAX_PARETO_LABELS - 1)) for i in range(MAX_PARETO_LABELS)})


def sweep_pareto_chart(points, path: Path, labels: Sequence[str] | None = None) -> Path:
    """Wall-clock time vs cost of every sweep point, with the Pareto front drawn over them and
    its points labelled with their configuration (`labels[i]` names point i, e.g.
    "hardware_id=h100-sxm, accelerator_count=512"): a front without names answers nothing.
    Sweeps of at most MAX_PARETO_LABELS points have every point labelled.

    Infeasible points and points whose cost counts energy only (no published price) are left
    out of the chart, and the legend says how many: they have no cost to compare."""
    path = Path(path)
    _check_suffix(path)
    kept = [i for i, p in enumerate(points) if not p.infeasible_reason and not p.cost_energy_only]
    if not kept:
        raise ValueError("no point of the sweep has a cost to chart (all infeasible or unpriced)")
    days = np.array([points[i].wall_clock_seconds for i in kept]) / 86400.0
    cost = np.array([points[i].cost_usd for i in kept])
    front = pareto_front(days, cost)
    plt = _figure()
    with plt.rc_context({"svg.fonttype": "none"}):  # SVG text stays text (searchable, readable)
        figure, axes = plt.subplots(figsize=(8, 5))
        axes.scatter(days, cost, s=4, alpha=0.3, color="#999999", label=f"{len(kept):,} scenarios")
        axes.plot(days[front], cost[front], "o-", color="#c0392b", label="Pareto front")
        if labels is not None:
            # A small sweep names every point; a large one the front (where the choice is).
            on_front = set(front.tolist())
            named = (
                range(len(kept)) if len(kept) <= MAX_PARETO_LABELS else [front[i] for i in _label_positions(len(front))]
            )
            for turn, point in enumerate(named):  # labels alternate above and below: neighbours overlap less
                axes.annotate(
                    labels[kept[point]],
                    (days[point], cost[point]),
                    xytext=(6, 4 if turn % 2 == 0 else -11),
                    textcoords="offset points",
                    fontsize=7,
                    color="#c0392b" if point in on_front else "#555555",
                )
        left_out = len(points) - len(kept)
        if left_out:
            axes.plot([], [], " ", label=f"{left_out:,} infeasible or unpriced points not shown")
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("wall-clock time (days)")
        axes.set_ylabel("cost (US$)")
        axes.legend()
        figure.tight_layout()
        _save(plt, figure, path)
    return path


def serving_load_chart(responses, concurrencies: Sequence[int], path: Path, title: str = "") -> Path:
    """TTFT (p50, p99), TPOT (p50) and output tokens/s against concurrency, from
    EstimateInferenceResponses of a continuous-batching sweep: where the running batch fills,
    TPOT and throughput level off and TTFT grows with the queue."""
    _check_suffix(path)
    plt = _figure()

    def seconds(duration) -> float:
        return duration.seconds + duration.nanos / 1e9

    figure, (latency, throughput) = plt.subplots(1, 2, figsize=(11, 4))
    latency.plot(concurrencies, [seconds(r.time_to_first_token) for r in responses], "o-", label="TTFT p50")
    latency.plot(concurrencies, [seconds(r.time_to_first_token_p99) for r in responses], "o--", label="TTFT p99")
    latency.plot(concurrencies, [seconds(r.time_per_output_token) for r in responses], "s-", label="TPOT p50")
    latency.set_xscale("log", base=2)
    latency.set_yscale("log")
    latency.set_xlabel("concurrency (clients)")
    latency.set_ylabel("seconds")
    latency.legend()
    latency.grid(True, which="both", alpha=0.3)
    throughput.plot(concurrencies, [r.output_tokens_per_second for r in responses], "o-", color="#3b6ea5")
    throughput.set_xscale("log", base=2)
    throughput.set_xlabel("concurrency (clients)")
    throughput.set_ylabel("output tokens/s per replica")
    throughput.grid(True, alpha=0.3)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    _save(plt, figure, path)
    return path


CLOSED_LOOP_CHECKS = ("training_step", "ddp_training_step", "decode_step")
# The operator table's kinds (flopwatt.estimate.operator_table) → the groups the real step is
# profiled into (flopwatt.bench.closed_loop.OPERATOR_GROUPS).
PREDICTED_GROUP = {
    "gemm": "gemm",
    "lm_head": "lm_head",
    "attention": "attention",
    "kv_cache_read": "attention",
    "cross_entropy": "loss",
    "adamw": "optimizer",
}
GROUP_LABELS = {
    "gemm": "GEMMs",
    "lm_head": "LM head",
    "attention": "attention",
    "loss": "loss",
    "optimizer": "AdamW",
    "other": "norms, activations,\nadds, copies, host",
}


def closed_loop_operator_groups(check: dict) -> tuple[list[str], list[float], list[float]] | None:
    """(groups, predicted seconds, measured seconds) of one closed-loop check by operator group:
    predicted from the operator table's per-kind split (`operator_table.seconds_by_kind`),
    measured from the profiled real step (`measurement.operator_profile`), its groups scaled
    so they add up to the measured median (the profiler slows each op a little). None when the
    result has either side missing (no workload profile, or a check that was not profiled)."""
    from flopwatt.bench.closed_loop import OPERATOR_GROUPS

    kinds = (check.get("operator_table") or {}).get("seconds_by_kind")
    profiled = (check.get("measurement") or {}).get("operator_profile")
    if not kinds or not profiled:
        return None
    predicted = {group: 0.0 for group in OPERATOR_GROUPS}
    for kind, seconds in kinds.items():
        predicted[PREDICTED_GROUP.get(kind, "other")] += seconds
    wall = sum(profiled["seconds"].values())
    scale = check["measured_seconds"] / wall if wall > 0 else 0.0
    groups = [g for g in OPERATOR_GROUPS if predicted[g] > 0 or profiled["seconds"].get(g, 0.0) > 0]
    return groups, [predicted[g] for g in groups], [profiled["seconds"].get(g, 0.0) * scale for g in groups]


def closed_loop_chart(result: dict, path: Path, title: str = "") -> Path:
    """Predicted vs measured for a closed-loop result (`flopwatt validate --local --json`, or the
    file it stores): one panel per profiled check (training, decode) with the operator table's
    prediction and the profiled real step by operator group, and one panel of whole steps
    (training, DDP, decode) with the datasheet path, the operator-table (or ceilings) path and
    the measured median, each bar's error against the measurement on it."""
    _check_suffix(path)
    if not isinstance(result, dict):  # a JSON list or number: .get below was an AttributeError traceback
        raise ValueError(f"not a closed-loop result: expected a JSON object, got {type(result).__name__}")
    checks = {
        name: result[name]
        for name in CLOSED_LOOP_CHECKS
        if isinstance(result.get(name), dict) and result[name].get("measured_seconds") is not None  # not skipped
    }
    if not checks:
        raise ValueError("not a closed-loop result: no training_step, ddp_training_step or decode_step")
    panels = [(name, closed_loop_operator_groups(check)) for name, check in checks.items()]
    panels = [(name, groups) for name, groups in panels if groups]
    plt = _figure()
    figure, axes = plt.subplots(1, len(panels) + 1, figsize=(6 * (len(panels) + 1), 4.6), squeeze=False)
    width = 0.38
    for axis, (name, (groups, predicted, measured)) in zip(axes[0], panels):
        x = np.arange(len(groups))
        axis.bar(x - width / 2, predicted, width, label="operator table", color="#3b6ea5")
        axis.bar(x + width / 2, measured, width, label="measured (profiled)", color="#d08c2c")
        axis.set_xticks(x, [GROUP_LABELS[g] for g in groups], rotation=30, ha="right", fontsize=8)
        axis.set_ylabel("seconds per step")
        axis.set_title(name.replace("_", " ") + " by operator")
        axis.legend(fontsize=8)
    whole = axes[0][-1]
    x = np.arange(len(checks))
    paths = (
        ("datasheet", "datasheet_predicted_seconds", "#8c8c8c"),
        ("operator table / profile", "predicted_seconds", "#3b6ea5"),
        ("measured", "measured_seconds", "#d08c2c"),
    )
    for offset, (label, key, color) in zip((-1, 0, 1), paths):
        values = [float(check.get(key) or 0.0) for check in checks.values()]
        measured = [float(check["measured_seconds"]) for check in checks.values()]
        bars = whole.bar(x + offset * width / 1.5, values, width / 1.5, label=label, color=color)
        if key != "measured_seconds":
            errors = [f"{(v - m) / m:+.0%}" if v > 0 and m > 0 else "—" for v, m in zip(values, measured)]
            whole.bar_label(bars, labels=errors, fontsize=7)
    whole.set_xticks(x, [name.replace("_", " ") for name in checks], fontsize=8)
    whole.set_yscale("log")
    whole.set_ylabel("seconds per step")
    whole.set_title("whole step: predicted vs measured")
    whole.legend(fontsize=8)
    figure.suptitle(title or _closed_loop_title(result))
    figure.tight_layout()
    _save(plt, figure, path)
    return path


def _closed_loop_title(result: dict) -> str:
    model = result.get("model") or {}
    device = (result.get("device") or {}).get("name", "this host")
    shape = ", ".join(
        f"{label} {model[key]}"
        for key, label in (("layer_count", "layers"), ("hidden_size", "hidden"), ("sequence_length", "seq"))
        if key in model
    )
    profile = result.get("profile_id") or "no profile"
    return f"closed loop on {device}: {shape}; profile {profile}"
