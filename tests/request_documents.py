"""A training request as the CLI reads it from a file (`--request`: the JSON form of an
EstimateTrainingRequest), for tests of the commands that take one (sweep, report, campus).

Why a module: several tests need the same small request and wrote it out each time."""

from __future__ import annotations

import json
from pathlib import Path


def training_request_json(
    preset: str = "llama-2-7b",
    hardware: str = "h100-sxm",
    accelerators: int = 128,
    training_tokens: int = 10**12,
    sequence_length: int = 4096,
) -> dict:
    """The request's JSON (protobuf JSON names; int64 token counts as strings, as protobuf writes them)."""
    return {
        "model": {"presetId": preset},
        "trainingTokens": str(training_tokens),
        "sequenceLength": sequence_length,
        "hardwareId": hardware,
        "acceleratorCount": accelerators,
    }


def write_training_request(path: Path, **fields) -> Path:
    """`training_request_json(**fields)` written to `path`; returns `path`."""
    path.write_text(json.dumps(training_request_json(**fields)))
    return path
