"""The text form of `flopwatt validate --local` (the JSON form is the result itself).

Why its own module: the closed loop's measuring, predicting and storing (validate_local.py) is
one job; laying the result out for a terminal is another."""

from __future__ import annotations

from pathlib import Path

NO_PROFILE_NOTE = "no measured profile (pass --profile-id ID or --measure): predicted_seconds is null"


def _seconds(value: float | None) -> str:
    return f"{'—':>12}" if value is None else f"{value:>12.4f}"


def _percent(value: float | None) -> str:
    return f"{'—':>9}" if value is None else f"{value:>+8.1f}%"


def _header(result: dict, config) -> str:
    """The text form's first line: the device, the model and the workload."""
    c = config
    heads = f"{c.attention_head_count} heads" + (
        f" ({c.key_value_heads} KV heads)" if c.key_value_heads != c.attention_head_count else ""
    )
    return (
        f"closed loop on {result['device']['name']}: {c.layer_count} layers, hidden {c.hidden_size}, "
        f"{heads}, ffn {c.ffn_hidden_size}, vocab {c.vocab_size}, {c.dtype}; "
        f"training seq {c.sequence_length} × batch {c.micro_batch_size} per rank, {_ddp_label(result, c)}; "
        f"decode batch {c.decode_batch} at context {c.decode_context}+"
    )


def _ddp_label(result: dict, config) -> str:
    skipped = (result.get("ddp_training_step") or {}).get("skipped")
    if skipped:
        return "DDP skipped"
    backend = "gloo" if result["device"]["kind"] == "cpu" else "NCCL"
    return f"DDP {config.ddp_world_size} {backend} ranks"


def print_table(result: dict, config, profile_id: str | None, stored: Path | None) -> None:
    """The text form of `result`: the header, the profile, predicted vs measured per check,
    the operator table's coverage and where the result was stored."""
    print(_header(result, config))
    memory = result.get("training_memory")
    if memory:
        print(
            f"micro-batch {memory['micro_batch_size']}: the training step needs about "
            f"{memory['estimated_training_bytes'] / 1e9:.1f} GB of the device's {memory['device_memory_bytes'] / 1e9:.1f} GB "
            f"(bench/closed_loop_model.training_memory_bytes; fitted to {memory['fit_fraction']:.0%} unless given)"
        )
    print(f"profile: {profile_id or '— (' + NO_PROFILE_NOTE + ')'}")
    print(f"{'check':<20} {'measured s':>12} {'profile s':>12} {'error':>9} {'datasheet s':>12} {'error':>9}")
    for name, row in result["checks"].items():
        if row.get("skipped"):
            print(f"{name:<20} skipped: {row['skipped']}")
            continue
        print(
            f"{name:<20} {_seconds(row['measured_seconds'])} {_seconds(row['predicted_seconds'])} "
            f"{_percent(row['error_percent'])} {_seconds(row['datasheet_predicted_seconds'])} "
            f"{_percent(row['datasheet_error_percent'])}"
        )
    for name, row in result["checks"].items():
        coverage = row.get("operator_table")
        if coverage:
            print(
                f"{name}: operator table: {coverage['operators_measured']} measured, "
                f"{coverage['operators_interpolated']} interpolated, {coverage['operators_fallback']} fallback "
                f"({coverage['measured_share']:.0%} / {coverage['interpolated_share']:.0%} / "
                f"{coverage['fallback_share']:.0%} of the predicted time)"
            )
    for name, row in result["checks"].items():
        if "power" in row:
            print(power_line(name, row["power"]))
    if stored is not None:
        print(f"stored as {stored}")


def _watts(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} W"


def _joules(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g} J"


def _signed(value: float | None) -> str:
    return "" if value is None else f" ({value:+.1f}%)"


def power_line(name: str, power: dict) -> str:
    """One check's power: measured against the profile and datasheet paths' watts, and energy
    per step, or why it was not measured."""
    if "skipped" in power:
        return f"{name} power: skipped: {power['skipped']}"
    window = power["window"]
    throttled = ", throttled" if window.get("throttled") else ""
    return (
        f"{name} power: measured {_watts(power['measured_watts'])} over {power['steps']} steps in "
        f"{window['seconds']:.1f} s{throttled}; profile {_watts(power['predicted_watts'])}"
        f"{_signed(power['error_percent'])}, datasheet {_watts(power['datasheet_predicted_watts'])}"
        f"{_signed(power['datasheet_error_percent'])}; per step measured {_joules(power['measured_joules_per_step'])}, "
        f"profile {_joules(power['predicted_joules_per_step'])}, "
        f"datasheet {_joules(power['datasheet_predicted_joules_per_step'])}"
    )
