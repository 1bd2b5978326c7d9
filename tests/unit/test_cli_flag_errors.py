"""The in-process commands answer bad flag values and bad request files with one line naming
the flag or file (exit 2), never a traceback: NaN, out-of-range and fractional counts reach
protobuf setters that raise ValueError otherwise."""

from __future__ import annotations

import json

import pytest

from flopwatt.service.cli import main

TRAINING = ["estimate", "training", "--model", "llama-3.1-70b", "--hardware", "h100-sxm", "--accelerators", "1024",
            "--tokens", "1.5e13", "--sequence-length", "8192"]


@pytest.mark.parametrize(("extra", "named"), [
    (["--tokens", "nan"], "--tokens"),
    (["--tokens", "1e30"], "--tokens"),
    (["--tokens", "1.5"], "--tokens"),
    (["--accelerators", "99999999999"], "--accelerators"),
    (["--global-batch", "99999999999999"], "--global-batch"),
    (["--parameters", "1e30"], "--parameters"),
])
def test_training_flags(extra, named, capsys):
    assert main([*TRAINING, *extra]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and named in error and "Traceback" not in error


@pytest.mark.parametrize(("extra", "named"), [
    (["--budget-usd", "nan", "--term-years", "7"], "--budget-usd"),
    (["--budget-usd", "1e30", "--term-years", "7"], "--budget-usd"),
    (["--budget-usd", "38e9", "--term-years", "inf"], "--term-years"),
    (["--accelerators", "99999999999"], "accelerator_count"),  # fits the uint64 field; the API's bound names it
])
def test_campus_flags(extra, named, capsys):
    assert main(["estimate", "campus", "--hardware", "h100-sxm", *extra]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and named in error


def test_campus_budget_with_cents_is_whole_dollars(capsys):
    from flopwatt.service.cli import build_parser
    from flopwatt.service.cli.estimate_campus import build_request

    args = build_parser().parse_args(["estimate", "campus", "--hardware", "h100-sxm", "--budget-usd", "999.9999999999", "--term-years", "1"])
    request = build_request(args)
    assert (request.budget.units, request.budget.nanos) == (1000, 0)  # nanos must stay below 1e9


def test_request_files_that_are_not_objects(tmp_path, capsys):
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps([1, 2]))
    assert main(["estimate", "training", "--request", str(listing)]) == 2
    assert main(["sweep", "--request", str(listing)]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and all(str(listing) in line and "object" in line for line in errors)


def test_sweep_validates_before_opening_the_output(tmp_path, capsys):
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"model": {"presetId": "llama-2-7b"}, "trainingTokens": "1000000000000", "sequenceLength": 4096,
                                "hardwareId": "h100-sxm", "acceleratorCount": 128}))
    out = tmp_path / "points.csv"
    assert main(["sweep", "--request", str(base), "--axis", "nope=1", "--output", str(out)]) == 2
    assert not out.exists()
    assert main(["sweep", "--request", str(base), "--axis", "accelerator_count=64", "--output", str(tmp_path / "missing" / "x.csv")]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert "axes[0].field" in errors[0] and "--output" in errors[1]


def test_collective_iterations_are_checked(capsys):
    assert main(["bench", "collectives", "--nprocs", "2", "--iterations", "0"]) == 2
    assert "--iterations" in capsys.readouterr().err


def test_health_client_certificate_needs_a_ca(tmp_path, capsys):
    assert main(["health", "--tls-cert", str(tmp_path / "c.pem"), "--tls-key", str(tmp_path / "k.pem")]) == 2
    assert "--tls-ca" in capsys.readouterr().err


def test_inference_serving_layout_flags(capsys):
    """--kv-cache-precision and --expert-parallel reach the request; a bad EP size is named."""
    base = ["estimate", "inference", "--model", "deepseek-v3", "--hardware", "h200", "--accelerators", "8", "--precision", "fp8",
            "--input-tokens", "1024", "--output-tokens", "512", "--json"]
    assert main([*base, "--expert-parallel", "8", "--kv-cache-precision", "bf16"]) == 0
    response = json.loads(capsys.readouterr().out)
    assert int(response["kvCacheBytesPerToken"]) == 61 * 576 * 2
    assert any(a["name"] == "expert_parallel_layout" for a in response["assumptions"])
    assert main([*base, "--expert-parallel", "4"]) == 2
    assert "expert_parallel_size" in capsys.readouterr().err
