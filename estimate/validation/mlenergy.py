"""Energy per output token against the ML.ENERGY leaderboard: a comparison, never a fit.

Data (validation/data/mlenergy_leaderboard.csv): every H100 configuration of the leaderboard's
"LLM Chat (LM Arena)" task for the models with presets here (Llama 3.1 8B on 1 GPU, 70B on 4,
405B FP8 on 8; vLLM, max_num_seqs 8-1024), transcribed from ml-energy/leaderboard
public/data/models/*__lm-arena-chat.json (Chung et al., "The ML.ENERGY Benchmark", NeurIPS
Datasets and Benchmarks 2025). Measured: steady-state GPU energy (NVML, all the replica's GPUs)
over output tokens. The loader checks each row's arithmetic: J/token = mean power of the GPUs ÷
output tokens/s.

Predicted: the estimator's continuous-batching answer (engine vllm, its defaults; the decode
realisation as estimates use it) at concurrency = the run's mean running batch and output = the
run's mean output length, as accelerator energy (accelerator power × accelerators ÷ output
tokens/s), the same boundary as the measurement (no host, no PUE). The leaderboard does not publish
the prompts' lengths (LM Arena conversations, earlier turns included), so the prediction is made at
ASSUMED_INPUT_TOKENS and at SENSITIVITY_INPUT_TOKENS, both stated beside the result.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

from flopwatt.estimate.continuous import estimate_continuous
from flopwatt.estimate.model_choice import ModelChoice
from flopwatt.estimate.scenarios import InferenceWorkload, build_inference_scenario

DATA_FILE = "mlenergy_leaderboard.csv"
SOURCE = (
    "ML.ENERGY leaderboard (github.com/ml-energy/leaderboard, public/data/models/*__lm-arena-chat.json, "
    "data of 2026-02-16), H100 rows"
)
# Prompt lengths are not published: a short chat prompt, and a long multi-turn history as the bracket.
ASSUMED_INPUT_TOKENS = 256
SENSITIVITY_INPUT_TOKENS = 1024
ARITHMETIC_TOLERANCE = 0.01


class EnergyDataError(ValueError):
    """A row of the ML.ENERGY table fails its arithmetic or names an unknown preset."""


@dataclass(frozen=True)
class EnergyRow:
    row: str
    model: str
    hardware_id: str
    accelerator_count: int
    precision: str
    max_num_seqs: int
    avg_batch_size: float
    avg_output_tokens: float
    energy_per_output_token_joules: float
    output_tokens_per_second: float
    avg_power_watts: float  # all the replica's GPUs together
    source_file: str
    source_date: str


def load_energy_rows(text: str | None = None) -> list[EnergyRow]:
    """Every row of validation/data/mlenergy_leaderboard.csv, its arithmetic checked."""
    if text is None:
        text = resources.files("flopwatt.estimate.validation").joinpath("data", DATA_FILE).read_text()
    rows = []
    for record in csv.DictReader(text.splitlines()):
        row = EnergyRow(
            **{
                **record,
                "accelerator_count": int(record["accelerator_count"]),
                "max_num_seqs": int(record["max_num_seqs"]),
                **{
                    name: float(record[name])
                    for name in (
                        "avg_batch_size",
                        "avg_output_tokens",
                        "energy_per_output_token_joules",
                        "output_tokens_per_second",
                        "avg_power_watts",
                    )
                },
            }
        )
        implied = row.avg_power_watts / row.output_tokens_per_second
        if abs(implied / row.energy_per_output_token_joules - 1.0) > ARITHMETIC_TOLERANCE:
            raise EnergyDataError(f"{row.row}: {implied:.4f} J/token from power and throughput, published differs")
        if row.avg_batch_size > row.max_num_seqs:
            raise EnergyDataError(f"{row.row}: mean running batch above max_num_seqs")
        rows.append(row)
    return rows


@dataclass(frozen=True)
class EnergyComparison:
    row: str
    model: str
    hardware_id: str
    accelerator_count: int
    running_batch: int
    measured_joules_per_output_token: float
    predicted_joules_per_output_token: float  # at ASSUMED_INPUT_TOKENS
    predicted_at_sensitivity_input: float  # at SENSITIVITY_INPUT_TOKENS

    @property
    def error_percent(self) -> float:
        return (self.predicted_joules_per_output_token / self.measured_joules_per_output_token - 1.0) * 100.0


def predicted_joules_per_output_token(row: EnergyRow, input_tokens: int) -> float:
    """Accelerator energy per output token of the estimator's continuous-batching answer."""
    workload = InferenceWorkload(
        model=ModelChoice(preset_id=row.model),
        hardware_id=row.hardware_id,
        accelerator_count=row.accelerator_count,
        input_tokens=input_tokens,
        output_tokens=max(int(round(row.avg_output_tokens)), 1),
        batch_size=0,
        precision=row.precision,
        precision_set=True,
        concurrency=max(int(round(row.avg_batch_size)), 1),
        engine="vllm",
    )
    scenario, _ = build_inference_scenario(workload)
    estimate = estimate_continuous(scenario)
    return estimate.accelerator_power_watts * row.accelerator_count / estimate.output_tokens_per_second


def compare(rows: list[EnergyRow] | None = None) -> list[EnergyComparison]:
    rows = load_energy_rows() if rows is None else rows
    return [
        EnergyComparison(
            row=row.row,
            model=row.model,
            hardware_id=row.hardware_id,
            accelerator_count=row.accelerator_count,
            running_batch=int(round(row.avg_batch_size)),
            measured_joules_per_output_token=row.energy_per_output_token_joules,
            predicted_joules_per_output_token=predicted_joules_per_output_token(row, ASSUMED_INPUT_TOKENS),
            predicted_at_sensitivity_input=predicted_joules_per_output_token(row, SENSITIVITY_INPUT_TOKENS),
        )
        for row in rows
    ]
