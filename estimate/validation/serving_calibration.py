"""Fit each serving engine's decode realisation on public serving tables, with leave-one-source-out CV.

Run offline:  python -m flopwatt.estimate.validation.serving_calibration [--write]

What is fitted (estimate/serving_realisation.py): two numbers per serving engine, shared by every
hardware generation: `decode_realisation`, the fraction of the modelled decode step rate the
engine sustains, and `per_sequence_step_seconds`, the engine's host time per running sequence per
step (scheduling, input preparation, output processing) during which the accelerator waits. What differs between accelerators is the hardware's own sustained fraction of its
datasheet (GEMM, HBM copy, all-reduce: constants.py, from published microbenchmarks), not an
engine term; a per-generation engine value could not be cross-validated, since each source covers
its own generations. Fit data (validation/data/serving_published.csv, one LOSO unit per publication):

- `amd-rocm-performance-results`: AMD's published vLLM results on 8× MI300X (Llama 3.1 70B and
  405B FP8, TP 8): offline throughput (output tokens/s) at four input/output shapes with num
  prompts = max num seqs (vLLM benchmark_throughput), and the end-to-end latency of a batch of 1,
  2 and 4 at 128/2048 (vLLM benchmark_latency).
- `azure-ai-benchmarking-guide`: Microsoft's ND MI300X v5 results (Llama 3.1 8B TP1, 70B and 405B
  TP8, FP8): vLLM benchmark_throughput, 1000 prompts at once, six input/output shapes, chunked
  prefill off with a 131,072-token step budget (output tokens/s, as its harness parses them).
- `vllm-ci-performance-benchmark`: vLLM's own nightly performance benchmark, latency tests
  (a fixed batch of 8, 32 input and 128 output tokens; Llama 3.1 8B TP1, Llama 3 70B TP4,
  Mixtral 8x7B TP2) on A100-SXM4-80GB, H100 and H200.

Scored beside them, never fitted (`interface` = online: an HTTP server streaming each token, a
front end the step model does not describe):
- `gpustack-performance-lab`: GPUStack's baselines of vLLM v0.11.0, SGLang and TensorRT-LLM at
  default flags on one H100 (Qwen3 8B/14B/32B BF16, `vllm bench serve`): median TTFT and TPOT of a
  closed loop of 1-8 clients, and output tokens/s with every prompt sent at once.
- `sglang-cookbook`: SGLang's own cookbook, DeepSeek-R1-0528 (the deepseek-v3 architecture) on 8×
  B200 at default flags (`--tp 8`), sglang.bench_serving: median TTFT and TPOT of a closed loop of
  1-100 clients at three shapes.

How a row is scored, through the estimator's own scenario builder (engine vllm, the row's
hardware, TP, precision and KV precision):
- batch_latency (benchmark_latency): a static batch of `batch_size` prompts, latency = TTFT +
  output × TPOT of `serving_metrics` (the whole batch's prefill, then its decode steps).
- throughput (benchmark_throughput, all prompts submitted at once, equal lengths): one static
  wave (a static batch of every prompt: its prefill, then the decode steps) when the running batch
  holds every prompt to its last token (`one_wave_bound`: KV at P + O each, max_num_seqs, the step
  budget), since none is replaced while the others decode; else, and for online runs, continuous
  batching (`continuous.estimate_continuous`) at concurrency = num prompts with the engine's
  max_num_seqs and step budget / chunked prefill set to the run's where it states them, the
  steady-state output tokens/s; × (input + output) / output where a published figure counts prompt
  and output tokens.
- ttft_median / tpot_median (a closed loop of `concurrency` clients): continuous batching at that
  concurrency, the estimate's p50 TTFT and TPOT.

Objective per engine: mean |log(predicted / published)| over the offline rows, every source
weighing the same, minimised on a 3-D grid (decode realisation on a log grid × host seconds per
sequence-step: 0 and a log grid × prefill realisation on a log grid). Each row is evaluated through
the estimator at five parameter points: its time (latency, or seconds per output token of a
throughput run) is affine in 1 / decode realisation, in 1 / prefill realisation and in the host
seconds (every accelerator part of a decode step is divided by the first, every part of a prompt's
prefill by the second, the host part is the running batch times the third; the running batch
depends on none), so four points give the row's four coefficients and the fifth checks the
affinity (`RowResponse`); the grid is then exact arithmetic. Leave-one-source-out: each source's
rows are predicted by parameters fitted on the other sources only, with the same fallback an
estimate takes when its key was not fitted (serving_realisation.choose_decode_realisation).

Not used, and why (validation/data/README.md): MLPerf Inference Llama 2 70B (the mean input length
of its OpenOrca sample is not published in any text read, and the data set is a members-only
download), SGLang's and vLLM's ShareGPT benchmarks (the sampled prompts' input lengths are not
published; GPUStack's and SGLang's cookbook pages print the token totals, so theirs are), and the
sources the issues reserve as held-out test data (TensorRT-LLM's performance overview, NVIDIA NIM
benchmark pages, LambdaLabs' vLLM benchmarks), which are in no table.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import functools
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np

from flopwatt.estimate import serving_realisation
from flopwatt.estimate.catalog import engine_ids, get_engine, get_hardware
from flopwatt.estimate.continuous import ContinuousBatching, estimate_continuous, kv_bound
from flopwatt.estimate.inference import scenario_serving_metrics
from flopwatt.estimate.model_choice import ModelChoice
from flopwatt.estimate.scenarios import InferenceWorkload, build_inference_scenario
from flopwatt.estimate.serving_realisation import (
    DecodeRealisation,
    FittedDecodeRealisation,
    ServingCalibration,
    choose_decode_realisation,
)
from flopwatt.estimate.stack_realisation import hardware_generation
from flopwatt.estimate.validation.grid_fit import best_index_on_grid, group_by_key, leave_one_source_out

DATA_FILE = "serving_published.csv"
# Realisations the fit may choose: 0.3 … 1.5 on a log grid (1.3 % apart).
REALISATION_GRID = np.exp(np.linspace(np.log(0.3), np.log(1.5), 121))
# Host seconds per running sequence per step the fit may choose: none, or 0.25 µs … 256 µs on a
# log grid (26 % apart): from a compiled scheduler's sub-microsecond bookkeeping to a Python
# engine's tens of microseconds per request and step.
PER_SEQUENCE_STEP_GRID = np.concatenate([[0.0], np.geomspace(0.25e-6, 256e-6, 31)])
# Prefill realisations the fit may choose: 0.3 … 1.5 on a log grid (2.7 % apart).
PREFILL_REALISATION_GRID = np.exp(np.linspace(np.log(0.3), np.log(1.5), 61))
# The 3-D grid, flattened (decode-realisation-major): the parameter triple of each point.
GRID_REALISATION, GRID_PER_SEQUENCE, GRID_PREFILL = (
    a.ravel() for a in np.meshgrid(REALISATION_GRID, PER_SEQUENCE_STEP_GRID, PREFILL_REALISATION_GRID, indexing="ij")
)
SOURCES = {
    "amd-rocm-performance-results": "AMD, 'Performance results with AMD ROCm software' (amd.com), vLLM on 8x MI300X",
    "azure-ai-benchmarking-guide": "Microsoft Azure AI-benchmarking-guide, ND MI300X v5 results, vLLM on MI300X",
    "vllm-ci-performance-benchmark": "vLLM nightly performance benchmark (buildkite.com/vllm/performance-benchmark)",
    "gpustack-performance-lab": "GPUStack performance lab (github.com/gpustack/gpustack docs/performance-lab): "
    "vLLM v0.11.0, SGLang and TensorRT-LLM baselines (default flags) on one H100 SXM, vllm bench serve",
    "sglang-cookbook": "SGLang Cookbook (github.com/sgl-project/sgl-cookbook, cookbook.sglang.io): the project's own "
    "launch and sglang.bench_serving results, DeepSeek-R1-0528 on 8x B200 at default flags",
}
METRICS = {
    "throughput": ("tokens_per_second_total", "tokens_per_second_output"),
    "batch_latency": ("seconds",),
    "ttft_median": ("seconds",),
    "tpot_median": ("seconds",),
}
# The metrics of a closed-loop serving run (`concurrency` clients, each sending its next request when
# the last one ends): the median TTFT and TPOT the benchmark client reports.
CLOSED_LOOP_METRICS = frozenset({"ttft_median", "tpot_median"})
# How the run reached the engine. `offline`: vLLM's LLM class in the benchmark's own process
# (benchmark_throughput, benchmark_latency), the engine's steps and nothing else. `online`: an
# HTTP server streaming every token to its client (`vllm bench serve` against `vllm serve`,
# SGLang's and TensorRT-LLM's servers), whose front end (HTTP, chat template, tokenization,
# detokenizing and streaming each token of each request) the step model does not describe and
# neither parameter stands for: an online row in the objective would pull the decode realisation
# down to absorb it. Online rows are scored out of sample, with parameters fitted on offline rows.
INTERFACES = frozenset({"offline", "online"})
FITTED_INTERFACE = "offline"
# Sources whose latencies are published in milliseconds (the loader finds value × 1000 in the text).
PUBLISHED_IN_MILLISECONDS = frozenset({"vllm-ci-performance-benchmark", "gpustack-performance-lab", "sglang-cookbook"})
# Sources whose rows take a run's mean lengths, checked against its printed token totals.
LENGTHS_FROM_TOTALS = frozenset({"gpustack-performance-lab", "sglang-cookbook"})
METHOD = (
    "decode_realisation, per_sequence_step_seconds (engine host time per running sequence per step) and "
    "prefill_realisation per engine, shared across hardware generations (hardware differences are the "
    "accelerators' published sustained fractions): argmin on a 3-D grid (decode realisation 0.3-1.5 on a log grid "
    "x host time 0 or 0.25-256 us on a log grid x prefill realisation 0.3-1.5 on a log grid) of the "
    "source-balanced mean |log(predicted/published)| over the offline rows; leave-one-source-out CV: each "
    "source's rows predicted by the engine's triple fitted on the other sources (the physics alone, 1, 0 and 1, "
    "where no other source has the engine)"
)
CHUNKED_PREFILL = {"default": None, "on": True, "off": False}


class ServingDataError(ValueError):
    """A row of the serving table fails a loader check."""


@dataclass(frozen=True)
class ServingRow:
    """One published serving figure and what it was measured on (serving_published.csv)."""

    source: str
    row: str
    engine: str
    hardware_id: str
    accelerator_count: int
    model: str
    precision: str
    kv_cache_precision: str
    metric: str  # throughput | batch_latency
    batch_size: int  # batch_latency: the static batch
    num_prompts: int  # throughput: prompts submitted at once; closed loop: prompts sent in all
    concurrency: int  # ttft_median / tpot_median: clients of the closed loop (0 for other metrics)
    max_num_seqs: int  # throughput: the engine's max_num_seqs in the run
    max_num_batched_tokens: int  # the run's step token budget; 0: the engine's default
    chunked_prefill: str  # default | on | off, as the run set it
    interface: str  # offline | online (INTERFACES)
    input_tokens: int
    output_tokens: int
    published_value: float
    unit: str
    published_basis: str
    engine_version: str
    url: str
    source_date: str
    published: str
    assumed: str

    @property
    def name(self) -> str:
        return f"{self.source}/{self.row}"


def _check(row: ServingRow) -> None:
    """The loader's checks: known ids, consistent metric and unit, and the published text carrying
    the figure as published (milliseconds for vLLM's CI tables, seconds or tokens/s for AMD's)."""
    where = f"serving_published.csv row {row.name}"
    if row.source not in SOURCES:
        raise ServingDataError(f"{where}: unknown source {row.source!r}")
    if row.engine not in engine_ids():
        raise ServingDataError(f"{where}: unknown engine {row.engine!r}")
    get_hardware(row.hardware_id)  # raises on an unknown accelerator
    if row.metric not in METRICS or row.unit not in METRICS[row.metric]:
        raise ServingDataError(f"{where}: metric {row.metric!r} with unit {row.unit!r}")
    if not (row.published_value > 0 and row.input_tokens > 0 and row.output_tokens > 0 and row.accelerator_count > 0):
        raise ServingDataError(f"{where}: non-positive value, token count or accelerator count")
    if row.metric == "batch_latency" and (row.batch_size < 1 or row.num_prompts or row.concurrency):
        raise ServingDataError(f"{where}: a latency row needs a batch size and no prompt count or concurrency")
    # max_num_seqs 0: the engine caps its running batch by the KV cache only (SGLang's default)
    if row.metric == "throughput" and (
        row.batch_size or row.concurrency or row.num_prompts < 1 or 0 < row.max_num_seqs < row.num_prompts
    ):
        raise ServingDataError(f"{where}: a throughput row has num prompts ≤ max num seqs (all prompts run at once)")
    if row.metric in CLOSED_LOOP_METRICS and (
        row.batch_size
        or row.concurrency < 1
        or row.num_prompts < row.concurrency
        or 0 < row.max_num_seqs < row.concurrency
    ):
        raise ServingDataError(f"{where}: a closed-loop row has 1 ≤ concurrency ≤ num prompts and ≤ max num seqs")
    if row.interface not in INTERFACES:
        raise ServingDataError(f"{where}: interface {row.interface!r} is not one of {sorted(INTERFACES)}")
    if row.metric in CLOSED_LOOP_METRICS and row.interface != "online":
        raise ServingDataError(f"{where}: a closed loop of clients is an online run")
    if row.chunked_prefill not in CHUNKED_PREFILL or row.max_num_batched_tokens < 0:
        raise ServingDataError(f"{where}: chunked prefill {row.chunked_prefill!r} / step budget not a run setting")
    if row.unit == "seconds" and row.source in PUBLISHED_IN_MILLISECONDS:
        published_ms = f"{row.published_value * 1000:.6g}"
        if f"{published_ms} ms" not in row.published and f"(ms): {published_ms}" not in row.published:
            raise ServingDataError(f"{where}: {row.published_value} s is not {published_ms} ms of the published text")
    elif f"{row.published_value:g}" not in row.published.replace(",", ""):
        raise ServingDataError(f"{where}: {row.published_value} not in the published text")
    if row.source in LENGTHS_FROM_TOTALS:
        _check_mean_lengths(row, where)
    else:
        for count, label in ((row.input_tokens, "input"), (row.output_tokens, "output")):
            if f"{label} {count}" not in row.published and f"{label} length: {count}" not in row.published:
                if f"{label} {count} tokens" not in row.published:
                    raise ServingDataError(f"{where}: {label} {count} not in the published text")
    if row.metric == "batch_latency" and row.published_value / row.output_tokens <= 0:
        raise ServingDataError(f"{where}: implied time per output token not positive")


def _published_integer(text: str, label: str, where: str) -> int:
    """The integer after `label:` in a benchmark client's printed result (vLLM's `bench serve`)."""
    match = re.search(re.escape(label) + r":\s*([0-9]+)", text)
    if match is None:
        raise ServingDataError(f"{where}: '{label}:' not in the published text")
    return int(match.group(1))


def _check_mean_lengths(row: ServingRow, where: str) -> None:
    """A row whose lengths are a run's means (ShareGPT, or random prompts cut short by an end of
    sequence): the input and output tokens per request by arithmetic from the published totals."""
    requests = _published_integer(row.published, "Successful requests", where)
    if requests != row.num_prompts:
        raise ServingDataError(f"{where}: {requests} successful requests, the row says {row.num_prompts} prompts")
    for count, label in ((row.input_tokens, "Total input tokens"), (row.output_tokens, "Total generated tokens")):
        mean = _published_integer(row.published, label, where) / requests
        if count != round(mean):
            raise ServingDataError(f"{where}: {label} / requests = {mean:.2f} per request, the row says {count}")


def load_serving_rows(text: str | None = None) -> list[ServingRow]:
    """Every row of validation/data/serving_published.csv, checked (ServingDataError otherwise)."""
    if text is None:
        text = resources.files("flopwatt.estimate.validation").joinpath("data", DATA_FILE).read_text()
    ints = {
        "accelerator_count",
        "batch_size",
        "num_prompts",
        "concurrency",
        "max_num_seqs",
        "max_num_batched_tokens",
        "input_tokens",
        "output_tokens",
    }
    rows = []
    for record in csv.DictReader(text.splitlines()):
        values = {
            field.name: (
                int(record[field.name])
                if field.name in ints
                else float(record[field.name])
                if field.name == "published_value"
                else record[field.name]
            )
            for field in dataclasses.fields(ServingRow)
        }
        row = ServingRow(**values)
        _check(row)
        rows.append(row)
    names = [row.name for row in rows]
    if len(set(names)) != len(names):
        raise ServingDataError("serving_published.csv: duplicate source/row names")
    return rows


@dataclass(frozen=True)
class RowResponse:
    """A published row's metric as a function of the three parameters: its time y (a latency in
    seconds, or for a throughput row the seconds per counted token, 1 / tokens/s) is
    `fixed + accelerator / realisation + prefill / prefill_realisation + host_steps ×
    per_sequence_step_seconds`."""

    fixed: float  # seconds no parameter moves
    accelerator: float  # seconds of accelerator work in decode steps at realisation 1
    host_steps: float  # running sequences × steps: what one second per sequence-step adds
    inverse: bool  # True: the metric is 1 / y (a throughput)
    prefill: float = 0.0  # seconds of prefill at prefill realisation 1

    def metric(
        self,
        realisation: np.ndarray | float,
        per_sequence_step_seconds: np.ndarray | float,
        prefill_realisation: np.ndarray | float = 1.0,
    ) -> np.ndarray:
        y = (
            self.fixed
            + self.accelerator / realisation
            + self.prefill / prefill_realisation
            + self.host_steps * per_sequence_step_seconds
        )
        return 1.0 / y if self.inverse else y


@dataclass(frozen=True)
class ServingCalibrationRow:
    """One scored published row and its response to the three parameters."""

    name: str
    source: str  # the LOSO unit
    engine: str
    hardware_id: str
    generation: str
    metric: str
    interface: str
    published: float
    response: RowResponse

    @property
    def fitted(self) -> bool:
        """Whether the fit's objective weighs the row (offline rows; FITTED_INTERFACE)."""
        return self.interface == FITTED_INTERFACE

    @property
    def key(self) -> str:
        return self.engine

    @property
    def predicted(self) -> np.ndarray:
        """The metric at every point of the flattened 3-D grid (GRID_REALISATION, GRID_PER_SEQUENCE,
        GRID_PREFILL)."""
        return self.response.metric(GRID_REALISATION, GRID_PER_SEQUENCE, GRID_PREFILL)

    def predicted_at(
        self, realisation: float, per_sequence_step_seconds: float = 0.0, prefill_realisation: float = 1.0
    ) -> float:
        """The metric at a parameter triple (exact: the row's affine response)."""
        return float(self.response.metric(realisation, per_sequence_step_seconds, prefill_realisation))


@functools.lru_cache(maxsize=512)
def row_scenario(row: ServingRow, batch_size: int, concurrency: int):
    """The estimator's scenario of a published row (its engine, hardware, TP, precisions and lengths) at
    the physics: decode and prefill realisation 1, no engine host time. Cached: a row's response is
    evaluated at five parameter points, each a `replace` of the same (frozen) scenario."""
    workload = InferenceWorkload(
        model=ModelChoice(preset_id=row.model),
        hardware_id=row.hardware_id,
        accelerator_count=row.accelerator_count,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        batch_size=batch_size,
        precision=row.precision,
        precision_set=True,
        kv_cache_precision=row.kv_cache_precision,
        concurrency=concurrency,
        engine=row.engine,
    )
    scenario, _ = build_inference_scenario(workload)
    return replace(scenario, decode_realisation=1.0, per_sequence_step_seconds=0.0, prefill_realisation=1.0)


def predicted_metric(
    row: ServingRow, realisation: float, per_sequence_step_seconds: float, prefill_realisation: float = 1.0
) -> float:
    """The row's metric as the estimator predicts it at one parameter triple."""
    parameters = dict(
        decode_realisation=realisation,
        per_sequence_step_seconds=per_sequence_step_seconds,
        prefill_realisation=prefill_realisation,
    )
    if row.metric == "batch_latency":
        scenario = replace(row_scenario(row, row.batch_size, 0), **parameters)
        metrics = scenario_serving_metrics(scenario, float(row.batch_size))
        return float(metrics.time_to_first_token_seconds + row.output_tokens * metrics.time_per_output_token_seconds)
    if row.metric in CLOSED_LOOP_METRICS:
        scenario = replace(row_scenario(row, 0, row.concurrency), **parameters)
        estimate = estimate_continuous(scenario, run_engine(row, ContinuousBatching.for_scenario(scenario)))
        if row.metric == "ttft_median":
            return estimate.time_to_first_token_seconds
        return estimate.time_per_output_token_seconds
    scenario = replace(row_scenario(row, 0, row.num_prompts), **parameters)
    engine = run_engine(row, ContinuousBatching.for_scenario(scenario))
    tokens = row.input_tokens + row.output_tokens if row.unit == "tokens_per_second_total" else row.output_tokens
    if row.interface == "offline" and row.num_prompts <= one_wave_bound(scenario, engine):
        # Every prompt at once, of equal lengths, and all of them fit the running batch to their
        # last token: one wave, no request replaced (or preempted) while the others decode. The
        # run is one static batch: the prompts' prefill, then the output tokens' decode steps.
        metrics = scenario_serving_metrics(
            scenario, float(row.num_prompts), cuda_graph_max_batch=engine.cuda_graph_max_batch
        )
        seconds = metrics.time_to_first_token_seconds + row.output_tokens * metrics.time_per_output_token_seconds
        return float(row.num_prompts * tokens / seconds)
    return estimate_continuous(scenario, engine).output_tokens_per_second * tokens / row.output_tokens


def one_wave_bound(scenario, engine: ContinuousBatching) -> int:
    """Sequences an engine runs together to their last token: the KV cache holding each at its
    full context P + O (they advance in step, so all reach it together), max_num_seqs, and one
    decode token each within the step budget."""
    full = replace(engine, full_sequence_reservation=True)
    return min(kv_bound(scenario, full), engine.sequence_cap, engine.step_budget(scenario.input_tokens))


# The parameter points a row is evaluated at (four give its coefficients, the fifth checks them).
_HOST_PROBE_SECONDS = 10e-6
_CHECK_POINT = (0.7, 37e-6, 0.8)


def row_response(row: ServingRow) -> RowResponse:
    """The row's affine response, from the estimator at (1, 0, 1), (0.5, 0, 1), (1, 10 µs, 1) and
    (1, 0, 0.5), checked at (0.7, 37 µs, 0.8): a model change that broke the affinity raises
    instead of fitting a wrong grid."""
    inverse = row.metric == "throughput"

    def time(realisation: float, host: float, prefill: float = 1.0) -> float:
        value = predicted_metric(row, realisation, host, prefill)
        return 1.0 / value if inverse else value

    base = time(1.0, 0.0)
    accelerator = time(0.5, 0.0) - base
    prefill = time(1.0, 0.0, 0.5) - base
    host_steps = (time(1.0, _HOST_PROBE_SECONDS) - base) / _HOST_PROBE_SECONDS
    response = RowResponse(base - accelerator - prefill, accelerator, host_steps, inverse, prefill)
    direct = predicted_metric(row, *_CHECK_POINT)
    if not math.isclose(float(response.metric(*_CHECK_POINT)), direct, rel_tol=1e-6):
        raise ServingDataError(f"{row.name}: the estimate is not affine in 1 / realisation and host seconds")
    return response


def run_engine(row: ServingRow, default: ContinuousBatching) -> ContinuousBatching:
    """The engine as the run configured it: its max_num_seqs, and its step budget and chunked
    prefill where the source states them (the engine's defaults otherwise)."""
    engine = replace(default, max_num_seqs=row.max_num_seqs)
    if row.max_num_batched_tokens:
        engine = replace(engine, token_budget=row.max_num_batched_tokens)
    chunked = CHUNKED_PREFILL[row.chunked_prefill]
    return engine if chunked is None else replace(engine, chunked_prefill=chunked)


@functools.lru_cache(maxsize=1)
def _cached_rows() -> tuple[ServingCalibrationRow, ...]:
    return tuple(calibration_row(row) for row in load_serving_rows())


def calibration_row(row: ServingRow) -> ServingCalibrationRow:
    return ServingCalibrationRow(
        name=row.name,
        source=row.source,
        engine=get_engine(row.engine).id,
        hardware_id=row.hardware_id,
        generation=hardware_generation(row.hardware_id),
        metric=row.metric,
        interface=row.interface,
        published=row.published_value,
        response=row_response(row),
    )


def calibration_rows() -> list[ServingCalibrationRow]:
    """Every scored row of the serving table (computed once per process: four estimates a row)."""
    return list(_cached_rows())


# (decode realisation, host seconds per sequence per step, prefill realisation)
Parameters = tuple[float, float, float]


def _mape(rows: list[ServingCalibrationRow], parameters: Iterable[Parameters]) -> float:
    """MAPE in percent of the rows at their parameter pairs (NaN for no rows)."""
    errors = [abs(row.predicted_at(*pair) / row.published - 1.0) for row, pair in zip(rows, parameters)]
    return float(np.mean(errors) * 100.0) if errors else float("nan")


def fit_group(rows: list[ServingCalibrationRow]) -> Parameters:
    """The grid pair minimising the source-balanced mean |log error| of the rows."""
    index = best_index_on_grid(rows)
    return float(GRID_REALISATION[index]), float(GRID_PER_SEQUENCE[index]), float(GRID_PREFILL[index])


def fit(rows: list[ServingCalibrationRow]) -> ServingCalibration:
    """Parameters fitted on the rows of `rows` the objective weighs (offline runs: `fitted`; CV
    fields empty: see calibrate)."""
    parameters = []
    for engine, group in sorted(group_by_key(row for row in rows if row.fitted).items()):
        value, per_sequence, prefill = fit_group(group)
        parameters.append(
            FittedDecodeRealisation(
                engine=engine,
                generations=tuple(sorted({row.generation for row in group})),
                value=value,
                rows=len(group),
                sources=tuple(sorted({row.source for row in group})),
                in_sample_mape_percent=_mape(group, [(value, per_sequence, prefill)] * len(group)),
                cross_validated_mape_percent=float("nan"),
                per_sequence_step_seconds=per_sequence,
                prefill_realisation=prefill,
            )
        )
    return ServingCalibration(fitted_on=dt.date.today().isoformat(), method=METHOD, parameters=tuple(parameters))


def given_parameters(row: ServingCalibrationRow, calibration: ServingCalibration) -> Parameters:
    chosen: DecodeRealisation = choose_decode_realisation(row.engine, row.generation, calibration, validated_only=False)
    return chosen.value, chosen.per_sequence_step_seconds, chosen.prefill_realisation


def cross_validated_parameters(rows: list[ServingCalibrationRow]) -> list[Parameters]:
    """For each row, the parameter triple fitted without its source (the estimator's fallback applies)."""
    return leave_one_source_out(rows, fit, given_parameters)


def calibrate(rows: list[ServingCalibrationRow] | None = None) -> ServingCalibration:
    """Parameters on all rows with their LOSO CV error."""
    rows = calibration_rows() if rows is None else rows
    calibration = fit(rows)
    cv = cross_validated_parameters(rows)
    parameters = []
    for item in calibration.parameters:
        members = [i for i, row in enumerate(rows) if row.key == item.engine and row.fitted]
        cv_mape = _mape([rows[i] for i in members], [cv[i] for i in members])
        parameters.append(replace(item, cross_validated_mape_percent=cv_mape))
    return replace(calibration, parameters=tuple(parameters))


def calibration_document(calibration: ServingCalibration) -> dict:
    """The JSON document of catalog/data/serving_calibration.json (rounded: it is read by people)."""
    return {
        "fitted_on": calibration.fitted_on,
        "method": calibration.method,
        "written_by": "python -m flopwatt.estimate.validation.serving_calibration --write",
        "fit_data": "estimate/validation/data/serving_published.csv (offline rows of "
        + ", ".join(sorted({source for p in calibration.parameters for source in p.sources}))
        + "; online rows scored beside them, never fitted)",
        "parameters": [
            {
                "engine": p.engine,
                "generations": list(p.generations),
                "value": round(p.value, 4),
                "per_sequence_step_seconds": float(f"{p.per_sequence_step_seconds:.4g}"),
                "prefill_realisation": round(p.prefill_realisation, 4),
                "rows": p.rows,
                "sources": list(p.sources),
                "in_sample_mape_percent": round(p.in_sample_mape_percent, 2),
                "cross_validated_mape_percent": round(p.cross_validated_mape_percent, 2),
            }
            for p in calibration.parameters
        ],
    }


@dataclass(frozen=True)
class ServingSourceError:
    """Error of one source × hardware × engine × metric group of rows, in percent."""

    source: str
    hardware_id: str
    engine: str
    metric: str
    rows: int
    physics_mape_percent: float  # decode realisation 1, no engine host time
    in_sample_mape_percent: float  # parameters fitted on every source, this one included
    cross_validated_mape_percent: float  # parameters fitted without this source


def source_errors(rows: list[ServingCalibrationRow], calibration: ServingCalibration) -> list[ServingSourceError]:
    """The per source × hardware × engine × metric table of `flopwatt validate`, a row per source
    and metric ('all' hardware), and a row per metric over every fitted (offline) source ('all')
    and over every online one ('all online')."""
    cv = cross_validated_parameters(rows)
    in_sample = [given_parameters(row, calibration) for row in rows]
    groups: dict[tuple[str, str, str, str], list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault((row.source, row.hardware_id, row.engine, row.metric), []).append(i)
        groups.setdefault((row.source, "all", "all", row.metric), []).append(i)
        # the overall rows keep the fitted (offline) runs apart from the online ones scored beside them
        groups.setdefault(("all" if row.fitted else "all online", "all", "all", row.metric), []).append(i)
    table = []
    for (source, hardware_id, engine, metric), members in sorted(
        groups.items(), key=lambda kv: (kv[0][0].startswith("all"), kv[0])
    ):
        chosen = [rows[i] for i in members]
        table.append(
            ServingSourceError(
                source,
                hardware_id,
                engine,
                metric,
                len(members),
                _mape(chosen, [(1.0, 0.0, 1.0)] * len(chosen)),
                _mape(chosen, [in_sample[i] for i in members]),
                _mape(chosen, [cv[i] for i in members]),
            )
        )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite catalog/data/serving_calibration.json")
    args = parser.parse_args(argv)
    rows = calibration_rows()
    calibration = calibrate(rows)
    document = calibration_document(calibration)
    print(json.dumps(document, indent=2))
    for e in source_errors(rows, calibration):
        print(
            f"{e.source:<30} {e.hardware_id:<10} {e.engine:<12} {e.metric:<14} {e.rows:>3} physics "
            f"{e.physics_mape_percent:6.1f} %  in-sample {e.in_sample_mape_percent:6.1f} %  "
            f"LOSO {e.cross_validated_mape_percent:6.1f} %"
        )
    if args.write:
        path = Path(serving_realisation.__file__).parent / "catalog" / "data" / serving_realisation.DATA_FILE
        path.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
