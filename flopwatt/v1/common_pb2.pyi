from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Precision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRECISION_UNSPECIFIED: _ClassVar[Precision]
    PRECISION_FP32: _ClassVar[Precision]
    PRECISION_TF32: _ClassVar[Precision]
    PRECISION_BF16: _ClassVar[Precision]
    PRECISION_FP16: _ClassVar[Precision]
    PRECISION_FP8: _ClassVar[Precision]
    PRECISION_FP4: _ClassVar[Precision]

class ActivationRecompute(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTIVATION_RECOMPUTE_UNSPECIFIED: _ClassVar[ActivationRecompute]
    ACTIVATION_RECOMPUTE_NONE: _ClassVar[ActivationRecompute]
    ACTIVATION_RECOMPUTE_SELECTIVE: _ClassVar[ActivationRecompute]
    ACTIVATION_RECOMPUTE_FULL: _ClassVar[ActivationRecompute]
PRECISION_UNSPECIFIED: Precision
PRECISION_FP32: Precision
PRECISION_TF32: Precision
PRECISION_BF16: Precision
PRECISION_FP16: Precision
PRECISION_FP8: Precision
PRECISION_FP4: Precision
ACTIVATION_RECOMPUTE_UNSPECIFIED: ActivationRecompute
ACTIVATION_RECOMPUTE_NONE: ActivationRecompute
ACTIVATION_RECOMPUTE_SELECTIVE: ActivationRecompute
ACTIVATION_RECOMPUTE_FULL: ActivationRecompute

class ModelSpec(_message.Message):
    __slots__ = ("preset_id", "parameter_count", "active_parameter_count", "layer_count", "hidden_size", "attention_head_count", "kv_head_count", "ffn_hidden_size", "vocab_size", "expert_count", "experts_per_token", "tied_embeddings", "gated_mlp", "head_dim", "shared_expert_count", "dense_layer_count", "dense_ffn_hidden_size", "dropout", "kv_lora_rank", "qk_rope_head_dim", "max_routed_nodes_per_token")
    PRESET_ID_FIELD_NUMBER: _ClassVar[int]
    PARAMETER_COUNT_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_PARAMETER_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAYER_COUNT_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_SIZE_FIELD_NUMBER: _ClassVar[int]
    ATTENTION_HEAD_COUNT_FIELD_NUMBER: _ClassVar[int]
    KV_HEAD_COUNT_FIELD_NUMBER: _ClassVar[int]
    FFN_HIDDEN_SIZE_FIELD_NUMBER: _ClassVar[int]
    VOCAB_SIZE_FIELD_NUMBER: _ClassVar[int]
    EXPERT_COUNT_FIELD_NUMBER: _ClassVar[int]
    EXPERTS_PER_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TIED_EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    GATED_MLP_FIELD_NUMBER: _ClassVar[int]
    HEAD_DIM_FIELD_NUMBER: _ClassVar[int]
    SHARED_EXPERT_COUNT_FIELD_NUMBER: _ClassVar[int]
    DENSE_LAYER_COUNT_FIELD_NUMBER: _ClassVar[int]
    DENSE_FFN_HIDDEN_SIZE_FIELD_NUMBER: _ClassVar[int]
    DROPOUT_FIELD_NUMBER: _ClassVar[int]
    KV_LORA_RANK_FIELD_NUMBER: _ClassVar[int]
    QK_ROPE_HEAD_DIM_FIELD_NUMBER: _ClassVar[int]
    MAX_ROUTED_NODES_PER_TOKEN_FIELD_NUMBER: _ClassVar[int]
    preset_id: str
    parameter_count: int
    active_parameter_count: int
    layer_count: int
    hidden_size: int
    attention_head_count: int
    kv_head_count: int
    ffn_hidden_size: int
    vocab_size: int
    expert_count: int
    experts_per_token: int
    tied_embeddings: bool
    gated_mlp: bool
    head_dim: int
    shared_expert_count: int
    dense_layer_count: int
    dense_ffn_hidden_size: int
    dropout: bool
    kv_lora_rank: int
    qk_rope_head_dim: int
    max_routed_nodes_per_token: int
    def __init__(self, preset_id: _Optional[str] = ..., parameter_count: _Optional[int] = ..., active_parameter_count: _Optional[int] = ..., layer_count: _Optional[int] = ..., hidden_size: _Optional[int] = ..., attention_head_count: _Optional[int] = ..., kv_head_count: _Optional[int] = ..., ffn_hidden_size: _Optional[int] = ..., vocab_size: _Optional[int] = ..., expert_count: _Optional[int] = ..., experts_per_token: _Optional[int] = ..., tied_embeddings: _Optional[bool] = ..., gated_mlp: _Optional[bool] = ..., head_dim: _Optional[int] = ..., shared_expert_count: _Optional[int] = ..., dense_layer_count: _Optional[int] = ..., dense_ffn_hidden_size: _Optional[int] = ..., dropout: _Optional[bool] = ..., kv_lora_rank: _Optional[int] = ..., qk_rope_head_dim: _Optional[int] = ..., max_routed_nodes_per_token: _Optional[int] = ...) -> None: ...

class Parallelism(_message.Message):
    __slots__ = ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "expert_parallel_size", "pipeline_interleaving", "micro_batch_size", "global_batch_size", "zero_stage", "activation_recompute", "sequence_parallel", "activation_recompute_layer_fraction", "context_parallel_size")
    TENSOR_PARALLEL_SIZE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_PARALLEL_SIZE_FIELD_NUMBER: _ClassVar[int]
    DATA_PARALLEL_SIZE_FIELD_NUMBER: _ClassVar[int]
    EXPERT_PARALLEL_SIZE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_INTERLEAVING_FIELD_NUMBER: _ClassVar[int]
    MICRO_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    ZERO_STAGE_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_RECOMPUTE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_PARALLEL_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_RECOMPUTE_LAYER_FRACTION_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_PARALLEL_SIZE_FIELD_NUMBER: _ClassVar[int]
    tensor_parallel_size: int
    pipeline_parallel_size: int
    data_parallel_size: int
    expert_parallel_size: int
    pipeline_interleaving: int
    micro_batch_size: int
    global_batch_size: int
    zero_stage: int
    activation_recompute: ActivationRecompute
    sequence_parallel: bool
    activation_recompute_layer_fraction: float
    context_parallel_size: int
    def __init__(self, tensor_parallel_size: _Optional[int] = ..., pipeline_parallel_size: _Optional[int] = ..., data_parallel_size: _Optional[int] = ..., expert_parallel_size: _Optional[int] = ..., pipeline_interleaving: _Optional[int] = ..., micro_batch_size: _Optional[int] = ..., global_batch_size: _Optional[int] = ..., zero_stage: _Optional[int] = ..., activation_recompute: _Optional[_Union[ActivationRecompute, str]] = ..., sequence_parallel: _Optional[bool] = ..., activation_recompute_layer_fraction: _Optional[float] = ..., context_parallel_size: _Optional[int] = ...) -> None: ...

class Facility(_message.Message):
    __slots__ = ("pue", "carbon_intensity_grams_per_kwh", "electricity_price_usd_per_kwh", "accelerator_hour_price_usd", "wue_liters_per_kwh", "host_power_watts_per_accelerator", "network_power_watts_per_accelerator")
    PUE_FIELD_NUMBER: _ClassVar[int]
    CARBON_INTENSITY_GRAMS_PER_KWH_FIELD_NUMBER: _ClassVar[int]
    ELECTRICITY_PRICE_USD_PER_KWH_FIELD_NUMBER: _ClassVar[int]
    ACCELERATOR_HOUR_PRICE_USD_FIELD_NUMBER: _ClassVar[int]
    WUE_LITERS_PER_KWH_FIELD_NUMBER: _ClassVar[int]
    HOST_POWER_WATTS_PER_ACCELERATOR_FIELD_NUMBER: _ClassVar[int]
    NETWORK_POWER_WATTS_PER_ACCELERATOR_FIELD_NUMBER: _ClassVar[int]
    pue: float
    carbon_intensity_grams_per_kwh: float
    electricity_price_usd_per_kwh: float
    accelerator_hour_price_usd: float
    wue_liters_per_kwh: float
    host_power_watts_per_accelerator: float
    network_power_watts_per_accelerator: float
    def __init__(self, pue: _Optional[float] = ..., carbon_intensity_grams_per_kwh: _Optional[float] = ..., electricity_price_usd_per_kwh: _Optional[float] = ..., accelerator_hour_price_usd: _Optional[float] = ..., wue_liters_per_kwh: _Optional[float] = ..., host_power_watts_per_accelerator: _Optional[float] = ..., network_power_watts_per_accelerator: _Optional[float] = ...) -> None: ...

class Uncertainty(_message.Message):
    __slots__ = ("samples", "seed")
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    samples: int
    seed: int
    def __init__(self, samples: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class Interval(_message.Message):
    __slots__ = ("p5", "p50", "p95", "unit")
    P5_FIELD_NUMBER: _ClassVar[int]
    P50_FIELD_NUMBER: _ClassVar[int]
    P95_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    p5: float
    p50: float
    p95: float
    unit: str
    def __init__(self, p5: _Optional[float] = ..., p50: _Optional[float] = ..., p95: _Optional[float] = ..., unit: _Optional[str] = ...) -> None: ...

class Assumption(_message.Message):
    __slots__ = ("name", "value", "origin", "source")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    origin: str
    source: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ..., origin: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class Quantity(_message.Message):
    __slots__ = ("name", "value", "unit", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: float
    unit: str
    description: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[float] = ..., unit: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class Calibration(_message.Message):
    __slots__ = ("kind", "hardware_id", "profile_name", "source", "date", "values", "operator_table")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[Calibration.Kind]
        KIND_MEASURED_PROFILE: _ClassVar[Calibration.Kind]
        KIND_DATASHEET: _ClassVar[Calibration.Kind]
    KIND_UNSPECIFIED: Calibration.Kind
    KIND_MEASURED_PROFILE: Calibration.Kind
    KIND_DATASHEET: Calibration.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    HARDWARE_ID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_TABLE_FIELD_NUMBER: _ClassVar[int]
    kind: Calibration.Kind
    hardware_id: str
    profile_name: str
    source: str
    date: str
    values: _containers.RepeatedCompositeFieldContainer[Quantity]
    operator_table: OperatorTableCoverage
    def __init__(self, kind: _Optional[_Union[Calibration.Kind, str]] = ..., hardware_id: _Optional[str] = ..., profile_name: _Optional[str] = ..., source: _Optional[str] = ..., date: _Optional[str] = ..., values: _Optional[_Iterable[_Union[Quantity, _Mapping]]] = ..., operator_table: _Optional[_Union[OperatorTableCoverage, _Mapping]] = ...) -> None: ...

class OperatorTableCoverage(_message.Message):
    __slots__ = ("operators_measured", "operators_interpolated", "operators_fallback", "measured_share", "interpolated_share", "fallback_share")
    OPERATORS_MEASURED_FIELD_NUMBER: _ClassVar[int]
    OPERATORS_INTERPOLATED_FIELD_NUMBER: _ClassVar[int]
    OPERATORS_FALLBACK_FIELD_NUMBER: _ClassVar[int]
    MEASURED_SHARE_FIELD_NUMBER: _ClassVar[int]
    INTERPOLATED_SHARE_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_SHARE_FIELD_NUMBER: _ClassVar[int]
    operators_measured: int
    operators_interpolated: int
    operators_fallback: int
    measured_share: float
    interpolated_share: float
    fallback_share: float
    def __init__(self, operators_measured: _Optional[int] = ..., operators_interpolated: _Optional[int] = ..., operators_fallback: _Optional[int] = ..., measured_share: _Optional[float] = ..., interpolated_share: _Optional[float] = ..., fallback_share: _Optional[float] = ...) -> None: ...

class Source(_message.Message):
    __slots__ = ("covers", "citation", "url", "date")
    COVERS_FIELD_NUMBER: _ClassVar[int]
    CITATION_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    covers: str
    citation: str
    url: str
    date: str
    def __init__(self, covers: _Optional[str] = ..., citation: _Optional[str] = ..., url: _Optional[str] = ..., date: _Optional[str] = ...) -> None: ...
