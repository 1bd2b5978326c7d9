"""bench/diagnostics/decode_dispatch.py on the CPU with its tiny model: every section is there
with sane numbers, the CUDA graph is skipped with a reason, the table ends stdout, and the
default model is the one the closed loop runs on each device."""

import argparse
import json

import pytest
import torch

from flopwatt.bench.diagnostics import decode_dispatch


def test_small_cpu_run_writes_every_section_and_ends_with_the_table(tmp_path, capsys):
    output = tmp_path / "decode-dispatch.json"
    assert (
        decode_dispatch.main(["--device", "cpu", "--small", "--rounds", "2", "--steps", "3", "--output", str(output)])
        == 0
    )
    document = json.loads(output.read_text())
    for key in ("wall_seconds", "host_issue_seconds", "harness_seconds"):
        summary = document[key]
        assert len(summary["samples"]) == 2 * 3
        assert 0 < summary["p10"] <= summary["median"] <= summary["p90"]
    # Paired samples: each step's host issue ends before its synchronised wall does.
    assert all(h <= w for h, w in zip(document["host_issue_seconds"]["samples"], document["wall_seconds"]["samples"]))
    assert 0 < document["host_issue_over_wall"] <= 1
    profile = document["profile"]
    assert profile["aten_ops_per_step"] >= profile["python_aten_ops_per_step"] > 10  # two layers' module calls
    assert profile["kernels_per_step"] == 0 and profile["device_kernel_seconds_per_step"] is None
    assert document["host_issue_seconds_per_kernel"] is None
    assert document["cuda_graph"] == {"skipped": "CUDA graphs need a CUDA device"}
    assert document["launch"]["plain_seconds_per_launch"] > 0 and document["launch"]["graph_seconds_per_launch"] is None
    # warm-up, 2 rounds of 3 paired + (1 + 3) harness steps, 1 + 4 profiled steps
    assert document["context_end"] - document["config"]["decode_context"] == 8 + 2 * (3 + 4) + 5
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("decode dispatch on cpu") and "host issue" in lines[-1]
    assert not any(line.startswith("{") for line in lines)  # with --output the JSON goes to the file only


def test_the_default_model_is_the_closed_loops_for_the_device():
    from flopwatt.service.cli.validate_local import model_config

    for device in ("cpu", "cuda"):
        assert decode_dispatch.diagnostic_model(device) == model_config(argparse.Namespace(), device)
    assert decode_dispatch.diagnostic_model("cuda").hidden_size == 2048
    assert decode_dispatch.diagnostic_model("cuda", small=True).dtype == "bf16"
    with pytest.raises(ValueError, match="preset"):
        decode_dispatch.diagnostic_model("cpu", preset="nope")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU answer")
def test_cuda_without_a_gpu_says_so_and_exits_2(capsys):
    assert decode_dispatch.main(["--device", "cuda", "--small"]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err
