"""Sweeps: every point equals EstimateTraining for the same inputs; the grid is bounded."""

from __future__ import annotations

import asyncio
import math

import pytest

from flopwatt.estimate.catalog import list_hardware
from flopwatt.service.api import sweep as sweep_api
from flopwatt.service.api import training as training_api
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.errors import InvalidArgument
from flopwatt.v1 import common_pb2, estimator_pb2

DEPS = ApiDependencies()
BASE = estimator_pb2.EstimateTrainingRequest(
    model=common_pb2.ModelSpec(preset_id="llama-2-7b"),
    training_tokens=2 * 10**12,
    sequence_length=4096,
    hardware_id="h100-sxm",
    accelerator_count=256,
)
HARDWARE_IDS = [h.id for h in list_hardware()]


def _axis(field: str, values) -> estimator_pb2.SweepAxis:
    return estimator_pb2.SweepAxis(field=field, values=list(values))


def _request(*axes, base=BASE, chunk_size=0) -> estimator_pb2.SweepTrainingRequest:
    return estimator_pb2.SweepTrainingRequest(base=base, axes=list(axes), chunk_size=chunk_size)


def _points(request) -> list[estimator_pb2.SweepPoint]:
    async def collect():
        return [point async for chunk in sweep_api.sweep_training(request, DEPS) for point in chunk.points]

    return asyncio.run(collect())


def _scalar(point: estimator_pb2.SweepPoint, axes) -> estimator_pb2.EstimateTrainingResponse:
    single = estimator_pb2.EstimateTrainingRequest()
    single.CopyFrom(BASE)
    for axis, value in zip(axes, point.axis_values):
        _set_structural(single, axis.field, value) if axis.field in sweep_api.STRUCTURAL_FIELDS else _set_real(
            single, axis.field, value
        )
    return training_api.estimate_training(single, DEPS)


def _set_structural(message, path: str, value: float) -> None:
    """The request a client would send for this point: a catalog index becomes its id."""
    *parents, name = path.split(".")
    for parent in parents:
        message = getattr(message, parent)
    setattr(message, name, HARDWARE_IDS[int(value)] if name == "hardware_id" else int(value))


def _set_real(message, path: str, value: float) -> None:
    *parents, name = path.split(".")
    for parent in parents:
        message = getattr(message, parent)
    setattr(message, name, int(value) if name == "training_tokens" else value)


def test_every_point_equals_the_scalar_estimate():
    axes = [
        _axis("hardware_id", [HARDWARE_IDS.index("h100-sxm"), HARDWARE_IDS.index("a100-80gb")]),
        _axis("accelerator_count", [64, 512]),
        _axis("model.parameter_count", [0]),
        _axis("training_tokens", [10**11, 3 * 10**12]),
        _axis("facility.pue", [1.1, 1.4]),
        _axis("facility.accelerator_hour_price_usd", [2.5]),
    ]
    points = _points(_request(*axes, chunk_size=5))
    assert [p.index for p in points] == list(range(16))
    for point in points:
        scalar = _scalar(point, axes)
        assert point.wall_clock_seconds == pytest.approx(
            scalar.wall_clock_duration.ToTimedelta().total_seconds(), rel=1e-9
        )
        assert point.accelerator_hours == pytest.approx(scalar.accelerator_hours, rel=1e-9)
        assert point.facility_energy_joules == pytest.approx(scalar.facility_energy_joules, rel=1e-9)
        assert point.cost_usd == pytest.approx(scalar.cost.units + scalar.cost.nanos / 1e9, rel=1e-9)
        assert point.co2e_kilograms == pytest.approx(scalar.co2e_kilograms, rel=1e-9)
        assert point.model_flops_utilization == pytest.approx(scalar.model_flops_utilization, rel=1e-9)
        assert point.total_flops == pytest.approx(scalar.total_flops, rel=1e-9)
        assert point.fits_in_memory == scalar.fits_in_memory


def test_more_accelerators_finish_sooner():
    points = _points(_request(_axis("accelerator_count", [64, 128, 256, 512])))
    walls = [p.wall_clock_seconds for p in points]
    assert walls == sorted(walls, reverse=True)


@pytest.mark.parametrize(
    ("axes", "field"),
    [
        ([_axis("no_such.field", [1])], "axes[0].field"),
        ([_axis("training_tokens", [1e12]), _axis("model.name", [1])], "axes[1].field"),
        ([_axis("facility.pue", [1.2, 0.5])], "axes[0].values[1]"),
        ([_axis("accelerator_count", [8, 2.5])], "axes[0].values[1]"),
        ([_axis("hardware_id", [999])], "axes[0].values[0]"),
        ([_axis("training_tokens", [float("nan")])], "axes[0].values[0]"),
        (
            [
                _axis("facility.pue", [1.1] * 1000),
                _axis("training_tokens", range(1, 1001)),
                _axis("goodput", [0.5] * 11),
            ],
            "axes",
        ),
        ([_axis("accelerator_count", range(8, 8 + 200)), _axis("sequence_length", range(1024, 1024 + 200))], "axes"),
        ([_axis("facility.pue", [])], "axes[0].values"),
    ],
)
def test_bad_grids_name_the_axis(axes, field):
    with pytest.raises(InvalidArgument) as raised:
        _points(_request(*axes))
    assert field in [v.field for v in raised.value.violations]


def test_bad_base_is_refused_before_streaming():
    base = estimator_pb2.EstimateTrainingRequest()
    base.CopyFrom(BASE)
    base.accelerator_count = -1
    with pytest.raises(InvalidArgument) as raised:
        _points(_request(_axis("facility.pue", [1.2]), base=base))
    assert "accelerator_count" in [v.field for v in raised.value.violations]


def test_a_point_that_does_not_fit_is_flagged_not_failed():
    """Issue 11 item 8: EstimateTraining refuses a plan that does not fit (FAILED_PRECONDITION);
    a sweep keeps the point and flags it, so one bad corner does not fail the whole grid."""
    base = estimator_pb2.EstimateTrainingRequest()
    base.CopyFrom(BASE)
    base.model.preset_id = "llama-3.1-405b"
    points = _points(_request(_axis("accelerator_count", [1, 2048]), base=base))
    assert [p.fits_in_memory for p in points] == [False, True]


def test_a_point_beyond_one_tpu_pod_is_infeasible_not_nan():
    """Issue 11 item 6: a TPU v4 point over two pods returned NaN with fits_in_memory true. It is
    now an infeasible point naming the field (issue 14 item 20: one bad point never fails the grid)."""
    base = estimator_pb2.EstimateTrainingRequest()
    base.CopyFrom(BASE)
    base.hardware_id = "tpu-v4"
    inside, beyond = _points(_request(_axis("accelerator_count", [1024, 8192]), base=base))
    assert inside.infeasible_reason == "" and inside.fits_in_memory
    assert beyond.infeasible_reason.startswith("accelerator_count") and not beyond.fits_in_memory
    assert math.isfinite(beyond.wall_clock_seconds)


def test_distinct_structural_rows_match_numpy_unique():
    import numpy as np

    from flopwatt.estimate.sweep import _distinct_rows

    rows = np.random.default_rng(3).integers(0, [4, 7, 3], size=(500, 3))
    keys, which = _distinct_rows(rows, (4, 7, 3))
    expected_keys, expected_which = np.unique(rows, axis=0, return_inverse=True)
    assert np.array_equal(keys, expected_keys) and np.array_equal(which, np.asarray(expected_which).reshape(-1))
