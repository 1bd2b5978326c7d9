"""MLPerf Training step rows (validation/data/mlperf_training.csv), held at the level reached.

Reached on 2026-11-23, nothing fitted on these rows: scored MAPE 9.7 % over five NVIDIA GPT-3
175B submissions on DGX H100 in FP8 (v3.1 10,752 GPUs −12.8 %; v4.0 512 GPUs +3.1 %, 10,752
GPUs −12.0 %, 11,616 GPUs −12.1 %; v4.1 256 GPUs +8.4 %). The Llama 3.1 405B v5.0 row (CP2) is
listed, not scored.

Blackwell rows (added 2026-11-28, nothing fitted): ten MLPerf Training v5.0/v5.1 Llama 3.1
submissions on GB200 NVL72, DGX B200 and GB300 NVL72 (405B at 256-5,120 GPUs, FP8 and NVFP4; 8B at
8 and 72 GPUs, FP8). Reached physics-alone MAPE 25.9 %, every row predicted too fast: FP8 405B
-14.5 % to -18.4 %, NVFP4 405B -27.6 % to -38.1 %, 8B -26.6 % / -34.6 %. All 16 scored rows: 19.3 %.
"""

import dataclasses
import json
import math

import pytest

from flopwatt.estimate.validation.mlperf import check_block_tokens, load_mlperf_rows, published_step_seconds, run_mlperf
from flopwatt.estimate.validation.scale_anchors import evaluate_anchor, scored_mean_absolute_percentage_error
from flopwatt.service.cli import main

REACHED_SCORED_MAPE_PERCENT = 8.3  # the six H100 rows; 8.6 before the DP overlap was bounded by compute (issue 11 item 1, 2026-11-27); 9.7 before the CP2 405B row was scored
MARGIN_PERCENT = 1.0
MAX_SCORED_ROW_ERROR = 0.15  # H100 rows; reached max |error| 12.8 % (v3.1, 10,752 GPUs)
REACHED_BLACKWELL_MAPE_PERCENT = 25.9  # the ten GB200 / B200 / GB300 rows (2026-11-28)
MAX_BLACKWELL_ROW_ERROR = 0.40  # reached max |error| 38.1 % (v5.1 405B, 512 GB300, NVFP4)
REACHED_ALL_ROWS_MAPE_PERCENT = 19.3  # all 16 scored rows
HOPPER = "h100-sxm"


@pytest.fixture(scope="module")
def results():
    return run_mlperf()


def test_every_row_names_its_submission_log_and_config():
    rows = load_mlperf_rows()
    assert {r.anchor.anchor for r in rows} >= {
        "mlperf-v3.1-gpt3-10752gpu",
        "mlperf-v4.0-gpt3-512gpu",
        "mlperf-v4.0-gpt3-10752gpu",
        "mlperf-v4.0-gpt3-11616gpu",
        "mlperf-v4.1-gpt3-256gpu",
    }
    for r in rows:
        assert r.repository.startswith("mlcommons/training_results_v") and r.round in r.repository, r.anchor.anchor
        assert len(r.commit) == 40 and int(r.commit, 16) >= 0, r.anchor.anchor
        assert r.result_path.startswith(f"{r.submitter}/results/") and r.config_path.startswith(
            f"{r.submitter}/benchmarks/"
        )
        assert r.anchor.url == f"https://github.com/{r.read_from}/blob/{r.commit}/{r.result_path}"
        assert r.anchor.source_date[:2] == "20" and r.anchor.published and r.anchor.assumed
        assert r.anchor.scored or r.anchor.exclusion_reason


def test_plans_are_the_submitted_configs():
    by_name = {r.anchor.anchor: r.anchor for r in load_mlperf_rows()}
    big = by_name["mlperf-v4.0-gpt3-11616gpu"]  # config_DGXH100_1452x8x6x4x6_mbs1_cg.sh: MINIBS 6, TP4, PP6, VP8
    assert (big.plan.tensor_parallel_size, big.plan.pipeline_parallel_size, big.plan.pipeline_interleaving) == (4, 6, 8)
    assert (
        big.accelerator_count == 1452 * 8
        and big.plan.data_parallel_size == 484
        and big.plan.global_batch_size == 6 * 484
    )
    small = by_name["mlperf-v4.0-gpt3-512gpu"]  # log: global_batch_size 2304, gradient_accumulation_steps 72
    assert small.plan.global_batch_size // (small.plan.data_parallel_size * small.plan.micro_batch_size) == 72
    assert all(a.precision == "fp8" and a.sequence_length == 2048 for n, a in by_name.items() if "gpt3" in n)
    llama = by_name["mlperf-v5.0-llama31-405b-8192gpu"]
    assert llama.plan.context_parallel_size == 2 and llama.plan.data_parallel_size == 64 and llama.scored


def test_step_time_is_block_wall_clock_over_steps_or_the_logged_mean():
    assert published_step_seconds(10, (9000.0, 11000.0), "") == pytest.approx(1.0)
    assert published_step_seconds(0, (), "5.25") == pytest.approx(5.25)
    for bad in ((0, (9000.0,), ""), (10, (0.0,), ""), (0, (), ""), (0, (), "-1")):
        with pytest.raises(ValueError):
            published_step_seconds(*bad)
    with pytest.raises(ValueError, match="block_tokens"):
        check_block_tokens(10, 55050240, 2304, 2048)  # a batch that does not divide the logged block
    check_block_tokens(10, 55050240, 2688, 2048)


def test_scored_error_stays_at_the_reached_level(results):
    scored = [m.result for m in results if m.result.anchor.scored]
    assert len(scored) == 16
    assert all(math.isfinite(r.predicted_step_seconds) and r.fits_in_memory for r in scored)
    hopper = [r for r in scored if r.anchor.hardware_id == HOPPER]
    assert len(hopper) == 6  # five GPT-3 175B rows and Llama 3.1 405B (CP2)
    assert scored_mean_absolute_percentage_error(hopper) <= REACHED_SCORED_MAPE_PERCENT + MARGIN_PERCENT
    for r in hopper:
        assert abs(r.step_time_error) < MAX_SCORED_ROW_ERROR, (r.anchor.anchor, r.step_time_error)
    blackwell = [r for r in scored if r.anchor.hardware_id != HOPPER]
    assert {r.anchor.hardware_id for r in blackwell} == {"gb200", "b200", "gb300"} and len(blackwell) == 10
    assert scored_mean_absolute_percentage_error(blackwell) <= REACHED_BLACKWELL_MAPE_PERCENT + MARGIN_PERCENT
    for r in blackwell:
        assert abs(r.step_time_error) < MAX_BLACKWELL_ROW_ERROR, (r.anchor.anchor, r.step_time_error)


def test_logs_measured_fp8_not_bf16(results):
    # the same plans at BF16 rates are 30-70 % too slow: the logs' speed needs the FP8 the configs set.
    # H100 rows only: on Blackwell the model is too fast at FP8 / NVFP4, and the 72-GPU GB200 8B row
    # is matched by the BF16 rates (+2.3 %), so the claim does not hold there.
    for m in results:
        if m.result.anchor.scored and m.result.anchor.hardware_id == HOPPER:
            bf16 = evaluate_anchor(dataclasses.replace(m.result.anchor, precision="bf16"))
            assert bf16.step_time_error > 0.25 > abs(m.result.step_time_error), m.result.anchor.anchor


def test_same_per_replica_batch_gives_the_same_step_at_10k_and_11k_gpus(results):
    # v4.0: 10,752 and 11,616 GPUs both run 6 sequences per replica; logs: 0.921 s and 0.923 s per step
    by_name = {m.result.anchor.anchor: m.result for m in results}
    a, b = by_name["mlperf-v4.0-gpt3-10752gpu"], by_name["mlperf-v4.0-gpt3-11616gpu"]
    assert a.published_step_seconds == pytest.approx(b.published_step_seconds, rel=0.01)
    assert a.predicted_step_seconds == pytest.approx(b.predicted_step_seconds, rel=0.01)


def test_validate_json_has_the_mlperf_section(capsys):
    assert main(["validate", "--json"]) == 0
    section = json.loads(capsys.readouterr().out)["mlperf_training"]
    assert section["scored_mean_absolute_percentage_error"] <= REACHED_ALL_ROWS_MAPE_PERCENT + MARGIN_PERCENT
    row = next(r for r in section["rows"] if r["anchor"] == "mlperf-v4.1-gpt3-256gpu")
    assert (
        row["steps_per_block"] == 12 and row["block_tokens"] == 12 * 2048 * 2048 and len(row["block_durations_ms"]) == 2
    )
    assert main(["validate"]) == 0
    assert "MLPerf Training: MAPE" in capsys.readouterr().out
