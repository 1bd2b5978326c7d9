"""Property test: malformed requests against EVERY RPC of EstimatorService and BenchmarkService
on a live server. Structured messages are generated from the request descriptors (random fields,
NaN/inf, negatives, huge values, empty and long strings, unknown ids and enum numbers); raw
random bytes go through a channel with identity serializers. Every answer must be a deliberate
status (never UNKNOWN, INTERNAL or a hang), INVALID_ARGUMENT must name the field, successful
answers hold no NaN/inf, and the server stays SERVING.

No benchmark starts: the server requires a token; CreateBenchmarkRun carries it only when the
generated suite is invalid (so validation refuses it), CancelBenchmarkRun finds nothing to cancel.
About 2,100 examples in all, derandomized, so CI sees the same inputs every time.
"""

from __future__ import annotations

import math
from typing import Any, Iterator

import grpc
import pytest
from google.protobuf import descriptor as protobuf_descriptor
from google.protobuf import message_factory
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flopwatt.bench.vocabulary import RUNNABLE_SUITES
from flopwatt.v1 import benchmark_pb2, estimator_pb2
from tests.conftest import run_server

TOKEN = "fuzz-token-0123456789abcdef"
STRUCTURED_EXAMPLES_PER_METHOD = 120
GARBAGE_EXAMPLES_PER_METHOD = 40
CALL_TIMEOUT_SECONDS = 10.0
MAX_DEPTH = 3
DELIBERATE_CODES = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.PERMISSION_DENIED,
}
FD = protobuf_descriptor.FieldDescriptor
METHODS = [
    method
    for module in (estimator_pb2, benchmark_pb2)
    for service in module.DESCRIPTOR.services_by_name.values()
    for method in service.methods
]
# Values that real clients send and that reach deep into handlers (valid ids, names).
KNOWN_STRINGS = [
    "",
    "quick",
    "full",
    "auto",
    "cpu",
    "cuda",
    "h100-sxm",
    "a100-80gb",
    "cpu",
    "llama-2-7b",
    "gpt-3-175b",
    "benchmarkRuns/0123abcd",
    "profiles/abc",
    "accelerator_count",
    "model.parameter_count",
    "x" * 5000,
    "\x00\ud7ff",
    "USD",
]
EXTREME_FLOATS = [0.0, -0.0, -1.0, 1e-320, 1e308, -1e308, float("nan"), float("inf"), float("-inf"), 0.5, 2048.0]


def _integer_strategy(field: FD) -> st.SearchStrategy[int]:
    unsigned = field.type in (FD.TYPE_UINT32, FD.TYPE_UINT64, FD.TYPE_FIXED32, FD.TYPE_FIXED64)
    bits = (
        64 if field.type in (FD.TYPE_INT64, FD.TYPE_UINT64, FD.TYPE_SINT64, FD.TYPE_FIXED64, FD.TYPE_SFIXED64) else 32
    )
    low, high = (0, 2**bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    edges = [value for value in (0, 1, -1, 2, 7, 1000, 10**6, 10**12, low, high) if low <= value <= high]
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


def _scalar_strategy(field: FD) -> st.SearchStrategy[Any]:
    if field.type in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        return st.one_of(
            st.sampled_from(EXTREME_FLOATS),
            st.floats(allow_nan=True, allow_infinity=True, width=32 if field.type == FD.TYPE_FLOAT else 64),
        )
    if field.type == FD.TYPE_BOOL:
        return st.booleans()
    if field.type == FD.TYPE_STRING:
        return st.one_of(st.sampled_from(KNOWN_STRINGS), st.text(max_size=40))
    if field.type == FD.TYPE_BYTES:
        return st.binary(max_size=64)
    if field.type == FD.TYPE_ENUM:  # proto3 enums are open: unknown numbers arrive too
        return st.one_of(st.sampled_from([value.number for value in field.enum_type.values]), st.integers(-5, 1000))
    return _integer_strategy(field)


@st.composite
def message_of(draw: st.DrawFn, descriptor: protobuf_descriptor.Descriptor, depth: int = 0) -> Any:
    """A random instance of `descriptor`: each field set or not, values from the strategies above."""
    message = message_factory.GetMessageClass(descriptor)()
    for field in descriptor.fields:
        if not draw(st.booleans()):
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key_field, value_field = (
                field.message_type.fields_by_name["key"],
                field.message_type.fields_by_name["value"],
            )
            if value_field.message_type is not None:
                continue
            for key, value in draw(
                st.dictionaries(_scalar_strategy(key_field), _scalar_strategy(value_field), max_size=3)
            ).items():
                getattr(message, field.name)[key] = value
        elif field.message_type is not None:
            if depth >= MAX_DEPTH:
                continue
            count = draw(st.integers(0, 3)) if field.is_repeated else 1
            for _ in range(count):
                child = draw(message_of(field.message_type, depth + 1))
                target = getattr(message, field.name).add() if field.is_repeated else getattr(message, field.name)
                target.CopyFrom(child)
                if not field.is_repeated:
                    target.SetInParent()
        elif field.is_repeated:
            getattr(message, field.name).extend(draw(st.lists(_scalar_strategy(field), max_size=5)))
        else:
            setattr(message, field.name, draw(_scalar_strategy(field)))
    return message


def _non_finite_fields(message: Any, path: str = "") -> Iterator[str]:
    for field, value in message.ListFields():
        name = f"{path}{field.name}"
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            items = value.values() if field.message_type.fields_by_name["value"].message_type is None else []
            if any(isinstance(item, float) and not math.isfinite(item) for item in items):
                yield name
            for item in value.values() if field.message_type.fields_by_name["value"].message_type is not None else []:
                yield from _non_finite_fields(item, name + ".")
        elif field.message_type is not None:
            for item in value if field.is_repeated else [value]:
                yield from _non_finite_fields(item, name + ".")
        elif field.type in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
            if any(not math.isfinite(item) for item in (value if field.is_repeated else [value])):
                yield name


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    with run_server(tmp_path_factory.mktemp("fuzz"), auth_token=TOKEN) as handle:
        channel = handle.channel()
        yield handle, channel
        channel.close()


def _metadata(method: protobuf_descriptor.MethodDescriptor, request: Any) -> tuple[tuple[str, str], ...]:
    if method.name == "CreateBenchmarkRun" and request.suite in ("", *RUNNABLE_SUITES):
        return ()  # would be a valid run: no token, refused before anything starts
    return (("authorization", f"Bearer {TOKEN}"),)


def _call(
    channel: grpc.Channel, method: protobuf_descriptor.MethodDescriptor, payload: bytes, metadata: Any
) -> tuple[grpc.StatusCode, list[bytes], Any]:
    path = f"/{method.containing_service.full_name}/{method.name}"
    try:
        if method.server_streaming:
            call = channel.unary_stream(path)(payload, timeout=CALL_TIMEOUT_SECONDS, metadata=metadata)
            return grpc.StatusCode.OK, list(call), None
        return (
            grpc.StatusCode.OK,
            [channel.unary_unary(path)(payload, timeout=CALL_TIMEOUT_SECONDS, metadata=metadata)],
            None,
        )
    except grpc.RpcError as error:
        return error.code(), [], error


def _check_answer(
    method: protobuf_descriptor.MethodDescriptor, code: grpc.StatusCode, responses: list[bytes], error: Any
) -> None:
    detail = error.details() if error is not None else ""
    assert code in DELIBERATE_CODES, f"{method.name}: {code.name}: {detail}"
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        status = rpc_status.from_call(error)
        assert status is not None, f"{method.name}: INVALID_ARGUMENT without a rich status: {detail}"
        fields = []
        for packed in status.details:
            if packed.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad_request = error_details_pb2.BadRequest()
                packed.Unpack(bad_request)
                fields = [violation.field for violation in bad_request.field_violations]
        assert fields and all(fields), f"{method.name}: INVALID_ARGUMENT names no field: {detail}"
    response_class = message_factory.GetMessageClass(method.output_type)
    for raw in responses:
        response = response_class.FromString(raw)
        bad = list(_non_finite_fields(response))
        assert not bad, f"{method.name}: non-finite values in a successful answer: {bad}"


def _assert_still_serving(handle: Any, channel: grpc.Channel) -> None:
    status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5).status
    assert status == health_pb2.HealthCheckResponse.SERVING
    metrics = handle.metrics_text()
    assert 'grpc_code="Unknown"' not in metrics and 'grpc_code="Internal"' not in metrics


@pytest.mark.parametrize("method", METHODS, ids=lambda method: method.name)
def test_structured_malformed_requests_get_deliberate_statuses(fuzz_server, method):
    handle, channel = fuzz_server

    @settings(
        max_examples=STRUCTURED_EXAMPLES_PER_METHOD,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(request=message_of(method.input_type))
    def check(request: Any) -> None:
        code, responses, error = _call(channel, method, request.SerializeToString(), _metadata(method, request))
        _check_answer(method, code, responses, error)

    check()
    _assert_still_serving(handle, channel)


@pytest.mark.parametrize("method", METHODS, ids=lambda method: method.name)
def test_garbage_bytes_get_deliberate_statuses(fuzz_server, method):
    handle, channel = fuzz_server

    @settings(
        max_examples=GARBAGE_EXAMPLES_PER_METHOD,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        payload=st.one_of(
            st.binary(max_size=256),
            st.sampled_from([b"\xff" * 16, b"\x0a\xff\xff\xff\xff\x0f", b"\x08" + b"\x80" * 10]),
        )
    )
    def check(payload: bytes) -> None:
        if method.name == "CreateBenchmarkRun":
            metadata: Any = ()  # whatever the bytes say, no run may start
        else:
            metadata = (("authorization", f"Bearer {TOKEN}"),)
        code, responses, error = _call(channel, method, payload, metadata)
        _check_answer(method, code, responses, error)

    check()
    _assert_still_serving(handle, channel)
