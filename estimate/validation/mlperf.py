"""MLPerf Training step rows: the step model against steps timed in published submission logs.

MLPerf Training's score is time-to-train, which mixes the step time with evaluation pauses and a
convergence-dependent step count (neither is the estimator's business). The result logs also
carry what this module needs: every submission logs MLLOG `block_start` / `block_stop` events
around each run of training steps between evaluations, with the block's sample count, and its
config file states the plan (TP, PP, interleaving, micro-batch, per-replica batch, FP8). Each row
of validation/data/mlperf_training.csv is one submission: the plan from its config, the block
durations copied from its log (milliseconds, MLLOG timestamps), and the steps per block (block
samples ÷ global batch). The published step time is the mean block duration ÷ steps per block:
wall clock of training only, evaluation excluded. Where a log has no block timestamps per step
(Llama 3.1 405B, v5.0), the log's own block-mean `train_step_time` is used (`logged_step_seconds`).

The rows are evaluated exactly like the step anchors at scale (scale_anchors.evaluate_anchor, on
the catalog accelerator at the published plan and precision); nothing is fitted on them. Rows
whose plan uses a feature the model lacks (context parallelism) are listed, not scored.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

from flopwatt.estimate.catalog import get_model_preset
from flopwatt.estimate.validation.scale_anchors import (
    METRIC_STEP_SECONDS,
    AnchorResult,
    ScaleAnchor,
    anchor_from_row,
    evaluate_anchor,
)

DATA_FILE = "mlperf_training.csv"
MILLISECONDS_PER_SECOND = 1000.0
GITHUB_BLOB_URL = "https://github.com/{repository}/blob/{commit}/{path}"


@dataclass(frozen=True)
class MLPerfRow:
    """One submission: the anchor the step model is scored on, plus where its numbers were read."""

    anchor: ScaleAnchor
    benchmark: str
    round: str
    submitter: str
    system: str
    steps_per_block: int  # 0 when the step time is the log's own mean (logged_step_seconds)
    block_tokens: int  # tokens per block between evaluations (MLLOG epoch_count); 0 when not used
    block_durations_milliseconds: tuple[float, ...]
    repository: str
    read_from: str  # the indexed copy the figures were read from (a mirror where upstream was not indexed)
    commit: str
    config_path: str
    result_path: str


@dataclass(frozen=True)
class MLPerfResult:
    row: MLPerfRow
    result: AnchorResult


def published_step_seconds(
    steps_per_block: int, block_durations_milliseconds: tuple[float, ...], logged_step_seconds: str
) -> float:
    """Mean seconds per training step: block wall clock ÷ steps per block, or the logged mean.

    Raises ValueError when the row gives neither, or a block duration is not positive."""
    if block_durations_milliseconds:
        if steps_per_block < 1 or min(block_durations_milliseconds) <= 0:
            raise ValueError("block durations need a positive steps_per_block and positive durations")
        mean_block_ms = sum(block_durations_milliseconds) / len(block_durations_milliseconds)
        return mean_block_ms / MILLISECONDS_PER_SECOND / steps_per_block
    if logged_step_seconds.strip():
        value = float(logged_step_seconds)
        if value <= 0:
            raise ValueError("logged_step_seconds must be positive")
        return value
    raise ValueError("a row needs block_durations_ms with steps_per_block, or logged_step_seconds")


def check_block_tokens(
    steps_per_block: int, block_tokens: int, global_batch_sequences: int, sequence_length: int
) -> None:
    """The log's tokens per block (MLLOG `epoch_count`) must be whole steps of the row's batch:
    a check that the plan's batch and the steps per block were transcribed consistently."""
    if block_tokens != steps_per_block * global_batch_sequences * sequence_length:
        raise ValueError(
            f"block_tokens {block_tokens} != steps_per_block {steps_per_block} × batch {global_batch_sequences} "
            f"× sequence {sequence_length}"
        )


def _row_to_mlperf(row: dict[str, str]) -> MLPerfRow:
    blocks = tuple(float(v) for v in row["block_durations_ms"].split(";") if v.strip())
    steps = int(row["steps_per_block"]) if row["steps_per_block"].strip() else 0
    if row["block_tokens"].strip():
        try:
            check_block_tokens(
                steps, int(row["block_tokens"]), int(row["global_batch_sequences"]), int(row["sequence_length"])
            )
        except ValueError as exc:
            raise ValueError(f"{row['anchor']}: {exc}") from exc
    try:
        step_seconds = published_step_seconds(steps, blocks, row["logged_step_seconds"])
    except ValueError as exc:
        raise ValueError(f"{row['anchor']}: {exc}") from exc
    url = GITHUB_BLOB_URL.format(repository=row["read_from"], commit=row["commit"], path=row["result_path"])
    anchor = anchor_from_row(
        row,
        arch=get_model_preset(row["model_preset"]).architecture,
        url=url,
        published_metric=METRIC_STEP_SECONDS,
        published_value=step_seconds,
        source=f"MLPerf Training {row['round']}, {row['submitter']} {row['system']}, {row['result_path']}",
    )
    return MLPerfRow(
        anchor=anchor,
        benchmark=row["benchmark"],
        round=row["round"],
        submitter=row["submitter"],
        system=row["system"],
        steps_per_block=steps,
        block_tokens=int(row["block_tokens"] or 0),
        block_durations_milliseconds=blocks,
        repository=row["repository"],
        read_from=row["read_from"],
        commit=row["commit"],
        config_path=row["config_path"],
        result_path=row["result_path"],
    )


def load_mlperf_rows() -> list[MLPerfRow]:
    text = resources.files("flopwatt.estimate.validation").joinpath("data", DATA_FILE).read_text()
    return [_row_to_mlperf(row) for row in csv.DictReader(text.splitlines())]


def run_mlperf() -> list[MLPerfResult]:
    return [MLPerfResult(row, evaluate_anchor(row.anchor)) for row in load_mlperf_rows()]
