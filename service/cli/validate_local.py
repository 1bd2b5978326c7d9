"""`flopwatt validate --local`: the closed loop (issue 13 item 3) on this host.

Runs a real model (flopwatt.bench.closed_loop: training step, DDP training step over ranks on
this host, KV-cached decode step) on the CPU or on a CUDA device (`--device`), predicts the same
steps with the estimator on the catalog entry of that device (the `cpu` entry, or the GPU the
driver names: estimate/profile_checks.identify_hardware; datasheet path) and, when a measured
profile is given (`--profile-id`) or measured now (`--measure`: the quick suite on the device,
stored like `flopwatt bench`), with that profile (profile path), and reports predicted vs
measured seconds. Nothing here is fitted to the measurement.

The model is a preset (`--preset`; bench/closed_loop_model.PRESETS: `small` on the CPU, the
Llama-3.2-1B-class shape on CUDA) with any of its numbers overridden by flags; the dtype
defaults to fp32 on the CPU and bf16 on CUDA. On CUDA the preset's micro-batch is halved until
the model's own count of its training memory fits the device (a micro-batch given as a flag is
kept); the DDP check needs one CUDA device per rank and is reported as skipped, with the
reason, where there are fewer.

With a workload profile (`flopwatt bench --suite workload`, or `--measure-workload`: the workload
suite run now on this model's own shapes), `predicted_seconds` comes from its operator table
(flopwatt.estimate.operator_table: each operator measured, interpolated or, failing both, timed
by the profile's hardware model), each check reports its `operator_table` coverage (operators
measured / interpolated / fallback and their shares of the predicted time), and the ceilings
path's prediction stays as `ceilings_predicted_seconds`.

On CUDA the training and decode steps' power is measured too (bench/closed_loop_power.py: one
NVML window of ≥ 5 s each, in the last round, after the timed steps) and compared with the
estimator's power for the same steps (validate_local_power.py): each check's `power` object, or
`{"skipped": reason}` on the CPU, with `--no-power`, or where NVML cannot meter the GPU.

Where the result is stored: with a profile, as `closed-loop-<profile id>-<UTC time>.json` in the
`closed_loop/` folder of the data directory (beside the profile database); the profile document
itself is left unchanged (its id is derived from its content).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from flopwatt.service.cli.errors import CliError
from flopwatt.service.cli.validate_local_output import NO_PROFILE_NOTE, print_table
from flopwatt.service.cli.validate_local_power import error_percent as _error_percent
from flopwatt.service.cli.validate_local_power import power_checks

CHECKS = ("training_step", "ddp_training_step", "decode_step")
CLOSED_LOOP_FOLDER = "closed_loop"
DEFAULT_REPEATS = 3
DEVICE_CHOICES = ("cpu", "cuda", "auto")
# The binding keys a skipped check keeps (null), so a reader finds every check it asked for.
SKIPPED_KEYS = ("predicted_seconds", "datasheet_predicted_seconds", "measured_seconds", "error_percent")


def register_arguments(parser: argparse.ArgumentParser) -> tuple[tuple[str, str], ...]:
    """Add the closed-loop flags; returns the (flag, destination) of each flag that means something
    only with --local (`refuse_local_only_flags` checks them). Every one of them defaults to None
    (False for a switch) and run_local applies the real defaults, so a flag typed with its default
    value (`--device cpu`) is still seen as typed."""
    from flopwatt.bench.closed_loop_model import DEFAULT_PRESET, PRESETS, ClosedLoopModel

    group = parser.add_argument_group("closed loop (--local)")
    group.add_argument(
        "--local", action="store_true", help="run a real model on this host and compare with the estimate"
    )
    local_only = [
        group.add_argument("--profile-id", help="measured profile to predict with (profile path)"),
        group.add_argument("--measure", action="store_true", help="run the CPU quick suite first and use its profile"),
        group.add_argument(
            "--measure-workload",
            action="store_true",
            help="run the workload suite on this model's shapes first and predict from its operator table",
        ),
        group.add_argument(
            "--repeats",
            type=int,
            help="interleaved rounds (workload suite, then the real steps); each side keeps its median round "
            f"(default {DEFAULT_REPEATS})",
        ),
        group.add_argument(
            "--data-dir", help="data directory (default: $FLOPWATT_DATA_DIR or ~/.local/share/flopwatt)"
        ),
        group.add_argument("--checks", help=f"comma-separated subset of {','.join(CHECKS)} (default: all)"),
        group.add_argument(
            "--device",
            help="cpu (default), cuda (the first CUDA device; DDP over NCCL needs one per rank) or auto (cuda "
            "when torch sees one)",
        ),
        group.add_argument(
            "--no-power",
            action="store_true",
            help="on CUDA, leave out the NVML power windows of the training and decode steps (≈ 11 s on an H100)",
        ),
        group.add_argument(
            "--preset",
            help=f"model preset, one of {', '.join(PRESETS)} (default: {DEFAULT_PRESET['cpu']} on the CPU, "
            f"{DEFAULT_PRESET['cuda']} on CUDA); the flags below override its numbers",
        ),
    ]
    for field in dataclasses.fields(ClosedLoopModel):
        kind = str if field.name == "dtype" else int
        default = "fp32 on the CPU, bf16 on CUDA" if field.name == "dtype" else "the preset's"
        local_only.append(
            group.add_argument("--" + field.name.replace("_", "-"), type=kind, default=None, help=f"default: {default}")
        )
    return tuple((action.option_strings[0], action.dest) for action in local_only)


def refuse_local_only_flags(args: argparse.Namespace, local_only: tuple[tuple[str, str], ...]) -> None:
    """A closed-loop flag typed without --local is an error naming it. Why: the published-data
    validation runs without them, so `flopwatt validate --device cuda` silently ignored the flag
    and printed a report that looked like an answer to what was asked."""
    typed = [flag for flag, dest in local_only if _typed(getattr(args, dest, None))]
    if typed:
        raise CliError(
            f"{', '.join(typed)}: only with --local (the closed loop on this host); "
            "without --local, validate compares with published measurements and takes no such flag"
        )


def _typed(value: object) -> bool:
    """Whether a flag was typed: it holds something other than its None (or switch-off False)
    default. By identity: `--repeats 0` compares equal to False and is typed all the same."""
    return value is not None and value is not False


def with_local_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """The namespace with the closed loop's defaults where a flag was not typed (the flags
    default to None so that `refuse_local_only_flags` sees every typed one)."""
    defaults = {"repeats": DEFAULT_REPEATS, "checks": ",".join(CHECKS), "device": "cpu"}
    missing = {name: value for name, value in defaults.items() if getattr(args, name, None) is None}
    return argparse.Namespace(**{**vars(args), **missing})


def resolve_device(requested: str, cuda_available: bool) -> str:
    """The device --device names: cpu, cuda (which must be visible) or auto (cuda when visible)."""
    if requested not in DEVICE_CHOICES:
        raise CliError(f"validate --local: --device: expected one of {', '.join(DEVICE_CHOICES)}, got {requested!r}")
    if requested == "auto":
        return "cuda" if cuda_available else "cpu"
    if requested == "cuda" and not cuda_available:
        raise CliError(
            "validate --local: --device cuda: torch sees no CUDA device (torch.cuda.is_available() is False)"
        )
    return requested


def model_config(args: argparse.Namespace, device: str = "cpu", device_memory_bytes: int | None = None):
    """The closed-loop model: the preset (--preset, else the device's default), the device's
    default dtype, then every number given as a flag. With `device_memory_bytes` (CUDA) and no
    --micro-batch-size, the micro-batch is halved until the training step fits
    (bench.closed_loop_model.fit_micro_batch)."""
    from flopwatt.bench.closed_loop_model import (
        DEFAULT_DTYPE,
        DEFAULT_PRESET,
        PRESETS,
        ClosedLoopModel,
        fit_micro_batch,
    )

    preset = getattr(args, "preset", None) or DEFAULT_PRESET[device]
    if preset not in PRESETS:
        raise CliError(f"validate --local: --preset: expected one of {', '.join(PRESETS)}, got {preset!r}")
    values = {**PRESETS[preset].as_dict(), "dtype": DEFAULT_DTYPE[device]}
    given = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(ClosedLoopModel)}
    values.update({name: value for name, value in given.items() if value is not None})
    try:
        config = ClosedLoopModel(**values)
        if device_memory_bytes is not None and given["micro_batch_size"] is None:
            config = fit_micro_batch(config, device_memory_bytes)
    except ValueError as error:
        raise CliError(f"validate --local: {error}") from None
    return config


def architecture(config):
    """The closed-loop model as the estimator's ModelArchitecture (no dropout, untied, SwiGLU;
    multi-head or grouped-query attention as built)."""
    from flopwatt.estimate.architecture import ModelArchitecture

    return ModelArchitecture(
        layer_count=config.layer_count,
        hidden_size=config.hidden_size,
        attention_head_count=config.attention_head_count,
        kv_head_count=config.key_value_heads,
        ffn_hidden_size=config.ffn_hidden_size,
        vocab_size=config.vocab_size,
        gated_mlp=True,
        tied_embeddings=False,
        dropout=False,
    )


def ddp_step_time(config, hw):
    """The estimator's step of the DDP check: DP = ranks, each rank the micro-batch, all ranks in
    one node (accelerators_per_node ≥ ranks: they are on this host), SDPA's fused attention."""
    from flopwatt.estimate.parallel_plan import ParallelPlan
    from flopwatt.estimate.step_time import StepOptions, training_step_time

    ranks, b = config.ddp_world_size, config.micro_batch_size
    plan = ParallelPlan(data_parallel_size=ranks, micro_batch_size=b, global_batch_size=b * ranks)
    host = dataclasses.replace(hw, accelerators_per_node=max(hw.accelerators_per_node, ranks))
    return training_step_time(
        architecture(config), config.sequence_length, plan, host, StepOptions(flash_attention=True)
    )


def training_step_prediction(config, hw):
    """The estimator's StepTime of the training check on `hw`: TP = PP = DP = 1, micro-batch =
    global batch, SDPA's fused attention (torch's flash kernel on CUDA and the CPU)."""
    from flopwatt.estimate.parallel_plan import ParallelPlan
    from flopwatt.estimate.step_time import StepOptions, training_step_time

    b = config.micro_batch_size
    plan = ParallelPlan(micro_batch_size=b, global_batch_size=b)
    return training_step_time(architecture(config), config.sequence_length, plan, hw, StepOptions(flash_attention=True))


def decode_prediction(config, hw, decode: dict):
    """The estimator's ServingMetrics of the measured decode steps on `hw`: TP 1, the measured
    batch, input = the first timed context, output = the timed tokens (so the mean context is the
    timed steps' mid-loop one), the KV cache in the model's dtype."""
    from flopwatt.estimate.facility_choice import FacilityChoice, facility_inputs
    from flopwatt.estimate.inference import serving_metrics

    facility, _ = facility_inputs(FacilityChoice(), hw.hardware_id)
    return serving_metrics(
        architecture(config),
        hw,
        1,
        float(decode["batch"]),
        int(decode["context_start"]),
        int(decode["context_end"] - decode["context_start"]),
        facility,
        kv_bytes_per_element=hw.bytes_per_element,
    )


def predict(config, hw, measured: dict, device: str = "cpu") -> dict[str, float]:
    """Predicted seconds of each measured check on hardware model `hw`.

    DDP on the CPU: the ranks are processes on this one host, so (stated assumptions, not fits)
    the all-reduce stays inside the host (accelerators_per_node = ranks: the catalog `cpu`
    entry's intra-node figure is its memory bandwidth, "processes on one host exchange data
    through this memory"), and the ranks share the host's cores, so each rank computes at
    1/ranks of the host's rate: compute parts × ranks, plus the exposed gradient all-reduce.
    DDP on CUDA: one device per rank, so the estimator's DP step as it is (its exposed share of
    the all-reduce over the node's interconnect)."""
    predicted = {}
    if "training_step" in measured:
        predicted["training_step"] = float(training_step_prediction(config, hw).total)
    if "ddp_training_step" in measured:
        ranks = config.ddp_world_size
        step = ddp_step_time(config, hw)
        communication = float(step.data_parallel_communication)
        shared = ranks if device == "cpu" else 1  # gloo ranks share the host's cores; GPUs are one per rank
        predicted["ddp_training_step"] = shared * (float(step.total) - communication) + communication
    if "decode_step" in measured:
        metrics = decode_prediction(config, hw, measured["decode_step"])
        predicted["decode_step"] = float(metrics.time_per_output_token_seconds)
    return predicted


def workload_shape(config, checks: tuple[str, ...] = CHECKS) -> dict:
    """The closed-loop model's own operators as a workload suite input (training at its sequence
    and micro-batch, decode at its batch and mid-loop context; with the DDP check, the data
    parallel collectives over its ranks, the gradient all-reduce among them)."""
    from flopwatt.bench.closed_loop_model import decode_mid_context
    from flopwatt.service.workloads import workload_shape as shape_of_architecture

    return shape_of_architecture(
        architecture(config),
        sequence_length=config.sequence_length,
        micro_batch_size=config.micro_batch_size,
        precision=config.dtype,
        data_parallel_size=config.ddp_world_size if "ddp_training_step" in checks else 1,
        decode_batch_sizes=(config.decode_batch,),
        context_lengths=(decode_mid_context(config),),
    ).as_dict()


def predict_from_operators(
    config, hw, table, measured: dict, device: str = "cpu"
) -> tuple[dict[str, float], dict[str, dict]]:
    """Predicted seconds of each check from the operator table (falling back per operator to `hw`)
    and each check's coverage (`operator_steps` says how each step is rebuilt)."""
    steps = operator_steps(config, hw, table, measured, device)
    return {name: step.seconds for name, step in steps.items()}, operator_coverage(steps)


def operator_coverage(steps: dict) -> dict[str, dict]:
    """Each rebuilt step's coverage (`OperatorStep.as_dict`), with `seconds_by_kind` for the
    training and decode steps (the chart's operator groups)."""
    coverage = {}
    for name, step in steps.items():
        by_kind = {"seconds_by_kind": dict(step.seconds_by_kind)} if name != "ddp_training_step" else {}
        coverage[name] = {**step.as_dict(), **by_kind}
    return coverage


def operator_steps(config, hw, table, measured: dict, device: str = "cpu") -> dict:
    """Each check rebuilt from the operator table (estimate.operator_table.OperatorStep, falling
    back per operator to `hw`). The closed-loop model has no rotary embedding and decodes greedily
    (the argmax of the logits is part of its step); the DDP step is the
    per-rank operators at 1/ranks of the host (the ranks share its cores: measured, two 1-thread
    steps side by side took 0.81-0.96 s against 2 x 0.42-0.48 s for one 2-thread step) plus the
    all-reduce of all gradients, the table's measured gloo row, fully exposed (the ranks' cores
    are busy computing, so gloo's threads find none free to overlap on; the analytic model's
    exposed reduction where the table has no row). On CUDA each rank has its own device: the DDP
    step is one rank's operators plus the analytic model's exposed share of the all-reduce
    (NCCL runs on its own stream, overlapped with the backward bucket by bucket, which a fully
    exposed table row would overstate)."""
    from flopwatt.bench.closed_loop_model import decode_mid_context
    from flopwatt.estimate.operator_table import decode_operator_step, hardware_fallback, training_operator_step

    arch = architecture(config)
    fallback = hardware_fallback(hw, hw.bytes_per_element)
    b = config.micro_batch_size
    steps = {}
    training = None
    if "training_step" in measured or "ddp_training_step" in measured:
        training = training_operator_step(
            arch, config.sequence_length, b, 1, 1, config.dtype, table, fallback, rotary=False
        )
    if "training_step" in measured and training is not None:
        steps["training_step"] = training
    if "ddp_training_step" in measured and training is not None:
        ranks = config.ddp_world_size
        exposed = float(ddp_step_time(config, hw).data_parallel_communication)
        gradient_bytes = ddp_gradient_bytes(config)
        reduction = table.lookup("all_reduce", "forward", "fp32", {"bytes": gradient_bytes}, group_size=ranks)
        if device != "cpu":
            ddp = training.plus(exposed)
        elif reduction is None:
            ddp = training.scaled(ranks).plus(exposed)
        else:
            ddp = training.scaled(ranks)
            ddp.add(reduction, 1.0, "all_reduce")
        steps["ddp_training_step"] = ddp
    if "decode_step" in measured:
        decode = decode_operator_step(
            arch,
            config.decode_batch,
            decode_mid_context(config),
            1,
            config.dtype,
            table,
            fallback,
            rotary=False,
            greedy_sampling=True,  # the real loop takes the argmax of the logits
        )
        if decode is not None:
            steps["decode_step"] = decode
    return steps


def ddp_gradient_bytes(config) -> int:
    """Bytes DDP all-reduces per step: every parameter's gradient (the suite's
    `training.dp_all_reduce.model` collective row has this size)."""
    from flopwatt.bench.workload_suite import WorkloadShape, collective_cases

    shape = WorkloadShape.from_dict(workload_shape(config))
    (case,) = [c for c in collective_cases(shape) if c.use == "training.dp_all_reduce.model"]
    return case.size_bytes


@dataclasses.dataclass(frozen=True)
class LocalDevice:
    """Where the closed loop runs: `kind` (cpu or cuda), the device as profiles describe it
    (bench.context) and the catalog entry the estimator predicts it with."""

    kind: str
    description: dict
    spec: object  # estimate.catalog.entries.HardwareSpec

    @property
    def label(self) -> str:
        return "CPU" if self.kind == "cpu" else "CUDA"


def local_device(kind: str) -> LocalDevice:
    """The CPU with the catalog `cpu` entry, or CUDA device 0 with the catalog entry its driver
    name maps to (estimate.profile_checks.identify_hardware); CliError for a GPU the catalog
    does not know (the estimator has no datasheet to predict it with)."""
    from flopwatt.bench.context import cpu_device, cuda_device
    from flopwatt.estimate.catalog.loader import get_hardware
    from flopwatt.estimate.profile_checks import identify_hardware

    if kind == "cpu":
        return LocalDevice("cpu", cpu_device(), get_hardware("cpu"))
    description = cuda_device(0)
    hardware_id = identify_hardware(description)
    if hardware_id is None:
        raise CliError(
            f"validate --local: --device cuda: {description['name']!r} is not in the hardware catalog "
            "(estimate/profile_checks.NAME_PATTERNS); the estimator has no datasheet to predict it with"
        )
    description["hardware_id"] = hardware_id
    return LocalDevice("cuda", description, get_hardware(hardware_id))


def _profile(args: argparse.Namespace, device: str = "cpu") -> tuple[str | None, dict | None]:
    """(profile id, document) from --profile-id or a fresh quick-suite run on `device` (--measure)."""
    from flopwatt.bench.store import ProfileNotFound, database_path
    from flopwatt.service.cli.profile_lookup import open_profile_store

    if sum(bool(x) for x in (args.profile_id, args.measure, args.measure_workload)) > 1:
        raise CliError("validate --local: pass one of --profile-id, --measure and --measure-workload")
    store = open_profile_store(database_path(args.data_dir))
    if args.measure:
        from flopwatt.bench.suites import run_suite
        from flopwatt.estimate.profile_checks import save_measured_profile

        print(f"measuring this host: the {device} quick suite (about a minute)", file=sys.stderr)
        document = run_suite("quick", device)
        return save_measured_profile(store.save, document), document
    if args.profile_id:
        profile_id = args.profile_id.removeprefix("profiles/")
        try:
            return profile_id, store.get(profile_id)
        except ProfileNotFound as error:
            raise CliError(f"validate --local: {error}") from None
    return None, None


def measure_interleaved(
    args: argparse.Namespace, config, checks: tuple[str, ...], device: str = "cpu", power=None
) -> tuple[str | None, dict | None, dict]:
    """(profile id, profile, measured checks) over `--repeats` interleaved rounds. With
    --measure-workload each round runs the workload suite on this model's shapes and then the
    real steps, so both sides see the same spells of load; each check keeps its median round and
    each phase of the operator table its median round (bench.workload_suite.median_of_rounds says
    why), and the merged workload profile is stored. Otherwise the
    profile comes from `_profile` and only the real steps repeat. Everything runs on `device`.
    With `power` (bench.closed_loop_power.StepPowerMeter) the last round's training and decode
    steps also hold a power window each: one round keeps the closed loop's duration (≈ 11 s more
    on an H100), and the last runs warm, as the timed steps of every round but the first do."""
    from flopwatt.bench import closed_loop

    if args.repeats < 1:
        raise CliError(f"validate --local: --repeats must be ≥ 1, got {args.repeats}")
    profile_id, document = _profile(args, device)
    rounds = []
    documents = []
    for index in range(args.repeats):
        if args.measure_workload:
            from flopwatt.bench.progress import ProgressBar
            from flopwatt.bench.suites import run_suite

            print(
                f"round {index + 1}/{args.repeats}: the workload suite on this model's operators, then the real steps",
                file=sys.stderr,
            )
            shape = workload_shape(config, checks)
            documents.append(run_suite("workload", device, workload=shape, progress=ProgressBar()))
        last = index == args.repeats - 1
        rounds.append(closed_loop.run_closed_loop(config, checks, device, power if last else None))
    measured = closed_loop.median_of_rounds(rounds)
    for name, breakdown in closed_loop.profile_closed_loop(config, checks, device).items():
        measured[name]["operator_profile"] = breakdown
    if documents:
        from flopwatt.bench.store import database_path
        from flopwatt.bench.workload_suite import median_of_rounds
        from flopwatt.estimate.profile_checks import save_measured_profile
        from flopwatt.service.cli.profile_lookup import open_profile_store

        document = median_of_rounds(documents)
        profile_id = save_measured_profile(open_profile_store(database_path(args.data_dir)).save, document)
    return profile_id, document, measured


def closed_loop_result(
    config,
    measured: dict,
    profile_id: str | None,
    profile_document: dict | None,
    device: LocalDevice | None = None,
    skipped: dict[str, str] | None = None,
    power_reason: str | None = None,
) -> dict:
    """The binding output: one entry per check with predicted (profile path), datasheet-predicted
    and measured seconds and the profile path's signed error; a check in `skipped` keeps those
    keys, null, beside `skipped` (its reason). The training and decode checks also hold `power`
    (validate_local_power.power_checks: measured against predicted watts and joules per step, or
    `skipped` with `power_reason` where no power window was measured). `device`: default the CPU."""
    from flopwatt.estimate.hardware import datasheet_hardware_model, profiled_hardware_model
    from flopwatt.estimate.measured_profile import ProfileReadError, read_profile

    device = device or local_device("cpu")
    spec, kind = device.spec, device.kind
    datasheet_hw = datasheet_hardware_model(spec, config.dtype)
    datasheet = predict(config, datasheet_hw, measured, kind)
    profiled, note, steps, hw = None, NO_PROFILE_NOTE, {}, None
    if profile_document is not None:
        try:
            profile = read_profile(profile_document)
            if profile.device_kind != kind:
                raise ValueError(f"measured on {profile.device_kind}, the closed loop runs on {kind} (--device)")
            hw = profiled_hardware_model(spec, config.dtype, profile, profile_id or "")
        except (ProfileReadError, ValueError) as error:
            raise CliError(f"validate --local: profile {profile_id}: {error}") from None
        profiled, note = predict(config, hw, measured, kind), None
        if profile.operators:
            from flopwatt.estimate.operator_table import OperatorTable

            steps = operator_steps(config, hw, OperatorTable(profile.operators), measured, kind)
    from_operators, coverage = {name: step.seconds for name, step in steps.items()}, operator_coverage(steps)
    checks = {}
    predicted = {}
    for name, result in measured.items():
        ceilings_value = None if profiled is None else profiled[name]
        value = from_operators.get(name, ceilings_value)
        predicted[name] = value
        checks[name] = {
            "predicted_seconds": value,
            "datasheet_predicted_seconds": datasheet[name],
            "ceilings_predicted_seconds": ceilings_value,
            "measured_seconds": result["median_seconds"],
            "error_percent": _error_percent(value, result["median_seconds"]),
            "datasheet_error_percent": _error_percent(datasheet[name], result["median_seconds"]),
            "predicted_from": "operator_table" if name in from_operators else ("ceilings" if profiled else None),
            "measurement": {key: item for key, item in result.items() if key != "power_window"},
        }
        if name in coverage:
            checks[name]["operator_table"] = coverage[name]
    profile_path = None if hw is None else (hw, predicted)
    powers = power_checks(config, measured, power_reason, (datasheet_hw, datasheet), profile_path, steps)
    for name, power in powers.items():
        checks[name]["power"] = power
    for name, reason in (skipped or {}).items():
        checks[name] = {key: None for key in SKIPPED_KEYS} | {"skipped": reason}
    return {
        "device": device.description,
        "profile_id": profile_id,
        "note": note,
        "model": config.as_dict(),
        "checks": checks,
        **checks,
    }


def store_result(args: argparse.Namespace, result: dict) -> Path | None:
    """Write the result beside the profile database when a profile was used; the path or None."""
    from flopwatt.bench.profile import utc_now_iso
    from flopwatt.bench.store import database_path

    if result["profile_id"] is None:
        return None
    folder = database_path(args.data_dir).parent / CLOSED_LOOP_FOLDER
    stamp = utc_now_iso().replace(":", "").replace("-", "")
    path = folder / f"closed-loop-{result['profile_id']}-{stamp}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    except OSError as error:
        raise CliError(f"validate --local: cannot write {path}: {error.strerror}") from None
    return path


def _cuda_memory_bytes() -> int:
    import torch

    return int(torch.cuda.get_device_properties(0).total_memory)


def _runnable_checks(args: argparse.Namespace, config, device: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """(checks to run, skipped checks with their reasons) from --checks on `device`."""
    from flopwatt.bench.closed_loop import ddp_unavailable_reason

    checks = tuple(c for c in args.checks.split(",") if c)
    unknown = sorted(set(checks) - set(CHECKS))
    if unknown or not checks:
        raise CliError(f"validate --local: --checks: expected some of {','.join(CHECKS)}, got {args.checks!r}")
    skipped = {}
    reason = ddp_unavailable_reason(config, device) if "ddp_training_step" in checks else None
    if reason:
        skipped["ddp_training_step"] = reason
        checks = tuple(c for c in checks if c != "ddp_training_step")
    if not checks:
        raise CliError(f"validate --local: --checks: nothing left to run ({reason})")
    return checks, skipped


def _memory_statement(config, device_memory_bytes: int) -> dict:
    """The fitted micro-batch's reason: the model's count of its training step against the device."""
    from flopwatt.bench.closed_loop_model import FIT_MEMORY_FRACTION, training_memory_bytes

    return {
        "micro_batch_size": config.micro_batch_size,
        "estimated_training_bytes": training_memory_bytes(config),
        "device_memory_bytes": device_memory_bytes,
        "fit_fraction": FIT_MEMORY_FRACTION,
    }


def run_local(args: argparse.Namespace) -> int:
    import torch

    from flopwatt.bench.closed_loop_power import open_step_power_meter

    args = with_local_defaults(args)
    device_kind = resolve_device(args.device, torch.cuda.is_available())
    device_memory = _cuda_memory_bytes() if device_kind == "cuda" else None
    config = model_config(args, device_kind, device_memory)
    checks, skipped = _runnable_checks(args, config, device_kind)
    device = local_device(device_kind)
    power, power_reason = open_step_power_meter(device_kind, device.description.get("uuid"), args.no_power)
    profile_id, document, measured = measure_interleaved(args, config, checks, device_kind, power)
    result = closed_loop_result(config, measured, profile_id, document, device, skipped, power_reason)
    result["repeats"] = args.repeats
    if device_memory is not None:
        from flopwatt.bench.closed_loop_model import DEFAULT_PRESET

        result["preset"] = args.preset or DEFAULT_PRESET[device_kind]
        result["training_memory"] = _memory_statement(config, device_memory)
    stored = store_result(args, result)
    if stored is not None:
        result["stored_as"] = str(stored)
    if args.json:
        output = {k: v for k, v in result.items() if k != "checks"}
        print(json.dumps(output, indent=1, allow_nan=False))
        return 0
    print_table(result, config, profile_id, stored)
    return 0
