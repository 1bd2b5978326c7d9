"""Roofline chart of a profile (matplotlib, Agg): measured kernels as points at their
arithmetic intensity (FLOPs ÷ bytes read + written) under the roof min(peak, intensity ×
bandwidth), plus the GEMM efficiency map (fraction of the measured ceiling against m·n·k).

The roof is passed in (datasheet numbers for a catalogued GPU, the profile's own ceilings for
a CPU) so this module needs no catalog; PNG or SVG is chosen by the file suffix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

CHART_SUFFIXES = (".png", ".svg")
INTENSITY_RANGE_FLOPS_PER_BYTE = (1e-2, 1e4)
FIGURE_SIZE_INCHES = (13.0, 5.5)
DPI = 120


@dataclass(frozen=True)
class Roof:
    """Peak FLOP/s per precision and the memory bandwidth, with where they came from."""

    peak_flops_per_second: Mapping[str, float]
    memory_bytes_per_second: float
    source: str  # e.g. "datasheet h100-sxm" or "measured ceilings"


def roof_from_ceilings(ceilings: dict) -> Roof:
    memory = ceilings.get("memory_bytes_per_second", {})
    bandwidth = max(memory.values()) if memory else 0.0
    return Roof(dict(ceilings.get("matmul_flops_per_second", {})), bandwidth, "measured ceilings")


def draw_roofline(document: dict, roof: Roof, output: Path | str) -> Path:
    output = Path(output)
    if output.suffix.lower() not in CHART_SUFFIXES:
        raise ValueError(f"output: chart file must end in {' or '.join(CHART_SUFFIXES)}, got {output.name!r}")
    if roof.memory_bytes_per_second <= 0 or not roof.peak_flops_per_second:
        raise ValueError("roof: needs a memory bandwidth and at least one peak FLOP/s")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, (roof_axes, map_axes) = plt.subplots(1, 2, figsize=FIGURE_SIZE_INCHES)
    intensity = np.logspace(*np.log10(INTENSITY_RANGE_FLOPS_PER_BYTE), 200)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    precisions = sorted(roof.peak_flops_per_second)
    for index, precision in enumerate(precisions):
        colour = colours[index % len(colours)]
        ceiling = np.minimum(roof.peak_flops_per_second[precision], intensity * roof.memory_bytes_per_second)
        roof_axes.plot(intensity, ceiling, color=colour, linewidth=1.5, label=f"roof {precision} ({roof.source})")
        for kernel, marker in (("gemm", "o"), ("attention", "^")):
            points = [
                r
                for r in document.get("results", [])
                if r.get("kernel") == kernel
                and r.get("precision") == precision
                and r.get("flops_per_second")
                and r.get("bytes")
            ]
            if points:
                roof_axes.scatter(
                    [r["flops"] / r["bytes"] for r in points],
                    [r["flops_per_second"] for r in points],
                    s=12,
                    marker=marker,
                    color=colour,
                    alpha=0.7,
                    label=f"{kernel} {precision}",
                )
    stream = [r for r in document.get("results", []) if r.get("precision") == "fp64" and r.get("flops_per_second")]
    if stream:
        roof_axes.scatter(
            [r["flops"] / r["bytes"] for r in stream],
            [r["flops_per_second"] for r in stream],
            marker="s",
            s=18,
            color="black",
            label="STREAM (fp64)",
        )
    roof_axes.set(xscale="log", yscale="log", xlabel="arithmetic intensity (FLOP / byte)", ylabel="FLOP/s")
    roof_axes.set_title(f"Roofline: {document['device']['name']}")
    roof_axes.legend(fontsize=7, loc="lower right")
    roof_axes.grid(True, which="both", alpha=0.3)
    for index, (precision, points) in enumerate(sorted(document.get("efficiency", {}).get("gemm", {}).items())):
        map_axes.scatter(
            [p["m"] * p["n"] * p["k"] for p in points],
            [p["fraction_of_ceiling"] for p in points],
            s=14,
            color=colours[index % len(colours)],
            label=precision,
        )
    map_axes.set(xscale="log", xlabel="m·n·k", ylabel="fraction of measured ceiling", ylim=(0, 1.05))
    map_axes.set_title("GEMM efficiency map")
    map_axes.legend(fontsize=7)
    map_axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    try:  # an unwritable output is a ValueError naming it, as a wrong suffix is (callers report those)
        output.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(output, dpi=DPI)
    except OSError as error:
        raise ValueError(f"output: cannot write chart {output}: {error.strerror or error}") from None
    finally:
        plt.close(figure)
    return output
