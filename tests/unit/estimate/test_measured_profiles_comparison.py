"""estimate/validation/measured_profiles.py on the shipped H100 profile: the datasheet path
against the card it describes (out of sample: the GEMM shape curve was fitted on A100)."""

import json
import math
import pathlib

import pytest

from flopwatt.estimate.validation.measured_profiles import SKINNY_GEMM_MAXIMUM_ROWS, compare_profile

PROFILE = pathlib.Path(__file__).resolve().parents[3] / "bench" / "results" / "h100-sxm-full.json"


@pytest.fixture(scope="module")
def comparison():
    return compare_profile(json.loads(PROFILE.read_text()), PROFILE.name)


def test_every_verified_gemm_and_attention_row_is_compared_once(comparison):
    document = json.loads(PROFILE.read_text())
    compared = sum(g.rows for g in comparison.groups)
    expected = sum(1 for r in document["results"] if r["verified"] and r["kernel"] in ("gemm", "attention"))
    assert compared == expected
    assert {f"gemm bf16, m > {SKINNY_GEMM_MAXIMUM_ROWS}", "attention bf16 forward"} <= {
        g.quantity for g in comparison.groups
    }


def test_numbers_are_finite_and_signed_as_documented(comparison):
    for group in comparison.groups:
        assert all(math.isfinite(v) for v in (group.median_signed_error_percent, group.mean_absolute_error_percent))
        assert group.rows > 0 and group.mean_absolute_error_percent >= 0
    copy = next(s for s in comparison.scalars if s.quantity == "sustained memory bandwidth")
    # a measured bandwidth above the datasheet path's means the model's memory time is too long: positive
    assert (copy.measured_value > copy.datasheet_value) == (copy.time_error_percent > 0)


def test_the_datasheet_sustained_bf16_and_fp8_gemm_rates_hold_on_the_measured_h100(comparison):
    """The catalog's sustained GEMM fractions (published mamf-finder figures) against our own
    measurement of the same card: a regression guard on those fractions, within 10 %."""
    scalars = {s.quantity: s for s in comparison.scalars}
    for precision in ("bf16", "fp8"):
        assert abs(scalars[f"sustained GEMM {precision}"].time_error_percent) < 10.0


def test_a_profile_without_a_catalog_accelerator_is_refused():
    document = json.loads(PROFILE.read_text())
    document["device"] = {**document["device"], "hardware_id": None}
    with pytest.raises(LookupError, match="no catalog accelerator"):
        compare_profile(document, "x.json")
