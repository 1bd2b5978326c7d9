"""`flopwatt estimate campus` and `flopwatt sweep`: tables, JSON/CSV, charts, one-line errors."""

from __future__ import annotations

import argparse
import csv
import json

import pytest

from flopwatt.service.cli import CliError, estimate_campus, sweep
from tests.request_documents import write_training_request


def _campus_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    estimate_campus.register(parser.add_subparsers())
    return parser.parse_args(["campus", *argv])


def test_campus_contract_case_prints_fleet_and_writes_charts(tmp_path, capsys):
    power, cost = tmp_path / "power.svg", tmp_path / "cost.png"
    args = _campus_args(
        "--hardware",
        "gb200",
        "--budget-usd",
        "38e9",
        "--term-years",
        "7",
        "--price-per-hour",
        "3",
        "--chart-power",
        str(power),
        "--chart-cost",
        str(cost),
        "--json",
    )
    assert args.handler(args) == 0
    response = json.loads(capsys.readouterr().out)
    assert int(response["acceleratorCount"]) > 100_000
    assert power.read_text().startswith("<?xml") and cost.stat().st_size > 1000


def test_campus_bad_input_is_one_line(capsys):
    args = _campus_args("--hardware", "gb200", "--power-watts", "-1")
    with pytest.raises(CliError, match="--power-watts"):
        args.handler(args)


def test_sweep_writes_csv_and_a_pareto_chart(tmp_path):
    base = write_training_request(tmp_path / "base.json")
    out, chart = tmp_path / "points.csv", tmp_path / "pareto.png"
    parser = argparse.ArgumentParser()
    sweep.register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "sweep",
            "--request",
            str(base),
            "--axis",
            "accelerator_count=64,128,256",
            "--axis",
            "facility.pue=1.1,1.3",
            "--format",
            "csv",
            "--output",
            str(out),
            "--chart",
            str(chart),
        ]
    )
    assert args.handler(args) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 6 and rows[0]["accelerator_count"] == "64.0"
    assert chart.stat().st_size > 1000
    with pytest.raises(CliError, match="axes\\[0\\].field"):
        args = parser.parse_args(["sweep", "--request", str(base), "--axis", "nope=1"])
        args.handler(args)


def test_pareto_front_keeps_only_undominated_points():
    import numpy as np

    from flopwatt.service.charts import pareto_front

    seconds = np.array([1.0, 2.0, 3.0, 2.5, 4.0])
    cost = np.array([10.0, 5.0, 6.0, 4.0, 1.0])
    assert pareto_front(seconds, cost).tolist() == [0, 1, 3, 4]
