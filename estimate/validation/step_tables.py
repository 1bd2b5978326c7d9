"""Validation against published measured iteration times (see validation/data/README.md).

Each data set becomes arrays of architectures and plans and is evaluated in one vectorised
call of the same step-time model the API uses, in datasheet mode, on the cluster each data set
was measured on (`ValidationCluster`: network, framework options, recomputation — all sourced).
Used by `flopwatt validate`, by the fitting script and by the test that holds the errors.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from typing import Callable

import numpy as np

from flopwatt.estimate.architecture import ModelArchitecture
from flopwatt.estimate.catalog.entries import HardwareSpec, SourceRef
from flopwatt.estimate.hardware import datasheet_hardware_model
from flopwatt.estimate.parallel_plan import RECOMPUTE_FULL, RECOMPUTE_SELECTIVE, ParallelPlan
from flopwatt.estimate.step_time import StepOptions, framework_step_options, training_step_time


def _a100_cluster(name: str, scale_out_bytes_per_second: float, source: str) -> HardwareSpec:
    """A100 SXM4 80 GB in 8-GPU NVLink3/NVSwitch nodes with the given scale-out bandwidth.

    Stated here (not read from the catalog) so validation results do not move when the catalog
    is edited."""
    return HardwareSpec(
        id="a100-80gb",
        name=f"NVIDIA A100 SXM4 80 GB ({name})",
        vendor="NVIDIA",
        peak_flops_per_second={"fp16": 312e12, "bf16": 312e12, "tf32": 156e12, "fp32": 19.5e12},
        memory_bytes=80 * 10**9,
        memory_bandwidth_bytes_per_second=2.039e12,
        intra_node_bandwidth_bytes_per_second=300e9,  # NVLink3: 600 GB/s total = 300 GB/s per direction
        scale_out_bandwidth_bytes_per_second=scale_out_bytes_per_second,
        tdp_watts=400.0,
        accelerators_per_node=8,
        sources=(
            SourceRef(
                "GPU and node",
                "NVIDIA A100 Tensor Core GPU datasheet; DGX A100 user guide",
                "https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf",
                "2021-06",
            ),
            SourceRef("scale_out_bandwidth_bytes_per_second", source, "", "2024-09"),
        ),
    )


@dataclass(frozen=True)
class ValidationCluster:
    """The machine and software stack a data set was measured on — explicit, sourced inputs of
    the comparison, never fitted per row."""

    description: str
    hardware: HardwareSpec
    options: StepOptions  # framework behaviour: attention kernel, DP overlap
    activation_recompute: int | None  # the runs' recomputation; None: per row from the data file
    source: str


# Selene (Narayanan et al. 2021, arXiv 2104.04473, §5.1; Korthikanti et al. 2022 §6): DGX A100
# 80 GB nodes, NVLink3/NVSwitch inside, eight 200 Gb/s HDR InfiniBand HCAs per node = 25 GB/s per
# GPU per direction. Megatron-LM 2022: fused scale-mask-softmax (no flash attention); every Table 5
# row has DP = 1, so the DP overlap does not matter; recomputation (full / selective) per row.
SELENE = ValidationCluster(
    description="Selene: DGX A100 80 GB, NVLink3 300 GB/s/direction, 8×HDR = 25 GB/s/GPU InfiniBand; Megatron-LM 2022",
    hardware=_a100_cluster("Selene", 25e9, "8×200 Gb/s HDR per 8-GPU node (Narayanan et al. 2021, §5.1)"),
    options=framework_step_options("megatron-lm-2022"),
    activation_recompute=None,
    source="Korthikanti et al. 2022 (arXiv 2205.05198) Table 5; Narayanan et al. 2021 §5.1",
)
# vTrain's cluster, from its published run configurations (VIA-Research/vTrain @f8dda84,
# 2024-09-26, config/validation/{single,multi}/*.json, documented in src/config.py): every run has
# `use_checkpoint: true` (full activation recomputation), `use_gradient_bucket: false` (the DP
# all-reduce runs after the backward pass, not overlapped), `inter_node_bandwidth: 800` Gb/s per
# 8-GPU node (= 100 GB/s per node = 12.5 GB/s per GPU per direction: half of a DGX's 8×HDR) and
# Megatron-DeepSpeed's fused softmax attention (no flash attention).
VTRAIN_SCALE_OUT_BYTES_PER_SECOND_PER_GPU = 800e9 / 8.0 / 8.0
VTRAIN = ValidationCluster(
    description="vTrain: A100 SXM4 80 GB, NVLink3 300 GB/s/direction, 800 Gb/s per node = 12.5 GB/s/GPU InfiniBand; Megatron-DeepSpeed, full recompute, DP not overlapped",
    hardware=_a100_cluster(
        "vTrain",
        VTRAIN_SCALE_OUT_BYTES_PER_SECOND_PER_GPU,
        "800 Gb/s per 8-GPU node (vTrain config/validation/*.json, 2024)",
    ),
    options=framework_step_options("megatron-deepspeed"),
    activation_recompute=RECOMPUTE_FULL,
    source="VIA-Research/vTrain @f8dda84 (2024-09-26): data/ground_truth_*.csv, config/validation/*.json",
)
CLUSTERS = {"megatron-selene": SELENE, "vtrain-single": VTRAIN, "vtrain-multi": VTRAIN}
# GPT-2 BPE vocabulary used by Megatron-LM / Megatron-DeepSpeed GPT runs, padded by Megatron to
# a multiple of 128 × TP (megatron/tokenizer, `--make-vocab-size-divisible-by 128`).
GPT2_VOCAB_SIZE = 50257
MEGATRON_VOCAB_PAD_MULTIPLE = 128
DATA_FILES = {
    "megatron-selene": "megatron_selene.csv",
    "vtrain-single": "vtrain_ground_truth_single.csv",
    "vtrain-multi": "vtrain_ground_truth_multi.csv",
}


@dataclass(frozen=True)
class ValidationSet:
    """Rows of one data set as arrays."""

    name: str
    arch: ModelArchitecture  # fields are arrays, one element per row
    sequence_length: np.ndarray
    plan: ParallelPlan
    measured_seconds: np.ndarray
    labels: list[str]
    cluster: ValidationCluster


@dataclass(frozen=True)
class ValidationResult:
    name: str
    labels: list[str]
    measured_seconds: np.ndarray
    predicted_seconds: np.ndarray

    @property
    def relative_errors(self) -> np.ndarray:
        """(predicted − measured) / measured per row."""
        return (self.predicted_seconds - self.measured_seconds) / self.measured_seconds

    @property
    def mean_absolute_percentage_error(self) -> float:
        return float(np.mean(np.abs(self.relative_errors)) * 100.0)

    @property
    def max_absolute_percentage_error(self) -> float:
        return float(np.max(np.abs(self.relative_errors)) * 100.0)


def _read(file_name: str) -> list[list[str]]:
    text = resources.files("flopwatt.estimate.validation").joinpath("data", file_name).read_text()
    rows = list(csv.reader(text.splitlines()))
    return rows[1:]


def _padded_vocab(tp: np.ndarray) -> np.ndarray:
    multiple = MEGATRON_VOCAB_PAD_MULTIPLE * tp
    return np.ceil(GPT2_VOCAB_SIZE / multiple) * multiple


def _gpt(hidden, heads, layers, ffn, vocab, head_dim=0) -> ModelArchitecture:
    """GPT-style model of Megatron: MHA, 2-matrix GeLU MLP, tied embeddings."""
    return ModelArchitecture(
        layer_count=layers,
        hidden_size=hidden,
        attention_head_count=heads,
        kv_head_count=heads,
        ffn_hidden_size=ffn,
        vocab_size=vocab,
        head_dim=head_dim,
        gated_mlp=False,
        tied_embeddings=True,
        expert_count=np.ones_like(hidden),
        experts_per_token=np.ones_like(hidden),
        shared_expert_count=np.zeros_like(hidden),
        dense_layer_count=np.zeros_like(hidden),
        dense_ffn_hidden_size=np.zeros_like(hidden),
    )


def load_selene() -> ValidationSet:
    rows = _read(DATA_FILES["megatron-selene"])
    col = lambda i: np.array([float(r[i]) for r in rows])  # noqa: E731
    recompute = np.array([RECOMPUTE_FULL if r[15] == "full" else RECOMPUTE_SELECTIVE for r in rows])
    arch = _gpt(col(1), col(3), col(5), col(2), np.full(len(rows), 51200.0), col(4))
    plan = ParallelPlan(
        tensor_parallel_size=col(8),
        pipeline_parallel_size=col(9),
        data_parallel_size=col(10),
        expert_parallel_size=np.ones(len(rows)),
        pipeline_interleaving=col(11),
        micro_batch_size=col(13),
        global_batch_size=col(12),
        zero_stage=np.zeros(len(rows)),
        activation_recompute=recompute,
        sequence_parallel=np.array([r[16] == "true" for r in rows]),
    )
    labels = [f"{r[0]} {r[15]}" for r in rows]
    return ValidationSet("megatron-selene", arch, col(6), plan, col(17), labels, CLUSTERS["megatron-selene"])


def _load_vtrain(name: str, offset: int) -> ValidationSet:
    """vTrain columns (after `offset` leading columns): GPUs, global batch, micro batch, hidden,
    heads, layers, sequence, TP, DP, PP, iteration ms."""
    rows = _read(DATA_FILES[name])
    col = lambda i: np.array([float(r[offset + i]) for r in rows])  # noqa: E731
    hidden, tp = col(3), col(7)
    arch = _gpt(hidden, col(4), col(5), 4.0 * hidden, _padded_vocab(tp))
    n = len(rows)
    cluster = CLUSTERS[name]
    plan = ParallelPlan(
        tensor_parallel_size=tp,
        pipeline_parallel_size=col(9),
        data_parallel_size=col(8),
        expert_parallel_size=np.ones(n),
        pipeline_interleaving=np.ones(n),
        micro_batch_size=col(2),
        global_batch_size=col(1),
        zero_stage=np.zeros(n),
        activation_recompute=np.full(n, cluster.activation_recompute),
        sequence_parallel=np.zeros(n, bool),
    )
    labels = [
        f"h{int(h)} L{int(l)} gbs{int(g)} mbs{int(mb)} t{int(t)} d{int(d)} p{int(p)}"
        for h, l, g, mb, t, d, p in zip(hidden, col(5), col(1), col(2), tp, col(8), col(9))
    ]
    return ValidationSet(name, arch, col(6), plan, col(10) / 1000.0, labels, cluster)


def load_vtrain_single() -> ValidationSet:
    return _load_vtrain("vtrain-single", 0)


def load_vtrain_multi() -> ValidationSet:
    return _load_vtrain("vtrain-multi", 1)


LOADERS: dict[str, Callable[[], ValidationSet]] = {
    "megatron-selene": load_selene,
    "vtrain-single": load_vtrain_single,
    "vtrain-multi": load_vtrain_multi,
}


def fit_mask(data: ValidationSet) -> np.ndarray:
    """The deterministic fitting subset: even-indexed vTrain single-node rows; nothing else."""
    index = np.arange(len(data.measured_seconds))
    if data.name == "vtrain-single":
        return index % 2 == 0
    return np.zeros(len(index), bool)


def evaluate(data: ValidationSet, precision: str = "fp16") -> ValidationResult:
    """Predicted iteration times of every row, in one vectorised call, on the data set's cluster."""
    hw = datasheet_hardware_model(data.cluster.hardware, precision)
    step = training_step_time(data.arch, data.sequence_length, data.plan, hw, data.cluster.options)
    predicted = np.broadcast_to(step.total, data.measured_seconds.shape).astype(float)
    return ValidationResult(data.name, data.labels, data.measured_seconds, predicted)


def subset(result: ValidationResult, mask: np.ndarray, name: str) -> ValidationResult:
    return ValidationResult(
        name,
        [l for l, keep in zip(result.labels, mask) if keep],
        result.measured_seconds[mask],
        result.predicted_seconds[mask],
    )


def run_all() -> list[ValidationResult]:
    """Every data set, with the vTrain single-node set split into its fit and held-out halves."""
    results = []
    for name, loader in LOADERS.items():
        data = loader()
        result = evaluate(data)
        if name == "vtrain-single":
            mask = fit_mask(data)
            results.append(subset(result, ~mask, "vtrain-single (held-out)"))
            results.append(subset(result, mask, "vtrain-single (fit)"))
        results.append(result)
    return results
