"""The workload suite on a real NVIDIA GPU (issue 13 item 1); skipped cleanly without CUDA.

A Llama-3.1-8B layer at TP 1 in bf16 (sequence 2048, decode batches 1 and 32 at 4096 context):
every operator is measured, verified and timed with CUDA events; GEMMs reach a sane fraction of
the card's best rate seen in the same run; attention records the SDPA backend torch picked; the
fp8 variant runs through torch._scaled_mm where the GPU has e4m3 tensor cores and is skipped
with a note where it has not.
"""

from __future__ import annotations

import pytest
import torch

from flopwatt.bench.suites import run_suite
from flopwatt.bench.workload_suite import WorkloadShape, enumerate_operators
from flopwatt.kernels.gemm import fp8_supported

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

LLAMA_8B_LAYER = dict(
    model_id="llama-3.1-8b",
    layer_count=1,
    hidden_size=4096,
    attention_head_count=32,
    kv_head_count=8,
    ffn_hidden_size=14336,
    vocab_size=128256,
    head_dim=128,
    sequence_length=2048,
    precision="bf16",
    decode_batch_sizes=(1, 32),
    context_lengths=(4096,),
)


def test_a_llama_8b_layer_is_measured_operator_by_operator_on_the_gpu():
    document = run_suite("workload", "cuda", workload=dict(LLAMA_8B_LAYER))
    operators = document["operators"]
    cases, _ = enumerate_operators(WorkloadShape(**LLAMA_8B_LAYER), "cuda")
    # An operator whose buffers would not fit the suite's share of device memory is skipped with
    # a note naming it (the optimizer step of a 1.3 B-parameter stand-in on an 80 GB H100).
    skipped = [note for note in document["notes"] if ": skipped, " in note]
    assert len(operators) + len(skipped) == len(cases), document["notes"]
    assert all("device's memory" in note for note in skipped), skipped
    assert all(row["verified"] and row["seconds"]["median"] > 0 for row in operators)
    attention = [row for row in operators if row["kind"] == "attention"]
    assert attention and all(row["backend"] != "sdpa:unknown" for row in attention)
    gemm_rates = [row["flops"] / row["seconds"]["median"] for row in operators if row["kind"] == "gemm"]
    assert max(gemm_rates) > 1e14  # a prefill GEMM on an H100-class card runs at hundreds of TFLOP/s


def test_fp8_gemms_run_through_scaled_mm_or_are_skipped_with_a_note():
    workload = {**LLAMA_8B_LAYER, "precision": "fp8", "decode_batch_sizes": (16,), "context_lengths": ()}
    document = run_suite("workload", "cuda", workload=workload)
    gemms = [row for row in document["operators"] if row["kind"] == "gemm"]
    if fp8_supported("cuda"):
        assert gemms and {row["backend"] for row in gemms} == {"torch._scaled_mm"}
        assert {row["dtype"] for row in gemms} == {"fp8"}
    else:
        assert not gemms and any("fp8" in note for note in document["notes"])
