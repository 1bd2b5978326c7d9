"""Issue 14 items 20-22 and 24: sweeps by hardware name, infeasible points, rankings, unpriced
accelerators, labelled charts, units on intervals, columnar chunks and Parquet output."""

from __future__ import annotations

import argparse
import asyncio
import json

import numpy as np
import pytest

from flopwatt.estimate.catalog import list_hardware
from flopwatt.service.api import campus as campus_api
from flopwatt.service.api import inference as inference_api
from flopwatt.service.api import sweep as sweep_api
from flopwatt.service.api import training as training_api
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.cli import sweep as sweep_cli
from flopwatt.service.errors import InvalidArgument
from flopwatt.v1 import common_pb2, estimator_pb2
from tests.request_documents import training_request_json

DEPS = ApiDependencies()
BASE = estimator_pb2.EstimateTrainingRequest(
    model=common_pb2.ModelSpec(preset_id="llama-2-7b"),
    training_tokens=2 * 10**12,
    sequence_length=4096,
    hardware_id="h100-sxm",
    accelerator_count=256,
)
HARDWARE_IDS = [h.id for h in list_hardware()]
BASE_JSON = training_request_json(accelerators=256, training_tokens=2 * 10**12)


def _points(request) -> list[estimator_pb2.SweepPoint]:
    async def collect():
        return [point async for chunk in sweep_api.sweep_training(request, DEPS) for point in chunk.points]

    return asyncio.run(collect())


def _chunks(request) -> list[estimator_pb2.SweepTrainingResponse]:
    async def collect():
        return [chunk async for chunk in sweep_api.sweep_training(request, DEPS)]

    return asyncio.run(collect())


def _hardware_axis(*names: str) -> estimator_pb2.SweepAxis:
    return estimator_pb2.SweepAxis(field="hardware_id", string_values=list(names))


# --- item 20: names on string axes, infeasible points, rankings -----------------------------


def test_hardware_and_precision_axes_take_names_like_their_numbers():
    named = _points(
        estimator_pb2.SweepTrainingRequest(
            base=BASE,
            axes=[
                _hardware_axis("a100-80gb", "h100-sxm"),
                estimator_pb2.SweepAxis(field="precision", string_values=["bf16", "PRECISION_FP8"]),
            ],
        )
    )
    numbered = _points(
        estimator_pb2.SweepTrainingRequest(
            base=BASE,
            axes=[
                estimator_pb2.SweepAxis(
                    field="hardware_id", values=[HARDWARE_IDS.index("a100-80gb"), HARDWARE_IDS.index("h100-sxm")]
                ),
                estimator_pb2.SweepAxis(
                    field="precision", values=[common_pb2.PRECISION_BF16, common_pb2.PRECISION_FP8]
                ),
            ],
        )
    )
    assert [(p.axis_values, p.cost_usd, p.infeasible_reason) for p in named] == [
        (p.axis_values, p.cost_usd, p.infeasible_reason) for p in numbered
    ]


def test_unknown_hardware_name_names_the_value():
    with pytest.raises(InvalidArgument) as raised:
        _points(estimator_pb2.SweepTrainingRequest(base=BASE, axes=[_hardware_axis("h100-sxm", "h999")]))
    violation = raised.value.violations[0]
    assert violation.field == "axes[0].string_values[1]" and "h100-sxm" in violation.description


def test_names_only_on_named_fields():
    with pytest.raises(InvalidArgument) as raised:
        _points(
            estimator_pb2.SweepTrainingRequest(
                base=BASE, axes=[estimator_pb2.SweepAxis(field="accelerator_count", string_values=["8"])]
            )
        )
    assert raised.value.violations[0].field == "axes[0].string_values"


def test_cli_axis_takes_catalog_ids():
    axis = sweep_cli.parse_axis("hardware_id=a100-80gb,h100-sxm")
    assert list(axis.string_values) == ["a100-80gb", "h100-sxm"] and not axis.values


def test_an_infeasible_point_does_not_fail_the_grid():
    points = _points(estimator_pb2.SweepTrainingRequest(base=BASE, axes=[_hardware_axis("v100", "h100-sxm")]))
    v100, h100 = points
    assert "bf16" in v100.infeasible_reason and not v100.fits_in_memory
    values = [
        v100.wall_clock_seconds,
        v100.cost_usd,
        v100.co2e_kilograms,
        v100.total_flops,
        v100.model_flops_utilization,
    ]
    assert all(np.isfinite(values)) and all(v == 0 for v in values)
    assert h100.infeasible_reason == "" and h100.cost_usd > 0


def _rank(by, *axes, deadline=0.0, budget=0.0, limit=0, base=BASE) -> estimator_pb2.RankTrainingResponse:
    request = estimator_pb2.RankTrainingRequest(
        sweep=estimator_pb2.SweepTrainingRequest(base=base, axes=list(axes)),
        by=by,
        max_wall_clock_seconds=deadline,
        max_cost_usd=budget,
        limit=limit,
    )
    return sweep_api.rank_training(request, DEPS)


def test_ranking_orders_feasible_points_and_says_why_others_are_out():
    hardware = _hardware_axis("v100", "a100-80gb", "h100-sxm", "h200")
    counts = estimator_pb2.SweepAxis(field="accelerator_count", values=[128, 256, 512])
    response = _rank(estimator_pb2.RANK_OBJECTIVE_COST, hardware, counts)
    costs = [r.point.cost_usd for r in response.points]
    assert costs == sorted(costs) and len(costs) == 9
    assert response.total_point_count == 12 and response.eligible_point_count == 9
    assert {q.name: q.value for q in response.excluded} == {"infeasible combination": 3}
    assert all(r.axis_labels[0] in {"a100-80gb", "h100-sxm", "h200"} for r in response.points)
    fastest = _rank(estimator_pb2.RANK_OBJECTIVE_TIME, hardware, counts, limit=1).points[0]
    assert fastest.axis_labels[1] == "512"


def test_deadline_and_budget_leave_points_out():
    hardware = _hardware_axis("a100-80gb", "h100-sxm")
    counts = estimator_pb2.SweepAxis(field="accelerator_count", values=[64, 512])
    everything = _rank(estimator_pb2.RANK_OBJECTIVE_COST, hardware, counts)
    walls = sorted(r.point.wall_clock_seconds for r in everything.points)
    deadline = (walls[1] + walls[2]) / 2
    within = _rank(estimator_pb2.RANK_OBJECTIVE_COST, hardware, counts, deadline=deadline)
    assert within.eligible_point_count == 2 and all(r.point.wall_clock_seconds <= deadline for r in within.points)
    assert {q.name for q in within.excluded} == {"over the deadline"}
    cheapest = min(r.point.cost_usd for r in everything.points)
    assert (
        _rank(estimator_pb2.RANK_OBJECTIVE_TIME, hardware, counts, budget=cheapest * 1.0000001).eligible_point_count
        == 1
    )


def test_ranking_needs_an_objective():
    with pytest.raises(InvalidArgument) as raised:
        _rank(estimator_pb2.RANK_OBJECTIVE_UNSPECIFIED, _hardware_axis("h100-sxm"))
    assert raised.value.violations[0].field == "by"


def test_rank_cli_prints_a_table(tmp_path, capsys):
    base = tmp_path / "base.json"
    base.write_text(json.dumps(BASE_JSON))
    parser = argparse.ArgumentParser()
    sweep_cli.register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "rank",
            "--request",
            str(base),
            "--axis",
            "hardware_id=v100,a100-80gb,h100-sxm",
            "--by",
            "cost",
            "--deadline-days",
            "90",
        ]
    )
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["#", "hardware_id"] and "cost US$" in lines[0]
    assert lines[1].split()[0] == "1" and lines[1].split()[1] in {"a100-80gb", "h100-sxm"}
    assert "left out: 1 infeasible combination" in out


# --- item 21: an accelerator without a price is never compared on cost silently --------------


def test_unpriced_accelerator_is_flagged_and_left_out_of_cost_rankings():
    base = estimator_pb2.EstimateTrainingRequest()
    base.CopyFrom(BASE)
    points = _points(estimator_pb2.SweepTrainingRequest(base=base, axes=[_hardware_axis("h100-sxm", "tpu-v5p")]))
    assert [p.cost_energy_only for p in points] == [False, True]
    response = _rank(estimator_pb2.RANK_OBJECTIVE_COST, _hardware_axis("h100-sxm", "tpu-v5p"))
    assert [r.axis_labels[0] for r in response.points] == ["h100-sxm"]
    assert {q.name: q.value for q in response.excluded} == {
        "no published accelerator price (cost would count energy only)": 1
    }
    by_time = _rank(estimator_pb2.RANK_OBJECTIVE_TIME, _hardware_axis("h100-sxm", "tpu-v5p"))
    assert by_time.eligible_point_count == 2  # time needs no price
    base.facility.accelerator_hour_price_usd = 4.0  # a price the user states makes the cost comparable
    priced = _rank(estimator_pb2.RANK_OBJECTIVE_COST, _hardware_axis("h100-sxm", "tpu-v5p"), base=base)
    assert priced.eligible_point_count == 2


# --- item 22: chart labels, interval units -------------------------------------------------


def test_pareto_chart_labels_front_points_with_their_configuration(tmp_path):
    from flopwatt.service import charts

    points = _points(
        estimator_pb2.SweepTrainingRequest(
            base=BASE,
            axes=[
                _hardware_axis("a100-80gb", "h100-sxm"),
                estimator_pb2.SweepAxis(field="accelerator_count", values=[64, 512]),
            ],
        )
    )
    labels = [f"hw={sweep_api.axis_label('hardware_id', p.axis_values[0])} n={p.axis_values[1]:g}" for p in points]
    chart = charts.sweep_pareto_chart(points, tmp_path / "pareto.svg", labels)
    svg = chart.read_text()
    front = charts.pareto_front(
        np.array([p.wall_clock_seconds for p in points]), np.array([p.cost_usd for p in points])
    )
    assert all(labels[i] in svg for i in front)
    assert all(label in svg for label in labels)  # four points: every one is named


def test_every_interval_has_its_unit():
    training = estimator_pb2.EstimateTrainingRequest()
    training.CopyFrom(BASE)
    training.uncertainty.samples = 64
    inference = estimator_pb2.EstimateInferenceRequest(
        model=common_pb2.ModelSpec(preset_id="llama-2-7b"),
        hardware_id="h100-sxm",
        accelerator_count=1,
        input_tokens=512,
        output_tokens=256,
        uncertainty=common_pb2.Uncertainty(samples=64),
    )
    campus = estimator_pb2.EstimateCampusRequest(
        accelerator_count=1024, hardware_id="h100-sxm", uncertainty=common_pb2.Uncertainty(samples=64)
    )
    for response in (
        training_api.estimate_training(training, DEPS),
        inference_api.estimate_inference(inference, DEPS),
        campus_api.estimate_campus(campus, DEPS),
    ):
        assert response.intervals and all(interval.unit for interval in response.intervals.values())
    assert training_api.estimate_training(training, DEPS).intervals["cost"].unit == "usd"


# --- item 24: columnar chunks, Parquet -------------------------------------------------------


def test_columnar_chunks_carry_the_same_numbers_as_points():
    axes = [_hardware_axis("v100", "h100-sxm"), estimator_pb2.SweepAxis(field="facility.pue", values=[1.1, 1.2, 1.3])]
    points = _points(estimator_pb2.SweepTrainingRequest(base=BASE, axes=axes, chunk_size=4))
    chunks = _chunks(estimator_pb2.SweepTrainingRequest(base=BASE, axes=axes, chunk_size=4, columnar=True))
    assert all(not chunk.points for chunk in chunks)
    index = np.concatenate([np.array(c.columns.index) for c in chunks])
    cost = np.concatenate([np.array(c.columns.cost_usd) for c in chunks])
    axis_values = np.concatenate([np.array(c.columns.axis_values).reshape(-1, 2) for c in chunks])
    assert index.tolist() == [p.index for p in points]
    assert cost.tolist() == [p.cost_usd for p in points]
    assert axis_values.tolist() == [list(p.axis_values) for p in points]
    reasons = {i: why for c in chunks for i, why in zip(c.columns.infeasible_index, c.columns.infeasible_reason)}
    assert reasons == {p.index: p.infeasible_reason for p in points if p.infeasible_reason}


def test_sweep_cli_writes_parquet(tmp_path):
    parquet = pytest.importorskip("pyarrow.parquet")
    base = tmp_path / "base.json"
    base.write_text(json.dumps(BASE_JSON))
    out = tmp_path / "points.parquet"
    parser = argparse.ArgumentParser()
    sweep_cli.register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "sweep",
            "--request",
            str(base),
            "--axis",
            "hardware_id=v100,h100-sxm",
            "--axis",
            "accelerator_count=64,128",
            "--format",
            "parquet",
            "--output",
            str(out),
        ]
    )
    assert args.handler(args) == 0
    table = parquet.read_table(out).to_pydict()
    assert table["hardware_id"] == ["v100", "v100", "h100-sxm", "h100-sxm"]
    assert table["accelerator_count"] == [64.0, 128.0, 64.0, 128.0]
    assert table["index"] == [0, 1, 2, 3] and all(table["cost_usd"][2:]) and "bf16" in table["infeasible_reason"][0]


def test_packed_encoding_equals_the_protobuf_encoder():
    from flopwatt.service.api import packed

    rng = np.random.default_rng(1)
    index = np.array([0, 1, 127, 128, 16383, 16384, 2**35, 2**62], np.int64)
    doubles = {"axis_values": rng.random((8, 3)), "cost_usd": rng.random(8) * 1e9}
    bools = {"fits_in_memory": rng.random(8) > 0.5}
    expected = estimator_pb2.SweepColumns(
        index=index.tolist(),
        axis_values=doubles["axis_values"].reshape(-1).tolist(),
        cost_usd=doubles["cost_usd"].tolist(),
        fits_in_memory=bools["fits_in_memory"].tolist(),
        infeasible_index=[2**40],
        infeasible_reason=["why"],
    )
    assert packed.encode_columns(index, doubles, bools, np.array([2**40]), ["why"]) == expected
    assert (
        packed.encode_columns(index[:0], {"cost_usd": np.zeros(0)}, {}, index[:0], []) == estimator_pb2.SweepColumns()
    )


def test_sweep_cli_warns_when_a_cost_counts_energy_only(tmp_path, capsys):
    base = tmp_path / "base.json"
    base.write_text(json.dumps(BASE_JSON))
    parser = argparse.ArgumentParser()
    sweep_cli.register(parser.add_subparsers())
    args = parser.parse_args(
        ["sweep", "--request", str(base), "--axis", "hardware_id=h100-sxm,tpu-v5p", "--format", "csv"]
    )
    assert args.handler(args) == 0
    captured = capsys.readouterr()
    assert "1 of 2 points" in captured.err and "no published price" in captured.err
    assert captured.out.splitlines()[2].startswith("tpu-v5p,") and captured.out.splitlines()[2].endswith(",True")
