"""`flopwatt report closed-loop` (issue 13 item 4): predicted vs measured per operator group and
per whole step, drawn from a stored closed-loop result."""

from __future__ import annotations

import json

import pytest

from flopwatt.service.charts import closed_loop_operator_groups
from flopwatt.service.cli import main


def _check(measured, predicted, datasheet, kinds=None, profiled=None):
    entry = {
        "measured_seconds": measured,
        "predicted_seconds": predicted,
        "datasheet_predicted_seconds": datasheet,
        "error_percent": (predicted - measured) / measured * 100,
        "measurement": {"median_seconds": measured},
    }
    if kinds:
        entry["operator_table"] = {"operators_measured": 10, "seconds_by_kind": kinds}
    if profiled:
        entry["measurement"]["operator_profile"] = {"seconds": profiled, "wall_seconds": sum(profiled.values())}
    return entry


def _stored_result() -> dict:
    """What validate --local stores for a tiny model (numbers chosen so the sums are exact)."""
    training = _check(
        0.5,
        0.45,
        0.4,
        kinds={"gemm": 0.2, "lm_head": 0.1, "attention": 0.05, "rmsnorm": 0.02, "swiglu": 0.02, "adamw": 0.06},
        profiled={"gemm": 0.22, "lm_head": 0.1, "attention": 0.06, "loss": 0.01, "optimizer": 0.07, "other": 0.04},
    )
    decode = _check(
        0.01,
        0.011,
        0.004,
        kinds={"gemm": 0.007, "lm_head": 0.002, "kv_cache_read": 0.001, "rmsnorm": 0.001},
        profiled={"gemm": 0.012, "lm_head": 0.004, "attention": 0.002, "other": 0.002},
    )
    checks = {"training_step": training, "ddp_training_step": _check(1.2, 1.0, 0.9), "decode_step": decode}
    return {
        "device": {"kind": "cpu", "name": "test CPU"},
        "profile_id": "0123456789abcdef",
        "model": {"layer_count": 2, "hidden_size": 64, "sequence_length": 32},
        "checks": checks,
        **checks,
    }


def test_operator_groups_sum_the_tables_kinds_and_scale_the_profile_to_the_median():
    result = _stored_result()
    groups, predicted, measured = closed_loop_operator_groups(result["training_step"])
    assert groups == ["gemm", "lm_head", "attention", "loss", "optimizer", "other"]
    assert dict(zip(groups, predicted)) == pytest.approx(
        {"gemm": 0.2, "lm_head": 0.1, "attention": 0.05, "loss": 0.0, "optimizer": 0.06, "other": 0.04}
    )
    assert sum(measured) == pytest.approx(0.5)  # the profiled groups add up to the measured median
    assert measured[0] == pytest.approx(0.22 * 0.5 / 0.5)
    decode = dict(zip(*closed_loop_operator_groups(result["decode_step"])[::2]))
    assert sum(decode.values()) == pytest.approx(0.01) and decode["gemm"] == pytest.approx(0.006)
    assert closed_loop_operator_groups(result["ddp_training_step"]) is None  # not profiled


def test_report_closed_loop_draws_a_stored_result(tmp_path, capsys):
    stored = tmp_path / "closed_loop" / "closed-loop-0123456789abcdef-20261127T000000Z.json"
    stored.parent.mkdir()
    stored.write_text(json.dumps(_stored_result()))
    output = tmp_path / "loop.svg"
    assert main(["report", "closed-loop", str(stored), "--output", str(output)]) == 0
    svg = output.read_text()
    assert svg.startswith("<?xml") and "wrote" in capsys.readouterr().out
    assert "training step by operator" in svg and "decode step by operator" in svg and "whole step" in svg
    # without a file: the newest stored result in the data directory
    again = tmp_path / "again.png"
    assert main(["report", "closed-loop", "--data-dir", str(tmp_path), "--output", str(again)]) == 0
    assert again.read_bytes().startswith(b"\x89PNG")


def test_report_closed_loop_says_what_is_missing(tmp_path, capsys):
    assert main(["report", "closed-loop", "--data-dir", str(tmp_path), "--output", str(tmp_path / "x.png")]) != 0
    assert "no closed-loop result" in capsys.readouterr().err
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"profile_id": None}))
    assert main(["report", "closed-loop", str(other), "--output", str(tmp_path / "x.png")]) != 0
    assert "not a closed-loop result" in capsys.readouterr().err


@pytest.mark.parametrize("document", [[1, 2], 3, "text", None])
def test_report_closed_loop_refuses_json_that_is_not_an_object(document, tmp_path, capsys):
    """Valid JSON of another shape: one line, exit 2, not an AttributeError traceback."""
    other = tmp_path / "list.json"
    other.write_text(json.dumps(document))
    assert main(["report", "closed-loop", str(other), "--output", str(tmp_path / "x.png")]) == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error and error.count("\n") == 1 and "not a closed-loop result" in error
