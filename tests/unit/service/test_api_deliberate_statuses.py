"""Every type-valid request gets a deliberate status (issue 14): INVALID_ARGUMENT naming the
field, never INTERNAL from an overflow, and never OK carrying NaN, Infinity or a silent cap.

Each case here once crashed (ValueError "Value out of range", OverflowError, RecursionError),
answered OK with a meaningless number, or built a status too large for gRPC's headers; they call
the handler functions (or the status builder) directly.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math

import numpy as np
import pytest
from google.protobuf.duration_pb2 import Duration
from google.type.money_pb2 import Money

from flopwatt.bench.store import ProfileStore
from flopwatt.service.api import catalog, finite, inference, profiles, runs, sweep
from flopwatt.service.api.campus import estimate_campus
from flopwatt.service.api.deps import ApiDependencies
from flopwatt.service.api.request_bounds import TRAINING_INTEGER_MAXIMA
from flopwatt.service.api.training import estimate_training
from flopwatt.service.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, truncate_utf8
from flopwatt.service.interceptors.errors import status_for
from flopwatt.v1 import benchmark_pb2, common_pb2, estimator_pb2

DEPS = ApiDependencies()
ONE_YEAR = Duration(seconds=int(365.25 * 86400))


def _training(**fields) -> estimator_pb2.EstimateTrainingRequest:
    request = estimator_pb2.EstimateTrainingRequest(
        model=common_pb2.ModelSpec(parameter_count=7_000_000_000),
        training_tokens=10**12,
        sequence_length=4096,
        hardware_id="a100-80gb",
        accelerator_count=64,
    )
    for name, value in fields.items():
        setattr(request, name, value)
    return request


def _refused_field(call, *args) -> str:
    """The first field named by the INVALID_ARGUMENT that `call(*args)` raises."""
    with pytest.raises(InvalidArgument) as raised:
        call(*args)
    return raised.value.violations[0].field


def _sweep(field: str, value: float) -> list[estimator_pb2.SweepTrainingResponse]:
    request = estimator_pb2.SweepTrainingRequest(
        base=_training(), axes=[estimator_pb2.SweepAxis(field=field, values=[1.0, value])]
    )

    async def collect() -> list[estimator_pb2.SweepTrainingResponse]:
        return [chunk async for chunk in sweep.sweep_training(request, DEPS)]

    return asyncio.run(collect())


# --- item 7: overflow of int fields, goodput, campus money and fleet, page tokens -------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("accelerator_count", 2.0**31),
        ("accelerator_count", 2.0**53),
        ("accelerator_count", 1e308),
        ("sequence_length", 2.0**40),
        ("model.layer_count", 2.0**40),
        ("parallelism.tensor_parallel_size", 2.0**40),
        ("model.parameter_count", 1e300),
    ],
)
def test_structural_sweep_values_meet_estimate_trainings_bounds(field, value):
    with pytest.raises(InvalidArgument) as raised:
        _sweep(field, value)
    violation = raised.value.violations[0]
    assert violation.field == "axes[0].values[1]"
    assert f"{TRAINING_INTEGER_MAXIMA[field]:,}" in violation.description and "np." not in violation.description


def test_every_integer_structural_axis_has_a_bound():
    assert sweep.STRUCTURAL_FIELDS - {"hardware_id", "precision"} <= TRAINING_INTEGER_MAXIMA.keys()


def test_a_maximal_custom_model_is_refused_by_its_parameter_count():
    # Every field at its bound multiplies out to 3e21 weights (2e23 B per accelerator: past int64).
    model = common_pb2.ModelSpec(
        layer_count=10_000,
        hidden_size=1_000_000,
        attention_head_count=100_000,
        ffn_hidden_size=1_000_000,
        vocab_size=10_000_000,
        expert_count=100_000,
        experts_per_token=100_000,
    )
    request = _training(accelerator_count=1, sequence_length=10_000_000)
    request.model.CopyFrom(model)
    with pytest.raises(InvalidArgument) as raised:
        estimate_training(request, DEPS)
    assert raised.value.violations[0].field == "model" and "parameters" in raised.value.violations[0].description


@pytest.mark.parametrize("goodput", [1e-308, 5e-324, 1e-200, 1e-6, 0.0099])
def test_goodput_below_one_percent_is_refused(goodput):
    assert _refused_field(estimate_training, _training(goodput=goodput), DEPS) == "goodput"


def test_goodput_sweep_values_share_the_bound():
    with pytest.raises(InvalidArgument) as raised:
        _sweep("goodput", 1e-6)
    assert raised.value.violations[0].field == "axes[0].values[1]"


def test_goodput_of_one_percent_is_answered_finite():
    response = estimate_training(_training(goodput=0.01), DEPS)
    assert 0 < response.wall_clock_duration.seconds < 315_576_000_000  # below Duration's cap, not silently capped


def _campus(**fields) -> estimator_pb2.EstimateCampusRequest:
    return estimator_pb2.EstimateCampusRequest(hardware_id="h100-sxm", **fields)


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"budget": Money(currency_code="USD", units=10**14), "term": ONE_YEAR}, "budget"),  # 7e9 accelerators
        ({"budget": Money(currency_code="USD", units=10**9), "term": Duration(nanos=1)}, "term"),
        ({"budget": Money(currency_code="USD", units=10**9), "term": Duration(nanos=1_000_000)}, "term"),
        (
            {"budget": Money(currency_code="USD", units=10**9), "term": Duration(seconds=1)},
            "term",
        ),  # was OK with 2e12 accelerators
        ({"facility_power_watts": 1e12}, "facility_power_watts"),  # 6e8 accelerators
    ],
)
def test_campus_fleet_and_term_are_bounded(fields, field):
    assert _refused_field(estimate_campus, _campus(**fields), DEPS) == field


def test_campus_budget_over_one_day_is_answered():
    response = estimate_campus(
        _campus(budget=Money(currency_code="USD", units=10**9), term=Duration(seconds=86400)), DEPS
    )
    assert 0 < response.accelerator_count <= 100_000_000


@pytest.mark.parametrize(
    "collection, call, request_type",
    [
        ("hardware", catalog.list_hardware, estimator_pb2.ListHardwareRequest),
        ("models", catalog.list_models, estimator_pb2.ListModelsRequest),
    ],
)
def test_catalog_tokens_with_huge_offsets_are_refused(collection, call, request_type):
    token = base64.urlsafe_b64encode(f"{collection}:{'9' * 5000}".encode()).decode()
    assert _refused_field(call, request_type(page_token=token)) == "page_token"


@pytest.mark.parametrize(
    "payload",
    [
        json.dumps({"v": 1, "o": 10**30}),
        json.dumps({"v": 1, "o": 2**63}),
        json.dumps({"v": 1, "o": True}),
        "[" * 100_000 + "]" * 100_000,
        json.dumps([1]),
        "null",
    ],
)
def test_profile_tokens_that_decode_to_nonsense_are_refused(payload, tmp_path):
    store = ProfileStore(tmp_path / "profiles.sqlite")
    token = base64.urlsafe_b64encode(payload.encode()).decode()
    assert (
        _refused_field(profiles.list_profiles, benchmark_pb2.ListProfilesRequest(page_token=token), store)
        == "page_token"
    )


def test_page_tokens_keep_their_formats():
    # Tokens that clients hold from before the shared decoder still page.
    assert catalog.decode_page_token(base64.urlsafe_b64encode(b"hardware:3").decode().rstrip("="), "hardware", 10) == 3
    assert profiles.decode_page_token(base64.urlsafe_b64encode(b'{"v":1,"o":17}').decode().rstrip("=")) == 17
    assert runs.decode_page_token(base64.urlsafe_b64encode(b"benchmarkRuns<42").decode().rstrip("=")) == 42
    assert _refused_field(runs.decode_page_token, runs.encode_page_token(10**16)) == "page_token"


# --- item 8: infinities in OK answers -----------------------------------------------------


@pytest.mark.parametrize("name", ["it_depreciation_years", "building_depreciation_years"])
@pytest.mark.parametrize("years", [1e-300, 0.49])
def test_depreciation_shorter_than_half_a_year_is_refused(name, years):
    request = _campus(accelerator_count=1024)
    setattr(request.capital_costs, name, years)
    assert _refused_field(estimate_campus, request, DEPS) == f"capital_costs.{name}"


def test_nonfinite_fields_names_every_float_path():
    response = estimator_pb2.EstimateTrainingResponse(goodput=math.nan)
    response.breakdown.cost.add(name="energy", value=1.0)
    response.breakdown.cost.add(name="rental", value=math.inf)
    response.intervals["cost_usd"].p95 = -math.inf
    assert sorted(finite.nonfinite_fields(response)) == [
        "breakdown.cost[1].value",
        "goodput",
        "intervals['cost_usd'].p95",
    ]


def test_a_nonfinite_estimate_is_failed_precondition_not_ok(caplog):
    response = estimator_pb2.EstimateCampusResponse(it_power_watts=1.0)
    response.capital_cost.add(name="annualised", value=math.inf)
    assert (
        finite.ensure_finite(estimator_pb2.EstimateCampusResponse(it_power_watts=1.0), "EstimateCampus").it_power_watts
        == 1.0
    )
    with pytest.raises(FailedPrecondition) as raised:
        finite.ensure_finite(response, "EstimateCampus")
    assert "capital_cost[0].value" in raised.value.message and raised.value.reason == "ESTIMATE_NOT_FINITE"
    assert "capital_cost[0].value" in caplog.text


def test_nonfinite_sweep_columns_are_failed_precondition():
    finite.ensure_finite_columns({"cost_usd": np.ones(3), "index": np.arange(3)}, "SweepTraining")
    with pytest.raises(FailedPrecondition, match="cost_usd"):
        finite.ensure_finite_columns({"cost_usd": np.array([1.0, math.nan])}, "SweepTraining")


# --- item 10: enums, Money, Duration, page sizes, number formatting ---------------------------


def test_unknown_activation_recompute_is_refused_like_an_unknown_precision():
    request = _training()
    request.parallelism.activation_recompute = 77
    assert _refused_field(estimate_training, request, DEPS) == "parallelism.activation_recompute"


@pytest.mark.parametrize(
    "budget, term, field",
    [
        (Money(currency_code="USD", units=10**9, nanos=-5), ONE_YEAR, "budget.nanos"),
        (Money(currency_code="USD", units=10**9, nanos=1_000_000_000), ONE_YEAR, "budget.nanos"),
        (
            Money(currency_code="USD", units=10**9),
            Duration(seconds=ONE_YEAR.seconds, nanos=2_000_000_000),
            "term.nanos",
        ),
        (Money(currency_code="USD", units=10**9), Duration(seconds=ONE_YEAR.seconds, nanos=-5), "term.nanos"),
    ],
)
def test_money_and_duration_follow_their_types_rules(budget, term, field):
    assert _refused_field(estimate_campus, _campus(budget=budget, term=term), DEPS) == field


def test_sweep_messages_show_plain_numbers():
    with pytest.raises(InvalidArgument) as raised:
        _sweep("accelerator_count", -8.0)
    assert raised.value.violations[0].description.endswith("got -8")


# --- item 9: echoed values are cut in UTF-8 bytes -------------------------------------------


def test_truncate_utf8_counts_bytes_and_never_splits_a_character():
    fire = "\U0001f525" * 1000
    cut = truncate_utf8(fire, 120)
    assert len(cut.encode()) <= 120 and cut.endswith("...") and set(cut[:-3]) == {"\U0001f525"}
    assert truncate_utf8("short", 120) == "short"


@pytest.mark.parametrize(
    "error",
    [
        NotFound("hardware", "\U0001f525" * 1000),
        InvalidArgument([FieldViolation(f"f{i}", "\U0001f525" * 1000) for i in range(30)]),
    ],
)
def test_statuses_stay_far_below_the_header_limit_whatever_the_script(error):
    status = status_for(error)
    details_bytes = sum(len(value) for _, value in status.trailing_metadata)
    message_chars = 3 * len(status.details.encode())  # grpc-message percent-encodes each non-ASCII byte
    assert 4 * details_bytes / 3 + message_chars < 14 * 1024


# --- item 7/8: amounts past their int64 fields ----------------------------------------------


def test_a_cost_past_moneys_units_is_failed_precondition_naming_it():
    # Each input within its bound, and the state fits its 4,096 accelerators (an estimate that does
    # not fit is refused first): 10^12 parameters × 10^17 tokens at 1 % goodput and $10^6 per
    # accelerator-hour cost 10^21+ USD.
    request = _training(training_tokens=10**17, sequence_length=4096, accelerator_count=4096, goodput=0.01)
    request.model.parameter_count = 10**12
    request.facility.accelerator_hour_price_usd = 1e6
    with pytest.raises(FailedPrecondition) as raised:
        estimate_training(request, DEPS)
    assert "(cost)" in raised.value.message


def test_a_campus_capital_cost_past_moneys_units_is_failed_precondition_naming_it():
    request = _campus(
        accelerator_count=100_000_000, capital_costs=estimator_pb2.CapitalCosts(building_usd_per_watt=1e8)
    )
    with pytest.raises(FailedPrecondition) as raised:
        estimate_campus(request, DEPS)
    assert "total_capital_cost" in raised.value.message


def test_int64_refuses_what_its_field_cannot_carry():
    assert finite.int64(2.0**62, "memory_per_accelerator_bytes") == 2**62
    for value in (2.0**63, -(2.0**64), math.inf, math.nan):
        with pytest.raises(FailedPrecondition, match="memory_per_accelerator_bytes"):
            finite.int64(value, "memory_per_accelerator_bytes")


# --- item 2: cheap bounds first, bounded violations ------------------------------------------


def test_a_sweep_with_too_many_axes_is_refused_before_any_axis_is_read(monkeypatch):
    """800,000 axes in one 4 MB request were each validated (7 s on the event loop, 2.8 GB) before
    the 8-axis limit applied: the count alone now refuses the request."""
    from flopwatt.service.api import sweep as sweep_api

    def never(*args, **kwargs):
        raise AssertionError("an axis was validated although the axis count already refuses the request")

    monkeypatch.setattr(sweep_api, "_axis_values", never)
    monkeypatch.setattr(sweep_api, "_check_axis", never)
    axis = estimator_pb2.SweepAxis(field="accelerator_count", values=[64.0])
    request = estimator_pb2.SweepTrainingRequest(base=_training(), axes=[axis] * 50_000)
    with pytest.raises(InvalidArgument) as raised:
        sweep_api.prepare(request, DEPS)
    assert [v.field for v in raised.value.violations] == ["axes"]
    assert "at most 8 axes, got 50,000" in raised.value.violations[0].description


def test_violations_are_capped_with_a_count_of_the_rest():
    from flopwatt.service.api.request_bounds import MAX_VIOLATIONS, Violations

    v = Violations()
    for index in range(1_000):
        v.add(f"axes[{index}].field", "unknown")
    with pytest.raises(InvalidArgument) as raised:
        v.raise_if_any()
    violations = raised.value.violations
    assert len(violations) == MAX_VIOLATIONS + 1 and all(v.field for v in violations)
    assert violations[-1].field == f"axes[{MAX_VIOLATIONS}].field"
    assert "980 more violations" in violations[-1].description


def _mi355x_serving(**fields) -> estimator_pb2.EstimateInferenceRequest:
    return estimator_pb2.EstimateInferenceRequest(
        model=common_pb2.ModelSpec(preset_id="llama-3.1-8b"),
        hardware_id="mi355x",
        accelerator_count=16,
        input_tokens=1000,
        output_tokens=100,
        **fields,
    )


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"request_rate_per_second": 1.0},
        {"concurrency": 8},
        {"slo": estimator_pb2.ServingSlo(time_per_output_token=Duration(nanos=200_000_000))},
    ],
    ids=["static", "rate", "concurrency", "slo"],
)
def test_a_replica_past_a_scale_up_domain_without_scale_out_is_refused_naming_accelerator_count(fields):
    """MI355X publishes no bandwidth between its 8-GPU nodes: a 16-GPU tensor-parallel replica's
    all-reduces had no rate, and the infinite decode step was answered ESTIMATE_NOT_FINITE
    (static), a "capacity of 0 requests/s" (a rate) or OK after NaN warnings (an SLO), and in
    MLA models INTERNAL ("cannot convert float NaN to integer"); training refuses such a count."""
    with pytest.raises(InvalidArgument) as error:
        inference.estimate_inference(_mi355x_serving(**fields), DEPS)
    assert [v.field for v in error.value.violations] == ["accelerator_count"]
    assert "at most 8" in str(error.value)


def test_a_campus_replica_past_a_scale_up_domain_without_scale_out_names_accelerators_per_replica():
    request = estimator_pb2.EstimateCampusRequest(
        accelerator_count=64,
        hardware_id="mi325x",
        inference=estimator_pb2.CampusInferenceWorkload(
            model=common_pb2.ModelSpec(preset_id="llama-3.1-8b"),
            input_tokens=1000,
            output_tokens=100,
            accelerators_per_replica=16,
        ),
    )
    with pytest.raises(InvalidArgument) as error:
        estimate_campus(request, DEPS)
    assert [v.field for v in error.value.violations] == ["inference.accelerators_per_replica"]


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {
            "slo": estimator_pb2.ServingSlo(
                time_to_first_token=Duration(seconds=10**9), time_per_output_token=Duration(seconds=10**9)
            ),
            "request_rate_per_second": 1.0,
            "disaggregation": estimator_pb2.DISAGGREGATION_REQUIRED,
            "engine": "sglang",
        },
    ],
    ids=["static", "disaggregated-slo"],
)
def test_a_kv_bound_past_int32_is_failed_precondition_naming_max_batch_size(fields):
    """A 1-layer model of latent KV rank 1 keeps 8 bytes per 2-token sequence: 4 TPU v6e hold
    3.6e9 of them, and setting the int32 max_batch_size raised "Value out of range" (INTERNAL)."""
    model = common_pb2.ModelSpec(
        layer_count=1,
        hidden_size=8192,
        attention_head_count=64,
        kv_head_count=2,
        ffn_hidden_size=2,
        vocab_size=1,
        kv_lora_rank=1,
        qk_rope_head_dim=1,
    )
    request = estimator_pb2.EstimateInferenceRequest(
        model=model, hardware_id="tpu-v6e", accelerator_count=4, input_tokens=1, output_tokens=1, **fields
    )
    with pytest.raises(FailedPrecondition) as raised:
        inference.estimate_inference(request, DEPS)
    assert "(max_batch_size)" in raised.value.message
