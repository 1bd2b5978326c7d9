"""`flopwatt report sweep` charts what `flopwatt sweep` wrote: the chart leaves infeasible and
energy-only points out, so the report must read those columns from the file (it once built
points without them and every `report sweep` ended in an AttributeError traceback)."""

from __future__ import annotations

import json

import pytest

from flopwatt.service.cli import main
from tests.request_documents import training_request_json

BASE = training_request_json(preset="llama-3.1-8b", accelerators=8, training_tokens=10**9)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_report_sweep_charts_the_output_of_sweep(fmt, tmp_path, capsys):
    """A round trip, one infeasible point included (v100 has no bf16 rate): written, charted,
    and the infeasible point counted as left out rather than drawn at zero cost."""
    request = tmp_path / "base.json"
    request.write_text(json.dumps(BASE))
    points = tmp_path / f"points.{fmt}"
    sweep = ["sweep", "--request", str(request), "--axis", "hardware_id=v100,h100-sxm,h200"]
    assert main([*sweep, "--format", fmt, "--output", str(points)]) == 0
    chart = tmp_path / "pareto.svg"
    assert main(["report", "sweep", str(points), "--output", str(chart)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert "1 infeasible or unpriced points not shown" in chart.read_text()


def test_report_sweep_reads_files_without_the_newer_columns(tmp_path):
    """Points written before infeasible_reason and cost_energy_only existed count as feasible."""
    points = tmp_path / "old.jsonl"
    points.write_text(
        "\n".join(json.dumps({"wall_clock_seconds": s, "cost_usd": c}) for s, c in ((86400, 10.0), (43200, 20.0)))
    )
    assert main(["report", "sweep", str(points), "--output", str(tmp_path / "old.png")]) == 0


@pytest.mark.parametrize("value", ['"nan"', "1e400"])
def test_report_sweep_refuses_non_finite_numbers(value, tmp_path, capsys):
    points = tmp_path / "bad.jsonl"
    points.write_text(f'{{"wall_clock_seconds": {value}, "cost_usd": 1}}\n')
    assert main(["report", "sweep", str(points), "--output", str(tmp_path / "bad.png")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "row 1" in error and "finite" in error
