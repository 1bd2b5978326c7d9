"""Fit each serving engine's decode realisation on public serving tables, with leave-one-source-out CV.

Run offline:  python -m flopwatt.estimate.validation.serving_calibration [--write]

What is fitted (estimate/serving_realisation.py): one number per serving engine, shared by every
hardware generation, `decode_realisation`, the fraction of the modelled decode step rate the
engine sustains. What differs between accelerators is the hardware's own sustained fraction of its
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

How a row is scored, through the estimator's own scenario builder (engine vllm, the row's
hardware, TP, precision and KV precision):
- batch_latency (benchmark_latency): a static batch of `batch_size` prompts, latency = TTFT +
  output × TPOT of `serving_metrics` (the whole batch's prefill, then its decode steps).
- throughput (benchmark_throughput, all prompts submitted at once): continuous batching
  (`continuous.estimate_continuous`) at concurrency = num prompts with the engine's max_num_seqs
  and step budget / chunked prefill set to the run's where it states them; the steady-state
  output tokens/s, × (input + output) / output where a published figure counts prompt and output
  tokens.

Objective per parameter: mean |log(predicted / published)| with every source weighing the same,
minimised on a log grid of realisations (a static-batch row is evaluated once on the whole grid:
serving_metrics takes arrays; a continuous row once per grid value). Leave-one-source-out: each
source's rows are predicted by parameters fitted on the other sources only, with the same fallback
an estimate takes when its key was not fitted (serving_realisation.choose_decode_realisation).

Not used, and why (validation/data/README.md): MLPerf Inference Llama 2 70B (the mean input length
of its OpenOrca sample is not published in any text read, and the data set is a members-only
download), SGLang's and vLLM's ShareGPT benchmarks (the sampled prompts' input lengths are not
published), and the sources the issues reserve as held-out test data (TensorRT-LLM's performance
overview, NVIDIA NIM benchmark pages, LambdaLabs' vLLM benchmarks), which are in no table.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np

from flopwatt.estimate import serving_realisation
from flopwatt.estimate.catalog import engine_ids, get_engine, get_hardware
from flopwatt.estimate.continuous import ContinuousBatching, estimate_continuous
from flopwatt.estimate.inference import serving_metrics
from flopwatt.estimate.model_choice import ModelChoice
from flopwatt.estimate.scenarios import InferenceWorkload, build_inference_scenario
from flopwatt.estimate.serving_realisation import (
    FittedDecodeRealisation,
    ServingCalibration,
    choose_decode_realisation,
)
from flopwatt.estimate.stack_realisation import hardware_generation
from flopwatt.estimate.validation.grid_fit import (
    at_realisation,
    best_on_grid,
    group_by_key,
    leave_one_source_out,
    mean_absolute_percentage_error,
)

DATA_FILE = "serving_published.csv"
# Realisations the fit may choose: 0.3 … 1.5 on a log grid (1.3 % apart).
REALISATION_GRID = np.exp(np.linspace(np.log(0.3), np.log(1.5), 121))
SOURCES = {
    "amd-rocm-performance-results": "AMD, 'Performance results with AMD ROCm software' (amd.com), vLLM on 8x MI300X",
    "azure-ai-benchmarking-guide": "Microsoft Azure AI-benchmarking-guide, ND MI300X v5 results, vLLM on MI300X",
    "vllm-ci-performance-benchmark": "vLLM nightly performance benchmark (buildkite.com/vllm/performance-benchmark)",
}
METRICS = {"throughput": ("tokens_per_second_total", "tokens_per_second_output"), "batch_latency": ("seconds",)}
METHOD = (
    "decode_realisation per engine, shared across hardware generations (hardware differences are the "
    "accelerators' published sustained fractions): argmin on a log grid (0.3-1.5) of the source-balanced mean "
    "|log(predicted/published)|; leave-one-source-out CV: each source's rows predicted by the engine's value "
    "fitted on the other sources (the physics alone, 1, where no other source has the engine)"
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
    num_prompts: int  # throughput: prompts submitted at once
    max_num_seqs: int  # throughput: the engine's max_num_seqs in the run
    max_num_batched_tokens: int  # the run's step token budget; 0: the engine's default
    chunked_prefill: str  # default | on | off, as the run set it
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
    if row.metric == "batch_latency" and (row.batch_size < 1 or row.num_prompts):
        raise ServingDataError(f"{where}: a latency row needs a batch size and no prompt count")
    if row.metric == "throughput" and (row.batch_size or row.num_prompts < 1 or row.max_num_seqs < row.num_prompts):
        raise ServingDataError(f"{where}: a throughput row has num prompts ≤ max num seqs (all prompts run at once)")
    if row.chunked_prefill not in CHUNKED_PREFILL or row.max_num_batched_tokens < 0:
        raise ServingDataError(f"{where}: chunked prefill {row.chunked_prefill!r} / step budget not a run setting")
    if row.source == "vllm-ci-performance-benchmark":
        published_ms = f"{row.published_value * 1000:.6g}"
        if f"{published_ms} ms" not in row.published:
            raise ServingDataError(f"{where}: {row.published_value} s is not {published_ms} ms of the published text")
    elif f"{row.published_value:g}" not in row.published.replace(",", ""):
        raise ServingDataError(f"{where}: {row.published_value} not in the published text")
    for count, label in ((row.input_tokens, "input"), (row.output_tokens, "output")):
        if f"{label} {count}" not in row.published and f"{label} length: {count}" not in row.published:
            if f"{label} {count} tokens" not in row.published:
                raise ServingDataError(f"{where}: {label} {count} not in the published text")
    if row.metric == "batch_latency" and row.published_value / row.output_tokens <= 0:
        raise ServingDataError(f"{where}: implied time per output token not positive")


def load_serving_rows(text: str | None = None) -> list[ServingRow]:
    """Every row of validation/data/serving_published.csv, checked (ServingDataError otherwise)."""
    if text is None:
        text = resources.files("flopwatt.estimate.validation").joinpath("data", DATA_FILE).read_text()
    ints = {
        "accelerator_count",
        "batch_size",
        "num_prompts",
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
class ServingCalibrationRow:
    """One scored published row, evaluated on the whole realisation grid."""

    name: str
    source: str  # the LOSO unit
    engine: str
    hardware_id: str
    generation: str
    metric: str
    published: float
    predicted: np.ndarray  # one per REALISATION_GRID value

    @property
    def key(self) -> str:
        return self.engine

    def predicted_at(self, realisation: float) -> float:
        """The metric at a realisation (log-log interpolation on the grid, clamped at its ends)."""
        return at_realisation(REALISATION_GRID, self.predicted, realisation)


def _scenario(row: ServingRow, batch_size: int, concurrency: int):
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
    return replace(scenario, decode_realisation=1.0)


def predicted_on_grid(row: ServingRow, grid: np.ndarray = REALISATION_GRID) -> np.ndarray:
    """The row's metric as the estimator predicts it at each decode realisation of `grid`."""
    if row.metric == "batch_latency":
        scenario = _scenario(row, row.batch_size, 0)
        metrics = serving_metrics(
            scenario.arch,
            scenario.hardware,
            scenario.accelerator_count,
            float(row.batch_size),
            row.input_tokens,
            row.output_tokens,
            scenario.facility,
            kv_bytes_per_element=scenario.kv_cache_bytes_per_element,
            cuda_graph_max_batch=scenario.cuda_graph_max_batch,
            decode_realisation=grid,
        )
        latency = metrics.time_to_first_token_seconds + row.output_tokens * metrics.time_per_output_token_seconds
        return np.broadcast_to(np.asarray(latency, dtype=float), grid.shape).copy()
    scenario = _scenario(row, 0, row.num_prompts)
    engine = run_engine(row, ContinuousBatching.for_scenario(scenario))
    tokens = row.input_tokens + row.output_tokens if row.unit == "tokens_per_second_total" else row.output_tokens
    output = np.array(
        [
            estimate_continuous(replace(scenario, decode_realisation=float(r)), engine).output_tokens_per_second
            for r in grid
        ]
    )
    return output * tokens / row.output_tokens


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
        published=row.published_value,
        predicted=predicted_on_grid(row),
    )


def calibration_rows() -> list[ServingCalibrationRow]:
    """Every scored row of the serving table (computed once per process: about 15 s of continuous
    batching on the grid)."""
    return list(_cached_rows())


def _mape(rows: list[ServingCalibrationRow], realisations: Iterable[float]) -> float:
    return mean_absolute_percentage_error(rows, realisations, REALISATION_GRID)


def fit_group(rows: list[ServingCalibrationRow]) -> float:
    """The grid realisation minimising the source-balanced mean |log error| of the rows."""
    return best_on_grid(rows, REALISATION_GRID)


def fit(rows: list[ServingCalibrationRow]) -> ServingCalibration:
    """Parameters fitted on `rows` (CV fields empty: see calibrate)."""
    parameters = []
    for engine, group in sorted(group_by_key(rows).items()):
        value = fit_group(group)
        parameters.append(
            FittedDecodeRealisation(
                engine=engine,
                generations=tuple(sorted({row.generation for row in group})),
                value=value,
                rows=len(group),
                sources=tuple(sorted({row.source for row in group})),
                in_sample_mape_percent=_mape(group, [value] * len(group)),
                cross_validated_mape_percent=float("nan"),
            )
        )
    return ServingCalibration(fitted_on=dt.date.today().isoformat(), method=METHOD, parameters=tuple(parameters))


def given_realisation(row: ServingCalibrationRow, calibration: ServingCalibration) -> float:
    return choose_decode_realisation(row.engine, row.generation, calibration, validated_only=False)[0]


def cross_validated_realisations(rows: list[ServingCalibrationRow]) -> list[float]:
    """For each row, the realisation fitted without its source (the estimator's fallback applies)."""
    return leave_one_source_out(rows, fit, given_realisation)


def calibrate(rows: list[ServingCalibrationRow] | None = None) -> ServingCalibration:
    """Parameters on all rows with their LOSO CV error."""
    rows = calibration_rows() if rows is None else rows
    calibration = fit(rows)
    cv = cross_validated_realisations(rows)
    parameters = []
    for item in calibration.parameters:
        members = [i for i, row in enumerate(rows) if row.key == item.engine]
        cv_mape = _mape([rows[i] for i in members], [cv[i] for i in members])
        parameters.append(replace(item, cross_validated_mape_percent=cv_mape))
    return replace(calibration, parameters=tuple(parameters))


def calibration_document(calibration: ServingCalibration) -> dict:
    """The JSON document of catalog/data/serving_calibration.json (rounded: it is read by people)."""
    return {
        "fitted_on": calibration.fitted_on,
        "method": calibration.method,
        "written_by": "python -m flopwatt.estimate.validation.serving_calibration --write",
        "fit_data": "estimate/validation/data/serving_published.csv (sources: " + ", ".join(sorted(SOURCES)) + ")",
        "parameters": [
            {
                "engine": p.engine,
                "generations": list(p.generations),
                "value": round(p.value, 4),
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
    physics_mape_percent: float  # decode realisation 1
    in_sample_mape_percent: float  # parameters fitted on every source, this one included
    cross_validated_mape_percent: float  # parameters fitted without this source


def source_errors(rows: list[ServingCalibrationRow], calibration: ServingCalibration) -> list[ServingSourceError]:
    """The per source × hardware × engine × metric table of `flopwatt validate`, a row per source
    and metric ('all' hardware), and a row per metric over every source ('all')."""
    cv = cross_validated_realisations(rows)
    in_sample = [given_realisation(row, calibration) for row in rows]
    groups: dict[tuple[str, str, str, str], list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault((row.source, row.hardware_id, row.engine, row.metric), []).append(i)
        groups.setdefault((row.source, "all", "all", row.metric), []).append(i)
        groups.setdefault(("all", "all", "all", row.metric), []).append(i)
    table = []
    for (source, hardware_id, engine, metric), members in sorted(
        groups.items(), key=lambda kv: (kv[0][0] == "all", kv[0])
    ):
        chosen = [rows[i] for i in members]
        table.append(
            ServingSourceError(
                source,
                hardware_id,
                engine,
                metric,
                len(members),
                _mape(chosen, [1.0] * len(chosen)),
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
            f"{e.source:<30} {e.hardware_id:<10} {e.engine:<6} {e.metric:<14} {e.rows:>3} physics "
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
