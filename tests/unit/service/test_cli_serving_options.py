"""`flopwatt estimate inference` with the SLO, disaggregation and speculative-decoding flags."""

from __future__ import annotations

import pytest

from flopwatt.service.cli import main

INFERENCE = [
    "estimate",
    "inference",
    "--model",
    "llama-3.1-70b",
    "--hardware",
    "h100-sxm",
    "--precision",
    "fp8",
]


def test_a_disaggregated_slo_plan_prints_its_pools_transfer_and_margins(capsys):
    flags = ["--accelerators", "8", "--input-tokens", "8000", "--output-tokens", "200"]
    assert main([*INFERENCE, *flags, "--ttft-ms", "2000", "--tpot-ms", "30", "--disaggregation", "allowed"]) == 0
    out = capsys.readouterr().out
    assert "prefill TP" in out and "KV transfer" in out and "SLO margin (p99)" in out
    assert "prefill/decode disaggregation" in out


def test_speculation_flags_reach_the_request(capsys):
    flags = ["--accelerators", "2", "--input-tokens", "1000", "--output-tokens", "200", "--batch-size", "1"]
    assert main([*INFERENCE, *flags, "--draft-tokens", "3", "--acceptance-rate", "0.7"]) == 0
    assert "speculative_decoding" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--acceptance-rate", "nan", "--draft-tokens", "3"], "--acceptance-rate: "),
        (["--acceptance-rate", "0.5", "--draft-tokens", "0"], "--draft-tokens: "),
        (["--tpot-ms", "nan"], "--tpot-ms"),
        (["--disaggregation", "required"], "--disaggregation: needs slo"),
    ],
)
def test_bad_serving_flags_name_the_flag(extra, named, capsys):
    flags = ["--accelerators", "2", "--input-tokens", "1000", "--output-tokens", "200"]
    assert main([*INFERENCE, *flags, *extra]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and named in error and "Traceback" not in error
