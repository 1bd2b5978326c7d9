"""Sourced default constants of the estimation model.

Every number the model uses without the request or a measured profile naming it lives here,
with its unit in the name and its source and date beside it, so a reader can audit (and a
request can override) each one. Values fitted to validation data live in `fitted_constants.py` instead.
"""

from __future__ import annotations

# --- numeric formats -------------------------------------------------------------------------

# Bytes per element of weights/activations at each matmul precision (IEEE 754 / OCP FP8 / FP4
# definitions). TF32 stores fp32 (4 bytes) and only multiplies at reduced precision.
BYTES_PER_ELEMENT_BY_PRECISION = {
    "fp32": 4.0,
    "tf32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "fp4": 0.5,
}
# Activations and gradients of FP8/FP4 training runs are kept in bf16 (Micikevicius et al. 2022,
# "FP8 Formats for Deep Learning", arXiv 2209.05433; NVIDIA Transformer Engine docs, 2024).
MIN_ACTIVATION_BYTES_PER_ELEMENT = 2.0

# --- mixed-precision Adam training state (per parameter, before sharding) --------------------
# Rajbhandari et al. 2020 (ZeRO, arXiv 1910.02054, §3.1): fp16/bf16 weights 2 B + gradients 2 B +
# fp32 master weights 4 B + Adam momentum 4 B + variance 4 B = 16 B per parameter.
WEIGHT_BYTES_PER_PARAMETER_TRAINING = 2.0
GRADIENT_BYTES_PER_PARAMETER = 2.0
OPTIMIZER_STATE_BYTES_PER_PARAMETER = 12.0
# Bytes the Adam update reads and writes per local parameter (fp32 master, m, v read+written,
# gradient read, bf16 weight written): 3·4·2 + 2 + 2 = 28 B. Counted from the update rule.
OPTIMIZER_STEP_BYTES_PER_PARAMETER = 28.0

# Memory the runtime keeps besides the model (CUDA context, cuBLAS workspaces, NCCL buffers,
# allocator fragmentation). Assumption (order of magnitude seen in PyTorch/Megatron runs on
# A100/H100, 2023-2024): 2 GiB per accelerator.
RUNTIME_RESERVED_BYTES = 2.0 * 2**30
# Share of the accelerator's memory a training plan must leave free, beyond everything the
# memory model counts (RUNTIME_RESERVED_BYTES included): the caching allocator's reserved-but-
# unallocated blocks (fragmentation; PyTorch "CUDA semantics: memory management", 2024, and the
# FSDP paper, Zhao et al. 2023 §5, on cudaMalloc retries near full memory), transient peaks the
# per-tensor model does not see (NCCL and cuBLAS workspaces growing, temporary copies). ZeRO
# (Rajbhandari et al. 2020 §3.2) saw out-of-memory errors with over 30 % free before it
# defragmented; serving engines keep 10 % free (vLLM gpu_memory_utilization 0.9). Assumption
# from practice, at the low end of that range because current allocators (expandable segments)
# fragment less: 5 %, i.e. 4 GiB of an 80 GB H100. Nothing fitted.
TRAINING_MEMORY_HEADROOM_FRACTION = 0.05

# --- activation memory (Korthikanti et al. 2022, arXiv 2205.05198, §4, eqs. 1-2) ------------
# Per token per layer, bytes, for 16-bit activations: 10·h replicated outside the TP region
# (two LayerNorm inputs 4h, QKV and MLP inputs 4h, two dropout masks 2h); attention keeps
# Q, K, V and the projection input; the MLP its intermediate tensors; scores cost 5·a·s.
ACTIVATION_REPLICATED_BYTES_PER_HIDDEN = 10.0
# Of those 10·h, the two dropout masks (1 byte per element each, attention and hidden dropout;
# Korthikanti et al. 2022 eq. 1): absent for models trained without dropout.
ACTIVATION_DROPOUT_MASK_BYTES_PER_HIDDEN = 2.0
ACTIVATION_ATTENTION_SCORE_BYTES_PER_HEAD_TOKEN = 5.0
# The layer input stored per token under full recomputation: 2 bytes × h.
ACTIVATION_FULL_RECOMPUTE_BYTES_PER_HIDDEN = 2.0
# Logits kept for the loss in fp32 (4 B per vocabulary entry per token), Megatron-LM cross
# entropy (megatron/core/tensor_parallel/cross_entropy.py, 2024).
LOGIT_BYTES_PER_VOCAB_ENTRY = 4.0

# --- kernels per transformer layer (Megatron-LM forward pass, counted from the code, 2024) ---
# Used for launch overhead: ~ 24 kernels per layer forward; backward launches twice as many.
KERNELS_PER_LAYER_FORWARD = 24.0
BACKWARD_KERNELS_PER_FORWARD_KERNEL = 2.0
# CUDA kernel launch overhead when no profile measured it: ~4 µs per launch on A100/H100
# (NVIDIA CUDA C++ Best Practices Guide, "kernel launch overhead"; stas00/ml-engineering, 2024).
DEFAULT_LAUNCH_OVERHEAD_SECONDS = 4.0e-6
# Launch overhead under CUDA graphs (decode loops of serving engines): ~1.5 µs per kernel
# (NVIDIA technical blog "Getting Started with CUDA Graphs", 2019-09).
DEFAULT_GRAPH_LAUNCH_OVERHEAD_SECONDS = 1.5e-6

# --- memory-bound (elementwise) traffic per token per layer, forward, in activation elements ---
# Counted from Megatron-LM's fused kernels: LayerNorm ×2 (read h, write h), bias-dropout-add ×2
# (read 2h, write h), bias-GeLU (read f, write f) or SwiGLU (read 2f, write f); unfused
# scale-mask-softmax + dropout reads/writes the scores 4·a·s times (softmax in/out, dropout in/out).
ELEMENTWISE_ELEMENTS_PER_HIDDEN = 10.0
ELEMENTWISE_ELEMENTS_PER_FFN_GELU = 2.0
ELEMENTWISE_ELEMENTS_PER_FFN_SWIGLU = 3.0
ELEMENTWISE_ELEMENTS_PER_SCORE_UNFUSED = 4.0
BACKWARD_ELEMENTWISE_FACTOR = 2.0  # backward of an elementwise op reads the grad and the input

# --- FLOP conventions ----------------------------------------------------------------------------
# Backward pass of a matmul: two matmuls of the forward's size (Narayanan et al. 2021, §5.1).
BACKWARD_FLOPS_PER_FORWARD_FLOP = 2.0
# FlashAttention backward counts 2.5× the forward FLOPs (Dao 2023, FlashAttention-2 benchmark
# convention); with recomputation of the forward inside it. Used for the attention kernel time.
FLASH_ATTENTION_BACKWARD_FLOPS_PER_FORWARD_FLOP = 2.5
# A causal fused kernel skips the masked half of the score matrix (FlashAttention-2, Dao 2023,
# §3.1.1 "causal masking": blocks above the diagonal are not computed), so it executes about half
# the non-causal attention FLOPs that MFU counts by convention (PaLM appendix B; Megatron).
CAUSAL_WORK_FRACTION = 0.5

# --- collectives (ring algorithms; Thakur et al. 2005; nccl-tests PERFORMANCE.md, 2024) -------
# Fraction of the one-direction link bandwidth a large NCCL collective reaches as bus bandwidth:
# nccl-tests all_reduce on DGX A100 reaches ~230 GB/s busbw over NVLink3's 300 GB/s (NVIDIA
# DGX A100 user guide / nccl-tests results, 2021) and ~190 GB/s over 8×HDR (200 GB/s).
INTRA_NODE_COLLECTIVE_EFFICIENCY = 0.77
# Where a scale-up fabric's measured all-reduce departs from it: 8× MI300X RCCL all_reduce reaches
# 316.8 GB/s busbw at 8 GiB over Infinity Fabric's 448 GB/s (Azure AI-benchmarking-guide,
# ND_MI300X_v5_results.md, "RCCL Bandwidth", 2025), 0.71. Keyed by catalog id.
INTRA_NODE_COLLECTIVE_EFFICIENCY_BY_HARDWARE = {"mi300x": 316.82 / 448.0}
SCALE_OUT_COLLECTIVE_EFFICIENCY = 0.90
# Fixed latency per collective (small-message time of nccl-tests all_reduce: ~10 µs inside an
# NVLink node, ~25 µs across InfiniBand, A100/H100, nccl-tests results 2021-2023).
INTRA_NODE_COLLECTIVE_LATENCY_SECONDS = 10.0e-6
SCALE_OUT_COLLECTIVE_LATENCY_SECONDS = 25.0e-6

# --- overlap -----------------------------------------------------------------------------------
# Fraction of the data-parallel gradient reduction hidden behind the backward pass in a modern
# framework (Megatron-LM --overlap-grad-reduce, PyTorch DDP buckets). Assumption, 2024 practice:
# most of it is hidden; the last bucket and the optimizer-step all-gather are not.
DEFAULT_DATA_PARALLEL_OVERLAP_FRACTION = 0.8

# --- goodput (failures, checkpoints, restarts) ----------------------------------------------
# Llama 3 (Dubey et al. 2024, arXiv 2407.21783, §3.3.4): 419 unexpected interruptions in a
# 54-day snapshot of pre-training on 16,384 H100 GPUs, "higher than 90 % effective training time".
LLAMA3_UNEXPECTED_INTERRUPTIONS = 419.0
LLAMA3_SNAPSHOT_DAYS = 54.0
LLAMA3_GPU_COUNT = 16384.0
FAILURES_PER_ACCELERATOR_HOUR = LLAMA3_UNEXPECTED_INTERRUPTIONS / (LLAMA3_SNAPSHOT_DAYS * 24.0 * LLAMA3_GPU_COUNT)
# Time to write one checkpoint (asynchronous/sharded checkpointing to a parallel file system):
# assumption of 60 s. With the 10-minute restart below, the Young/Daly model gives 86 % at 16,384
# GPUs (5.2 % checkpointing, 5.2 % lost work, 5.3 % restarts), below Llama 3's reported "higher
# than 90 %": the defaults are conservative for a run with Meta's automation (the Llama 3 whole-run
# row uses the published figure as its goodput input; validation/data/published_runs.csv).
CHECKPOINT_WRITE_SECONDS = 60.0
# Time from a failure to training again (detect, reschedule, reload): assumption of 10 minutes
# (Llama 3 §3.3.4 reports automated recovery; MegaScale, Jiang et al. 2024, reports minutes).
RESTART_SECONDS = 600.0
# One-off start-up of a run (scheduling, loading, compilation, warm-up): assumption of 30 min.
# This is why goodput also depends on run length: short runs amortise it over fewer steps.
RUN_STARTUP_SECONDS = 1800.0

# --- power and energy ------------------------------------------------------------------------
# Latosinska et al. 2025, arXiv 2506.14551 (Brookhaven): 8×H100 nodes in training draw at most
# ~76 % of the 10.2 kW node TDP. Applied to the accelerator's TDP when no profile measured power.
TRAINING_POWER_FRACTION_OF_TDP = 0.76
# NVIDIA DGX H100 user guide (2023): 10.2 kW system maximum, 8×700 W GPUs; the rest, (10,200 −
# 5,600)/8 = 575 W per GPU, is CPUs, memory, NICs, fans, storage. At the same 76 % load fraction:
HOST_POWER_WATTS_PER_ACCELERATOR = 0.76 * (10200.0 - 8 * 700.0) / 8.0
# InfiniBand switches per accelerator: NVIDIA QM9700 (64×400 Gb/s, ~1.7 kW max, datasheet 2023)
# with ~2.5 switch ports per endpoint in a three-tier fat tree → ~66 W; at 76 % load ≈ 50 W.
NETWORK_POWER_WATTS_PER_ACCELERATOR = 0.76 * 1700.0 / 64.0 * 2.5
# Power usage effectiveness. Uptime Institute Global Survey 2023: industry average 1.58; Google
# fleet 2023: 1.10 (Environmental Report 2024). Default for a modern AI facility: 1.2 (assumed).
DEFAULT_PUE = 1.2
# Grid carbon intensity, world average 2023: 480 gCO2e/kWh (Ember, Global Electricity Review 2024).
DEFAULT_CARBON_INTENSITY_GRAMS_PER_KWH = 480.0
# US industrial electricity price, 2023 annual average: 8.04 ¢/kWh (EIA Electric Power Monthly,
# Table 5.3, Feb 2024).
DEFAULT_ELECTRICITY_PRICE_USD_PER_KWH = 0.0804
# Capex of one accelerator with its share of server and network: one figure for training cost
# and campus sizing, campus_defaults.it_capex_usd_per_accelerator (GPU prices and the server /
# interconnect shares of Cottier et al. 2024; Bernstein's NVL72 split for GB200), amortised over
# IT_DEPRECIATION_YEARS.
# Depreciation period of IT equipment: 4 years (Cottier et al. 2024 use ~4 years for GPUs).
IT_DEPRECIATION_YEARS = 4.0
HOURS_PER_YEAR = 8766.0  # 365.25 days

# --- serving -----------------------------------------------------------------------------------
# Precision of the KV cache when the request names none: BF16 (vLLM's kv_cache_dtype "auto" stores
# it at the model's 16-bit activation dtype, vLLM docs "Quantized KV Cache", 2024), except for
# weight formats in KV_CACHE_PRECISIONS_FOLLOWING_WEIGHTS, whose checkpoints carry FP8 KV scales
# and are served with an FP8 (e4m3) cache (NVIDIA TensorRT Model Optimizer, examples/llm_ptq:
# kv_cache_qformat "fp8" by default with FP8 quantisation, 2024; vLLM docs "FP8 E4M3 KV Cache").
DEFAULT_KV_CACHE_PRECISION = "bf16"
KV_CACHE_PRECISIONS_FOLLOWING_WEIGHTS = ("fp8",)
# Routed-expert work of the busiest expert-parallel device over the mean: DeepSeek-V3 prefill on
# 4 × 8 H100 (EP32) in SGLang ran at 50,302 tokens/s per node with the default expert placement
# and 59,337 with a simulated perfectly balanced one ("Deploying DeepSeek with PD Disaggregation
# and Large-scale Expert Parallelism on 96 H100 GPUs", LMSYS blog, 2025-05-05): a whole-step
# ratio of 1.18, taken as the MoE part's (a lower bound of it: the step also runs balanced
# attention). EPLB's redundant experts narrow it; the blog notes imbalance grows with EP size.
EXPERT_PARALLEL_LOAD_IMBALANCE = 59337.0 / 50302.0
# Fraction of accelerator memory a serving engine may use (vLLM's gpu_memory_utilization
# default 0.9, vLLM docs 2024).
SERVING_MEMORY_FRACTION = 0.9
# Largest batch the throughput search considers (sequences); vLLM max_num_seqs default 256
# (2024) — we allow 4× that.
SERVING_MAX_BATCH_SIZE = 1024

# Sampling the next token of one sequence, per vocabulary entry and decode step, counted from
# vLLM's V1 sampler (vllm/v1/sample/sampler.py, Sampler.forward for random sampling without
# top-k/top-p, as vLLM's benchmark_throughput and benchmark_latency run it: temperature 1, top_p 1):
# logits.to(float32) reads 2 B and writes 4 B; the in-place temperature divide reads and writes
# 4 B; softmax in float32 reads the row twice (max and sum, then normalise) and writes it, 12 B;
# exponential_() writes the noise q, 4 B; probs.div_(q) reads 8 B and writes 4 B; argmax reads
# 4 B: 46 B per entry. The sampler runs on the whole vocabulary (the logits are gathered over
# the tensor-parallel group first, vLLM LogitsProcessor) and outside the decode step's CUDA
# graph, one host launch per kernel (those six and the gather).
SAMPLER_BYTES_PER_VOCAB_ENTRY = 6.0 + 8.0 + 12.0 + 4.0 + 12.0 + 4.0
SAMPLER_KERNELS_PER_STEP = 7.0

SECONDS_PER_HOUR = 3600.0
JOULES_PER_KWH = 3.6e6

# --- datasheet-mode efficiencies that are published, not fitted ----------------------------------
# Best sustained dense GEMM rate as a fraction of the datasheet peak, measured by mamf-finder
# (maximum achievable matmul FLOP/s over a shape sweep, random normal data; stas00/ml-engineering,
# compute/accelerator/README.md, MAMF table, 2024-2025): A100 SXM bf16 271.2 of 312 TFLOP/s;
# H100 SXM bf16 794.5 of 989 (H200 the same), fp8 1402.6 of 1979; H200 fp8 1453.4 of 1979;
# B200 bf16 1745 of 2250, fp8 3432.5 of 4500; GB200 bf16 1822 of 2500, fp8 3615.6 of 5000;
# MI300X bf16 668.4 of 1300 (TunableOp). MI300X fp8 (no mamf-finder figure): AMD's own
# Max-Achievable FLOPs, 1,273 TFLOP/s of 2,614.9 (hipBLASLt-bench 4096×3648×32896, fp8 e4m3fnuz,
# "Measuring Max-Achievable FLOPs – Part 2", rocm.blogs.amd.com, Table 1, 2025-02; its footnote 4
# gives 1,223.6: the table value is taken), independently Microsoft's ND MI300X v5 hipBLASLt fp8
# sweep peaks at 1,222.9 (Azure AI-benchmarking-guide, ND_MI300X_v5_results.md, 8192³). Without it
# MI300X fp8 took the A100 default 0.87 = 2,273 TFLOP/s, 1.8× what the chip sustains (issue 12:
# the MI300X serving rows 2-4× optimistic). Keyed by catalog id, then precision; fp16 runs on the
# same tensor-core path as bf16. A large GEMM never exceeds this; smaller shapes fall below it.
GEMM_MAX_FRACTION_OF_PEAK_BY_HARDWARE = {
    "a100-80gb": {"bf16": 271.2 / 312.0},
    "a100-40gb": {"bf16": 271.2 / 312.0},
    "h100-sxm": {"bf16": 794.5 / 989.0, "fp8": 1402.6 / 1979.0},
    "h800": {"bf16": 794.5 / 989.0, "fp8": 1402.6 / 1979.0},
    "h200": {"bf16": 794.5 / 989.0, "fp8": 1453.4 / 1979.0},
    "b200": {"bf16": 1745.0 / 2250.0, "fp8": 3432.5 / 4500.0},
    "gb200": {"bf16": 1822.0 / 2500.0, "fp8": 3615.6 / 5000.0},
    "mi300x": {"bf16": 668.4 / 1300.0, "fp8": 1273.0 / 2614.9},
}
# Accelerators (or precisions) without a published mamf-finder figure use the A100 SXM bf16
# fraction, the GPU on which the shape model of `fitted_constants.py` was fitted and validated.
DEFAULT_GEMM_MAX_FRACTION_OF_PEAK = 271.2 / 312.0
# Sustained fraction of datasheet HBM bandwidth reached by STREAM-like copies: BabelStream on
# A100 SXM4 80 GB ~1.75 of 2.04 TB/s and on H100 SXM ~2.9-3.0 of 3.35 TB/s (BabelStream results,
# Deakin et al.; stas00/ml-engineering, 2024) → 0.86.
MEMORY_BANDWIDTH_FRACTION_OF_DATASHEET = 0.86
# Where an accelerator's measured copy bandwidth departs from that fraction, its own: MI300X copies
# at 4.15 of 5.3 TB/s (triad 4.10; Microsoft Azure AI-benchmarking-guide, ND_MI300X_v5_results.md,
# "HBM Bandwidth", ROCm 6.8.5; read in fork yosoyjay/AI-benchmarking-guide at a8263ef, 2025), 0.78;
# the same page set gives H100 2.90 of 3.35 (0.87) and H200 4.01 of 4.8 (0.84), both within 3 % of
# the default, so they keep it. Keyed by catalog id.
MEMORY_BANDWIDTH_FRACTION_OF_DATASHEET_BY_HARDWARE = {"mi300x": 4.15 / 5.3}
# FlashAttention-2 (Dao 2023, arXiv 2307.08691, §4.1): forward up to 73 % and backward up to 63 %
# of A100 peak at long sequences; end-to-end mean about 0.6 of peak.
FLASH_ATTENTION_FRACTION_OF_PEAK = 0.6
# Idle power as a fraction of TDP: H100 SXM idles at ~70-90 W of 700 W (nvidia-smi, NVML
# readings reported by Zeus/ML.ENERGY, 2024) → 0.12.
IDLE_POWER_FRACTION_OF_TDP = 0.12
# Serving power (accelerator_power.py: each second of a step draws the power of the unit bounding
# it): this project's H100 SXM measurement of 2026-11-28, bench/results/h100-sxm-full-2026-11-28.json
# (`power`, NVML energy over ≥ 5 s windows, power limit 700 W = TDP), as fractions of the 700 W TDP;
# on the datasheet path they are applied to any accelerator's TDP, a stated assumption
# (scenarios.serving_power_assumptions). The quick profile of the same session
# (h100-sxm-quick-2026-11-28.json) gives 0.175 / 1.005 / 0.775.
SERVING_POWER_MEASUREMENT_TDP_WATTS = 700.0
# Idle with the clocks up (SM 1980 MHz, the process holding the GPU): 127.93 W → 0.183. Not the
# 0.12 above (70-90 W): that GPU has had no work for seconds and lowered its clocks; a serving
# engine's gaps (host work, launches) last microseconds to milliseconds.
SERVING_IDLE_POWER_FRACTION_OF_TDP = 127.93 / SERVING_POWER_MEASUREMENT_TDP_WATTS
# Compute-bound: bf16 GEMM window, 699.18 W → 0.999 (fp32 691, tf32 698, fp16 709, fp8 706 W: every
# precision sits at the 700 W limit, `sw_power_cap`). Not TRAINING_POWER_FRACTION_OF_TDP's 0.76,
# a whole-node figure (Brookhaven's DGX), which training keeps (docs/estimation.md, "Serving power").
SERVING_COMPUTE_BOUND_POWER_FRACTION_OF_TDP = 699.18 / SERVING_POWER_MEASUREMENT_TDP_WATTS
# Memory-bound: the `memory_bound_window`, Numba STREAM triad fp64 at 3.0 TB/s, 554.10 W → 0.792
# (SM clock 1980 MHz, not throttled).
SERVING_MEMORY_BOUND_POWER_FRACTION_OF_TDP = 554.10 / SERVING_POWER_MEASUREMENT_TDP_WATTS

# --- planner defaults: the global batch when the request sets none (planner.batch_policy) -------
# The smallest batch the planner considers for a large model: ~4M tokens per step, the common
# practice of frontier runs (Llama 2, Touvron et al. 2023, arXiv 2307.09288, §2.2: 4M tokens;
# GPT-3 175B 3.2M, Brown et al. 2020, Table 2.1; Llama 3 405B started at 4M, arXiv 2407.21783
# §3.4.1, 2024-07). Smaller models start at their critical batch when that is below it.
DEFAULT_GLOBAL_BATCH_TOKENS = 4.0 * 2**20
# The largest global batch published for a frontier run: DeepSeek-V3, 15,360 sequences of 4,096
# tokens (arXiv 2412.19437, §4.2, 2024-12). The planner never proposes more unless a plan's data
# parallelism alone needs it.
LARGEST_PUBLISHED_GLOBAL_BATCH_TOKENS = 15360.0 * 4096.0
# Near-optimal batch as a function of training compute C (FLOPs): B_opt = 0.2920 · C^0.3271 tokens
# (DeepSeek LLM, Bi et al. 2024, arXiv 2401.02954, §3.1, fitted on IsoFLOP grids up to 3e20 FLOPs
# and checked at 7B/67B scale; 2024-01). Used as the critical batch size of the run.
OPTIMAL_BATCH_COEFFICIENT_TOKENS = 0.2920
OPTIMAL_BATCH_COMPUTE_EXPONENT = 0.3271
# Compute-optimal training tokens per parameter (Chinchilla, Hoffmann et al. 2022, arXiv
# 2203.15556, ~20 tokens per parameter). The critical batch is taken at the model's compute-optimal
# budget, so the plan depends only on the model, sequence and cluster, never on training_tokens.
COMPUTE_OPTIMAL_TOKENS_PER_PARAMETER = 20.0

# --- continuous batching (estimate/continuous.py) ------------------------------------------------
# Tokens per KV-cache block of the paged cache: vLLM's default --block-size 16 (vLLM engine
# arguments docs, "block_size"; PagedAttention, Kwon et al. SOSP 2023 §4.2). A sequence holds
# ceil(tokens / block) blocks, so at most one partly filled block per sequence is wasted.
PAGED_KV_BLOCK_TOKENS = 16
# Tokens one engine step may process (decode tokens first, then prefill chunks), and the most
# sequences one step runs: vLLM V1's defaults for the OpenAI-compatible server
# (vllm/engine/arg_utils.py, _set_default_args): on GPUs with 70 GiB or more other than the A100,
# max_num_batched_tokens 8192 and max_num_seqs 1024; elsewhere 2048 and 256 (A100 excluded for
# throughput, vLLM PR #17885). vLLM docs, "Optimization and Tuning: chunked prefill".
CHUNKED_PREFILL_TOKEN_BUDGET = 8192
CONTINUOUS_MAX_NUM_SEQS = 1024
SMALL_GPU_CHUNKED_PREFILL_TOKEN_BUDGET = 2048
SMALL_GPU_MAX_NUM_SEQS = 256
LARGE_GPU_MEMORY_BYTES = 70 * 2**30
# Quantile of the standard normal for p99 (TPOT spread across requests).
Z_P99 = 2.3263
