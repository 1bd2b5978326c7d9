"""Benchmark runs at the API edge: validate requests, call the run manager, convert records to
`flopwatt.v1.BenchmarkRun`.

Every field a client sends is bounded here before it reaches the manager or SQLite: suite and
device are closed vocabularies, names have a fixed shape and length, page sizes and tokens are
range-checked. Violations are InvalidArgument naming the field (DESIGN §6).
"""

from __future__ import annotations

import math
import re
from typing import Any, AsyncIterator

from google.protobuf import timestamp_pb2

from flopwatt.bench.vocabulary import DEFAULT_DEVICE, DEFAULT_SUITE, DEVICE_CHOICES, RUNNABLE_SUITES, WORKLOAD_SUITE
from flopwatt.service.api.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    bounded_page_size,
    decode_token_text,
    encode_token_text,
    refuse_token,
    token_number,
)
from flopwatt.service.errors import FieldViolation, InvalidArgument, echo
from flopwatt.service.run_manager import RunManager
from flopwatt.service.run_store import RunRecord
from flopwatt.v1 import benchmark_pb2, common_pb2

RUN_NAME_PREFIX = "benchmarkRuns/"
MAX_NAME_CHARS = 256
# Run ids are uuid4 hex; the pattern is looser (future ids) but excludes anything odd.
_RUN_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_PAGE_TOKEN_PREFIX = "benchmarkRuns<"
# Longest client string echoed back in an error message (UTF-8 bytes: 40 ASCII characters).
_ECHO_BYTES = 43


def _echo(text: str) -> str:
    return echo(text, _ECHO_BYTES)


def parse_run_name(name: str, field: str = "name") -> str:
    """ "benchmarkRuns/{id}" -> id, or InvalidArgument naming `field`."""
    if not name:
        raise InvalidArgument.field(field, "is required: a run name such as 'benchmarkRuns/0123abcd...'")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidArgument.field(field, f"must be at most {MAX_NAME_CHARS} characters, got {len(name)}")
    run_id = name.removeprefix(RUN_NAME_PREFIX)
    if run_id == name or not _RUN_ID_PATTERN.fullmatch(run_id):
        raise InvalidArgument.field(
            field, f"must look like 'benchmarkRuns/{{id}}' with a lower-case id, got {_echo(name)}"
        )
    return run_id


def _choice_violation(value: str, allowed: tuple[str, ...], field: str) -> list[FieldViolation]:
    """[] when `value` is empty (the default) or allowed, else the one violation."""
    if value == "" or value in allowed:
        return []
    return [FieldViolation(field, f"must be one of {', '.join(allowed)}, got {_echo(value)}")]


def encode_page_token(before_sequence: int) -> str:
    return encode_token_text(f"{_PAGE_TOKEN_PREFIX}{before_sequence}")


def decode_page_token(token: str) -> int | None:
    """The sequence a token continues before, None for the first page; InvalidArgument otherwise."""
    if not token:
        return None
    problem = "is not a token returned by ListBenchmarkRuns; start again without page_token"
    text = decode_token_text(token, problem)
    number = text.removeprefix(_PAGE_TOKEN_PREFIX)
    if number == text:
        raise refuse_token(problem)
    return token_number(number, problem)


def _timestamp(seconds: float | None) -> timestamp_pb2.Timestamp | None:
    if seconds is None:
        return None
    whole = math.floor(seconds)  # split first: seconds * 1e9 would lose the low digits in a double
    nanos = min(999_999_999, round((seconds - whole) * 1e9))
    return timestamp_pb2.Timestamp(seconds=whole, nanos=nanos)


def workload_json(request: benchmark_pb2.CreateBenchmarkRunRequest) -> str:
    """The workload suite's WorkloadShape (JSON) of a request, '' for the other suites;
    InvalidArgument naming the field (`workload.model.hidden_size`, ...) when it cannot be one."""
    import json

    from flopwatt.bench.workload_suite import WorkloadSpecError
    from flopwatt.service.api.convert import model_from_spec, precision_name
    from flopwatt.service.api.request_bounds import Violations, check_model_spec
    from flopwatt.service.workloads import workload_shape

    has_workload = request.HasField("workload")
    if request.suite != WORKLOAD_SUITE:
        if has_workload:
            raise InvalidArgument.field("workload", f"only the {WORKLOAD_SUITE} suite takes a workload")
        return ""
    if not has_workload:
        raise InvalidArgument.field("workload", f"the {WORKLOAD_SUITE} suite needs a workload (model and shapes)")
    workload = request.workload
    if not workload.HasField("model"):
        raise InvalidArgument.field("workload.model", "is required: a preset_id or the architecture fields")
    # The ModelSpec bounds every estimate applies (request_bounds): without them a parameter_count
    # of 2^62 was turned into a 28,626-layer architecture and queued, and a negative one answered
    # that the architecture fields were "required".
    violations = Violations()
    check_model_spec(workload.model, "workload.model", violations)
    violations.raise_if_any()
    precision = precision_name(workload.precision, "workload.precision")
    if precision in ("tf32", "fp4"):
        raise InvalidArgument.field(
            "workload.precision", f"the workload suite measures fp32, bf16, fp16 or fp8, not {precision}"
        )
    architecture, _, _ = model_from_spec(workload.model, "workload.model")
    try:
        shape = workload_shape(
            architecture,
            model_id=workload.model.preset_id,
            sequence_length=workload.sequence_length,
            precision=precision,
            micro_batch_size=workload.micro_batch_size or 1,
            tensor_parallel_size=workload.tensor_parallel_size or 1,
            data_parallel_size=workload.data_parallel_size or 1,
            decode_batch_sizes=list(workload.decode_batch_sizes),
            context_lengths=list(workload.context_lengths),
        )
    except WorkloadSpecError as error:
        raise InvalidArgument.field(error.field, error.problem) from None
    return json.dumps(shape.as_dict(), sort_keys=True)


_PRECISION_VALUES = {
    "fp32": common_pb2.PRECISION_FP32,
    "bf16": common_pb2.PRECISION_BF16,
    "fp16": common_pb2.PRECISION_FP16,
    "fp8": common_pb2.PRECISION_FP8,
}


def workload_to_proto(text: str) -> benchmark_pb2.BenchmarkWorkload | None:
    """A stored WorkloadShape (JSON) as the API's BenchmarkWorkload (None for '')."""
    if not text:
        return None
    import json

    data = json.loads(text)
    model = common_pb2.ModelSpec(
        preset_id=data.get("model_id", ""),
        layer_count=data["layer_count"],
        hidden_size=data["hidden_size"],
        attention_head_count=data["attention_head_count"],
        kv_head_count=data["kv_head_count"],
        ffn_hidden_size=data["ffn_hidden_size"],
        vocab_size=data["vocab_size"],
        head_dim=data.get("head_dim", 0),
        gated_mlp=bool(data.get("gated_mlp", True)),
    )
    return benchmark_pb2.BenchmarkWorkload(
        model=model,
        sequence_length=data.get("sequence_length", 0),
        precision=_PRECISION_VALUES.get(data.get("precision", "bf16"), common_pb2.PRECISION_UNSPECIFIED),
        micro_batch_size=data.get("micro_batch_size", 1),
        tensor_parallel_size=data.get("tensor_parallel_size", 1),
        data_parallel_size=data.get("data_parallel_size", 1),
        decode_batch_sizes=data.get("decode_batch_sizes", []),
        context_lengths=data.get("context_lengths", []),
    )


def run_to_proto(record: RunRecord) -> benchmark_pb2.BenchmarkRun:
    return benchmark_pb2.BenchmarkRun(
        name=record.name,
        state=benchmark_pb2.BenchmarkRun.State.Value(f"STATE_{record.state.value}"),
        suite=record.suite,
        device=record.device,
        create_time=_timestamp(record.create_time_seconds),
        start_time=_timestamp(record.start_time_seconds),
        end_time=_timestamp(record.end_time_seconds),
        progress=record.progress_fraction,
        progress_message=record.progress_message,
        error=record.error,
        profile_name=f"profiles/{record.profile_id}" if record.profile_id else "",
        workload=workload_to_proto(record.workload_json),
    )


async def create_benchmark_run(
    request: benchmark_pb2.CreateBenchmarkRunRequest, manager: RunManager
) -> benchmark_pb2.CreateBenchmarkRunResponse:
    violations = _choice_violation(request.suite, RUNNABLE_SUITES, "suite") + _choice_violation(
        request.device, DEVICE_CHOICES, "device"
    )
    if violations:
        raise InvalidArgument(violations)
    suite = request.suite or DEFAULT_SUITE
    device = request.device or DEFAULT_DEVICE
    workload = workload_json(request)
    record = await manager.create(suite, device, workload) if workload else await manager.create(suite, device)
    return benchmark_pb2.CreateBenchmarkRunResponse(benchmark_run=run_to_proto(record))


async def get_benchmark_run(
    request: benchmark_pb2.GetBenchmarkRunRequest, manager: RunManager
) -> benchmark_pb2.GetBenchmarkRunResponse:
    return benchmark_pb2.GetBenchmarkRunResponse(benchmark_run=run_to_proto(manager.get(parse_run_name(request.name))))


async def list_benchmark_runs(
    request: benchmark_pb2.ListBenchmarkRunsRequest, manager: RunManager
) -> benchmark_pb2.ListBenchmarkRunsResponse:
    page_size = bounded_page_size(request.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    before = decode_page_token(request.page_token)
    records, next_before = manager.list(page_size, before)
    return benchmark_pb2.ListBenchmarkRunsResponse(
        benchmark_runs=[run_to_proto(record) for record in records],
        next_page_token=encode_page_token(next_before) if next_before is not None else "",
    )


async def watch_benchmark_run(
    request: benchmark_pb2.WatchBenchmarkRunRequest, manager: RunManager, context: Any = None
) -> AsyncIterator[benchmark_pb2.WatchBenchmarkRunResponse]:
    """Streams until the run is terminal; grpc cancels this generator when the client leaves or
    its deadline passes, which ends the wait in the manager at once."""
    run_id = parse_run_name(request.name)
    manager.get(run_id)  # NotFound before the first message, not mid-stream
    async for record in manager.watch(run_id):
        yield benchmark_pb2.WatchBenchmarkRunResponse(benchmark_run=run_to_proto(record))


async def cancel_benchmark_run(
    request: benchmark_pb2.CancelBenchmarkRunRequest, manager: RunManager
) -> benchmark_pb2.CancelBenchmarkRunResponse:
    record = await manager.cancel(parse_run_name(request.name))
    return benchmark_pb2.CancelBenchmarkRunResponse(benchmark_run=run_to_proto(record))
