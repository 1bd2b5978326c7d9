"""The closed loop (issue 13 item 3) end to end on the CPU with a tiny model: `flopwatt validate
--local --json` runs real training, DDP (2 gloo ranks on loopback) and KV-cached decode steps and
prints predicted vs measured seconds for the datasheet and the profile paths."""

from __future__ import annotations

import json
import math

from flopwatt.bench.closed_loop import ClosedLoopModel, build_model, measure_ddp_training
from flopwatt.bench.closed_loop_power import CPU_REASON
from flopwatt.bench.profile import derive_ceilings, derive_efficiency
from flopwatt.bench.store import ProfileStore, database_path
from flopwatt.service.cli import main
from tests.profile_documents import _result, minimal_profile

TINY = {
    "layer_count": 2,
    "hidden_size": 64,
    "attention_head_count": 4,
    "ffn_hidden_size": 128,
    "vocab_size": 256,
    "sequence_length": 32,
    "warmup_steps": 1,
    "timed_steps": 2,
    "decode_batch": 2,
    "decode_context": 16,
    "decode_tokens": 3,
}
TINY_FLAGS = [f"--{name.replace('_', '-')}={value}" for name, value in TINY.items()]
ENTRY_KEYS = {"predicted_seconds", "datasheet_predicted_seconds", "measured_seconds", "error_percent"}


def _fp32_profile() -> dict:
    """The shared test profile plus an fp32 GEMM (the closed loop runs fp32)."""
    document = minimal_profile()
    results = document["results"] + [
        _result("gemm", "fp32", {"m": 64, "n": 64, "k": 64}, 2 * 64**3, 3 * 64 * 64 * 4, 1e-5)
    ]
    ceilings = derive_ceilings(results)
    document.update(results=results, ceilings=ceilings, efficiency=derive_efficiency(results, ceilings))
    return document


def test_validate_local_json_end_to_end_with_a_profile(tmp_path, capsys):
    profile_id = ProfileStore(database_path(tmp_path)).save(_fp32_profile())
    code = main(["validate", "--local", "--json", f"--data-dir={tmp_path}", f"--profile-id={profile_id}", *TINY_FLAGS])
    assert code == 0
    output = json.loads(capsys.readouterr().out)
    assert output["profile_id"] == profile_id and output["device"]["kind"] == "cpu"
    for check in ("training_step", "ddp_training_step", "decode_step"):
        entry = output[check]
        assert ENTRY_KEYS <= set(entry), check
        assert all(math.isfinite(entry[key]) for key in ENTRY_KEYS), (check, entry)
        assert entry["measured_seconds"] > 0 and entry["predicted_seconds"] > 0
        assert entry["datasheet_predicted_seconds"] > 0
        expected = (entry["predicted_seconds"] - entry["measured_seconds"]) / entry["measured_seconds"] * 100
        assert math.isclose(entry["error_percent"], expected, rel_tol=1e-9)
    assert output["ddp_training_step"]["measurement"]["replicas_identical"] is True
    # power is measured on CUDA only: on the CPU each measured step says why, with no number
    for check in ("training_step", "decode_step"):
        assert output[check]["power"] == {"skipped": CPU_REASON}, check
    assert "power" not in output["ddp_training_step"]
    stored = list((tmp_path / "closed_loop").glob(f"closed-loop-{profile_id}-*.json"))
    assert len(stored) == 1 and json.loads(stored[0].read_text())["profile_id"] == profile_id


def test_validate_local_without_a_profile_says_so(tmp_path, capsys):
    flags = [f"--data-dir={tmp_path}", "--checks=training_step,decode_step", *TINY_FLAGS]
    assert main(["validate", "--local", "--json", *flags]) == 0
    output = json.loads(capsys.readouterr().out)
    assert output["profile_id"] is None and "no measured profile" in output["note"]
    assert "ddp_training_step" not in output
    for check in ("training_step", "decode_step"):
        assert output[check]["predicted_seconds"] is None and output[check]["error_percent"] is None
        assert output[check]["measured_seconds"] > 0 and output[check]["datasheet_predicted_seconds"] > 0
    assert not (tmp_path / "closed_loop").exists()  # stored only with a profile
    assert main(["validate", "--local", *flags]) == 0  # the text table
    table = capsys.readouterr().out
    assert "training_step" in table and "decode_step" in table and "datasheet s" in table


def test_ddp_step_over_two_gloo_ranks_on_loopback():
    result = measure_ddp_training(ClosedLoopModel(**TINY))
    assert result["world_size"] == 2 and result["backend"] == "gloo"
    assert result["median_seconds"] > 0 and len(result["samples_seconds"]) == TINY["timed_steps"]
    assert result["replicas_identical"] is True  # DDP averaged the gradients: same weights on both ranks


def test_model_shape_matches_the_numbers():
    config = ClosedLoopModel(**TINY)
    model = build_model(config)
    h, f, v, layers = config.hidden_size, config.ffn_hidden_size, config.vocab_size, config.layer_count
    per_layer = 4 * h * h + 3 * h * f + 2 * h  # q, k, v, out; gate, up, down; two RMSNorm weights
    assert sum(p.numel() for p in model.parameters()) == layers * per_layer + 2 * v * h + h


def test_profile_flags_need_local(capsys):
    assert main(["validate", "--measure"]) != 0
    assert "--local" in capsys.readouterr().err


def test_validate_local_predicts_from_a_workload_profiles_operator_table(tmp_path, capsys):
    """--measure-workload (issue 13 item 2): the workload suite on the model's own shapes, then
    every operator of the rebuilt steps is found in its table and predicted_seconds comes from it."""
    code = main(["validate", "--local", "--json", "--measure-workload", f"--data-dir={tmp_path}", *TINY_FLAGS])
    assert code == 0
    output = json.loads(capsys.readouterr().out)
    document = ProfileStore(database_path(tmp_path)).get(output["profile_id"])
    assert document["suite"] == "workload" and document["workload"]["hidden_size"] == TINY["hidden_size"]
    for check in ("training_step", "ddp_training_step", "decode_step"):
        entry = output[check]
        assert entry["predicted_from"] == "operator_table", check
        coverage = entry["operator_table"]
        assert coverage["operators_measured"] > 0 and coverage["operators_fallback"] == 0, (check, coverage)
        assert coverage["operators_interpolated"] == 0
        assert entry["predicted_seconds"] > 0 and math.isfinite(entry["error_percent"])
        assert entry["ceilings_predicted_seconds"] > 0 and entry["datasheet_predicted_seconds"] > 0
    # the operator sum: the training step is more than its single largest operator
    # (the DP collectives are the DDP step's, not the single-process step's: they have a mean only)
    largest = max(
        row["seconds"]["median"]
        for row in document["operators"]
        if row["phase"] == "training" and "median" in row["seconds"]
    )
    assert output["training_step"]["predicted_seconds"] > largest
    assert main(["validate", "--local", "--measure", "--measure-workload", f"--data-dir={tmp_path}"]) != 0
    assert "one of --profile-id" in capsys.readouterr().err
