"""The closed loop on a CUDA device (issue 13 item 3): `flopwatt validate --local --device cuda`
runs the Llama-3.2-1B-class model at full size in bf16 (training step, KV-cached decode; DDP over
NCCL where there is one GPU per rank, else skipped with the reason) and predicts it with the
committed H100 profile (bench/results/h100-sxm-quick.json). Skipped cleanly without CUDA. The
closed loop's target (training step within 10 %) is the session's measured result, not a test:
here the binding keys are present and the error is computed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from flopwatt.bench.power import MIN_WINDOW_SECONDS
from flopwatt.bench.store import ProfileStore, database_path
from flopwatt.service.cli import main

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

H100_PROFILE = Path(__file__).resolve().parents[2] / "bench" / "results" / "h100-sxm-quick.json"
BINDING_KEYS = {"predicted_seconds", "datasheet_predicted_seconds", "measured_seconds", "error_percent"}


def test_the_1b_class_closed_loop_runs_on_the_gpu_and_computes_the_training_error(tmp_path, capsys):
    profile_id = ProfileStore(database_path(tmp_path)).save(json.loads(H100_PROFILE.read_text()))
    flags = ["--device", "cuda", "--json", "--repeats", "1", f"--data-dir={tmp_path}", f"--profile-id={profile_id}"]
    assert main(["validate", "--local", *flags]) == 0
    output = json.loads(capsys.readouterr().out)
    assert output["device"]["kind"] == "cuda" and output["device"]["hardware_id"]
    assert output["profile_id"] == profile_id and output["preset"] == "llama-3.2-1b-class"
    assert output["model"]["hidden_size"] == 2048 and output["model"]["kv_head_count"] == 8
    for check in ("training_step", "ddp_training_step", "decode_step"):
        assert BINDING_KEYS <= set(output[check]), check
    training = output["training_step"]
    assert training["measured_seconds"] > 0 and training["predicted_seconds"] > 0
    assert math.isfinite(training["error_percent"]) and math.isfinite(training["datasheet_error_percent"])
    measurement = training["measurement"]
    # the count that fitted the micro-batch is not far below what the step really allocated
    assert measurement["estimated_memory_bytes"] >= 0.75 * measurement["peak_memory_bytes"], measurement
    assert output["decode_step"]["measured_seconds"] > 0
    for check in ("training_step", "decode_step"):
        _check_power(check, output[check]["power"])
    ddp = output["ddp_training_step"]
    if torch.cuda.device_count() < 2:
        assert "1 visible" in ddp["skipped"] and ddp["measured_seconds"] is None
    else:
        assert ddp["measurement"]["backend"] == "nccl" and ddp["measurement"]["replicas_identical"] is True


def _check_power(check: str, power: dict) -> None:
    """The step's NVML window against the estimator's power for it: on a whole GPU with the
    energy counter (H100: idle ~128 W, GEMM load ~700 W) the measured watts are a board's; a
    reason instead of numbers is acceptable only where NVML cannot meter this GPU (MIG)."""
    if "skipped" in power:
        assert "MIG" in power["skipped"], (check, power)
        return
    assert math.isfinite(power["measured_watts"]) and 50 < power["measured_watts"] < 1200, (check, power)
    assert power["window"]["seconds"] >= MIN_WINDOW_SECONDS and power["steps"] >= 1, (check, power)
    for key in ("predicted_watts", "datasheet_predicted_watts", "error_percent", "datasheet_error_percent"):
        assert math.isfinite(power[key]), (check, key, power)
    for key in ("measured_joules_per_step", "predicted_joules_per_step", "datasheet_predicted_joules_per_step"):
        assert math.isfinite(power[key]) and power[key] > 0, (check, key, power)
