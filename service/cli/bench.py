"""`flopwatt bench`: measure this host and store the hardware profile.

    flopwatt bench [--device auto|cpu|cuda] [--suite quick|full] [--output FILE.json] [--data-dir DIR] [--json]
    flopwatt bench --suite workload --model PRESET [--sequence-length N] [--micro-batch-size N] [--precision P]
                   [--tensor-parallel-size N] [--data-parallel-size N] [--decode-batch-sizes 1,8]
                   [--context-lengths 512,2048] [--layer-count N --hidden-size N ...: architecture overrides]
    flopwatt bench collectives [--nprocs N] [--min-bytes B] [--max-bytes B] [--backend gloo|nccl]
    flopwatt bench import FILE...      (profiles or bundles, e.g. from other hosts; all or nothing)
    flopwatt bench export [ID...] --output FILE.json   (default: every stored profile, as a bundle; nothing
                                                        stored or an unknown id is an error, never an empty file)
    flopwatt bench list

Run → identify the hardware and flag implausible results (flopwatt.estimate.profile_checks) → store.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from flopwatt.bench.vocabulary import (
    COLLECTIVES_SUITE,
    DEFAULT_DEVICE,
    DEFAULT_SUITE,
    DEVICE_CHOICES,
    RUNNABLE_SUITES,
    WORKLOAD_SUITE,
)
from flopwatt.service.cli.errors import CliError
from flopwatt.service.cli.request_file import not_utf8

TARGETS = ("run", "collectives", "import", "export", "list")
WORKLOAD_ARCHITECTURE_FLAGS = (
    "layer_count",
    "hidden_size",
    "attention_head_count",
    "kv_head_count",
    "ffn_hidden_size",
    "vocab_size",
    "head_dim",
)
WORKLOAD_PRECISIONS = ("fp32", "bf16", "fp16", "fp8")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench", help="measure this host's accelerator (or CPU) and store a hardware profile"
    )
    parser.add_argument("target", nargs="?", default="run", choices=TARGETS, help="what to do (default: run the suite)")
    parser.add_argument("paths", nargs="*", help="files for import; profile ids for export")
    parser.add_argument(
        "--shipped",
        action="store_true",
        help="import: also the measured profiles that ship with flopwatt (bench/results/, e.g. an H100)",
    )
    parser.add_argument("--device", default=DEFAULT_DEVICE, choices=DEVICE_CHOICES)
    parser.add_argument("--suite", default=DEFAULT_SUITE, choices=RUNNABLE_SUITES)
    parser.add_argument("--output", help="also write the profile (or export bundle) to this JSON file")
    parser.add_argument("--data-dir", help="data directory (default: $FLOPWATT_DATA_DIR or ~/.local/share/flopwatt)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--no-store", action="store_true", help="do not save the profile in the data directory")
    from flopwatt.bench import collectives as defaults  # standard library only at import: cheap

    collectives = parser.add_argument_group("collectives")
    collectives.add_argument(
        "--nprocs", type=int, default=0, help="spawn N local ranks instead of running under torchrun"
    )
    collectives.add_argument("--backend", choices=("gloo", "nccl"), help="default: nccl with CUDA, else gloo")
    collectives.add_argument(
        "--min-bytes", type=int, default=defaults.DEFAULT_MIN_BYTES, help="smallest message (default %(default)s)"
    )
    collectives.add_argument(
        "--max-bytes", type=int, default=defaults.DEFAULT_MAX_BYTES, help="largest message (default %(default)s)"
    )
    collectives.add_argument(
        "--iterations", type=int, default=defaults.DEFAULT_ITERATIONS, help="timed calls per size (default %(default)s)"
    )
    collectives.add_argument(
        "--warmup", type=int, default=defaults.DEFAULT_WARMUP, help="untimed calls per size (default %(default)s)"
    )
    workload = parser.add_argument_group("workload suite (--suite workload)")
    workload.add_argument("--model", default="", help="model preset id (flopwatt estimate models); overrides below")
    for name in WORKLOAD_ARCHITECTURE_FLAGS:
        workload.add_argument("--" + name.replace("_", "-"), type=int, default=0, help="architecture override")
    workload.add_argument("--sequence-length", type=int, default=2048, help="training tokens (0: decode only)")
    workload.add_argument("--micro-batch-size", type=int, default=1, help="sequences per micro-batch")
    workload.add_argument("--precision", default="bf16", choices=WORKLOAD_PRECISIONS)
    workload.add_argument("--tensor-parallel-size", type=int, default=1, help="TP ranks the weights are sharded over")
    workload.add_argument("--data-parallel-size", type=int, default=1, help="DP ranks (gradient collectives)")
    workload.add_argument("--decode-batch-sizes", default="", help="comma-separated decode batch sizes, e.g. 1,8,32")
    workload.add_argument("--context-lengths", default="", help="comma-separated KV-cache lengths, e.g. 512,2048")
    parser.set_defaults(handler=run)


def _integers(flag: str, text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise CliError(f"{flag}: expected comma-separated integers, got {text!r}") from None


def workload_from_args(args: argparse.Namespace):
    """The WorkloadShape the workload flags describe (the preset resolved by the estimator)."""
    from flopwatt.bench.workload_suite import WorkloadSpecError
    from flopwatt.estimate.catalog import CatalogLookupError
    from flopwatt.estimate.model_choice import ModelChoice, resolve_model
    from flopwatt.estimate.scenario_errors import ScenarioError
    from flopwatt.service.workloads import workload_shape

    overrides = {name: getattr(args, name) for name in WORKLOAD_ARCHITECTURE_FLAGS if getattr(args, name) > 0}
    if not args.model and not overrides:
        raise CliError("bench --suite workload: name a model (--model PRESET, or the architecture flags)")
    try:
        resolved = resolve_model(ModelChoice(args.model, tuple(sorted(overrides.items()))), "--model")
        return workload_shape(
            resolved.architecture,
            model_id=args.model,
            sequence_length=args.sequence_length,
            precision=args.precision,
            micro_batch_size=args.micro_batch_size,
            tensor_parallel_size=args.tensor_parallel_size,
            data_parallel_size=args.data_parallel_size,
            decode_batch_sizes=_integers("--decode-batch-sizes", args.decode_batch_sizes),
            context_lengths=_integers("--context-lengths", args.context_lengths),
        )
    except CatalogLookupError as error:
        raise CliError(f"--model: {error}") from None
    except ScenarioError as error:
        raise CliError("; ".join(f"{p.field}: {p.description}" for p in error.problems)) from None
    except WorkloadSpecError as error:
        flag = "--" + error.field.removeprefix("workload.").removeprefix("model.").replace("_", "-")
        raise CliError(f"{flag}: {error.problem}") from None


def _store(args: argparse.Namespace):
    from flopwatt.bench.store import database_path
    from flopwatt.service.cli.profile_lookup import open_profile_store

    return open_profile_store(database_path(args.data_dir))


def _existing_store(args: argparse.Namespace, command: str):
    """The data directory's store for a command that only reads it, never created. Why: opening
    creates the data directory and an empty database, so `bench export --data-dir NEW --output
    NEW/all.json` made NEW, found nothing, and wrote an empty bundle with exit 0, a backup
    without the profiles it was meant to hold."""
    from flopwatt.bench.store import database_path

    path = database_path(args.data_dir)
    if not path.exists() and not path.parent.is_file():  # a file in the way: open_profile_store says so
        raise CliError(f"{command}: no profile store at {path} (nothing measured or imported there); nothing written")
    return _store(args)


def _format_rate(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:8.2f} {prefix}{unit}"
    return f"{value:8.2f} {unit}"


def summary_table(document: dict) -> str:
    """The human summary: one line per ceiling, then power and warnings."""
    from flopwatt.bench.profile import flatten_ceilings

    lines = [
        f"{document['device']['name']} ({document['device'].get('hardware_id') or 'not in catalog'}), suite {document['suite']}, {document.get('duration_seconds', 0):.0f} s"
    ]
    for key, value in flatten_ceilings(document["ceilings"]).items():
        if key.endswith("_seconds"):
            text = f"{value * 1e6:8.2f} µs"
        else:
            text = _format_rate(value, "FLOP/s" if "flops" in key else "B/s")
        lines.append(f"  {key:<45} {text}")
    power = document.get("power")
    if power:
        lines.append(f"  {'power.idle_watts':<45} {power['idle_watts']:8.1f} W")
        for label, watts in power.get("load_watts", {}).items():
            lines.append(f"  {'power.load_watts.' + label:<45} {watts:8.1f} W")
        for precision, joules in power.get("joules_per_flop", {}).items():
            lines.append(f"  {'power.joules_per_flop.' + precision:<45} {joules * 1e12:8.3f} pJ")
    else:
        lines.append(f"  power: not measured ({document.get('power_unavailable_reason')})")
    lines.extend(f"  warning: {w}" for w in document.get("warnings", []))
    return "\n".join(lines)


def _write_json(path: str, data: object) -> None:
    try:
        Path(path).write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")
    except OSError as error:
        raise CliError(f"--output: cannot write {path}: {error.strerror}") from None


def _save_and_write(args: argparse.Namespace, document: dict) -> str | None:
    """Store the profile (unless --no-store) and write --output; returns the stored id."""
    from flopwatt.estimate.profile_checks import annotate_profile, save_measured_profile

    if args.no_store:
        annotate_profile(document)  # what a stored profile gets, so --output files match
        profile_id = None
    else:
        profile_id = save_measured_profile(_store(args).save, document)
    if args.output:
        _write_json(args.output, document)
    return profile_id


def _run_suite(args: argparse.Namespace) -> int:
    from flopwatt.bench.errors import DeviceUnavailable
    from flopwatt.bench.progress import ProgressBar
    from flopwatt.bench.suites import run_suite

    if args.suite != WORKLOAD_SUITE and (args.model or any(getattr(args, n) for n in WORKLOAD_ARCHITECTURE_FLAGS)):
        raise CliError(f"--model and the architecture flags need --suite {WORKLOAD_SUITE}")
    options = {"workload": workload_from_args(args)} if args.suite == WORKLOAD_SUITE else {}
    try:
        document = run_suite(args.suite, args.device, progress=ProgressBar(), **options)
    except DeviceUnavailable as error:
        raise CliError(str(error)) from None
    profile_id = _save_and_write(args, document)
    if args.json:
        print(json.dumps({"profile_id": profile_id, "profile": document}, indent=1))
    else:
        print(summary_table(document))
        if document.get("operators"):
            print(operator_table(document))
        if profile_id:
            print(f"stored as profiles/{profile_id}")
    return 0


def operator_table(document: dict) -> str:
    """The workload suite's operator table, one line per measured operator."""
    lines = [f"  {'operator':<16}{'pass':<16}{'dtype':<6}{'shape':<34}{'median µs':>12}  backend"]
    for row in document.get("operators", []):
        seconds = row["seconds"].get("median", row["seconds"].get("mean", 0.0))
        shape = "x".join(str(v) for v in row["shape"].values())
        lines.append(
            f"  {row['kind']:<16}{row['pass']:<16}{row['dtype']:<6}{shape:<34}{seconds * 1e6:>12.1f}  {row['backend']}"
        )
    return "\n".join(lines)


def _collectives(args: argparse.Namespace) -> int:
    from flopwatt.bench import collectives
    from flopwatt.bench.context import cpu_device, cuda_device, environment, host_name
    from flopwatt.bench.profile import BENCHMARK_VERSION, SCHEMA_VERSION, utc_now_iso

    for flag, value, least in (
        ("--iterations", args.iterations, 1),
        ("--warmup", args.warmup, 0),
        ("--nprocs", args.nprocs, 0),
    ):
        if value < least:
            raise CliError(f"collectives: {flag} must be at least {least}, got {value}")
    try:
        options = dict(
            sizes=collectives.size_sweep(args.min_bytes, args.max_bytes), iterations=args.iterations, warmup=args.warmup
        )
    except ValueError as error:
        raise CliError(str(error)) from None
    torchrun = collectives.under_torchrun()
    if torchrun:
        result = collectives.run_under_torchrun(args.backend, **options)
        if result is None:
            _leave_rank()  # not rank 0
    elif args.nprocs >= 2:
        import torch

        backend = args.backend or ("nccl" if torch.cuda.is_available() else "gloo")
        result = collectives.spawn_local(args.nprocs, backend, **options)
    else:
        raise CliError(
            "collectives: run under torchrun (e.g. torchrun --nproc-per-node 8 -m flopwatt.service.cli bench collectives) or pass --nprocs N ≥ 2"
        )
    device_kind = "cuda" if result["backend"] == "nccl" else "cpu"
    document = {
        "schema_version": SCHEMA_VERSION,
        "benchmark_version": BENCHMARK_VERSION,
        "created_time": utc_now_iso(),
        "suite": COLLECTIVES_SUITE,
        "host": host_name(),
        "device": cuda_device() if device_kind == "cuda" else cpu_device(),
        "environment": environment(device_kind),
        "results": [],
        "ceilings": {},
        "collectives": result,
        "power_unavailable_reason": "the collectives benchmark does not measure power",
        "warnings": [],
    }
    profile_id = _save_and_write(args, document)
    if args.json:
        print(json.dumps({"profile_id": profile_id, "collectives": result}, indent=1))
    else:
        print(f"{'collective':<16}{'bytes':>14}{'time µs':>12}{'algbw GB/s':>12}{'busbw GB/s':>12}")
        for name in collectives.COLLECTIVES:
            for row in result.get(name, []):
                print(
                    f"{name:<16}{row['bytes']:>14}{row['seconds'] * 1e6:>12.1f}{row['algbw_bytes_per_second'] / 1e9:>12.3f}{row['busbw_bytes_per_second'] / 1e9:>12.3f}"
                )
        if profile_id:
            print(f"stored as profiles/{profile_id}")
    if torchrun:
        _leave_rank()
    return 0


def _leave_rank() -> None:
    """A torchrun rank ends without interpreter finalisation once its output is written: gloo's
    worker thread races Py_FinalizeEx and aborts the rank now and then (bench/local_ranks.py)."""
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _import(args: argparse.Namespace) -> int:
    from flopwatt.bench.errors import ProfileFormatError
    from flopwatt.bench.profile import parse_profile_file

    if not args.paths and not args.shipped:
        raise CliError("import: name at least one profile file (or --shipped)")
    texts = []
    for path in args.paths:
        try:
            texts.append((path, Path(path).read_text()))
        except OSError as error:
            raise CliError(f"import: cannot read {path}: {error.strerror}") from None
        except UnicodeDecodeError as error:
            raise CliError(f"import: refused, {path}: not UTF-8 text: {not_utf8(error)}") from None
    if args.shipped:
        from flopwatt.bench.shipped_profiles import shipped_profile_texts

        texts.extend(shipped_profile_texts())
    documents = []
    for path, text in texts:
        try:
            documents.extend(parse_profile_file(text, path))
        except ProfileFormatError as error:
            raise CliError(f"import: refused, {error}") from None
    ids = _store(args).save_many(documents)
    for document, profile_id in zip(documents, ids):
        print(
            f"profiles/{profile_id}  {document.get('host', '?')}  {document['device']['name']}  {document['created_time']}"
        )
    return 0


def _export(args: argparse.Namespace) -> int:
    """Export profiles; the way out of a damaged store too (docs/benchmark-runs.md, "A damaged
    database"): every profile some scan of the file still reaches is tried, and one that cannot
    be read is skipped with a warning on stderr instead of ending the export, so what reads is
    saved. The summary line counts the skipped ones."""
    from flopwatt.bench.profile import bundle
    from flopwatt.bench.store import ProfileNotFound, StoreDamaged

    if not args.output:
        raise CliError("export: --output FILE.json is required")
    store = _existing_store(args, "export")
    ids = [p.removeprefix("profiles/") for p in args.paths] or store.readable_profile_ids()
    if not ids:
        raise CliError(f"export: the profile store {store.path} holds no profiles; nothing was written")
    documents, skipped = [], 0
    for profile_id in ids:
        try:
            documents.append(store.get(profile_id))
        except ProfileNotFound as error:
            raise CliError(f"export: {error}") from None
        except StoreDamaged as error:
            skipped += 1
            print(f"warning: profiles/{profile_id} is unreadable, skipped ({error.detail})", file=sys.stderr)
    if not documents and skipped:
        raise CliError(f"export: none of the {skipped} profile(s) could be read; nothing was written")
    _write_json(args.output, documents[0] if len(documents) == 1 and args.paths else bundle(documents))
    print(
        f"exported {len(documents)} profile(s) to {args.output}"
        + (f"; skipped {skipped} unreadable" if skipped else "")
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    page, total = _store(args).list(1000, 0)
    if args.json:
        print(json.dumps([s.__dict__ for s in page], indent=1))
        return 0
    for s in page:
        print(f"profiles/{s.id}  {s.created_time}  {s.suite:<11} {s.host}  {s.device_name}  {s.hardware_id or '-'}")
    if total > len(page):
        print(f"... {total - len(page)} more", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    handlers = {"run": _run_suite, "collectives": _collectives, "import": _import, "export": _export, "list": _list}
    if args.target != "import" and args.target != "export" and args.paths:
        raise CliError(f"{args.target}: unexpected arguments {args.paths}")
    if args.shipped and args.target != "import":
        raise CliError(f"{args.target}: --shipped goes with import")
    return handlers[args.target](args)
