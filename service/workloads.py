"""The workload suite's input, from the estimator's model to the benchmark core's plain numbers.

The benchmark core may not import the estimator, so presets and ModelSpec overrides are resolved
here (by the API's CreateBenchmarkRun and by `flopwatt bench --suite workload`) into a
bench.workload_suite.WorkloadShape. Errors are WorkloadSpecError naming the field under
`workload.` (the API answers INVALID_ARGUMENT with it; the CLI prints it).
"""

from __future__ import annotations

from typing import Iterable

from flopwatt.bench.workload_suite import WorkloadShape, WorkloadSpecError
from flopwatt.estimate.architecture import ModelArchitecture

# The API's BenchmarkWorkload fields → WorkloadShape's (and the error paths that name them).
MODEL_FIELDS = ("layer_count", "hidden_size", "attention_head_count", "kv_head_count", "ffn_hidden_size", "vocab_size")


def workload_shape(
    architecture: ModelArchitecture,
    *,
    model_id: str = "",
    sequence_length: int = 0,
    precision: str = "bf16",
    micro_batch_size: int = 1,
    tensor_parallel_size: int = 1,
    data_parallel_size: int = 1,
    decode_batch_sizes: Iterable[int] = (),
    context_lengths: Iterable[int] = (),
) -> WorkloadShape:
    """The WorkloadShape of a resolved model and the workload's numbers; WorkloadSpecError
    names the bad field as the API spells it (`workload.model.hidden_size`, ...)."""
    if architecture.is_moe:
        raise WorkloadSpecError(
            "workload.model", "mixture-of-experts models are not measured by the workload suite yet"
        )
    if architecture.is_mla:
        raise WorkloadSpecError("workload.model", "MLA attention is not measured by the workload suite yet")
    try:
        return WorkloadShape(
            **{name: getattr(architecture, name) for name in MODEL_FIELDS},
            head_dim=architecture.effective_head_dim,
            gated_mlp=architecture.gated_mlp,
            tied_embeddings=architecture.tied_embeddings,
            model_id=model_id,
            sequence_length=sequence_length,
            micro_batch_size=micro_batch_size,
            precision=precision,
            tensor_parallel_size=tensor_parallel_size,
            data_parallel_size=data_parallel_size,
            decode_batch_sizes=tuple(decode_batch_sizes),
            context_lengths=tuple(context_lengths),
        )
    except WorkloadSpecError as error:
        field = error.field
        if field in MODEL_FIELDS or field == "head_dim":
            field = f"model.{field}"
        raise WorkloadSpecError(field if field.startswith("workload") else f"workload.{field}", error.problem) from None
