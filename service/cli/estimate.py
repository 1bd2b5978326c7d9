"""`flopwatt estimate training|inference`: run an estimate in-process (no server needed);
`flopwatt estimate frameworks` lists the software stacks `--framework` accepts.

The request comes from flags or from a JSON/YAML file in the proto JSON mapping (flags given
alongside override the file). Output: a readable table, or the response as JSON with --json.
`estimate` is a parser with sub-parsers so other kinds (campus) can register beside these.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from flopwatt.service.cli.errors import user_errors
from flopwatt.service.cli.profile_lookup import add_data_dir_argument, cli_dependencies
from flopwatt.service.cli.request_file import (
    apply_slo_flags,
    load_request,
    set_field,
    slo_flag_fields,
    typed_flags,
    whole_number,
)

KINDS = ("training", "inference")


class DeprecatedAlias(argparse.Action):
    """An old spelling of a flag, kept working: stores into the new flag's destination and says
    once on stderr which spelling to use. Why not a second option string on the new flag: then
    nothing would tell scripts written against the old name that it is on its way out, and
    `--help` would keep advertising both (this action's flag is hidden from --help)."""

    def __init__(self, option_strings, dest, new_flag: str, **kwargs) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.new_flag = new_flag

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        import sys

        print(f"{parser.prog}: warning: {option_string} is deprecated; use {self.new_flag}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def register(subparsers) -> None:
    parser = subparsers.add_parser("estimate", help="estimate training or serving cost in-process")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND")
    kinds.required = True
    for kind in KINDS:
        sub = kinds.add_parser(
            kind, help="estimate a training run" if kind == "training" else "estimate an inference deployment"
        )
        sub.add_argument("--request", type=Path, help="JSON or YAML request (proto JSON mapping)")
        sub.add_argument("--model", help="model preset id, e.g. llama-3.1-70b")
        sub.add_argument("--parameters", type=float, help="parameter count when no preset is given")
        sub.add_argument("--hardware", help="hardware id, e.g. h100-sxm")
        sub.add_argument("--profile", help="measured profile id (stored by `flopwatt bench` in --data-dir)")
        add_data_dir_argument(sub)
        sub.add_argument("--accelerators", type=int, help="accelerator count")
        sub.add_argument("--precision", choices=("fp32", "tf32", "bf16", "fp16", "fp8", "fp4"))
        sub.add_argument("--pue", type=float)
        sub.add_argument("--price-per-hour", type=float, help="accelerator-hour price in USD")
        sub.add_argument("--json", action="store_true", help="print the response as JSON")
        if kind == "training":
            sub.add_argument("--tokens", type=float, help="training tokens")
            sub.add_argument("--sequence-length", type=int)
            sub.add_argument("--tp", type=int, help="tensor-parallel size")
            sub.add_argument("--pp", type=int, help="pipeline-parallel size")
            sub.add_argument("--cp", type=int, help="context-parallel size (ranks each sequence is split over)")
            sub.add_argument("--global-batch", type=int, help="global batch (sequences)")
            sub.add_argument(
                "--framework", help="software stack id or alias (see `flopwatt estimate frameworks`), e.g. pytorch-fsdp"
            )
        else:
            sub.add_argument(
                "--batch-size", type=int, help="concurrent sequences, the API's batch_size (0: throughput-optimal)"
            )
            sub.add_argument(
                "--batch",
                type=int,
                dest="batch_size",
                action=DeprecatedAlias,
                new_flag="--batch-size",
                help=argparse.SUPPRESS,
            )
            sub.add_argument(
                "--concurrency", type=int, help="clients in a closed loop: continuous batching (the API's concurrency)"
            )
            sub.add_argument(
                "--request-rate",
                type=float,
                help="Poisson arrivals per second, an open loop: continuous batching (request_rate_per_second)",
            )
            sub.add_argument("--input-tokens", type=int)
            sub.add_argument("--output-tokens", type=int)
            sub.add_argument(
                "--expert-parallel",
                type=int,
                help="routed experts spread over this many accelerators (= --accelerators; MoE only)",
            )
            sub.add_argument(
                "--kv-cache-precision",
                choices=("fp32", "bf16", "fp16", "fp8"),
                help="KV cache storage (default: fp8 with fp8 weights, else bf16)",
            )
            sub.add_argument("--ttft-ms", type=float, help="p99 time to first token target: plan for the SLO")
            sub.add_argument("--tpot-ms", type=float, help="p99 time per output token target: plan for the SLO")
            sub.add_argument(
                "--disaggregation",
                choices=("colocated", "allowed", "required"),
                help="whether the SLO plan may separate prefill and decode pools (default colocated)",
            )
            sub.add_argument(
                "--draft-tokens", type=int, help="speculative decoding: tokens drafted per step (k, 1 to 16)"
            )
            sub.add_argument(
                "--acceptance-rate", type=float, help="speculative decoding: per-token acceptance rate (α, 0 ≤ α < 1)"
            )
            sub.add_argument(
                "--draft-model", help="speculative decoding: draft model preset (unset: MTP / n-gram, negligible cost)"
            )
        sub.set_defaults(handler=run)
    frameworks = kinds.add_parser(
        "frameworks", help="list the software stacks a training estimate's --framework accepts"
    )
    frameworks.add_argument("--json", action="store_true", help="print the ListFrameworks response as JSON")
    frameworks.set_defaults(handler=run_frameworks)
    from flopwatt.service.cli.estimate_campus import register as register_campus

    register_campus(kinds)


def _apply_common_flags(args, request) -> None:
    from flopwatt.v1 import common_pb2

    if args.model:
        request.model.preset_id = args.model
    if args.parameters:
        set_field(request, "model.parameter_count", whole_number(args.parameters, "--parameters"), "--parameters")
    if args.hardware:
        request.hardware_id = args.hardware
    if args.profile:
        request.profile_id = args.profile
    if args.accelerators is not None:
        set_field(request, "accelerator_count", args.accelerators, "--accelerators")
    if args.precision:
        request.precision = common_pb2.Precision.Value(f"PRECISION_{args.precision.upper()}")
    if args.pue is not None:
        request.facility.pue = args.pue
    if args.price_per_hour is not None:
        request.facility.accelerator_hour_price_usd = args.price_per_hour


# (flag attribute, request field) of the integer flags each kind adds to the common ones.
KIND_INTEGER_FLAGS = {
    "training": (
        ("sequence_length", "sequence_length"),
        ("tp", "parallelism.tensor_parallel_size"),
        ("pp", "parallelism.pipeline_parallel_size"),
        ("cp", "parallelism.context_parallel_size"),
        ("global_batch", "parallelism.global_batch_size"),
    ),
    "inference": (
        ("batch_size", "batch_size"),
        ("input_tokens", "input_tokens"),
        ("output_tokens", "output_tokens"),
        ("expert_parallel", "expert_parallel_size"),
        ("concurrency", "concurrency"),
    ),
}

# (flag destination, request field) of every flag that sets a request field: the table
# user_errors names the typed flag from when the API refuses a field (`--ttft-ms: ...`, not
# `slo.time_to_first_token: ...`).
COMMON_FLAG_FIELDS = (
    ("model", "model.preset_id"),
    ("parameters", "model.parameter_count"),
    ("hardware", "hardware_id"),
    ("profile", "profile_id"),
    ("accelerators", "accelerator_count"),
    ("precision", "precision"),
    ("pue", "facility.pue"),
    ("price_per_hour", "facility.accelerator_hour_price_usd"),
)
KIND_FLAG_FIELDS = {
    "training": (
        *COMMON_FLAG_FIELDS,
        *KIND_INTEGER_FLAGS["training"],
        ("tokens", "training_tokens"),
        ("framework", "framework"),
    ),
    "inference": (
        *COMMON_FLAG_FIELDS,
        *KIND_INTEGER_FLAGS["inference"],
        *slo_flag_fields("slo"),
        ("kv_cache_precision", "kv_cache_precision"),
        ("request_rate", "request_rate_per_second"),
        ("disaggregation", "disaggregation"),
        ("draft_tokens", "speculative_decoding.draft_tokens"),
        ("acceptance_rate", "speculative_decoding.acceptance_rate"),
        ("draft_model", "speculative_decoding.draft_model.preset_id"),
    ),
}


def build_request(args):
    from flopwatt.v1 import common_pb2, estimator_pb2

    request = (
        estimator_pb2.EstimateTrainingRequest() if args.kind == "training" else estimator_pb2.EstimateInferenceRequest()
    )
    if args.request:
        load_request(args.request, request)
    _apply_common_flags(args, request)
    if args.kind == "inference" and args.kv_cache_precision:
        request.kv_cache_precision = common_pb2.Precision.Value(f"PRECISION_{args.kv_cache_precision.upper()}")
    if args.kind == "inference" and args.request_rate is not None:
        request.request_rate_per_second = args.request_rate
    if args.kind == "inference":
        _apply_serving_flags(args, request)
    if args.kind == "training" and args.tokens is not None:
        set_field(request, "training_tokens", whole_number(args.tokens, "--tokens"), "--tokens")
    if args.kind == "training" and args.framework:
        request.framework = args.framework
    for attribute, path in KIND_INTEGER_FLAGS[args.kind]:
        value = getattr(args, attribute)
        if value is not None:
            set_field(request, path, value, "--" + attribute.replace("_", "-"))
    return request


def _apply_serving_flags(args, request) -> None:
    """The SLO, disaggregation and speculative-decoding flags of `estimate inference`."""
    from flopwatt.v1 import estimator_pb2

    apply_slo_flags(args, request.slo)
    if args.disaggregation:
        request.disaggregation = estimator_pb2.Disaggregation.Value(f"DISAGGREGATION_{args.disaggregation.upper()}")
    if args.draft_tokens is not None:
        set_field(request, "speculative_decoding.draft_tokens", args.draft_tokens, "--draft-tokens")
    if args.acceptance_rate is not None:
        request.speculative_decoding.acceptance_rate = args.acceptance_rate
    if args.draft_model:
        request.speculative_decoding.draft_model.preset_id = args.draft_model


def _seconds(duration) -> float:
    return duration.seconds + duration.nanos / 1e9


def _money(value) -> str:
    return f"${value.units + value.nanos / 1e9:,.2f}"


def _scaled(value: float, small_unit: str, large_unit: str, large: float) -> str:
    """`value` (in the small unit) in the large unit from `large` up, else the small one.

    Why: a fixed unit printed a 32 GPU-hour run's 0.02 MWh as "0 MWh" and its 10 kg as "0 t"."""
    if abs(value) >= 100 * large:
        return f"{value / large:,.0f} {large_unit}"
    if abs(value) >= large:
        return f"{value / large:,.1f} {large_unit}"
    return f"{value:,.1f} {small_unit}"


def _energy(joules: float) -> str:
    return _scaled(joules / 3.6e6, "kWh", "MWh", 1000.0)


def _duration_days(seconds: float) -> str:
    return f"{seconds / 86400:.1f} days" if seconds >= 86400 else f"{seconds / 3600:.1f} hours"


def _training_rows(r) -> list[tuple[str, str]]:
    p = r.parallelism
    return [
        ("total FLOPs", f"{r.total_flops:.3e}"),
        (
            "plan",
            f"TP {p.tensor_parallel_size} CP {p.context_parallel_size} PP {p.pipeline_parallel_size}x{p.pipeline_interleaving} DP {p.data_parallel_size} "
            f"EP {p.expert_parallel_size} mbs {p.micro_batch_size} gbs {p.global_batch_size} ZeRO {p.zero_stage}",
        ),
        ("step time", f"{_seconds(r.step_duration):.3f} s × {r.step_count:,} steps"),
        ("MFU / HFU", f"{r.model_flops_utilization:.1%} / {r.hardware_flops_utilization:.1%}"),
        ("goodput", f"{r.goodput:.1%}"),
        ("wall clock", _duration_days(_seconds(r.wall_clock_duration))),
        ("accelerator-hours", f"{r.accelerator_hours:,.0f}"),
        (
            "memory / accelerator",
            f"{r.memory_per_accelerator_bytes / 2**30:.1f} GiB of {r.accelerator_memory_bytes / 2**30:.1f} GiB ({'fits' if r.fits_in_memory else 'DOES NOT FIT'})",
        ),
        ("accelerator energy", _energy(r.accelerator_energy_joules)),
        ("facility energy", _energy(r.facility_energy_joules)),
        ("cost", _money(r.cost)),
        ("CO2e", _scaled(r.co2e_kilograms, "kg", "t", 1000.0)),
    ]


def _inference_rows(r) -> list[tuple[str, str]]:
    continuous = any(a.name == "serving_model" for a in r.assumptions)
    latency = [
        ("time to first token", f"{_seconds(r.time_to_first_token) * 1000:.1f} ms"),
        ("time per output token", f"{_seconds(r.time_per_output_token) * 1000:.2f} ms"),
    ]
    if continuous:  # continuous batching: p50 / p99 and the queue
        latency = [
            ("running batch", f"{r.running_batch_size:.1f} (KV cache holds {r.max_batch_size})"),
            ("queueing delay (p50)", f"{_seconds(r.queueing_delay) * 1000:.1f} ms"),
            (
                "TTFT p50 / p99",
                f"{_seconds(r.time_to_first_token) * 1000:.1f} / {_seconds(r.time_to_first_token_p99) * 1000:.1f} ms",
            ),
            (
                "TPOT p50 / p99",
                f"{_seconds(r.time_per_output_token) * 1000:.2f} / {_seconds(r.time_per_output_token_p99) * 1000:.2f} ms",
            ),
        ]
    return [
        *([] if continuous else [("batch (max)", f"{r.batch_size} ({r.max_batch_size})")]),
        *latency,
        (
            "output tokens/s",
            f"{r.output_tokens_per_second:,.0f} ({r.output_tokens_per_second_per_accelerator:,.0f} per accelerator)",
        ),
        ("requests/s", f"{r.requests_per_second:.2f}"),
        ("energy / output token", f"{r.energy_per_output_token_joules:.3f} J"),
        ("cost / M output tokens", _money(r.cost_per_million_output_tokens)),
        (
            "memory / accelerator",
            f"{r.memory_per_accelerator_bytes / 2**30:.1f} GiB ({'fits' if r.fits_in_memory else 'DOES NOT FIT'})",
        ),
        ("KV cache / token", f"{r.kv_cache_bytes_per_token / 1024:.0f} KiB"),
        *_plan_rows(r),
    ]


def _plan_rows(r) -> list[tuple[str, str]]:
    """The SLO plan's deployment (pools when disaggregated) and its margins; none without an slo."""
    if not r.HasField("slo_plan"):
        return []
    p = r.slo_plan
    if p.disaggregated:
        layout = (
            f"prefill TP {p.prefill_tensor_parallel_size} x {p.prefill_replicas:,} + decode TP {p.tensor_parallel_size} "
            f"x {p.replicas:,} ({p.accelerator_count:,} accelerators), decode batch ≤ {p.max_running_batch_size}"
        )
        rows = [
            ("SLO plan", layout),
            (
                "KV transfer",
                f"{p.kv_transfer_bytes / 1e6:,.1f} MB over {p.kv_transfer_tier}: {_seconds(p.kv_transfer_time) * 1000:.2f} ms",
            ),
        ]
    else:
        rows = [
            (
                "SLO plan",
                f"TP {p.tensor_parallel_size} x {p.replicas:,} replicas ({p.accelerator_count:,} accelerators), "
                f"running batch ≤ {p.max_running_batch_size}",
            )
        ]
    margins = [
        f"{name} {_seconds(getattr(p, field)) * 1000:.1f} ms"
        for name, field in (("TTFT", "time_to_first_token_margin"), ("TPOT", "time_per_output_token_margin"))
        if p.HasField(field)
    ]
    return rows + [("SLO margin (p99)", ", ".join(margins))]


def format_table(rows: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def run(args: argparse.Namespace) -> int:
    from google.protobuf import json_format

    request = build_request(args)
    deps = cli_dependencies(args.data_dir)
    with user_errors(typed_flags(args, KIND_FLAG_FIELDS[args.kind])):
        if args.kind == "training":
            from flopwatt.service.api.training import estimate_training

            response = estimate_training(request, deps)
        else:
            from flopwatt.service.api.inference import estimate_inference

            response = estimate_inference(request, deps)
    if args.json:
        print(json.dumps(json_format.MessageToDict(response), indent=2))
        return 0
    rows = _training_rows(response) if args.kind == "training" else _inference_rows(response)
    print(format_table(rows))
    print("\nstep-time breakdown:" if args.kind == "training" else "\ndecode-step breakdown:")
    print(format_table([(q.name, f"{q.value * 1000:.2f} ms") for q in response.breakdown.step_time if q.value]))
    print("\nassumptions:")
    print(format_table([(a.name, f"{a.value}  [{a.origin}] {a.source}") for a in response.assumptions]))
    return 0


def format_frameworks(response) -> str:
    """One block per stack: id and aliases, name, systems covered, documented behaviour, and the
    parameters it sets with their origin (none is fitted)."""
    blocks = []
    for stack in response.frameworks:
        aliases = f" (aliases: {', '.join(stack.aliases)})" if stack.aliases else ""
        rows = [("covers", ", ".join(stack.covers))]
        rows += [(topic.replace("_", " "), text) for topic, text in sorted(stack.behaviour.items())]
        rows += [(p.name, f"{p.value:g}  [{p.origin}]") for p in stack.parameters]
        rows += [("sources", f"{len(stack.sources)} (see --json)")]
        blocks.append(
            f"{stack.id}{aliases}: {stack.name}\n" + "\n".join(f"  {line}" for line in format_table(rows).splitlines())
        )
    return "\n\n".join(blocks)


def run_frameworks(args: argparse.Namespace) -> int:
    """`flopwatt estimate frameworks`: the ListFrameworks response, in-process."""
    from google.protobuf import json_format

    from flopwatt.service.api.catalog import list_frameworks
    from flopwatt.v1 import estimator_pb2

    response = list_frameworks(estimator_pb2.ListFrameworksRequest())
    if args.json:
        print(json.dumps(json_format.MessageToDict(response), indent=2))
    else:
        print(format_frameworks(response))
    return 0
