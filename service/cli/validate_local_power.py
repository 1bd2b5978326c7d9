"""Predicted against measured accelerator power of the closed loop's training and decode steps.

Why: the estimator's power models (training: `HardwareModel.power_watts(busy_fraction)`, idle +
(load − idle) × busy with, on the datasheet path, load = 0.76 × TDP; serving:
estimate/accelerator_power.py, each second at the power of the unit bounding it) were checked
against GEMM and STREAM windows only. The closed loop measures its real steps' power
(bench/closed_loop_power.py); here the estimator predicts the same steps' power with the same
hardware models its time predictions use, and each check's `power` object compares them.

Predicted watts, per path (profile path: the profile's hardware model, its measured idle, GEMM
and memory-bound windows where it has them; datasheet path: the catalog entry's):
- training: `power_watts` at the predicted step's busy fraction, the analytic StepTime's (kernel
  seconds over the step's, `training_step_prediction`); on the operator-table path the rebuilt
  step is device work alone (no host or communication term in the closed loop's single-device
  step), so busy fraction 1.
- decode: `serving_metrics`' `decode_power_watts` (PowerLevels over the decode step's
  BoundSeconds); on the operator-table path the table's step as serving's breakdown
  (operator_table.decode_breakdown), each part given the bounding unit of the analytic part of
  the same name (inference.classify_like), as `estimate_serving` does.

Predicted energy per step is predicted watts × the same path's predicted seconds; measured, the
window's energy over its steps. Nothing is measured or predicted where power cannot be measured:
the object then holds `skipped` and the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class PowerPrediction:
    """The estimator's mean accelerator power over a step and the step's predicted seconds."""

    watts: float
    seconds_per_step: float
    source: str  # which power levels: the profile's measured windows or the datasheet's fractions

    @property
    def joules_per_step(self) -> float:
        return self.watts * self.seconds_per_step


def power_source(hw) -> str:
    """Where `hw`'s power levels come from (a profile without power windows falls back to the
    datasheet's fractions of TDP, as the estimator does)."""
    return "profile power windows" if hw.has_measured_power else "datasheet fractions of TDP"


def training_watts(config, hw, from_operators: bool) -> float:
    """The estimator's training power for the closed loop's step on `hw` (module docstring)."""
    from flopwatt.service.cli.validate_local import training_step_prediction

    busy = 1.0 if from_operators else float(training_step_prediction(config, hw).busy_fraction)
    return float(hw.power_watts(busy))


def decode_watts(config, hw, decode: dict, operator_step=None) -> float:
    """The estimator's decode-step power for the measured decode steps on `hw` (module docstring)."""
    from flopwatt.estimate.accelerator_power import total_seconds
    from flopwatt.estimate.inference import classify_like
    from flopwatt.estimate.operator_table import decode_breakdown
    from flopwatt.service.cli.validate_local import decode_prediction

    metrics = decode_prediction(config, hw, decode)
    if operator_step is None:
        return float(metrics.decode_power_watts)
    work = total_seconds(classify_like(metrics.decode_work, decode_breakdown(operator_step, {})))
    return float(hw.serving_power_watts(work))


def predict_power(
    config, hw, measured: dict, predicted_seconds: dict[str, float], operator_steps: dict | None = None
) -> dict[str, PowerPrediction]:
    """PowerPrediction of the training and decode checks in `measured` on `hw`, each over the
    seconds the same path predicted (`predicted_seconds`); `operator_steps`: the checks rebuilt
    from the operator table (their power follows the rebuilt step)."""
    operator_steps = operator_steps or {}
    source = power_source(hw)
    predictions = {}
    if "training_step" in measured and "training_step" in predicted_seconds:
        watts = training_watts(config, hw, "training_step" in operator_steps)
        predictions["training_step"] = PowerPrediction(watts, predicted_seconds["training_step"], source)
    if "decode_step" in measured and "decode_step" in predicted_seconds:
        watts = decode_watts(config, hw, measured["decode_step"], operator_steps.get("decode_step"))
        predictions["decode_step"] = PowerPrediction(watts, predicted_seconds["decode_step"], source)
    return predictions


def error_percent(predicted: float | None, measured: float | None) -> float | None:
    """Signed error of `predicted` against `measured` in percent; None without both."""
    if predicted is None or measured is None or not (measured > 0) or not math.isfinite(predicted):
        return None
    return (predicted - measured) / measured * 100.0


def power_check(window: dict | None, reason: str | None, profile, datasheet) -> dict:
    """A check's `power` object: the measured window (bench.closed_loop_power.StepPower.as_dict)
    beside the profile path's (`profile`, a PowerPrediction or None) and the datasheet path's
    predictions, or {"skipped": why} when nothing was measured (`reason`, or the window's own)."""
    if window is None:
        return {"skipped": reason or "not measured"}
    if "skipped" in window:
        return dict(window)
    measured_watts, measured_joules = window["measured_watts"], window["measured_joules_per_step"]
    predicted_watts = None if profile is None else profile.watts
    predicted_joules = None if profile is None else profile.joules_per_step
    return {
        "measured_watts": measured_watts,
        "predicted_watts": predicted_watts,
        "datasheet_predicted_watts": datasheet.watts,
        "error_percent": error_percent(predicted_watts, measured_watts),
        "datasheet_error_percent": error_percent(datasheet.watts, measured_watts),
        "measured_joules_per_step": measured_joules,
        "predicted_joules_per_step": predicted_joules,
        "datasheet_predicted_joules_per_step": datasheet.joules_per_step,
        "joules_error_percent": error_percent(predicted_joules, measured_joules),
        "datasheet_joules_error_percent": error_percent(datasheet.joules_per_step, measured_joules),
        "predicted_power_from": None if profile is None else profile.source,
        "datasheet_power_from": datasheet.source,
        **{key: value for key, value in window.items() if key not in ("measured_watts", "measured_joules_per_step")},
    }


def power_checks(
    config,
    measured: dict,
    reason: str | None,
    datasheet: tuple,
    profile: tuple | None = None,
    operator_steps: dict | None = None,
) -> dict[str, dict]:
    """The `power` object of each measured training and decode check. `datasheet` and `profile`
    are (hardware model, predicted seconds by check) of each path (`profile` None without a
    profile); `reason`: why nothing was measured, where no check holds a `power_window`."""
    from flopwatt.bench.closed_loop_power import POWER_CHECKS

    datasheet_predictions = predict_power(config, datasheet[0], measured, datasheet[1])
    profile_predictions = (
        {} if profile is None else predict_power(config, profile[0], measured, profile[1], operator_steps)
    )
    return {
        name: power_check(
            measured[name].get("power_window"), reason, profile_predictions.get(name), datasheet_predictions[name]
        )
        for name in POWER_CHECKS
        if name in measured
    }
