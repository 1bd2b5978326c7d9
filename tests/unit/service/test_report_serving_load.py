"""`flopwatt report serving-load` and `flopwatt estimate inference --concurrency|--request-rate`."""

from __future__ import annotations

from flopwatt.service.cli import main
from flopwatt.service.cli.report import concurrency_sweep

LOAD = ["--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--input-tokens", "2000", "--output-tokens", "200"]


def test_the_sweep_runs_one_to_512_by_doubling():
    assert concurrency_sweep(512) == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    assert concurrency_sweep(250)[-2:] == [128, 250]


def test_report_serving_load_draws_the_chart(tmp_path, capsys):
    output = tmp_path / "load.svg"
    assert main(["report", "serving-load", *LOAD, "--max-concurrency", "64", "--output", str(output)]) == 0
    assert output.read_text().startswith("<?xml") and "wrote" in capsys.readouterr().out


def test_report_serving_load_refuses_a_bad_suffix(tmp_path, capsys):
    assert main(["report", "serving-load", *LOAD, "--output", str(tmp_path / "load.txt")]) == 2
    assert "png or .svg" in capsys.readouterr().err


def test_estimate_inference_at_a_concurrency_prints_p50_p99_and_the_queue(capsys):
    command = ["estimate", "inference", *LOAD, "--accelerators", "1"]
    assert main([*command, "--concurrency", "1000"]) == 0
    out = capsys.readouterr().out
    assert "TTFT p50 / p99" in out and "queueing delay" in out and "running batch" in out
    assert main([*command, "--request-rate", "1"]) == 0
    assert "TPOT p50 / p99" in capsys.readouterr().out
    assert main([*command, "--request-rate", "1e5"]) != 0
    assert "capacity" in capsys.readouterr().err
