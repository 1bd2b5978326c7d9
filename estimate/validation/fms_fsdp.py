"""IBM/Meta's PyTorch FSDP throughput table: a second public source for the `pytorch-fsdp` stack.

Why this table exists. MosaicML's llm-foundry README was the only public step table of an FSDP
stack, so a stack parameter fitted on it could not be cross-validated: leave it out and nothing
of the stack is left. Team PyTorch at IBM and at Meta published the throughput of Llama 2-shaped
models (7B-70B, sequence 4,096, batch 2 per GPU, bf16, SDPA FlashAttention-2) under FSDP on an
A100 cluster (128 GPUs, 400 Gb/s per node) and an H100 cluster (96 GPUs, 800 Gb/s per node)
("Maximizing training throughput using PyTorch FSDP", PyTorch blog, 2024-03-13, Table 1; the
training code is foundation-model-stack/fms-fsdp, whose README gives the sharding per size).
validation/data/fms_fsdp.csv holds one row per published cell, with what is published and what
we assumed per row.

Each row is evaluated like the step anchors, on the catalog accelerator with the row's own
network (its stated inter-node bandwidth, which is slower than the catalog nodes'). The loader
refuses a row whose global batch is not micro-batch × GPUs, or whose published MFU disagrees by
more than MFU_TOLERANCE with the MFU this model's FLOP count gives at the published throughput
(the check that size, throughput and hardware were transcribed consistently; the blog's own
parameter counts differ by a few per cent, hence the tolerance).
"""

from __future__ import annotations

import csv
import math
from importlib import resources

from flopwatt.estimate.accounting import flops_per_token
from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.catalog import get_hardware, get_model_preset
from flopwatt.estimate.hardware import datasheet_hardware_model
from flopwatt.estimate.validation.mlperf import GITHUB_BLOB_URL
from flopwatt.estimate.validation.scale_anchors import METRIC_TOKENS, ScaleAnchor, anchor_from_row

DATA_FILE = "fms_fsdp.csv"
SOURCE_ID = "pytorch-fsdp-blog"
BLOG_REPOSITORY = "pytorch/pytorch.github.io"
BLOG_COMMIT = "2ad10059d3021d0f902f1204db98e5c930532be8"
BLOG_PATH = "_posts/2024-03-13-maximizing-training.md"
MFU_TOLERANCE = 0.08  # relative
BITS_PER_BYTE = 8.0
GIGA = 1e9

# fms-fsdp's llama2_34b (fms_fsdp/utils/config_utils.py @08d8ae7f, get_model_config): 48 layers,
# emb_dim 8192, 64 heads, 8 KV heads, hidden_grow_factor 22016/8192, LLaMAConfig's vocabulary 32,000.
# The catalog has no 34B preset (Meta released no Llama 2 34B); the other sizes are catalog presets.
LLAMA2_34B = ModelArchitecture(
    layer_count=48,
    hidden_size=8192,
    attention_head_count=64,
    kv_head_count=8,
    ffn_hidden_size=22016,
    vocab_size=32000,
    gated_mlp=True,
    tied_embeddings=False,
    dropout=False,
)


def _architecture(preset: str) -> ModelArchitecture:
    return LLAMA2_34B if preset == "llama-2-34b" else get_model_preset(preset).architecture


def check_batch_arithmetic(global_batch_sequences: int, micro_batch: int, accelerator_count: int) -> None:
    """Batch size 2 per GPU and no gradient accumulation: global = micro-batch × GPUs."""
    if global_batch_sequences != micro_batch * accelerator_count:
        raise ValueError(
            f"global_batch_sequences {global_batch_sequences} != micro_batch {micro_batch} × GPUs {accelerator_count}"
        )


def model_flops_utilization(
    arch: ModelArchitecture, sequence_length: int, tokens_per_second: float, hw_id: str
) -> float:
    """MFU of a published throughput under this model's FLOP count (6N + attention, PaLM)."""
    peak = datasheet_hardware_model(get_hardware(hw_id), "bf16").peak_flops_per_second
    return float(flops_per_token(arch, float(sequence_length)).training_model) * tokens_per_second / peak


def check_published_mfu(name: str, arch: ModelArchitecture, row: dict[str, str]) -> None:
    ours = model_flops_utilization(arch, int(row["sequence_length"]), float(row["published_value"]), row["hardware_id"])
    published = float(row["published_mfu"])
    if not math.isclose(ours, published, rel_tol=MFU_TOLERANCE):
        raise ValueError(f"{name}: published MFU {published:.2f} but the throughput implies {ours:.3f}")


def _row_to_anchor(row: dict[str, str]) -> ScaleAnchor:
    name = row["anchor"]
    arch = _architecture(row["model_preset"])
    try:
        check_batch_arithmetic(
            int(row["global_batch_sequences"]), int(row["micro_batch"]), int(row["accelerator_count"])
        )
        check_published_mfu(name, arch, row)
        if row["published_metric"] != METRIC_TOKENS:
            raise ValueError(f"published_metric must be {METRIC_TOKENS}, not {row['published_metric']!r}")
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{name}: {exc}") from exc
    per_accelerator = float(row["scale_out_gbps_per_node"]) * GIGA / BITS_PER_BYTE
    per_accelerator /= get_hardware(row["hardware_id"]).accelerators_per_node
    return anchor_from_row(
        row,
        arch=arch,
        url=GITHUB_BLOB_URL.format(repository=BLOG_REPOSITORY, commit=BLOG_COMMIT, path=BLOG_PATH),
        scale_out_bytes_per_second_per_accelerator=per_accelerator,
    )


def load_fms_fsdp_anchors(text: str | None = None) -> list[ScaleAnchor]:
    """The rows of validation/data/fms_fsdp.csv (or of `text`, CSV with the same header)."""
    if text is None:
        text = resources.files("flopwatt.estimate.validation").joinpath("data", DATA_FILE).read_text()
    return [_row_to_anchor(row) for row in csv.DictReader(text.splitlines())]
