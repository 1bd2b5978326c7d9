"""MosaicML llm-foundry MPT training throughput: a held-out table in the FSDP regime.

Why this table exists. The step anchors and MLPerf rows are Megatron-style plans (TP/PP, large
models, 2-8k tokens) and the model meets them within ~10 %. The whole runs with unpublished
plans (docs/estimation.md, "Whole-run validation": Llama 2 7B-70B on A100, Llama 3.1 70B) are
where the model is 30-40 % optimistic, and those runs are data-parallel-heavy plans of small and
mid-size models. MosaicML's benchmark README (mosaicml/llm-foundry,
scripts/train/benchmarking/README.md) publishes the measured throughput of exactly that regime:
PyTorch FSDP FULL_SHARD (ZeRO-3) at TP1 PP1, MPT 125M-70B, sequences of 512 to 65,536 tokens,
8-128 GPUs, H100 (BF16, FP8) and A100 40/80 GB, each row with its micro-batch, gradient
accumulation, global batch and activation-checkpointing setting. validation/data/
llm_foundry_mpt.csv holds one row per published row (what is published and what we assumed
per row, the README's commit); nothing is fitted on it.

Each row is evaluated like the step anchors (scale_anchors.evaluate_anchor: the step model on the
catalog accelerator at the published plan and precision), comparing step time = global batch
tokens ÷ (published tokens/s/GPU × GPUs). The loader refuses a row whose GlobalBatchSize is not
MicroBatchSize × GradAccum × GPUs, whose NumParams is not the MPT count of its size's yaml
architecture at its sequence length (the check that size and sequence were transcribed
consistently), or whose stated cluster bandwidth differs from the catalog node's (the step model
would then run on the wrong network: evaluate_anchor uses the catalog accelerator).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import numpy as np

from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.catalog import get_hardware
from flopwatt.estimate.validation.mlperf import GITHUB_BLOB_URL
from flopwatt.estimate.validation.scale_anchors import (
    METRIC_TOKENS,
    AnchorResult,
    ScaleAnchor,
    anchor_from_row,
    evaluate_anchor,
)

DATA_FILE = "llm_foundry_mpt.csv"
REPOSITORY = "mosaicml/llm-foundry"
README_PATH = "scripts/train/benchmarking/README.md"
BITS_PER_BYTE = 8.0
GIGA = 1e9


@dataclass(frozen=True)
class MPTSize:
    """One MPT size as its pretraining yaml defines it (`model:` block), with where it was read.

    MPT (the configs the benchmark ran): multi-head attention, a two-matrix GeLU MLP of
    expansion_ratio × d_model, tied input/output embeddings, learned positional embeddings and
    biases (MPTConfig defaults `learned_pos_emb: True`, `no_bias: False`; the benchmark's
    NumParams grows with the sequence length by d_model per position and matches only with
    biases), no dropout (MPTConfig defaults resid_pdrop = emb_pdrop = attn_pdrop = 0.0)."""

    d_model: int
    n_heads: int
    n_layers: int
    expansion_ratio: int
    vocab_size: int
    yaml_path: str
    yaml_commit: str

    def architecture(self) -> ModelArchitecture:
        """The step model's description. Positional embeddings and biases are left out: they
        are under 1 % of the parameters and FLOPs (the model has no field for them)."""
        return ModelArchitecture(
            layer_count=self.n_layers,
            hidden_size=self.d_model,
            attention_head_count=self.n_heads,
            kv_head_count=self.n_heads,
            ffn_hidden_size=self.expansion_ratio * self.d_model,
            vocab_size=self.vocab_size,
            gated_mlp=False,
            tied_embeddings=True,
            dropout=False,
        )

    def parameter_count(self, max_seq_len: int) -> int:
        """MPT's parameter count with learned positions and biases: tied embedding V·d, positions
        s·d, per block the attention (4d² + 4d) and MLP (2e·d² + e·d + d) matrices and biases
        plus two LayerNorms (4d), and the final LayerNorm (2d)."""
        d, e = self.d_model, self.expansion_ratio
        block = (4 + 2 * e) * d * d + (4 + e + 1 + 4) * d
        return self.vocab_size * d + max_seq_len * d + self.n_layers * block + 2 * d


_YAML = "scripts/train/yamls/pretrain/mpt-{size}.yaml"
# d_model, n_heads, n_layers, expansion_ratio, vocab_size as read from each yaml at the commit given.
MPT_SIZES: dict[str, MPTSize] = {
    "125m": MPTSize(768, 12, 12, 4, 50368, _YAML.format(size="125m"), "2a59782a6754ab8f446836003c86208fcbd69ef2"),
    "350m": MPTSize(1024, 16, 24, 4, 50368, _YAML.format(size="350m"), "2a59782a6754ab8f446836003c86208fcbd69ef2"),
    "760m": MPTSize(1536, 12, 24, 4, 50368, _YAML.format(size="760m"), "39393a21d451b7fc0fc342b0a2470d5ec59952f5"),
    "1b": MPTSize(2048, 16, 24, 4, 50368, _YAML.format(size="1b"), "06560d59cb6e4788fe75d234748547334b88db2d"),
    "3b": MPTSize(2560, 20, 32, 4, 50368, _YAML.format(size="3b"), "34c28fc9199278b10193e69fb52979043b7dc1bd"),
    "7b": MPTSize(4096, 32, 32, 4, 50368, _YAML.format(size="7b"), "15fb4ffaa6fbe16a33e158118bd8ba0b77ba78dc"),
    "13b": MPTSize(5120, 40, 40, 4, 50368, _YAML.format(size="13b"), "309f68378c1e5f83dd5ccefd9350196cb1553e43"),
    "30b": MPTSize(7168, 56, 48, 4, 50368, _YAML.format(size="30b"), "39393a21d451b7fc0fc342b0a2470d5ec59952f5"),
    "70b": MPTSize(8192, 64, 80, 4, 50368, _YAML.format(size="70b"), "17e6d6312c13710ecbbeeff7ec93ef8c9ecefe1e"),
}


@dataclass(frozen=True)
class LLMFoundryRow:
    """One published README row: the anchor the step model is scored on, and the README fields
    the anchor does not carry."""

    anchor: ScaleAnchor
    table: str  # h100-bf16, h100-fp8, a100-80gb, a100-40gb
    model_size: str
    grad_accum: int
    num_params: int
    published_mfu_percent: float  # MosaicML's MFU (6N + attention FLOPs over the dense peak)
    fsdp_mixed_precision: str  # DEFAULT (fp32 gradient reduction) or PURE
    scale_out_gbps_per_node: float  # the table's stated node-node bandwidth; NaN where not stated
    commit: str


@dataclass(frozen=True)
class LLMFoundryResult:
    row: LLMFoundryRow
    result: AnchorResult


@dataclass(frozen=True)
class GroupError:
    """Error of a group of scored rows, in percent of the published step time."""

    rows: int
    mean_absolute_percent: float
    mean_signed_percent: float  # < 0: the model is optimistic (too fast)


def check_batch_arithmetic(
    global_batch_sequences: int, micro_batch: int, grad_accum: int, accelerator_count: int
) -> None:
    """GlobalBatchSize must be MicroBatchSize × GradAccum × GPUs (FSDP: every GPU is a replica).
    The README's microbatching engine allows uneven last micro-batches; a row using one would
    not be the plan the step model runs, so it is refused rather than approximated."""
    if global_batch_sequences != micro_batch * grad_accum * accelerator_count:
        raise ValueError(
            f"GlobalBatchSize {global_batch_sequences} != MicroBatchSize {micro_batch} × GradAccum {grad_accum} "
            f"× GPUs {accelerator_count} = {micro_batch * grad_accum * accelerator_count}"
        )


def check_parameter_count(model_size: str, sequence_length: int, num_params: int) -> None:
    """The published NumParams must be the MPT count of the size's yaml architecture at the row's
    sequence length (learned positions make it depend on it)."""
    expected = MPT_SIZES[model_size].parameter_count(sequence_length)
    if num_params != expected:
        raise ValueError(
            f"NumParams {num_params} != {expected}, the count of MPT-{model_size} at sequence {sequence_length}"
        )


def check_scale_out(hardware_id: str, scale_out_gbps_per_node: float) -> None:
    """A stated node-node bandwidth must equal the catalog node's (accelerators per node × the
    per-accelerator scale-out), because evaluate_anchor runs on the catalog accelerator."""
    if math.isnan(scale_out_gbps_per_node):
        return
    spec = get_hardware(hardware_id)
    catalog_gbps = spec.scale_out_bandwidth_bytes_per_second * spec.accelerators_per_node * BITS_PER_BYTE / GIGA
    if not math.isclose(scale_out_gbps_per_node, catalog_gbps, rel_tol=1e-9):
        raise ValueError(
            f"stated {scale_out_gbps_per_node:g} Gb/s per node, catalog {hardware_id} node has {catalog_gbps:g} Gb/s"
        )


def _row_to_llm_foundry(row: dict[str, str]) -> LLMFoundryRow:
    name = row["anchor"]
    scale_out = float(row["scale_out_gbps_per_node"]) if row["scale_out_gbps_per_node"].strip() else math.nan
    try:
        check_batch_arithmetic(
            int(row["global_batch_sequences"]),
            int(row["micro_batch"]),
            int(row["grad_accum"]),
            int(row["accelerator_count"]),
        )
        check_parameter_count(row["model_size"], int(row["sequence_length"]), int(row["num_params"]))
        check_scale_out(row["hardware_id"], scale_out)
        if row["published_metric"] != METRIC_TOKENS:
            raise ValueError(f"published_metric must be {METRIC_TOKENS}, not {row['published_metric']!r}")
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{name}: {exc}") from exc
    anchor = anchor_from_row(
        row,
        anchor=name,
        arch=MPT_SIZES[row["model_size"]].architecture(),
        url=GITHUB_BLOB_URL.format(repository=REPOSITORY, commit=row["commit"], path=README_PATH),
    )
    return LLMFoundryRow(
        anchor=anchor,
        table=row["table"],
        model_size=row["model_size"],
        grad_accum=int(row["grad_accum"]),
        num_params=int(row["num_params"]),
        published_mfu_percent=float(row["published_mfu_percent"]),
        fsdp_mixed_precision=row["fsdp_mixed_precision"],
        scale_out_gbps_per_node=scale_out,
        commit=row["commit"],
    )


def load_llm_foundry_rows(text: str | None = None) -> list[LLMFoundryRow]:
    """The rows of validation/data/llm_foundry_mpt.csv (or of `text`, CSV with the same header)."""
    if text is None:
        text = resources.files("flopwatt.estimate.validation").joinpath("data", DATA_FILE).read_text()
    return [_row_to_llm_foundry(row) for row in csv.DictReader(text.splitlines())]


def run_llm_foundry() -> list[LLMFoundryResult]:
    return [LLMFoundryResult(row, evaluate_anchor(row.anchor)) for row in load_llm_foundry_rows()]


def group_errors(results: list[LLMFoundryResult], key: Callable[[LLMFoundryResult], str]) -> dict[str, GroupError]:
    """Scored rows grouped by `key` (e.g. table or model size), in first-seen order."""
    groups: dict[str, list[float]] = {}
    for r in results:
        if r.result.anchor.scored:
            groups.setdefault(key(r), []).append(r.result.step_time_error)
    return {
        name: GroupError(len(errors), float(np.mean(np.abs(errors)) * 100.0), float(np.mean(errors) * 100.0))
        for name, errors in groups.items()
    }
