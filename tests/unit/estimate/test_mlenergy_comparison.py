"""Issue 12 item 5: energy per output token compared with the ML.ENERGY leaderboard (a comparison,
never a fit): the transcribed rows keep their arithmetic, and the prediction moves with the load
the way the measurement does."""

from __future__ import annotations

from importlib import resources

import pytest

from flopwatt.estimate.validation.mlenergy import DATA_FILE, EnergyDataError, compare, load_energy_rows


def test_rows_keep_their_arithmetic_and_source():
    rows = load_energy_rows()
    assert len(rows) >= 30 and {row.model for row in rows} == {"llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b"}
    assert all(row.source_file.endswith("__lm-arena-chat.json") and row.hardware_id == "h100-sxm" for row in rows)
    text = resources.files("flopwatt.estimate.validation").joinpath("data", DATA_FILE).read_text()
    with pytest.raises(EnergyDataError, match="J/token"):
        load_energy_rows(text.replace(",0.4548,", ",0.5548,", 1))  # J/token no longer power ÷ throughput


def test_predicted_energy_per_token_falls_with_the_running_batch_like_the_measured():
    by_model: dict[str, list] = {}
    for c in compare():
        by_model.setdefault(c.model, []).append(c)
    for comparisons in by_model.values():
        comparisons.sort(key=lambda c: c.running_batch)
        assert comparisons[0].predicted_joules_per_output_token > comparisons[-1].predicted_joules_per_output_token
        assert comparisons[0].measured_joules_per_output_token > comparisons[-1].measured_joules_per_output_token


def test_predicted_power_does_not_fall_from_the_smallest_to_the_largest_batch_like_the_measured():
    """The measured power per GPU rises with the running batch on every model; the busy-fraction
    model's fell (8B 447 → 389 W). Serving power from measured work (accelerator_power.py) rises
    as prefill chunks and compute-bound GEMMs take more of the step. A direction, not a level:
    nothing is fitted on these rows."""
    by_model: dict[str, list] = {}
    for c in compare():
        by_model.setdefault(c.model, []).append(c)
    for comparisons in by_model.values():
        comparisons.sort(key=lambda c: c.running_batch)
        smallest, largest = comparisons[0], comparisons[-1]
        assert smallest.measured_power_watts < largest.measured_power_watts
        assert smallest.predicted_power_watts <= largest.predicted_power_watts


def test_each_comparison_splits_energy_into_throughput_and_power_on_both_sides():
    """J/token = power ÷ output tokens/s, measured and predicted, so the table says which factor
    an energy error comes from (a throughput model and a power model have different fixes)."""
    for c in compare():
        assert c.measured_power_watts / c.measured_output_tokens_per_second == pytest.approx(
            c.measured_joules_per_output_token, rel=0.01
        )
        assert c.predicted_power_watts / c.predicted_output_tokens_per_second == pytest.approx(
            c.predicted_joules_per_output_token
        )
        assert 1 + c.error_percent / 100 == pytest.approx(  # the published J/token: power ÷ tokens/s within 1 %
            (1 + c.power_error_percent / 100) / (1 + c.throughput_error_percent / 100), rel=0.01
        )


def test_the_validate_report_carries_the_factors_medians():
    from flopwatt.service.cli.validate_serving import energy_report

    report = energy_report()
    assert {"median_abs_throughput_error_percent", "median_abs_power_error_percent"} <= set(report)
    assert all(
        {"throughput_error_percent", "power_error_percent", "predicted_power_watts"} <= set(r) for r in report["rows"]
    )
