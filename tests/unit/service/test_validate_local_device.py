"""`flopwatt validate --local --device`: device selection, the model the flags and presets make,
the DDP check skipped with its reason where there are too few GPUs, and the CUDA predictions
(datasheet path on the detected GPU's catalog entry, profile path with the committed H100
profile) computed on the CPU from a stand-in measurement. The GPU run itself is tests/gpu."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest

from flopwatt.bench.closed_loop import ddp_unavailable_reason
from flopwatt.bench.closed_loop_model import PRESETS, ClosedLoopModel
from flopwatt.estimate.catalog.loader import get_hardware
from flopwatt.estimate.hardware import datasheet_hardware_model
from flopwatt.estimate.profile_checks import identify_hardware
from flopwatt.service.charts import closed_loop_chart
from flopwatt.service.cli import main
from flopwatt.service.cli.errors import CliError
from flopwatt.service.cli.validate_local import (
    LocalDevice,
    _runnable_checks,
    architecture,
    closed_loop_result,
    model_config,
    predict,
    register_arguments,
    resolve_device,
    with_local_defaults,
)

H100_PROFILE = Path(__file__).resolve().parents[3] / "bench" / "results" / "h100-sxm-quick.json"


def _args(*flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register_arguments(parser)
    return with_local_defaults(parser.parse_args(list(flags)))


@pytest.mark.parametrize(
    "flags",
    [
        ["--device", "cuda"],
        ["--device", "cpu"],  # typed with its default value: still a closed-loop flag
        ["--measure-workload"],
        ["--repeats", "0"],
        ["--preset", "small"],
        ["--profile-id", "abc"],
        ["--checks", "decode_step"],
        ["--layer-count", "2"],
        ["--data-dir", "/tmp/x"],
        ["--no-power"],
    ],
)
def test_closed_loop_flags_without_local_are_refused_naming_the_flag(flags, capsys):
    """Without --local the published-data validation ran and these flags were silently ignored."""
    assert main(["validate", *flags]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and flags[0] in error and "--local" in error and "Traceback" not in error


def test_device_selection():
    assert resolve_device("cpu", True) == "cpu"
    assert resolve_device("auto", True) == "cuda" and resolve_device("auto", False) == "cpu"
    assert resolve_device("cuda", True) == "cuda"
    with pytest.raises(CliError, match="--device cuda: torch sees no CUDA device"):
        resolve_device("cuda", False)
    with pytest.raises(CliError, match="--device: expected one of cpu, cuda, auto, got 'gpu'"):
        resolve_device("gpu", True)


def test_without_a_gpu_the_cli_says_so_for_cuda_and_names_a_bad_device(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this host has a GPU")
    assert main(["validate", "--local", "--device", "cuda"]) != 0
    assert "torch sees no CUDA device" in capsys.readouterr().err
    assert main(["validate", "--local", "--device", "tpu"]) != 0
    assert "--device: expected one of cpu, cuda, auto" in capsys.readouterr().err


def test_the_cpu_default_is_the_small_fp32_model_unchanged():
    assert model_config(_args(), "cpu") == ClosedLoopModel()
    assert model_config(_args(), "cpu").dtype == "fp32"


def test_the_cuda_default_is_the_1b_class_preset_in_bf16_with_its_micro_batch_fitted():
    config = model_config(_args(), "cuda", 80 * 2**30)
    assert config == PRESETS["llama-3.2-1b-class"] and config.dtype == "bf16" and config.micro_batch_size == 4
    assert model_config(_args(), "cuda", 40 * 2**30).micro_batch_size == 2  # halved to fit
    given = model_config(_args("--micro-batch-size", "4"), "cuda", 40 * 2**30)
    assert given.micro_batch_size == 4  # a micro-batch given as a flag is kept
    small = model_config(_args("--preset", "small", "--kv-head-count", "2"), "cuda", 80 * 2**30)
    assert small.dtype == "bf16" and small.key_value_heads == 2 and small.hidden_size == 512


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--preset", "gpt-9"), "--preset: expected one of small, llama-3.2-1b-class"),
        (("--kv-head-count", "3"), "kv_head_count: must divide attention_head_count (8), got 3"),
        (("--dtype", "fp16"), "dtype: expected one of"),
        (("--micro-batch-size", "0"), "micro_batch_size: must be an integer ≥ 1, got 0"),
    ],
)
def test_bad_model_flags_name_the_field(flags, message):
    with pytest.raises(CliError, match=message.replace("(", r"\(").replace(")", r"\)")):
        model_config(_args(*flags), "cpu")


def test_one_sequence_that_does_not_fit_the_gpu_names_the_micro_batch():
    with pytest.raises(CliError, match="micro_batch_size: even 1 sequence of 2048 tokens"):
        model_config(_args(), "cuda", 8 * 2**30)


def test_ddp_on_cuda_needs_a_device_per_rank_and_is_skipped_with_the_reason():
    config = PRESETS["llama-3.2-1b-class"]
    assert ddp_unavailable_reason(config, "cpu") is None
    assert ddp_unavailable_reason(config, "cuda", visible_devices=2) is None
    reason = ddp_unavailable_reason(config, "cuda", visible_devices=1)
    assert reason == "DDP over NCCL needs 2 CUDA devices (one per rank), 1 visible"
    with pytest.raises(ValueError, match="^device: "):
        ddp_unavailable_reason(config, "tpu")


def test_the_architecture_carries_the_kv_heads():
    assert architecture(PRESETS["llama-3.2-1b-class"]).kv_head_count == 8
    assert architecture(ClosedLoopModel()).kv_head_count == 8 == ClosedLoopModel().attention_head_count


def _cuda_device(hardware_id: str) -> LocalDevice:
    description = {"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "hardware_id": hardware_id}
    return LocalDevice("cuda", description, get_hardware(hardware_id))


def _stand_in_measurement(config: ClosedLoopModel) -> dict:
    """Measured-looking checks (their seconds are arbitrary: the test checks the predictions'
    plumbing, not their accuracy)."""
    decode_start = config.decode_context + config.warmup_steps
    return {
        "training_step": {"median_seconds": 0.5, "samples_seconds": [0.5]},
        "decode_step": {
            "median_seconds": 0.004,
            "samples_seconds": [0.004],
            "batch": config.decode_batch,
            "context_start": decode_start,
            "context_end": decode_start + config.decode_tokens,
        },
    }


def test_cuda_predictions_use_the_detected_gpus_catalog_entry_and_a_measured_gpu_profile():
    config = PRESETS["llama-3.2-1b-class"]
    assert identify_hardware({"kind": "cuda", "name": "NVIDIA H100 80GB HBM3"}) == "h100-sxm"
    document = json.loads(H100_PROFILE.read_text())
    measured = _stand_in_measurement(config)
    skipped = {"ddp_training_step": "DDP over NCCL needs 2 CUDA devices (one per rank), 1 visible"}
    result = closed_loop_result(config, measured, "h100-quick", document, _cuda_device("h100-sxm"), skipped)
    training = result["training_step"]
    # bf16 on an H100: the step's model FLOPs (6 · parameters · tokens) at the datasheet peak
    # bound the prediction from below; both paths land within a few times of that bound
    tokens = config.micro_batch_size * config.sequence_length
    floor = 6 * 1.498e9 * tokens / get_hardware("h100-sxm").peak_flops_per_second["bf16"]
    for key in ("datasheet_predicted_seconds", "predicted_seconds"):
        assert floor < training[key] < 4 * floor, (key, training[key], floor)
    assert training["predicted_from"] == "ceilings" and math.isfinite(training["error_percent"])
    assert result["decode_step"]["predicted_seconds"] > 0
    assert result["ddp_training_step"] == {
        "predicted_seconds": None,
        "datasheet_predicted_seconds": None,
        "measured_seconds": None,
        "error_percent": None,
        "skipped": skipped["ddp_training_step"],
    }
    assert result["device"]["hardware_id"] == "h100-sxm"


def test_a_profile_from_another_device_kind_is_refused():
    config = PRESETS["llama-3.2-1b-class"]
    document = json.loads(H100_PROFILE.read_text())
    with pytest.raises(CliError, match="measured on cuda, the closed loop runs on cpu"):
        closed_loop_result(config, _stand_in_measurement(config), "h100-quick", document)


def test_ddp_on_gpus_is_the_estimators_dp_step_not_ranks_sharing_one_host():
    config = ClosedLoopModel(micro_batch_size=2, dtype="bf16")
    hw = datasheet_hardware_model(get_hardware("h100-sxm"), "bf16")
    checks = {"training_step": {}, "ddp_training_step": {}}
    on_gpus = predict(config, hw, checks, "cuda")
    on_cpu = predict(config, hw, checks, "cpu")
    assert on_gpus["training_step"] <= on_gpus["ddp_training_step"] < 2 * on_gpus["training_step"]
    assert on_cpu["ddp_training_step"] > 1.5 * on_gpus["ddp_training_step"]  # the CPU's ranks share its cores


def test_a_skipped_check_is_left_out_of_the_chart(tmp_path):
    config = PRESETS["llama-3.2-1b-class"]
    document = json.loads(H100_PROFILE.read_text())
    skipped = {"ddp_training_step": "one GPU"}
    result = closed_loop_result(
        config, _stand_in_measurement(config), "h100-quick", document, _cuda_device("h100-sxm"), skipped
    )
    assert closed_loop_chart(result, tmp_path / "loop.png").stat().st_size > 0


def test_runnable_checks_drop_ddp_on_a_single_gpu_and_say_why(monkeypatch):
    import flopwatt.bench.closed_loop as closed_loop

    monkeypatch.setattr(closed_loop, "ddp_unavailable_reason", lambda config, device: "one GPU")
    checks, skipped = _runnable_checks(_args(), ClosedLoopModel(), "cuda")
    assert checks == ("training_step", "decode_step") and skipped == {"ddp_training_step": "one GPU"}
    with pytest.raises(CliError, match=r"nothing left to run \(one GPU\)"):
        _runnable_checks(_args("--checks", "ddp_training_step"), ClosedLoopModel(), "cuda")
    with pytest.raises(CliError, match="--checks: expected some of"):
        _runnable_checks(_args("--checks", "warp"), ClosedLoopModel(), "cpu")
