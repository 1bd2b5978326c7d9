"""Serving as engines run it (issue 12): decode at the memory roofline, the KV cache at its own
precision, DeepSeek-V3's MLA latent cache."""

import dataclasses

import pytest

from flopwatt.estimate import inference
from flopwatt.estimate.accounting import parameter_counts
from flopwatt.estimate.catalog import get_hardware, get_model_preset
from flopwatt.estimate.constants import (
    DEFAULT_PUE,
    EXPERT_PARALLEL_LOAD_IMBALANCE,
    KERNELS_PER_LAYER_FORWARD,
    RUNTIME_RESERVED_BYTES,
    SERVING_MEMORY_FRACTION,
)
from flopwatt.estimate.hardware import datasheet_hardware_model
from flopwatt.estimate.inference import InferenceScenario, estimate_serving
from flopwatt.estimate.run_cost import FacilityInputs

FACILITY = FacilityInputs(DEFAULT_PUE, 400.0, 0.08, 400.0, 50.0, capex_usd_per_accelerator=40000.0)
# Tolerance of the batch-1 decode against its floor (issue 12's target): the rest is KV reads,
# TP all-reduces and the LM head's activations.
BATCH_ONE_DECODE_TOLERANCE = 0.15


def scenario(
    preset: str,
    hardware: str,
    tp: int,
    precision: str = "bf16",
    batch: int = 1,
    prompt: int = 1024,
    output: int = 512,
    **fields,
) -> InferenceScenario:
    hw = datasheet_hardware_model(get_hardware(hardware), precision)
    return InferenceScenario(get_model_preset(preset).architecture, hw, tp, batch, prompt, output, FACILITY, **fields)


@pytest.mark.parametrize(
    "preset, hardware, tp, precision",
    [
        ("llama-3.1-8b", "h100-sxm", 1, "bf16"),
        ("llama-3.1-70b", "h100-sxm", 8, "bf16"),
        ("llama-3.1-8b", "h100-sxm", 1, "fp8"),
        ("llama-3.1-8b", "a100-80gb", 1, "bf16"),
    ],
)
def test_batch_one_decode_streams_the_weights_at_sustained_bandwidth(preset, hardware, tp, precision):
    """Batch-1 decode is a matrix-vector product per weight matrix: memory-bound, so one step
    reads the weights (÷ TP) at sustained bandwidth plus the CUDA-graph launches. The training
    GEMM size curve rated it at ≈ 2 TFLOP/s on an H100, about 2× this floor (9.4 ms for 8B)."""
    s = scenario(preset, hardware, tp, precision)
    hw, arch = s.hardware, s.arch
    weights_seconds = (
        float(parameter_counts(arch).total) * hw.bytes_per_element / tp / hw.memory_bandwidth_bytes_per_second
    )
    launch_seconds = arch.layer_count * KERNELS_PER_LAYER_FORWARD * hw.graph_launch_overhead_seconds
    tpot = estimate_serving(s).time_per_output_token_seconds
    assert tpot == pytest.approx(weights_seconds + launch_seconds, rel=BATCH_ONE_DECODE_TOLERANCE)


def test_decode_turns_compute_bound_only_at_large_batch():
    """Per decode step, the GEMM part grows little from batch 1 to 64 (weights read once either
    way) and then with the batch once past the ridge point."""
    gemm = {
        b: estimate_serving(scenario("llama-3.1-8b", "h100-sxm", 1, batch=b)).decode_breakdown["weights_and_gemm"]
        for b in (1, 64, 1024)
    }
    assert gemm[64] < 1.5 * gemm[1]
    assert gemm[1024] > 2.0 * gemm[64]


def test_training_gemms_keep_the_size_curve():
    """Only decode's skinny GEMMs leave the size curve: `gemm_seconds` (training, prefill) is unchanged."""
    hw = datasheet_hardware_model(get_hardware("h100-sxm"), "bf16")
    m, n, k = 4096.0, 4096.0, 4096.0
    assert hw.gemm_seconds(m, n, k) == pytest.approx(
        2 * m * n * k / (hw.sustained_gemm_flops_per_second * hw.gemm_efficiency(m, n, k))
    )
    assert hw.decode_gemm_seconds(m, n, k) < hw.gemm_seconds(m, n, k)


def test_fp8_weights_default_to_an_fp8_kv_cache():
    """An FP8 Llama 3.1 8B stores 1 byte per key/value element: 2 × 32 layers × 8 KV heads × 128 ×
    1 B = 65,536 B per token (131,072 B at the 2 bytes the cache used to be held at), so about
    twice the sequences fit beside the 8 GB of weights."""
    fp8 = estimate_serving(scenario("llama-3.1-8b", "h100-sxm", 1, "fp8", batch=0))
    bf16_cache = estimate_serving(scenario("llama-3.1-8b", "h100-sxm", 1, "fp8", batch=0, kv_cache_precision="bf16"))
    assert fp8.kv_cache_bytes_per_token == 65_536
    assert bf16_cache.kv_cache_bytes_per_token == 131_072
    assert fp8.max_batch_size >= 2 * bf16_cache.max_batch_size


@pytest.mark.parametrize("weights, kv_bytes", [("bf16", 2.0), ("fp16", 2.0), ("fp8", 1.0), ("fp32", 2.0)])
def test_kv_cache_precision_defaults(weights, kv_bytes):
    hardware = "a100-80gb" if weights != "fp8" else "h100-sxm"
    assert scenario("llama-3.1-8b", hardware, 1, weights).kv_cache_bytes_per_element == kv_bytes


def test_an_fp8_kv_cache_halves_the_decode_kv_reads():
    bf16 = estimate_serving(scenario("llama-3.1-8b", "h100-sxm", 1, batch=64, prompt=8192, output=512))
    fp8 = estimate_serving(
        scenario("llama-3.1-8b", "h100-sxm", 1, batch=64, prompt=8192, output=512, kv_cache_precision="fp8")
    )
    assert fp8.decode_breakdown["kv_cache_and_attention"] == pytest.approx(
        bf16.decode_breakdown["kv_cache_and_attention"] / 2, rel=0.01
    )
    assert fp8.decode_breakdown["weights_and_gemm"] == bf16.decode_breakdown["weights_and_gemm"]


def test_mla_caches_the_whole_latent_on_every_tensor_parallel_rank():
    """DeepSeek-V3 caches (kv_lora_rank 512 + RoPE key 64) × 61 layers × 2 B = 70,272 B (68.6 KiB)
    per token, on each of the 8 ranks. Mapped onto 2 KV heads of 128 split over TP it counted 256
    values per layer (2.25× too few), and the batch that fits came out ≈ 2.3× too large."""
    s = scenario("deepseek-v3", "h200", 8, "fp8", batch=0, kv_cache_precision="bf16")
    e = estimate_serving(s)
    assert e.kv_cache_bytes_per_token == 61 * (512 + 64) * 2
    free_bytes = (
        s.hardware.memory_bytes * SERVING_MEMORY_FRACTION - e.weight_bytes_per_accelerator - RUNTIME_RESERVED_BYTES
    )
    assert e.max_batch_size == int(free_bytes // (61 * 576 * 2 * (1024 + 512)))
    assert e.kv_cache_bytes_per_accelerator == pytest.approx(e.batch_size * 61 * 576 * 2 * (1024 + 512))


def test_absorbed_mla_decode_scores_every_head_against_the_latent():
    """Absorbed MLA: per head and cached token, 2·(512 + 64) FLOPs for the score and 2·512 for the
    weighted latent. On a (made-up) slow accelerator the attention is compute-bound and shows them."""
    s = scenario("deepseek-v3", "h200", 8, "fp8", batch=64, prompt=4096, output=2)
    slow = dataclasses.replace(s.hardware, sustained_gemm_flops_per_second=1e11)
    e = estimate_serving(dataclasses.replace(s, hardware=slow))
    context = 4096 + 2 / 2
    flops = 61 * 64 * (128 / 8) * context * (2 * (512 + 64) + 2 * 512)
    assert e.decode_breakdown["kv_cache_and_attention"] == pytest.approx(flops / 1e11)


def test_expert_parallel_decode_dispatches_combines_and_waits_for_the_busiest_device(monkeypatch):
    """DeepSeek-V3 on 8 H200 with EP8 and data-parallel attention, 64 sequences: each device runs
    8 of them, two all-to-alls per layer carry their 8 routed copies of the hidden state (no TP
    all-reduce), and the routed experts of the busiest device take EXPERT_PARALLEL_LOAD_IMBALANCE ×
    the balanced time."""
    s = scenario("deepseek-v3", "h200", 8, "fp8", batch=64, expert_parallel_size=8)
    hw = s.hardware
    e = estimate_serving(s)
    assert "tensor_parallel_communication" not in e.decode_breakdown
    saved = hw.launch_overhead_seconds - hw.graph_launch_overhead_seconds  # captured in the CUDA graph
    all_to_all = hw.all_to_all_seconds(8 * 8 * 7168 * 2.0, 8) - saved
    assert e.decode_breakdown["expert_parallel_communication"] == pytest.approx(61 * 2 * all_to_all)
    monkeypatch.setattr(inference, "EXPERT_PARALLEL_LOAD_IMBALANCE", 1.0)
    balanced = estimate_serving(s)
    touched = 256 * (1 - (1 - 8 / 256) ** 64)
    per_expert = 64 * 8 / touched
    routed = 61 * (
        hw.decode_gemm_seconds(per_expert, 2 * 2048, 7168, touched / 8)
        + hw.decode_gemm_seconds(per_expert, 7168, 2048, touched / 8)
    )
    excess = e.decode_breakdown["weights_and_gemm"] - balanced.decode_breakdown["weights_and_gemm"]
    assert excess == pytest.approx((EXPERT_PARALLEL_LOAD_IMBALANCE - 1) * routed)


def test_expert_parallelism_caches_each_sequence_on_one_device():
    """With data-parallel attention a sequence's MLA latent lives on one device, not on all 8: the
    dense weights are held whole (more weight bytes per device), yet ~5× the sequences fit."""
    tp = estimate_serving(scenario("deepseek-v3", "h200", 8, "fp8", batch=0))
    ep = estimate_serving(scenario("deepseek-v3", "h200", 8, "fp8", batch=0, expert_parallel_size=8))
    assert ep.weight_bytes_per_accelerator > tp.weight_bytes_per_accelerator
    s = scenario("deepseek-v3", "h200", 8, "fp8", expert_parallel_size=8)
    free_bytes = (
        s.hardware.memory_bytes * SERVING_MEMORY_FRACTION - ep.weight_bytes_per_accelerator - RUNTIME_RESERVED_BYTES
    )
    assert ep.max_batch_size == 8 * int(free_bytes // (61 * 576 * 1.0 * (1024 + 512)))
    assert ep.max_batch_size > 4 * tp.max_batch_size


@pytest.mark.parametrize("preset, ep", [("deepseek-v3", 4), ("llama-3.1-70b", 8)])
def test_expert_parallelism_is_modelled_over_the_whole_replica_of_an_moe_model(preset, ep):
    with pytest.raises(ValueError):
        estimate_serving(scenario(preset, "h200", 8, "fp8", expert_parallel_size=ep))
