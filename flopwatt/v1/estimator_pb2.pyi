import datetime

from flopwatt.v1 import common_pb2 as _common_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.type import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Disaggregation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISAGGREGATION_UNSPECIFIED: _ClassVar[Disaggregation]
    DISAGGREGATION_COLOCATED: _ClassVar[Disaggregation]
    DISAGGREGATION_ALLOWED: _ClassVar[Disaggregation]
    DISAGGREGATION_REQUIRED: _ClassVar[Disaggregation]

class RankObjective(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RANK_OBJECTIVE_UNSPECIFIED: _ClassVar[RankObjective]
    RANK_OBJECTIVE_COST: _ClassVar[RankObjective]
    RANK_OBJECTIVE_TIME: _ClassVar[RankObjective]
    RANK_OBJECTIVE_ENERGY: _ClassVar[RankObjective]
    RANK_OBJECTIVE_CARBON: _ClassVar[RankObjective]
DISAGGREGATION_UNSPECIFIED: Disaggregation
DISAGGREGATION_COLOCATED: Disaggregation
DISAGGREGATION_ALLOWED: Disaggregation
DISAGGREGATION_REQUIRED: Disaggregation
RANK_OBJECTIVE_UNSPECIFIED: RankObjective
RANK_OBJECTIVE_COST: RankObjective
RANK_OBJECTIVE_TIME: RankObjective
RANK_OBJECTIVE_ENERGY: RankObjective
RANK_OBJECTIVE_CARBON: RankObjective

class EstimateTrainingRequest(_message.Message):
    __slots__ = ("model", "training_tokens", "sequence_length", "hardware_id", "profile_id", "accelerator_count", "precision", "parallelism", "facility", "uncertainty", "goodput", "framework", "goodput_inputs")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TRAINING_TOKENS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_LENGTH_FIELD_NUMBER: _ClassVar[int]
    HARDWARE_ID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    ACCELERATOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    PARALLELISM_FIELD_NUMBER: _ClassVar[int]
    FACILITY_FIELD_NUMBER: _ClassVar[int]
    UNCERTAINTY_FIELD_NUMBER: _ClassVar[int]
    GOODPUT_FIELD_NUMBER: _ClassVar[int]
    FRAMEWORK_FIELD_NUMBER: _ClassVar[int]
    GOODPUT_INPUTS_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelSpec
    training_tokens: int
    sequence_length: int
    hardware_id: str
    profile_id: str
    accelerator_count: int
    precision: _common_pb2.Precision
    parallelism: _common_pb2.Parallelism
    facility: _common_pb2.Facility
    uncertainty: _common_pb2.Uncertainty
    goodput: float
    framework: str
    goodput_inputs: GoodputInputs
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelSpec, _Mapping]] = ..., training_tokens: _Optional[int] = ..., sequence_length: _Optional[int] = ..., hardware_id: _Optional[str] = ..., profile_id: _Optional[str] = ..., accelerator_count: _Optional[int] = ..., precision: _Optional[_Union[_common_pb2.Precision, str]] = ..., parallelism: _Optional[_Union[_common_pb2.Parallelism, _Mapping]] = ..., facility: _Optional[_Union[_common_pb2.Facility, _Mapping]] = ..., uncertainty: _Optional[_Union[_common_pb2.Uncertainty, _Mapping]] = ..., goodput: _Optional[float] = ..., framework: _Optional[str] = ..., goodput_inputs: _Optional[_Union[GoodputInputs, _Mapping]] = ...) -> None: ...

class GoodputInputs(_message.Message):
    __slots__ = ("startup_seconds", "checkpoint_interval_seconds", "checkpoint_write_seconds", "failures_per_accelerator_hour", "restart_seconds", "evaluation_fraction")
    STARTUP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_WRITE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FAILURES_PER_ACCELERATOR_HOUR_FIELD_NUMBER: _ClassVar[int]
    RESTART_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_FRACTION_FIELD_NUMBER: _ClassVar[int]
    startup_seconds: float
    checkpoint_interval_seconds: float
    checkpoint_write_seconds: float
    failures_per_accelerator_hour: float
    restart_seconds: float
    evaluation_fraction: float
    def __init__(self, startup_seconds: _Optional[float] = ..., checkpoint_interval_seconds: _Optional[float] = ..., checkpoint_write_seconds: _Optional[float] = ..., failures_per_accelerator_hour: _Optional[float] = ..., restart_seconds: _Optional[float] = ..., evaluation_fraction: _Optional[float] = ...) -> None: ...

class EstimateTrainingResponse(_message.Message):
    __slots__ = ("total_flops", "model_flops_utilization", "step_duration", "wall_clock_duration", "accelerator_hours", "accelerator_energy_joules", "facility_energy_joules", "cost", "co2e_kilograms", "memory_per_accelerator_bytes", "fits_in_memory", "parallelism", "breakdown", "assumptions", "calibration", "intervals", "hardware_flops_utilization", "step_count", "goodput", "accelerator_memory_bytes", "water_liters", "tokens_per_second")
    class IntervalsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _common_pb2.Interval
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.Interval, _Mapping]] = ...) -> None: ...
    TOTAL_FLOPS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FLOPS_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    STEP_DURATION_FIELD_NUMBER: _ClassVar[int]
    WALL_CLOCK_DURATION_FIELD_NUMBER: _ClassVar[int]
    ACCELERATOR_HOURS_FIELD_NUMBER: _ClassVar[int]
    ACCELERATOR_ENERGY_JOULES_FIELD_NUMBER: _ClassVar[int]
    FACILITY_ENERGY_JOULES_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    CO2E_KILOGRAMS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_PER_ACCELERATOR_BYTES_FIELD_NUMBER: _ClassVar[int]
    FITS_IN_MEMORY_FIELD_NUMBER: _ClassVar[int]
    PARALLELISM_FIELD_NUMBER: _ClassVar[int]
    BREAKDOWN_FIELD_NUMBER: _ClassVar[int]
    ASSUMPTIONS_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_FIELD_NUMBER: _ClassVar[int]
    INTERVALS_FIELD_NUMBER: _ClassVar[int]
    HARDWARE_FLOPS_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    STEP_COUNT_FIELD_NUMBER: _ClassVar[int]
    GOODPUT_FIELD_NUMBER: _ClassVar[int]
    ACCELERATOR_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    WATER_LITERS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    total_flops: float
    model_flops_utilization: float
    step_duration: _duration_pb2.Duration
    wall_clock_duration: _duration_pb2.Duration
    accelerator_hours: float
    accelerator_energy_joules: float
    facility_energy_joules: float
    cost: _money_pb2.Money
    co2e_kilograms: float
    memory_per_accelerator_bytes: int
    fits_in_memory: bool
    parallelism: _common_pb2.Parallelism
    breakdown: Breakdown
    assumptions: _containers.RepeatedCompositeFieldContainer[_common_pb2.Assumption]
    calibration: _common_pb2.Calibration
    intervals: _containers.MessageMap[str, _common_pb2.Interval]
    hardware_flops_utilization: float
    step_count: int
    goodput: float
    accelerator_memory_bytes: int
    water_liters: float
    tokens_per_second: float
    def __init__(self, total_flops: _Optional[float] = ..., model_flops_utilization: _Optional[float] = ..., step_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., wall_clock_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., accelerator_hours: _Optional[float] = ..., accelerator_energy_joules: _Optional[float] = ..., facility_energy_joules: _Optional[float] = ..., cost: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., co2e_kilograms: _Optional[float] = ..., memory_per_accelerator_bytes: _Optional[int] = ..., fits_in_memory: _Optional[bool] = ..., parallelism: _Optional[_Union[_common_pb2.Parallelism, _Mapping]] = ..., breakdown: _Optional[_Union[Breakdown, _Mapping]] = ..., assumptions: _Optional[_Iterable[_Union[_common_pb2.Assumption, _Mapping]]] = ..., calibration: _Optional[_Union[_common_pb2.Calibration, _Mapping]] = ..., intervals: _Optional[_Mapping[str, _common_pb2.Interval]] = ..., hardware_flops_utilization: _Optional[float] = ..., step_count: _Optional[int] = ..., goodput: _Optional[float] = ..., accelerator_memory_bytes: _Optional[int] = ..., water_liters: _Optional[float] = ..., tokens_per_second: _Optional[float] = ...) -> None: ...

class Breakdown(_message.Message):
    __slots__ = ("step_time", "memory", "energy", "cost", "wall_clock")
    STEP_TIME_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    ENERGY_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    WALL_CLOCK_FIELD_NUMBER: _ClassVar[int]
    step_time: _containers.RepeatedCompositeFieldContainer[_common_pb2.Quantity]
    memory: _containers.RepeatedCompositeFieldContainer[_common_pb2.Quantity]
    energy: _containers.RepeatedCompositeFieldContainer[_common_pb2.Quantity]
    cost: _containers.RepeatedCompositeFieldContainer[_common_pb2.Quantity]
    wall_clock: _containers.RepeatedCompositeFieldContainer[_common_pb2.Quantity]
    def __init__(self, step_time: _Optional[_Iterable[_Union[_common_pb2.Quantity, _Mapping]]] = ..., memory: _Optional[_Iterable[_Union[_common_pb2.Quantity, _Mapping]]] = ..., energy: _Optional[_Iterable[_Union[_common_pb2.Quantity, _Mapping]]] = ..., cost: _Optional[_Iterable[_Union[_common_pb2.Quantity, _Mapping]]] = ..., wall_clock: _Optional[_Iterable[_Union[_common_pb2.Quantity, _Mapping]]] = ...) -> None: ...

class EstimateInferenceRequest(_message.Message):
    __slots__ = ("model", "hardware_id", "profile_id", "accelerator_count", "precision", "batch_size", "input_tokens", "output_tokens", "facility", "uncertainty", "kv_cache_precision", "expert_parallel_size", "concurrency", "request_rate_per_second", "slo", "speculative_decoding", "disaggregation", "engine")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    HARDWARE_ID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    ACCELERATOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    FACILITY_FIELD_NUMBER: _ClassVar[int]
    UNCERTAINTY_FIELD_NUMBER: _ClassVar[int]
    KV_CACHE_PRECISION_FIELD_NUMBER: _ClassVar[int]
    EXPERT_PARALLEL_SIZE_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_RATE_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    SLO_FIELD_NUMBER: _ClassVar[int]
    SPECULATIVE_DECODING_FIELD_NUMBER: _ClassVar[int]
    DISAGGREGATION_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelSpec
    hardware_id: str
    profile_id: str
    accelerator_count: int
    precision: _common_pb2.Precision
    batch_size: int
    input_tokens: int
    output_tokens: int
    facility: _common_pb2.Facility
    uncertainty: _common_pb2.Uncertainty
    kv_cache_precision: _common_pb2.Precision
    expert_parallel_size: int
    concurrency: int
    request_rate_per_second: float
    slo: ServingSlo
    speculative_decoding: SpeculativeDecoding
    disaggregation: Disaggregation
    engine: str
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelSpec, _Mapping]] = ..., hardware_id: _Optional[str] = ..., profile_id: _Optional[str] = ..., accelerator_count: _Optional[int] = ..., precision: _Optional[_Union[_common_pb2.Precision, str]] = ..., batch_size: _Optional[int] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., facility: _Optional[_Union[_common_pb2.Facility, _Mapping]] = ..., uncertainty: _Optional[_Union[_common_pb2.Uncertainty, _Mapping]] = ..., kv_cache_precision: _Optional[_Union[_common_pb2.Precision, str]] = ..., expert_parallel_size: _Optional[int] = ..., concurrency: _Optional[int] = ..., request_rate_per_second: _Optional[float] = ..., slo: _Optional[_Union[ServingSlo, _Mapping]] = ..., speculative_decoding: _Optional[_Union[SpeculativeDecoding, _Mapping]] = ..., disaggregation: _Optional[_Union[Disaggregation, str]] = ..., engine: _Optional[str] = ...) -> None: ...

class SpeculativeDecoding(_message.Message):
    __slots__ = ("draft_tokens", "acceptance_rate", "draft_model")
    DRAFT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTANCE_RATE_FIELD_NUMBER: _ClassVar[int]
    DRAFT_MODEL_FIELD_NUMBER: _ClassVar[int]
    draft_tokens: int
    acceptance_rate: float
    draft_model: _common_pb2.ModelSpec
    def __init__(self, draft_tokens: _Optional[int] = ..., acceptance_rate: _Optional[float] = ..., draft_model: _Optional[_Union[_common_pb2.ModelSpec, _Mapping]] = ...) -> None: ...

class ServingSlo(_message.Message):
    __slots__ = ("time_to_first_token", "time_per_output_token")
    TIME_TO_FIRST_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TIME_PER_OUTPUT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    time_to_first_token: _duration_pb2.Duration
    time_per_output_token: _duration_pb2.Duration
    def __init__(self, time_to_first_token: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., time_per_output_token: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ServingPlan(_message.Message):
    __slots__ = ("tensor_parallel_size", "max_running_batch_size", "replicas", "accelerator_count", "disaggregated", "prefill_tensor_parallel_size", "prefill_replicas", "kv_transfer_time", "kv_transfer_tier", "kv_transfer_bytes", "time_to_first_token_margin", "time_per_output_token_margin")
    TENSOR_PARALLEL_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_RUNNING_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    ACCELERATOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    DISAGGREGATED_FIELD_NUMBER: _ClassVar[int]
    PREFILL_TENSOR_PARALLEL_SIZE_FIELD_NUMBER: _ClassVar[int]
    PREFILL_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    KV_TRANSFER_TIME_FIELD_NUMBER: _ClassVar[int]
    KV_TRANSFER_TIER_FIELD_NUMBER: _ClassVar[int]
    KV_TRANSFER_BYTES_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_FIRST_TOKEN_MARGIN_FIELD_NUMBER: _ClassVar[int]
    TIME_PER_OUTPUT_TOKEN_MARGIN_FIELD_NUMBER: _ClassVar[int]
    tensor_parallel_size: int
    max_running_batch_size: int
    replicas: int
    accelerator_count: int
    disaggregated: bool
    prefill_tensor_parallel_size: int
    prefill_replicas: int
    kv_transfer_time: _duration_pb2.Duration
    kv_transfer_tier: str
    kv_transfer_bytes: int
    time_to_first_token_margin: _duration_pb2.Duration
    time_per_output_token_margin: _duration_pb2.Duration
    def __init__(self, tensor_parallel_size: _Optional[int] = ..., max_running_batch_size: _Optional[int] = ..., replicas: _Optional[int] = ..., accelerator_count: _Optional[int] = ..., disaggregated: _Optional[bool] = ..., prefill_tensor_parallel_size: _Optional[int] = ..., prefill_replicas: _Optional[int] = ..., kv_transfer_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., kv_transfer_tier: _Optional[str] = ..., kv_transfer_bytes: _Optional[int] = ..., time_to_first_token_margin: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., time_per_output_token_margin: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class EstimateInferenceResponse(_message.Message):
    __slots__ = ("time_to_first_token", "time_per_output_token", "output_tokens_per_second", "output_tokens_per_second_per_accelerator", "energy_per_output_token_joules", "cost_per_million_output_tokens", "max_batch_size", "fits_in_memory", "assumptions", "batch_size", "requests_per_second", "memory_per_accelerator_bytes", "kv_cache_bytes_per_token", "calibration", "breakdown", "intervals", "time_to_first_token_p99", "time_per_output_token_p99", "running_batch_size", "queueing_delay", "slo_plan")
    class IntervalsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _common_pb2.Interval
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.Interval, _Mapping]] = ...) -> None: ...
    TIME_TO_FIRST_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TIME_PER_OUTPUT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_PER_SECOND_PER_ACCELERATOR_FIELD_NUMBER: _ClassVar[int]
    ENERGY_PER_OUTPUT_TOKEN_JOULES_FIELD_NUMBER: _ClassVar[int]
    COST_PER_MILLION_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    FITS_IN_MEMORY_FIELD_NUMBER: _ClassVar[int]
    ASSUMPTIONS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    MEMORY_PER_ACCELERATOR_BYTES_FIELD_NUMBER: _ClassVar[int]
    KV_CACHE_BYTES_PER_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_FIELD_NUMBER: _ClassVar[int]
    BREAKDOWN_FIELD_NUMBER: _ClassVar[int]
    INTERVALS_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_FIRST_TOKEN_P99_FIELD_NUMBER: _ClassVar[int]
    TIME_PER_OUTPUT_TOKEN_P99_FIELD_NUMBER: _ClassVar[int]
    RUNNING_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    QUEUEING_DELAY_FIELD_NUMBER: _ClassVar[int]
    SLO_PLAN_FIELD_NUMBER: _ClassVar[int]
    time_to_first_token: _duration_pb2.Duration
    time_per_output_token: _duration_pb2.Duration
    output_tokens_per_second: float
    output_tokens_per_second_per_accelerator: float
    energy_per_output_token_joules: float
    cost_per_million_output_tokens: _money_pb2.Money
    max_batch_size: int
    fits_in_memory: bool
    assumptions: _containers.RepeatedCompositeFieldContainer[_common_pb2.Assumption]
    batch_size: int
    requests_per_second: float
    memory_per_accelerator_bytes: int
    kv_cache_bytes_per_token: int
    calibration: _common_pb2.Calibration
    breakdown: Breakdown
    intervals: _containers.MessageMap[str, _common_pb2.Interval]
    time_to_first_token_p99: _duration_pb2.Duration
    time_per_output_token_p99: _duration_pb2.Duration
    running_batch_size: float
    queueing_delay: _duration_pb2.Duration
    slo_plan: ServingPlan
    def __init__(self, time_to_first_token: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., time_per_output_token: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., output_tokens_per_second: _Optional[float] = ..., output_tokens_per_second_per_accelerator: _Optional[float] = ..., energy_per_output_token_joules: _Optional[float] = ..., cost_per_million_output_tokens: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., max_batch_size: _Optional[int] = ..., fits_in_memory: _Optional[bool] = ..., assumptions: _Optional[_Iterable[_Union[_common_pb2.Assumption, _Mapping]]] = ..., batch_size: _Optional[int] = ..., requests_per_second: _Optional[float] = ..., memory_per_accelerator_bytes: _Optional[int] = ..., kv_cache_bytes_per_token: _Optional[int] = ..., calibration: _Optional[_Union[_common_pb2.Calibration, _Mapping]] = ..., breakdown: _Optional[_Union[Breakdown, _Mapping]] = ..., intervals: _Optional[_Mapping[str, _common_pb2.Interval]] = ..., time_to_first_token_p99: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., time_per_output_token_p99: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., running_batch_size: _Optional[float] = ..., queueing_delay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., slo_plan: _Optional[_Union[ServingPlan, _Mapping]] = ...) -> None: ...

class CampusTrainingWorkload(_message.Message):
    __slots__ = ("model", "training_tokens", "sequence_length", "precision")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TRAINING_TOKENS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_LENGTH_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelSpec
    training_tokens: int
    sequence_length: int
    precision: _common_pb2.Precision
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelSpec, _Mapping]] = ..., training_tokens: _Optional[int] = ..., sequence_length: _Optional[int] = ..., precision: _Optional[_Union[_common_pb2.Precision, str]] = ...) -> None: ...

class CampusInferenceWorkload(_message.Message):
    __slots__ = ("model", "input_tokens", "output_tokens", "precision", "accelerators_per_replica")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    ACCELERATORS_PER_REPLICA_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelSpec
    input_tokens: int
    output_tokens: int
    precision: _common_pb2.Precision
    accelerators_per_replica: int
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelSpec, _Mapping]] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., precision: _Optional[_Union[_common_pb2.Precision, str]] = ..., accelerators_per_replica: _Optional[int] = ...) -> None: ...

class CampusDemand(_message.Message):
    __slots__ = ("users", "requests_per_user_per_day", "input_tokens", "output_tokens", "peak_to_average_ratio", "model", "precision", "kv_cache_precision", "slo", "peak_wait_probability")
    USERS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_USER_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    PEAK_TO_AVERAGE_RATIO_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    KV_CACHE_PRECISION_FIELD_NUMBER: _ClassVar[int]
    SLO_FIELD_NUMBER: _ClassVar[int]
    PEAK_WAIT_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    users: int
    requests_per_user_per_day: float
    input_tokens: int
    output_tokens: int
    peak_to_average_ratio: float
    model: _common_pb2.ModelSpec
    precision: _common_pb2.Precision
    kv_cache_precision: _common_pb2.Precision
    slo: ServingSlo
    peak_wait_probability: float
    def __init__(self, users: _Optional[int] = ..., requests_per_user_per_day: _Optional[float] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., peak_to_average_ratio: _Optional[float] = ..., model: _Optional[_Union[_common_pb2.ModelSpec, _Mapping]] = ..., precision: _Optional[_Union[_common_pb2.Precision, str]] = ..., kv_cache_precision: _Optional[_Union[_common_pb2.Precision, str]] = ..., slo: _Optional[_Union[ServingSlo, _Mapping]] = ..., peak_wait_probability: _Optional[float] = ...) -> None: ...

class CampusDemandPlan(_message.Message):
    __slots__ = ("average_request_rate_per_second", "peak_request_rate_per_second", "serving_plan", "replica_requests_per_second", "peak_utilization", "average_utilization", "peak_wait_probability", "time_to_first_token_p99", "time_per_output_token_p99", "output_tokens_per_day", "annual_cost", "cost_per_user_per_month", "annual_energy_per_user_kwh")
    AVERAGE_REQUEST_RATE_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    PEAK_REQUEST_RATE_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    SERVING_PLAN_FIELD_NUMBER: _ClassVar[int]
    REPLICA_REQUESTS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    PEAK_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    PEAK_WAIT_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_FIRST_TOKEN_P99_FIELD_NUMBER: _ClassVar[int]
    TIME_PER_OUTPUT_TOKEN_P99_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    ANNUAL_COST_FIELD_NUMBER: _ClassVar[int]
    COST_PER_USER_PER_MONTH_FIELD_NUMBER: _ClassVar[int]
    ANNUAL_ENERGY_PER_USER_KWH_FIELD_NUMBER: _ClassVar[int]
    average_request_rate_per_second: float
    peak_request_rate_per_second: float
    serving_plan: ServingPlan
    replica_requests_per_second: float
    peak_utilization: float
    average_utilization: float
    peak_wait_probability: float
    time_to_first_token_p99: _duration_pb2.Duration
    time_per_output_token_p99: _duration_pb2.Duration
    output_tokens_per_day: float
    annual_cost: _money_pb2.Money
    cost_per_user_per_month: _money_pb2.Money
    annual_energy_per_user_kwh: float
    def __init__(self, average_request_rate_per_second: _Optional[float] = ..., peak_request_rate_per_second: _Optional[float] = ..., serving_plan: _Optional[_Union[ServingPlan, _Mapping]] = ..., replica_requests_per_second: _Optional[float] = ..., peak_utilization: _Optional[float] = ..., average_utilization: _Optional[float] = ..., peak_wait_probability: _Optional[float] = ..., time_to_first_token_p99: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., time_per_output_token_p99: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., output_tokens_per_day: _Optional[float] = ..., annual_cost: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., cost_per_user_per_month: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., annual_energy_per_user_kwh: _Optional[float] = ...) -> None: ...

class CapitalCosts(_message.Message):
    __slots__ = ("accelerator_usd", "server_usd_per_accelerator", "network_usd_per_accelerator", "building_usd_per_watt", "it_depreciation_years", "building_depreciation_years")
    ACCELERATOR_USD_FIELD_NUMBER: _ClassVar[int]
    SERVER_USD_PER_ACCELERATOR_FIELD_NUMBER: _ClassVar[int]
    NETWORK_USD_PER_ACCELERATOR_FIELD_NUMBER: _ClassVar[int]
    BUILDING_USD_PER_WATT_FIELD_NUMBER: _ClassVar[int]
    IT_DEPRECIATION_YEARS_FIELD_NUMBER: _ClassVar[int]
    BUILDING_DEPRECIATION_YEARS_FIELD_NUMBER: _ClassVar[int]
    accelerator_usd: float
    server_usd_per_accelerator: float
    network_usd_per_accelerator: float
    building_usd_per_watt: float
    it_depreciation_years: float
    building_depreciation_years: float
    def __init__(self, accelerator_usd: _Optional[float] = ..., server_usd_per_accelerator: _Optional[float] = ..., network_usd_per_accelerator: _Optional[float] = ..., building_usd_per_watt: _Optional[float] = ..., it_depreciation_years: _Optional[float] = ..., building_depreciation_years: _Optional[float] = ...) -> None: ...

class Buildout(_message.Message):
    __slots__ = ("ramp_months", "horizon_months")
    RAMP_MONTHS_FIELD_NUMBER: _ClassVar[int]
    HORIZON_MONTHS_FIELD_NUMBER: _ClassVar[int]
    ramp_months: int
    horizon_months: int
    def __init__(self, ramp_months: _Optional[int] = ..., horizon_months: _Optional[int] = ...) -> None: ...

class EstimateCampusRequest(_message.Message):
    __slots__ = ("facility_power_watts", "accelerator_count", "budget", "demand", "term", "hardware_id", "profile_id", "facility", "utilization", "training", "inference", "capital_costs", "buildout", "uncertainty", "precision")
    FACILITY_POWER_WATTS_FIELD_NUMBER: _ClassVar[int]
    ACCELERATOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    DEMAND_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    HARDWARE_ID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    FACILITY_FIELD_NUMBER: _ClassVar[int]
    UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    TRAINING_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_FIELD_NUMBER: _ClassVar[int]
    CAPITAL_COSTS_FIELD_NUMBER: _ClassVar[int]
    BUILDOUT_FIELD_NUMBER: _ClassVar[int]
    UNCERTAINTY_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    facility_power_watts: float
    accelerator_count: int
    budget: _money_pb2.Money
    demand: CampusDemand
    term: _duration_pb2.Duration
    hardware_id: str
    profile_id: str
    facility: _common_pb2.Facility
    utilization: float
    training: CampusTrainingWorkload
    inference: CampusInferenceWorkload
    capital_costs: CapitalCosts
    buildout: Buildout
    uncertainty: _common_pb2.Uncertainty
    precision: _common_pb2.Precision
    def __init__(self, facility_power_watts: _Optional[float] = ..., accelerator_count: _Optional[int] = ..., budget: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., demand: _Optional[_Union[CampusDemand, _Mapping]] = ..., term: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., hardware_id: _Optional[str] = ..., profile_id: _Optional[str] = ..., facility: _Optional[_Union[_common_pb2.Facility, _Mapping]] = ..., utilization: _Optional[float] = ..., training: _Optional[_Union[CampusTrainingWorkload, _Mapping]] = ..., inference: _Optional[_Union[CampusInferenceWorkload, _Mapping]] = ..., capital_costs: _Optional[_Union[CapitalCosts, _Mapping]] = ..., buildout: _Optional[_Union[Buildout, _Mapping]] = ..., uncertainty: _Optional[_Union[_common_pb2.Uncertainty, _Mapping]] = ..., precision: _Optional[_Union[_common_pb2.Precision, str]] = ...) -> None: ...

class BuildoutPeriod(_message.Message):
    __slots__ = ("end_month", "accelerator_count", "accelerator_hours", "facility_energy_joules", "spend_usd", "cumulative_accelerator_hours", "cumulative_facility_energy_joules", "cumulative_spend_usd")
    END_MONTH_FIELD_NUMBER: _ClassVar[int]
    ACCELERATOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    ACCELERATOR_HOURS_FIELD_NUMBER: _ClassVar[int]
    FACILITY_ENERGY_JOULES_FIELD_NUMBER: _ClassVar[int]
    SPEND_USD_FIELD_NUMBER: _ClassVar[int]
    CUMULATIVE_ACCELERATOR_HOURS_FIELD_NUMBER: _ClassVar[int]
    CUMULATIVE_FACILITY_ENERGY_JOULES_FIELD_NUMBER: _ClassVar[int]
    CUMULATIVE_SPEND_USD_FIELD_NUMBER: _ClassVar[int]
    end_month: int
    accelerator_count: int
    accelerator_hours: float
    facility_energy_joules: float
    spend_usd: float
    cumulative_accelerator_hours: float
    cumulative_facility_energy_joules: float
    cumulative_spend_usd: float
    def __init__(self, end_month: _Optional[int] = ..., accelerator_count: _Optional[int] = ..., accelerator_hours: _Optional[float] = ..., facility_energy_joules: _Optional[float] = ..., spend_usd: _Optional[float] = ..., cumulative_accelerator_hours: _Optional[float] = ..., cumulative_facility_energy_joules: _Optional[float] = ..., cumulative_spend_usd: _Optional[float] = ...) -> None: ...

class EstimateCampusResponse(_message.Message):
    __slots__ = ("accelerator_count", "it_power_watts", "facility_power_watts", "annual_energy_joules", "annual_energy_cost", "annual_co2e_kilograms", "peak_flops_per_second", "sustained_flops_per_second", "training_runs_per_year", "output_tokens_per_day", "assumptions", "power_per_accelerator", "capital_cost", "total_capital_cost", "annual_water_liters", "comparisons", "rack_count", "accelerators_per_rack", "annual_accelerator_hours", "buildout", "single_job_feasibility", "training_estimate", "intervals", "calibration", "demand_plan")
    class IntervalsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _common_pb2.Interval
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.Interval, _Mapping]] = ...) -> None: ...
    ACCELERATOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    IT_POWER_WATTS_FIELD_NUMBER: _ClassVar[int]
    FACILITY_POWER_WATTS_FIELD_NUMBER: _ClassVar[int]
    ANNUAL_ENERGY_JOULES_FIELD_NUMBER: _ClassVar[int]
    ANNUAL_ENERGY_COST_FIELD_NUMBER: _ClassVar[int]
    ANNUAL_CO2E_KILOGRAMS_FIELD_NUMBER: _ClassVar[int]
    PEAK_FLOPS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    SUSTAINED_FLOPS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    TRAINING_RUNS_PER_YEAR_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    ASSUMPTIONS_FIELD_NUMBER: _ClassVar[int]
    POWER_PER_ACCELERATOR_FIELD_NUMBER: _ClassVar[int]
    CAPITAL_COST_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CAPITAL_COST_FIELD_NUMBER: _ClassVar[int]
    ANNUAL_WATER_LITERS_FIELD_NUMBER: _ClassVar[int]
    COMPARISONS_FIELD_NUMBER: _ClassVar[int]
    RACK_COUNT_FIELD_NUMBER: _ClassVar[int]
    ACCELERATORS_PER_RACK_FIELD_NUMBER: _ClassVar[int]
    ANNUAL_ACCELERATOR_HOURS_FIELD_NUMBER: _ClassVar[int]
    BUILDOUT_FIELD_NUMBER: _ClassVar[int]
    SINGLE_JOB_FEASIBILITY_FIELD_NUMBER: _ClassVar[int]
    TRAINING_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    INTERVALS_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_FIELD_NUMBER: _ClassVar[int]
    DEMAND_PLAN_FIELD_NUMBER: _ClassVar[int]
    accelerator_count: int
    it_power_watts: float
    facility_power_watts: float
    annual_energy_joules: float
    annual_energy_cost: _money_pb2.Money
    annual_co2e_kilograms: float
    peak_flops_per_second: float
    sustained_flops_per_second: float
    training_runs_per_year: float
    output_tokens_per_day: float
    assumptions: _containers.RepeatedCompositeFieldContainer[_common_pb2.Assumption]
    power_per_accelerator: _containers.RepeatedCompositeFieldContainer[_common_pb2.Quantity]
    capital_cost: _containers.RepeatedCompositeFieldContainer[_common_pb2.Quantity]
    total_capital_cost: _money_pb2.Money
    annual_water_liters: float
    comparisons: _containers.RepeatedCompositeFieldContainer[_common_pb2.Quantity]
    rack_count: int
    accelerators_per_rack: int
    annual_accelerator_hours: float
    buildout: _containers.RepeatedCompositeFieldContainer[BuildoutPeriod]
    single_job_feasibility: str
    training_estimate: EstimateTrainingResponse
    intervals: _containers.MessageMap[str, _common_pb2.Interval]
    calibration: _common_pb2.Calibration
    demand_plan: CampusDemandPlan
    def __init__(self, accelerator_count: _Optional[int] = ..., it_power_watts: _Optional[float] = ..., facility_power_watts: _Optional[float] = ..., annual_energy_joules: _Optional[float] = ..., annual_energy_cost: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., annual_co2e_kilograms: _Optional[float] = ..., peak_flops_per_second: _Optional[float] = ..., sustained_flops_per_second: _Optional[float] = ..., training_runs_per_year: _Optional[float] = ..., output_tokens_per_day: _Optional[float] = ..., assumptions: _Optional[_Iterable[_Union[_common_pb2.Assumption, _Mapping]]] = ..., power_per_accelerator: _Optional[_Iterable[_Union[_common_pb2.Quantity, _Mapping]]] = ..., capital_cost: _Optional[_Iterable[_Union[_common_pb2.Quantity, _Mapping]]] = ..., total_capital_cost: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., annual_water_liters: _Optional[float] = ..., comparisons: _Optional[_Iterable[_Union[_common_pb2.Quantity, _Mapping]]] = ..., rack_count: _Optional[int] = ..., accelerators_per_rack: _Optional[int] = ..., annual_accelerator_hours: _Optional[float] = ..., buildout: _Optional[_Iterable[_Union[BuildoutPeriod, _Mapping]]] = ..., single_job_feasibility: _Optional[str] = ..., training_estimate: _Optional[_Union[EstimateTrainingResponse, _Mapping]] = ..., intervals: _Optional[_Mapping[str, _common_pb2.Interval]] = ..., calibration: _Optional[_Union[_common_pb2.Calibration, _Mapping]] = ..., demand_plan: _Optional[_Union[CampusDemandPlan, _Mapping]] = ...) -> None: ...

class SweepAxis(_message.Message):
    __slots__ = ("field", "values", "string_values")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUES_FIELD_NUMBER: _ClassVar[int]
    field: str
    values: _containers.RepeatedScalarFieldContainer[float]
    string_values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, field: _Optional[str] = ..., values: _Optional[_Iterable[float]] = ..., string_values: _Optional[_Iterable[str]] = ...) -> None: ...

class SweepTrainingRequest(_message.Message):
    __slots__ = ("base", "axes", "chunk_size", "columnar")
    BASE_FIELD_NUMBER: _ClassVar[int]
    AXES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    COLUMNAR_FIELD_NUMBER: _ClassVar[int]
    base: EstimateTrainingRequest
    axes: _containers.RepeatedCompositeFieldContainer[SweepAxis]
    chunk_size: int
    columnar: bool
    def __init__(self, base: _Optional[_Union[EstimateTrainingRequest, _Mapping]] = ..., axes: _Optional[_Iterable[_Union[SweepAxis, _Mapping]]] = ..., chunk_size: _Optional[int] = ..., columnar: _Optional[bool] = ...) -> None: ...

class SweepPoint(_message.Message):
    __slots__ = ("axis_values", "wall_clock_seconds", "step_seconds", "accelerator_hours", "facility_energy_joules", "cost_usd", "co2e_kilograms", "model_flops_utilization", "fits_in_memory", "total_flops", "index", "infeasible_reason", "cost_energy_only")
    AXIS_VALUES_FIELD_NUMBER: _ClassVar[int]
    WALL_CLOCK_SECONDS_FIELD_NUMBER: _ClassVar[int]
    STEP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ACCELERATOR_HOURS_FIELD_NUMBER: _ClassVar[int]
    FACILITY_ENERGY_JOULES_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    CO2E_KILOGRAMS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FLOPS_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    FITS_IN_MEMORY_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FLOPS_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    INFEASIBLE_REASON_FIELD_NUMBER: _ClassVar[int]
    COST_ENERGY_ONLY_FIELD_NUMBER: _ClassVar[int]
    axis_values: _containers.RepeatedScalarFieldContainer[float]
    wall_clock_seconds: float
    step_seconds: float
    accelerator_hours: float
    facility_energy_joules: float
    cost_usd: float
    co2e_kilograms: float
    model_flops_utilization: float
    fits_in_memory: bool
    total_flops: float
    index: int
    infeasible_reason: str
    cost_energy_only: bool
    def __init__(self, axis_values: _Optional[_Iterable[float]] = ..., wall_clock_seconds: _Optional[float] = ..., step_seconds: _Optional[float] = ..., accelerator_hours: _Optional[float] = ..., facility_energy_joules: _Optional[float] = ..., cost_usd: _Optional[float] = ..., co2e_kilograms: _Optional[float] = ..., model_flops_utilization: _Optional[float] = ..., fits_in_memory: _Optional[bool] = ..., total_flops: _Optional[float] = ..., index: _Optional[int] = ..., infeasible_reason: _Optional[str] = ..., cost_energy_only: _Optional[bool] = ...) -> None: ...

class SweepColumns(_message.Message):
    __slots__ = ("index", "axis_values", "wall_clock_seconds", "step_seconds", "accelerator_hours", "facility_energy_joules", "cost_usd", "co2e_kilograms", "model_flops_utilization", "fits_in_memory", "total_flops", "cost_energy_only", "infeasible_index", "infeasible_reason")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    AXIS_VALUES_FIELD_NUMBER: _ClassVar[int]
    WALL_CLOCK_SECONDS_FIELD_NUMBER: _ClassVar[int]
    STEP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ACCELERATOR_HOURS_FIELD_NUMBER: _ClassVar[int]
    FACILITY_ENERGY_JOULES_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    CO2E_KILOGRAMS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FLOPS_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    FITS_IN_MEMORY_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FLOPS_FIELD_NUMBER: _ClassVar[int]
    COST_ENERGY_ONLY_FIELD_NUMBER: _ClassVar[int]
    INFEASIBLE_INDEX_FIELD_NUMBER: _ClassVar[int]
    INFEASIBLE_REASON_FIELD_NUMBER: _ClassVar[int]
    index: _containers.RepeatedScalarFieldContainer[int]
    axis_values: _containers.RepeatedScalarFieldContainer[float]
    wall_clock_seconds: _containers.RepeatedScalarFieldContainer[float]
    step_seconds: _containers.RepeatedScalarFieldContainer[float]
    accelerator_hours: _containers.RepeatedScalarFieldContainer[float]
    facility_energy_joules: _containers.RepeatedScalarFieldContainer[float]
    cost_usd: _containers.RepeatedScalarFieldContainer[float]
    co2e_kilograms: _containers.RepeatedScalarFieldContainer[float]
    model_flops_utilization: _containers.RepeatedScalarFieldContainer[float]
    fits_in_memory: _containers.RepeatedScalarFieldContainer[bool]
    total_flops: _containers.RepeatedScalarFieldContainer[float]
    cost_energy_only: _containers.RepeatedScalarFieldContainer[bool]
    infeasible_index: _containers.RepeatedScalarFieldContainer[int]
    infeasible_reason: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, index: _Optional[_Iterable[int]] = ..., axis_values: _Optional[_Iterable[float]] = ..., wall_clock_seconds: _Optional[_Iterable[float]] = ..., step_seconds: _Optional[_Iterable[float]] = ..., accelerator_hours: _Optional[_Iterable[float]] = ..., facility_energy_joules: _Optional[_Iterable[float]] = ..., cost_usd: _Optional[_Iterable[float]] = ..., co2e_kilograms: _Optional[_Iterable[float]] = ..., model_flops_utilization: _Optional[_Iterable[float]] = ..., fits_in_memory: _Optional[_Iterable[bool]] = ..., total_flops: _Optional[_Iterable[float]] = ..., cost_energy_only: _Optional[_Iterable[bool]] = ..., infeasible_index: _Optional[_Iterable[int]] = ..., infeasible_reason: _Optional[_Iterable[str]] = ...) -> None: ...

class SweepTrainingResponse(_message.Message):
    __slots__ = ("points", "total_point_count", "columns")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_POINT_COUNT_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[SweepPoint]
    total_point_count: int
    columns: SweepColumns
    def __init__(self, points: _Optional[_Iterable[_Union[SweepPoint, _Mapping]]] = ..., total_point_count: _Optional[int] = ..., columns: _Optional[_Union[SweepColumns, _Mapping]] = ...) -> None: ...

class RankTrainingRequest(_message.Message):
    __slots__ = ("sweep", "by", "max_wall_clock_seconds", "max_cost_usd", "limit")
    SWEEP_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    MAX_WALL_CLOCK_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_COST_USD_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    sweep: SweepTrainingRequest
    by: RankObjective
    max_wall_clock_seconds: float
    max_cost_usd: float
    limit: int
    def __init__(self, sweep: _Optional[_Union[SweepTrainingRequest, _Mapping]] = ..., by: _Optional[_Union[RankObjective, str]] = ..., max_wall_clock_seconds: _Optional[float] = ..., max_cost_usd: _Optional[float] = ..., limit: _Optional[int] = ...) -> None: ...

class RankedPoint(_message.Message):
    __slots__ = ("point", "axis_labels")
    POINT_FIELD_NUMBER: _ClassVar[int]
    AXIS_LABELS_FIELD_NUMBER: _ClassVar[int]
    point: SweepPoint
    axis_labels: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, point: _Optional[_Union[SweepPoint, _Mapping]] = ..., axis_labels: _Optional[_Iterable[str]] = ...) -> None: ...

class RankTrainingResponse(_message.Message):
    __slots__ = ("points", "eligible_point_count", "total_point_count", "excluded")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_POINT_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_POINT_COUNT_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[RankedPoint]
    eligible_point_count: int
    total_point_count: int
    excluded: _containers.RepeatedCompositeFieldContainer[_common_pb2.Quantity]
    def __init__(self, points: _Optional[_Iterable[_Union[RankedPoint, _Mapping]]] = ..., eligible_point_count: _Optional[int] = ..., total_point_count: _Optional[int] = ..., excluded: _Optional[_Iterable[_Union[_common_pb2.Quantity, _Mapping]]] = ...) -> None: ...

class ListHardwareRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class Hardware(_message.Message):
    __slots__ = ("id", "name", "vendor", "peak_flops_per_second", "memory_bytes", "memory_bandwidth_bytes_per_second", "intra_node_bandwidth_bytes_per_second", "scale_out_bandwidth_bytes_per_second", "tdp_watts", "accelerators_per_node", "sources", "accelerators_per_rack", "release_date", "notes", "unpublished_fields")
    class PeakFlopsPerSecondEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VENDOR_FIELD_NUMBER: _ClassVar[int]
    PEAK_FLOPS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BANDWIDTH_BYTES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    INTRA_NODE_BANDWIDTH_BYTES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    SCALE_OUT_BANDWIDTH_BYTES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    TDP_WATTS_FIELD_NUMBER: _ClassVar[int]
    ACCELERATORS_PER_NODE_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    ACCELERATORS_PER_RACK_FIELD_NUMBER: _ClassVar[int]
    RELEASE_DATE_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    UNPUBLISHED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    vendor: str
    peak_flops_per_second: _containers.ScalarMap[str, float]
    memory_bytes: int
    memory_bandwidth_bytes_per_second: float
    intra_node_bandwidth_bytes_per_second: float
    scale_out_bandwidth_bytes_per_second: float
    tdp_watts: float
    accelerators_per_node: int
    sources: _containers.RepeatedCompositeFieldContainer[_common_pb2.Source]
    accelerators_per_rack: int
    release_date: str
    notes: str
    unpublished_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., vendor: _Optional[str] = ..., peak_flops_per_second: _Optional[_Mapping[str, float]] = ..., memory_bytes: _Optional[int] = ..., memory_bandwidth_bytes_per_second: _Optional[float] = ..., intra_node_bandwidth_bytes_per_second: _Optional[float] = ..., scale_out_bandwidth_bytes_per_second: _Optional[float] = ..., tdp_watts: _Optional[float] = ..., accelerators_per_node: _Optional[int] = ..., sources: _Optional[_Iterable[_Union[_common_pb2.Source, _Mapping]]] = ..., accelerators_per_rack: _Optional[int] = ..., release_date: _Optional[str] = ..., notes: _Optional[str] = ..., unpublished_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class ListHardwareResponse(_message.Message):
    __slots__ = ("hardware", "next_page_token")
    HARDWARE_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    hardware: _containers.RepeatedCompositeFieldContainer[Hardware]
    next_page_token: str
    def __init__(self, hardware: _Optional[_Iterable[_Union[Hardware, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ("id", "name", "spec", "sources", "notes")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    spec: _common_pb2.ModelSpec
    sources: _containers.RepeatedCompositeFieldContainer[_common_pb2.Source]
    notes: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., spec: _Optional[_Union[_common_pb2.ModelSpec, _Mapping]] = ..., sources: _Optional[_Iterable[_Union[_common_pb2.Source, _Mapping]]] = ..., notes: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "next_page_token")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[Model]
    next_page_token: str
    def __init__(self, models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListFrameworksRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class FrameworkParameter(_message.Message):
    __slots__ = ("name", "value", "origin", "basis")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: float
    origin: str
    basis: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[float] = ..., origin: _Optional[str] = ..., basis: _Optional[str] = ...) -> None: ...

class Framework(_message.Message):
    __slots__ = ("id", "aliases", "name", "description", "covers", "sources", "behaviour", "parameters")
    class BehaviourEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    COVERS_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    BEHAVIOUR_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    id: str
    aliases: _containers.RepeatedScalarFieldContainer[str]
    name: str
    description: str
    covers: _containers.RepeatedScalarFieldContainer[str]
    sources: _containers.RepeatedCompositeFieldContainer[_common_pb2.Source]
    behaviour: _containers.ScalarMap[str, str]
    parameters: _containers.RepeatedCompositeFieldContainer[FrameworkParameter]
    def __init__(self, id: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., covers: _Optional[_Iterable[str]] = ..., sources: _Optional[_Iterable[_Union[_common_pb2.Source, _Mapping]]] = ..., behaviour: _Optional[_Mapping[str, str]] = ..., parameters: _Optional[_Iterable[_Union[FrameworkParameter, _Mapping]]] = ...) -> None: ...

class ListFrameworksResponse(_message.Message):
    __slots__ = ("frameworks", "next_page_token")
    FRAMEWORKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    frameworks: _containers.RepeatedCompositeFieldContainer[Framework]
    next_page_token: str
    def __init__(self, frameworks: _Optional[_Iterable[_Union[Framework, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListEnginesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class EngineParameter(_message.Message):
    __slots__ = ("name", "value", "origin", "basis")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    origin: str
    basis: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ..., origin: _Optional[str] = ..., basis: _Optional[str] = ...) -> None: ...

class EngineHardwareDefaults(_message.Message):
    __slots__ = ("min_memory_gib", "except_hardware", "token_budget", "max_num_seqs", "cuda_graph_max_batch", "cuda_graph_max_batch_tp4", "basis")
    MIN_MEMORY_GIB_FIELD_NUMBER: _ClassVar[int]
    EXCEPT_HARDWARE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_BUDGET_FIELD_NUMBER: _ClassVar[int]
    MAX_NUM_SEQS_FIELD_NUMBER: _ClassVar[int]
    CUDA_GRAPH_MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    CUDA_GRAPH_MAX_BATCH_TP4_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    min_memory_gib: float
    except_hardware: _containers.RepeatedScalarFieldContainer[str]
    token_budget: int
    max_num_seqs: int
    cuda_graph_max_batch: int
    cuda_graph_max_batch_tp4: int
    basis: str
    def __init__(self, min_memory_gib: _Optional[float] = ..., except_hardware: _Optional[_Iterable[str]] = ..., token_budget: _Optional[int] = ..., max_num_seqs: _Optional[int] = ..., cuda_graph_max_batch: _Optional[int] = ..., cuda_graph_max_batch_tp4: _Optional[int] = ..., basis: _Optional[str] = ...) -> None: ...

class Engine(_message.Message):
    __slots__ = ("id", "name", "description", "version", "is_default", "behaviour", "parameters", "hardware_defaults", "sources")
    class BehaviourEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    BEHAVIOUR_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    HARDWARE_DEFAULTS_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    version: str
    is_default: bool
    behaviour: _containers.ScalarMap[str, str]
    parameters: _containers.RepeatedCompositeFieldContainer[EngineParameter]
    hardware_defaults: _containers.RepeatedCompositeFieldContainer[EngineHardwareDefaults]
    sources: _containers.RepeatedCompositeFieldContainer[_common_pb2.Source]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., version: _Optional[str] = ..., is_default: _Optional[bool] = ..., behaviour: _Optional[_Mapping[str, str]] = ..., parameters: _Optional[_Iterable[_Union[EngineParameter, _Mapping]]] = ..., hardware_defaults: _Optional[_Iterable[_Union[EngineHardwareDefaults, _Mapping]]] = ..., sources: _Optional[_Iterable[_Union[_common_pb2.Source, _Mapping]]] = ...) -> None: ...

class ListEnginesResponse(_message.Message):
    __slots__ = ("engines", "next_page_token")
    ENGINES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    engines: _containers.RepeatedCompositeFieldContainer[Engine]
    next_page_token: str
    def __init__(self, engines: _Optional[_Iterable[_Union[Engine, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
