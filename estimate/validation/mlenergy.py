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

Each row also splits J/token into its factors, output tokens/s and power, measured and predicted:
an energy error of a throughput model and of a power model mean different fixes. (2026-11-28, at
ASSUMED_INPUT_TOKENS: throughput within −23 … +6 %, median |error| 10.3 %. Power, median |error|
36.2 % (−49 … −0 %, falling with the running batch where the measured power rises towards TDP)
under the busy-fraction model (idle + (0.76 × TDP − idle) × the busy share); 20.9 % (−31 … +7 %)
with serving power from measured work (accelerator_power.py: each second at the measured power of
the unit bounding it), J/token 23.3 % → 14.2 %. Large batches stay low, −15 … −31 %: the modelled
step keeps 26-42 % of its time at idle power; docs/estimation.md. Nothing was fitted on these rows.
Later on 2026-11-28, with each continuous step carrying every finishing request's prompt and the
fitted prefill realisation: throughput median 22.6 % (−54 … +4 %, the model now slower at large
batches, where the unpublished prompt lengths and vLLM's prefix cache decide the prefill), power
18.1 %, J/token 9.7 %.)
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
    """One leaderboard row against the prediction, with J/token = power ÷ throughput split into
    its two factors on both sides, so the comparison says which one is off."""

    row: str
    model: str
    hardware_id: str
    accelerator_count: int
    running_batch: int
    measured_joules_per_output_token: float
    predicted_joules_per_output_token: float  # at ASSUMED_INPUT_TOKENS
    predicted_at_sensitivity_input: float  # at SENSITIVITY_INPUT_TOKENS
    measured_output_tokens_per_second: float
    predicted_output_tokens_per_second: float  # at ASSUMED_INPUT_TOKENS
    measured_power_watts: float  # all the replica's accelerators
    predicted_power_watts: float  # at ASSUMED_INPUT_TOKENS, all the replica's accelerators

    @property
    def error_percent(self) -> float:
        return (self.predicted_joules_per_output_token / self.measured_joules_per_output_token - 1.0) * 100.0

    @property
    def throughput_error_percent(self) -> float:
        return (self.predicted_output_tokens_per_second / self.measured_output_tokens_per_second - 1.0) * 100.0

    @property
    def power_error_percent(self) -> float:
        return (self.predicted_power_watts / self.measured_power_watts - 1.0) * 100.0


@dataclass(frozen=True)
class EnergyPrediction:
    output_tokens_per_second: float
    power_watts: float  # all the replica's accelerators

    @property
    def joules_per_output_token(self) -> float:
        return self.power_watts / self.output_tokens_per_second


def predict(row: EnergyRow, input_tokens: int) -> EnergyPrediction:
    """The estimator's continuous-batching throughput and accelerator power for the row's load
    (its J per output token: accelerator energy, the measurement's boundary)."""
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
    return EnergyPrediction(
        float(estimate.output_tokens_per_second), float(estimate.accelerator_power_watts) * row.accelerator_count
    )


def compare(rows: list[EnergyRow] | None = None) -> list[EnergyComparison]:
    rows = load_energy_rows() if rows is None else rows
    comparisons = []
    for row in rows:
        assumed = predict(row, ASSUMED_INPUT_TOKENS)
        comparisons.append(
            EnergyComparison(
                row=row.row,
                model=row.model,
                hardware_id=row.hardware_id,
                accelerator_count=row.accelerator_count,
                running_batch=int(round(row.avg_batch_size)),
                measured_joules_per_output_token=row.energy_per_output_token_joules,
                predicted_joules_per_output_token=assumed.joules_per_output_token,
                predicted_at_sensitivity_input=predict(row, SENSITIVITY_INPUT_TOKENS).joules_per_output_token,
                measured_output_tokens_per_second=row.output_tokens_per_second,
                predicted_output_tokens_per_second=assumed.output_tokens_per_second,
                measured_power_watts=row.avg_power_watts,
                predicted_power_watts=assumed.power_watts,
            )
        )
    return comparisons
