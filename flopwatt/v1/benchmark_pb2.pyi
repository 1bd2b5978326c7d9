import datetime

from flopwatt.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BenchmarkRun(_message.Message):
    __slots__ = ("name", "state", "suite", "device", "create_time", "start_time", "end_time", "progress", "progress_message", "error", "profile_name", "workload")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[BenchmarkRun.State]
        STATE_QUEUED: _ClassVar[BenchmarkRun.State]
        STATE_RUNNING: _ClassVar[BenchmarkRun.State]
        STATE_SUCCEEDED: _ClassVar[BenchmarkRun.State]
        STATE_FAILED: _ClassVar[BenchmarkRun.State]
        STATE_CANCELLED: _ClassVar[BenchmarkRun.State]
    STATE_UNSPECIFIED: BenchmarkRun.State
    STATE_QUEUED: BenchmarkRun.State
    STATE_RUNNING: BenchmarkRun.State
    STATE_SUCCEEDED: BenchmarkRun.State
    STATE_FAILED: BenchmarkRun.State
    STATE_CANCELLED: BenchmarkRun.State
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SUITE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PROFILE_NAME_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: BenchmarkRun.State
    suite: str
    device: str
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    progress: float
    progress_message: str
    error: str
    profile_name: str
    workload: BenchmarkWorkload
    def __init__(self, name: _Optional[str] = ..., state: _Optional[_Union[BenchmarkRun.State, str]] = ..., suite: _Optional[str] = ..., device: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., progress: _Optional[float] = ..., progress_message: _Optional[str] = ..., error: _Optional[str] = ..., profile_name: _Optional[str] = ..., workload: _Optional[_Union[BenchmarkWorkload, _Mapping]] = ...) -> None: ...

class BenchmarkWorkload(_message.Message):
    __slots__ = ("model", "sequence_length", "precision", "micro_batch_size", "tensor_parallel_size", "data_parallel_size", "decode_batch_sizes", "context_lengths")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_LENGTH_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    MICRO_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    TENSOR_PARALLEL_SIZE_FIELD_NUMBER: _ClassVar[int]
    DATA_PARALLEL_SIZE_FIELD_NUMBER: _ClassVar[int]
    DECODE_BATCH_SIZES_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_LENGTHS_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelSpec
    sequence_length: int
    precision: _common_pb2.Precision
    micro_batch_size: int
    tensor_parallel_size: int
    data_parallel_size: int
    decode_batch_sizes: _containers.RepeatedScalarFieldContainer[int]
    context_lengths: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelSpec, _Mapping]] = ..., sequence_length: _Optional[int] = ..., precision: _Optional[_Union[_common_pb2.Precision, str]] = ..., micro_batch_size: _Optional[int] = ..., tensor_parallel_size: _Optional[int] = ..., data_parallel_size: _Optional[int] = ..., decode_batch_sizes: _Optional[_Iterable[int]] = ..., context_lengths: _Optional[_Iterable[int]] = ...) -> None: ...

class CreateBenchmarkRunRequest(_message.Message):
    __slots__ = ("suite", "device", "workload")
    SUITE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    suite: str
    device: str
    workload: BenchmarkWorkload
    def __init__(self, suite: _Optional[str] = ..., device: _Optional[str] = ..., workload: _Optional[_Union[BenchmarkWorkload, _Mapping]] = ...) -> None: ...

class CreateBenchmarkRunResponse(_message.Message):
    __slots__ = ("benchmark_run",)
    BENCHMARK_RUN_FIELD_NUMBER: _ClassVar[int]
    benchmark_run: BenchmarkRun
    def __init__(self, benchmark_run: _Optional[_Union[BenchmarkRun, _Mapping]] = ...) -> None: ...

class GetBenchmarkRunRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetBenchmarkRunResponse(_message.Message):
    __slots__ = ("benchmark_run",)
    BENCHMARK_RUN_FIELD_NUMBER: _ClassVar[int]
    benchmark_run: BenchmarkRun
    def __init__(self, benchmark_run: _Optional[_Union[BenchmarkRun, _Mapping]] = ...) -> None: ...

class ListBenchmarkRunsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListBenchmarkRunsResponse(_message.Message):
    __slots__ = ("benchmark_runs", "next_page_token")
    BENCHMARK_RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    benchmark_runs: _containers.RepeatedCompositeFieldContainer[BenchmarkRun]
    next_page_token: str
    def __init__(self, benchmark_runs: _Optional[_Iterable[_Union[BenchmarkRun, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchBenchmarkRunRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class WatchBenchmarkRunResponse(_message.Message):
    __slots__ = ("benchmark_run",)
    BENCHMARK_RUN_FIELD_NUMBER: _ClassVar[int]
    benchmark_run: BenchmarkRun
    def __init__(self, benchmark_run: _Optional[_Union[BenchmarkRun, _Mapping]] = ...) -> None: ...

class CancelBenchmarkRunRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CancelBenchmarkRunResponse(_message.Message):
    __slots__ = ("benchmark_run",)
    BENCHMARK_RUN_FIELD_NUMBER: _ClassVar[int]
    benchmark_run: BenchmarkRun
    def __init__(self, benchmark_run: _Optional[_Union[BenchmarkRun, _Mapping]] = ...) -> None: ...

class Profile(_message.Message):
    __slots__ = ("name", "device_kind", "device_name", "hardware_id", "create_time", "benchmark_version", "schema_version", "ceilings", "host", "suite", "warnings", "profile_json")
    class CeilingsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEVICE_KIND_FIELD_NUMBER: _ClassVar[int]
    DEVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    HARDWARE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    BENCHMARK_VERSION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    CEILINGS_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    SUITE_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    PROFILE_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    device_kind: str
    device_name: str
    hardware_id: str
    create_time: _timestamp_pb2.Timestamp
    benchmark_version: str
    schema_version: int
    ceilings: _containers.ScalarMap[str, float]
    host: str
    suite: str
    warnings: _containers.RepeatedScalarFieldContainer[str]
    profile_json: str
    def __init__(self, name: _Optional[str] = ..., device_kind: _Optional[str] = ..., device_name: _Optional[str] = ..., hardware_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., benchmark_version: _Optional[str] = ..., schema_version: _Optional[int] = ..., ceilings: _Optional[_Mapping[str, float]] = ..., host: _Optional[str] = ..., suite: _Optional[str] = ..., warnings: _Optional[_Iterable[str]] = ..., profile_json: _Optional[str] = ...) -> None: ...

class ListProfilesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListProfilesResponse(_message.Message):
    __slots__ = ("profiles", "next_page_token")
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    profiles: _containers.RepeatedCompositeFieldContainer[Profile]
    next_page_token: str
    def __init__(self, profiles: _Optional[_Iterable[_Union[Profile, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetProfileRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: Profile
    def __init__(self, profile: _Optional[_Union[Profile, _Mapping]] = ...) -> None: ...
