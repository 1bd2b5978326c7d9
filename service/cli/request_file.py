"""Requests for the in-process commands (`estimate`, `sweep`): read from a JSON or YAML file in
the proto JSON mapping, then amended by flags — with one-line errors naming the file or flag.

Why one module: the three commands read the same kind of file and put user-typed numbers into
protobuf fields, whose setters raise ValueError/TypeError for NaN, out-of-range or wrongly typed
values. Those must reach the user as `flopwatt ...: error: --flag: ...`, never as a traceback.
Not a sub-command: it is not listed in COMMAND_MODULES.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable

from flopwatt.service.cli.errors import CliError


def read_document(path: Path) -> Any:
    """The file's JSON or YAML value (YAML for .yaml/.yml; JSON otherwise)."""
    try:
        text = path.read_text()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:  # a ValueError, not an OSError: it escaped as a traceback
        raise CliError(f"{path}: not UTF-8 text: {not_utf8(error)}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text) or {}
        return json.loads(text)
    except Exception as error:  # json.JSONDecodeError, yaml.YAMLError (yaml is imported lazily)
        raise CliError(
            f"{path}: not valid {'YAML' if path.suffix in ('.yaml', '.yml') else 'JSON'}: {one_line(error)}"
        ) from None


def one_line(error: Exception) -> str:
    """An exception's message on one line, as CliError promises. Why: YAML errors quote the bad
    line with a caret under it, and protobuf's ParseError appends the list of fields on a second
    line; printed as they are, the error ran over several lines. A YAML error keeps its problem
    and position; any other message has its line breaks and runs of spaces folded."""
    problem, mark = getattr(error, "problem", None), getattr(error, "problem_mark", None)
    if problem and mark is not None:  # yaml.MarkedYAMLError
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return " ".join(str(error).split())


def not_utf8(error: UnicodeDecodeError) -> str:
    """Where a file stops being UTF-8, for a one-line error (the exception's own text runs on)."""
    return f"byte {error.start} ({error.object[error.start : error.start + 1]!r}): {error.reason}"


def load_request(path: Path, message: Any, wrap_in: str | None = None) -> None:
    """Parse the file into `message`. With `wrap_in`, a document lacking that key is taken as the
    value of that field (`flopwatt sweep` accepts a bare EstimateTrainingRequest as the `base`)."""
    from google.protobuf import json_format

    document = read_document(path)
    if not isinstance(document, dict):
        raise CliError(f"{path}: not a valid request: expected a JSON/YAML object, got {type(document).__name__}")
    if wrap_in is not None and wrap_in not in document:
        document = {wrap_in: document}
    try:
        json_format.ParseDict(document, message)
    except (json_format.ParseError, ValueError, TypeError) as error:
        raise CliError(f"{path}: not a valid request: {one_line(error)}") from None


def whole_number(value: float, flag: str) -> int:
    """A count typed as a float (`--tokens 1.5e13`) as an int; NaN, infinities and fractions are
    refused with the flag named."""
    if not math.isfinite(value) or value != math.floor(value):
        raise CliError(f"{flag}: must be a whole number, got {value!r}")
    return int(value)


def set_field(message: Any, path: str, value: Any, flag: str) -> None:
    """message.<path> = value (dotted path into sub-messages), with protobuf's range and type
    errors reported against the flag."""
    *parents, name = path.split(".")
    for parent in parents:
        message = getattr(message, parent)
    try:
        setattr(message, name, value)
    except (ValueError, TypeError) as error:
        raise CliError(f"{flag}: {error}") from None


# Longest SLO target a flag takes: about 31 years, far inside a Duration's ±10,000 years.
MAX_MILLISECONDS = 1e12
NANOSECONDS_PER_MILLISECOND = 1e6


def milliseconds_duration(value: float, flag: str):
    """A target typed in milliseconds (`--ttft-ms`) as a google.protobuf.Duration. Refused with
    the flag named: NaN, negatives, past MAX_MILLISECONDS, and a positive value below the
    Duration's one nanosecond. Why the last: it rounded to a zero Duration, which the API reads as
    "no target", so `--ttft-ms 1e-7` was answered "slo: give time_to_first_token or
    time_per_output_token", an error about a flag the user had given."""
    from google.protobuf import duration_pb2

    if not (math.isfinite(value) and 0 <= value <= MAX_MILLISECONDS):
        raise CliError(f"{flag}: must be a non-negative number of milliseconds, got {value!r}")
    nanoseconds = round(value * NANOSECONDS_PER_MILLISECOND)
    if value > 0 and nanoseconds == 0:
        raise CliError(
            f"{flag}: {value!r} ms is below the API's resolution of one nanosecond (1e-06 ms); 0 means no target"
        )
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(nanoseconds)
    return duration


# (flag destination, field of a ServingSlo) of the SLO flags of `estimate inference` and `campus`.
SLO_FLAGS = (("ttft_ms", "time_to_first_token"), ("tpot_ms", "time_per_output_token"))


def slo_flag_fields(slo_path: str) -> tuple[tuple[str, str], ...]:
    """SLO_FLAGS with the request's path to its ServingSlo (`slo`, `demand.slo`), for typed_flags."""
    return tuple((attribute, f"{slo_path}.{field}") for attribute, field in SLO_FLAGS)


def apply_slo_flags(args: Any, slo: Any) -> None:
    """--ttft-ms / --tpot-ms onto a ServingSlo message (those typed)."""
    for attribute, field in SLO_FLAGS:
        value = getattr(args, attribute)
        if value is not None:
            getattr(slo, field).CopyFrom(milliseconds_duration(value, "--" + attribute.replace("_", "-")))


def typed_flags(args: Any, flag_fields: Iterable[tuple[str, str]]) -> dict[str, str]:
    """{request field path: flag} for the flags of `flag_fields` ((argparse destination, field
    path) pairs) that the user typed; `user_errors` names these flags in the API's field errors.
    Only typed ones: a field that came from a request file keeps its own name."""
    return {
        path: "--" + attribute.replace("_", "-")
        for attribute, path in flag_fields
        if getattr(args, attribute, None) is not None
    }
