"""Issue 11 (whole runs): goodput's inputs in the request, and the wall clock split into compute
and each overhead."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flopwatt.estimate import constants as C
from flopwatt.estimate.run_cost import GoodputInputs, goodput, wall_clock_parts
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.training import estimate_training
from flopwatt.service.errors import FailedPrecondition, InvalidArgument
from flopwatt.v1 import common_pb2, estimator_pb2

DEPS = ApiDependencies()
MODELLED_PARTS = ["compute", "checkpointing", "failures_and_restarts", "startup", "evaluation"]


def _request(**goodput_inputs) -> estimator_pb2.EstimateTrainingRequest:
    request = estimator_pb2.EstimateTrainingRequest(
        model=common_pb2.ModelSpec(preset_id="llama-3.1-8b"),
        training_tokens=100_000_000_000,
        sequence_length=8192,
        hardware_id="h100-sxm",
        accelerator_count=1024,
        parallelism=common_pb2.Parallelism(global_batch_size=1024),
    )
    if goodput_inputs:
        request.goodput_inputs.CopyFrom(estimator_pb2.GoodputInputs(**goodput_inputs))
    return request


def _wall_seconds(response) -> float:
    return response.wall_clock_duration.seconds + response.wall_clock_duration.nanos / 1e9


def _parts(response) -> dict[str, float]:
    assert {q.unit for q in response.breakdown.wall_clock} == {"seconds"}
    return {q.name: q.value for q in response.breakdown.wall_clock}


def test_defaults_are_unchanged_and_the_parts_sum_to_the_wall_clock():
    response = estimate_training(_request(), DEPS)
    parts = _parts(response)
    assert list(parts) == MODELLED_PARTS
    assert sum(parts.values()) == pytest.approx(_wall_seconds(response), rel=1e-9, abs=1e-6)
    step_seconds = response.step_duration.seconds + response.step_duration.nanos / 1e9  # rounded to 1 ns
    assert parts["compute"] == pytest.approx(response.step_count * step_seconds, rel=1e-5)
    assert parts["compute"] / sum(parts.values()) == pytest.approx(response.goodput, rel=1e-12)
    assert parts["startup"] == C.RUN_STARTUP_SECONDS and parts["evaluation"] == 0
    assert parts["checkpointing"] > 0 and parts["failures_and_restarts"] > 0
    # The same goodput as the closed form before the split: 1 / (1 + δ/τ + (τ/2 + R)/MTBF + S/T).
    mtbf = 3600 / (C.FAILURES_PER_ACCELERATOR_HOUR * 1024)
    tau = math.sqrt(2 * C.CHECKPOINT_WRITE_SECONDS * mtbf)
    closed = 1 / (
        1
        + C.CHECKPOINT_WRITE_SECONDS / tau
        + (tau / 2 + C.RESTART_SECONDS) / mtbf
        + C.RUN_STARTUP_SECONDS / parts["compute"]
    )
    assert response.goodput == pytest.approx(closed, rel=1e-12)
    origins = {a.name: a.origin for a in response.assumptions}
    for name in (
        "failures_per_accelerator_hour",
        "checkpoint_interval_seconds",
        "checkpoint_write_seconds",
        "restart_seconds",
        "startup_seconds",
        "evaluation_fraction",
    ):
        assert origins[name] == "default"


def test_each_set_input_is_used_and_reported_as_from_the_request():
    inputs = {
        "startup_seconds": 7200.0,
        "checkpoint_interval_seconds": 1800.0,
        "checkpoint_write_seconds": 30.0,
        "failures_per_accelerator_hour": 1e-4,
        "restart_seconds": 1200.0,
        "evaluation_fraction": 0.02,
    }
    response = estimate_training(_request(**inputs), DEPS)
    parts = _parts(response)
    compute = parts["compute"]
    rate = 1e-4 * 1024 / 3600
    assert parts["startup"] == 7200
    assert parts["checkpointing"] == pytest.approx(compute * 30 / 1800)
    assert parts["failures_and_restarts"] == pytest.approx(compute * rate * (1800 / 2 + 1200))
    assert parts["evaluation"] == pytest.approx(0.02 * compute)
    assert sum(parts.values()) == pytest.approx(_wall_seconds(response), rel=1e-9)
    assumptions = {a.name: a for a in response.assumptions}
    for name in inputs:
        assert assumptions[name].origin == "request", name
    assert assumptions["checkpoint_interval_seconds"].value == "1800 s"


def test_a_partly_set_message_keeps_the_other_defaults():
    response = estimate_training(_request(checkpoint_interval_seconds=0.0, restart_seconds=60.0), DEPS)
    origins = {a.name: a.origin for a in response.assumptions}
    assert origins["restart_seconds"] == "request" and origins["checkpoint_interval_seconds"] == "request"
    assert origins["failures_per_accelerator_hour"] == "default" and origins["startup_seconds"] == "default"
    default = _parts(estimate_training(_request(), DEPS))
    parts = _parts(response)
    assert parts["checkpointing"] == pytest.approx(default["checkpointing"])  # 0 = the Young/Daly optimum
    assert parts["failures_and_restarts"] < default["failures_and_restarts"]


def test_no_failures_need_no_checkpoints():
    parts = _parts(estimate_training(_request(failures_per_accelerator_hour=0.0), DEPS))
    assert parts["checkpointing"] == 0 and parts["failures_and_restarts"] == 0
    parts = _parts(
        estimate_training(_request(failures_per_accelerator_hour=0.0, checkpoint_interval_seconds=3600), DEPS)
    )
    assert parts["checkpointing"] > 0 and parts["failures_and_restarts"] == 0  # a configured interval still writes


def test_a_fixed_goodput_still_overrides_the_model_with_one_unattributed_part():
    request = _request()
    request.goodput = 0.5
    response = estimate_training(request, DEPS)
    parts = _parts(response)
    assert response.goodput == 0.5
    assert parts["request_goodput_loss"] == pytest.approx(parts["compute"])
    assert sum(parts.values()) == pytest.approx(_wall_seconds(response), rel=1e-9)
    assert all(parts[name] == 0 for name in ("checkpointing", "failures_and_restarts", "startup", "evaluation"))


def test_goodput_and_its_inputs_together_are_refused_naming_the_field():
    request = _request(restart_seconds=60.0)
    request.goodput = 0.9
    with pytest.raises(InvalidArgument) as raised:
        estimate_training(request, DEPS)
    assert "goodput_inputs" in [v.field for v in raised.value.violations]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("startup_seconds", -1.0),
        ("checkpoint_interval_seconds", math.inf),
        ("checkpoint_interval_seconds", 1e-300),
        ("checkpoint_write_seconds", math.nan),
        ("failures_per_accelerator_hour", 0.5),
        ("restart_seconds", 1e9),
        ("evaluation_fraction", 1.5),
    ],
)
def test_out_of_range_inputs_are_refused_naming_the_field(field, value):
    with pytest.raises(InvalidArgument) as raised:
        estimate_training(_request(**{field: value}), DEPS)
    assert [v.field for v in raised.value.violations] == [f"goodput_inputs.{field}"]


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    count=st.integers(1, 200_000),
    productive=st.floats(0.0, 1e12),
    failures=st.floats(0.0, 0.01),
    interval=st.sampled_from([0.0]) | st.floats(1.0, 365 * 86_400.0),  # the API refuses 0 < interval < 1 s
    write=st.floats(0.0, 86_400.0),
    restart=st.floats(0.0, 7 * 86_400.0),
    startup=st.floats(0.0, 30 * 86_400.0),
    evaluation=st.floats(0.0, 1.0),
)
def test_the_parts_are_finite_and_sum_to_the_wall_clock(
    count, productive, failures, interval, write, restart, startup, evaluation
):
    inputs = GoodputInputs(failures, write, restart, startup, interval, evaluation)
    parts = wall_clock_parts(count, productive, inputs)
    values = np.array(list(parts.as_dict().values()), float)
    assert np.isfinite(values).all() and (values >= 0).all()
    assert parts.total == pytest.approx(values.sum())
    good = goodput(count, productive, inputs)
    assert 0 <= good <= 1
    if productive > 0:
        assert good == pytest.approx(productive / parts.total)


def test_inputs_that_leave_no_time_to_train_are_refused():
    """Each input within its bound, together they leave ~0.004 % of the time for steps."""
    request = _request(failures_per_accelerator_hour=0.01, restart_seconds=7 * 86_400.0)
    with pytest.raises(FailedPrecondition) as raised:
        estimate_training(request, DEPS)
    assert raised.value.reason == "GOODPUT_TOO_LOW" and "goodput_inputs" in str(raised.value)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(
    startup=st.none() | st.sampled_from([0.0, 30 * 86_400.0]) | st.floats(0.0, 30 * 86_400.0),
    interval=st.none() | st.sampled_from([0.0, 1.0, 365 * 86_400.0]) | st.floats(1.0, 365 * 86_400.0),
    write=st.none() | st.sampled_from([0.0, 86_400.0]) | st.floats(0.0, 86_400.0),
    failures=st.none() | st.sampled_from([0.0, 0.01]) | st.floats(0.0, 0.01),
    restart=st.none() | st.sampled_from([0.0, 7 * 86_400.0]) | st.floats(0.0, 7 * 86_400.0),
    evaluation=st.none() | st.sampled_from([0.0, 1.0]) | st.floats(0.0, 1.0),
    count=st.sampled_from([1, 8, 1024, 16_384, 200_000]),
)
def test_any_goodput_inputs_within_bounds_answer_finite_or_refuse(
    startup, interval, write, failures, restart, evaluation, count
):
    values = {
        "startup_seconds": startup,
        "checkpoint_interval_seconds": interval,
        "checkpoint_write_seconds": write,
        "failures_per_accelerator_hour": failures,
        "restart_seconds": restart,
        "evaluation_fraction": evaluation,
    }
    request = _request(**{k: v for k, v in values.items() if v is not None})
    request.accelerator_count = count
    request.parallelism.global_batch_size = 0
    try:
        response = estimate_training(request, DEPS)
    except (FailedPrecondition, InvalidArgument) as error:
        assert error.reason != "ESTIMATE_NOT_FINITE", str(error)
        return
    parts = _parts(response)
    assert all(math.isfinite(v) and v >= 0 for v in parts.values())
    assert sum(parts.values()) == pytest.approx(_wall_seconds(response), rel=1e-9, abs=1e-6)
    assert 0 < response.goodput <= 1


def test_the_checkpoint_default_says_what_goodput_it_gives_at_llama3_scale():
    """The default's text once claimed Llama 3's ≥ 90 % at 16k GPUs while the model gave 86 %: the
    figure it states now comes from the model itself, and Llama 3's whole-run row takes Meta's
    published "> 90 %" as its goodput input instead of bending the defaults to it."""
    from flopwatt.estimate.scenarios import DEFAULT_GOODPUT_AT_LLAMA3_SCALE, GOODPUT_DEFAULTS
    from flopwatt.estimate.validation.whole_runs import load_published_runs

    seconds = C.LLAMA3_SNAPSHOT_DAYS * 24 * 3600
    assert DEFAULT_GOODPUT_AT_LLAMA3_SCALE == pytest.approx(float(goodput(C.LLAMA3_GPU_COUNT, seconds)))
    assert DEFAULT_GOODPUT_AT_LLAMA3_SCALE < 0.90
    assert f"{DEFAULT_GOODPUT_AT_LLAMA3_SCALE:.0%} goodput" in GOODPUT_DEFAULTS["checkpoint_write_seconds"][1]
    runs = {r.run: r for r in load_published_runs()}
    assert runs["llama-3.1-405b"].published_goodput == 0.90
    assert math.isnan(runs["llama-2-7b"].published_goodput)
