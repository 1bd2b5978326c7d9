"""The in-process commands answer bad flag values and bad request files with one line naming
the flag or file (exit 2), never a traceback: NaN, out-of-range and fractional counts reach
protobuf setters that raise ValueError otherwise."""

from __future__ import annotations

import json

import pytest

from flopwatt.service.cli import main
from tests.request_documents import write_training_request

TRAINING = [
    "estimate",
    "training",
    "--model",
    "llama-3.1-70b",
    "--hardware",
    "h100-sxm",
    "--accelerators",
    "1024",
    "--tokens",
    "1.5e13",
    "--sequence-length",
    "8192",
]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--tokens", "nan"], "--tokens"),
        (["--tokens", "1e30"], "--tokens"),
        (["--tokens", "1.5"], "--tokens"),
        (["--accelerators", "99999999999"], "--accelerators"),
        (["--global-batch", "99999999999999"], "--global-batch"),
        (["--parameters", "1e30"], "--parameters"),
    ],
)
def test_training_flags(extra, named, capsys):
    assert main([*TRAINING, *extra]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and named in error and "Traceback" not in error


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--budget-usd", "nan", "--term-years", "7"], "--budget-usd"),
        (["--budget-usd", "1e30", "--term-years", "7"], "--budget-usd"),
        (["--budget-usd", "38e9", "--term-years", "inf"], "--term-years"),
        (["--accelerators", "99999999999"], "--accelerators"),  # fits the uint64 field; the API's bound, flag named
    ],
)
def test_campus_flags(extra, named, capsys):
    assert main(["estimate", "campus", "--hardware", "h100-sxm", *extra]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and named in error


INFERENCE = [
    *("estimate", "inference", "--model", "llama-3.1-70b", "--hardware", "h100-sxm", "--accelerators", "8"),
    *("--input-tokens", "1000", "--output-tokens", "200"),
]


@pytest.mark.parametrize("flag", ["--ttft-ms", "--tpot-ms"])
@pytest.mark.parametrize("command", [INFERENCE, ["estimate", "campus", "--hardware", "h100-sxm", "--users", "1000"]])
def test_a_positive_slo_target_below_a_nanosecond_names_its_flag(command, flag, capsys):
    """`--ttft-ms 1e-7` rounded to a zero Duration, which the API reads as no target: the answer
    was "slo: give time_to_first_token or time_per_output_token", naming no flag the user typed
    (and for campus the target was silently dropped)."""
    assert main([*command, flag, "1e-7"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"error: {flag}: " in error and "nanosecond" in error


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--ttft-ms", "0"], "--ttft-ms (slo): give time_to_first_token"),  # the API's `slo` violation
        (["--ttft-ms", "100", "--batch-size", "4"], "--batch-size: exclusive with slo"),
        (["--draft-tokens", "99"], "--draft-tokens: must be between 1 and"),  # speculative_decoding.draft_tokens
        (["--request-rate", "1e30"], "--request-rate: "),
    ],
)
def test_api_field_errors_name_the_flag_typed(extra, named, capsys):
    """The API's INVALID_ARGUMENT names proto fields; the CLI names the flag the user typed for
    the field (one table per command), and keeps the field name for what came from elsewhere."""
    assert main([*INFERENCE, *extra]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and named in error


def test_field_label_prefers_the_typed_flag_and_keeps_other_fields():
    from flopwatt.service.cli.errors import field_label

    flags = {"slo.time_to_first_token": "--ttft-ms", "accelerator_count": "--accelerators"}
    assert field_label("slo.time_to_first_token.nanos", flags) == "--ttft-ms"
    assert field_label("slo", flags) == "--ttft-ms (slo)"
    assert field_label("input_tokens", flags) == "input_tokens"
    assert field_label("accelerator_count_x", flags) == "accelerator_count_x"


def test_campus_budget_with_cents_is_whole_dollars(capsys):
    from flopwatt.service.cli import build_parser
    from flopwatt.service.cli.estimate_campus import build_request

    args = build_parser().parse_args(
        ["estimate", "campus", "--hardware", "h100-sxm", "--budget-usd", "999.9999999999", "--term-years", "1"]
    )
    request = build_request(args)
    assert (request.budget.units, request.budget.nanos) == (1000, 0)  # nanos must stay below 1e9


def test_request_files_that_are_not_objects(tmp_path, capsys):
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps([1, 2]))
    assert main(["estimate", "training", "--request", str(listing)]) == 2
    assert main(["sweep", "--request", str(listing)]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and all(str(listing) in line and "object" in line for line in errors)


def test_sweep_validates_before_opening_the_output(tmp_path, capsys):
    base = write_training_request(tmp_path / "base.json")
    out = tmp_path / "points.csv"
    assert main(["sweep", "--request", str(base), "--axis", "nope=1", "--output", str(out)]) == 2
    assert not out.exists()
    assert (
        main(
            [
                "sweep",
                "--request",
                str(base),
                "--axis",
                "accelerator_count=64",
                "--output",
                str(tmp_path / "missing" / "x.csv"),
            ]
        )
        == 2
    )
    errors = capsys.readouterr().err.splitlines()
    assert "axes[0].field" in errors[0] and "--output" in errors[1]


def test_collective_iterations_are_checked(capsys):
    assert main(["bench", "collectives", "--nprocs", "2", "--iterations", "0"]) == 2
    assert "--iterations" in capsys.readouterr().err


def test_health_client_certificate_needs_a_ca(tmp_path, capsys):
    assert main(["health", "--tls-cert", str(tmp_path / "c.pem"), "--tls-key", str(tmp_path / "k.pem")]) == 2
    assert "--tls-ca" in capsys.readouterr().err


def test_inference_serving_layout_flags(capsys):
    """--kv-cache-precision and --expert-parallel reach the request; a bad EP size is named."""
    base = [
        "estimate",
        "inference",
        "--model",
        "deepseek-v3",
        "--hardware",
        "h200",
        "--accelerators",
        "8",
        "--precision",
        "fp8",
        "--input-tokens",
        "1024",
        "--output-tokens",
        "512",
        "--json",
    ]
    assert main([*base, "--expert-parallel", "8", "--kv-cache-precision", "bf16"]) == 0
    response = json.loads(capsys.readouterr().out)
    assert int(response["kvCacheBytesPerToken"]) == 61 * 576 * 2
    assert any(a["name"] == "expert_parallel_layout" for a in response["assumptions"])
    assert main([*base, "--expert-parallel", "4"]) == 2
    assert "--expert-parallel: " in capsys.readouterr().err


INFERENCE = [
    "estimate",
    "inference",
    "--model",
    "llama-3.1-70b",
    "--hardware",
    "h100-sxm",
    "--accelerators",
    "8",
    "--input-tokens",
    "1024",
    "--output-tokens",
    "512",
    "--json",
]


def test_batch_size_flag_matches_the_api_and_batch_is_a_deprecated_alias(capsys):
    """--batch-size is the API's batch_size; the old --batch still works and says it is deprecated."""
    assert main([*INFERENCE, "--batch-size", "1"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["batchSize"] == 1 and captured.err == ""
    assert main([*INFERENCE, "--batch", "1"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["batchSize"] == 1
    assert "--batch is deprecated" in captured.err and "--batch-size" in captured.err
    assert main([*INFERENCE, "--batch-size", "99999999999"]) == 2
    assert "--batch-size" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["estimate", "training", "--model", "llama-2-7b", "--bogus"], "usage: flopwatt estimate training"),
        (["estimate", "campus", "--hardware", "gb200", "--power-output", "x.png"], "usage: flopwatt estimate campus"),
        (["report", "profile", "p.json", "--output", "r.png", "--nope"], "usage: flopwatt report profile"),
        (["bench", "list", "--bogus"], "usage: flopwatt bench"),
    ],
)
def test_an_unknown_flag_prints_the_subcommands_usage(argv, usage, capsys):
    """argparse hands unknown arguments up to the top-level parser, whose usage names no flag of the
    sub-command; the sub-command's own usage is what the user needs."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith(usage) and "unrecognized arguments" in error
    assert "usage: flopwatt [-h]" not in error


def test_report_campus_takes_output_like_the_other_reports(tmp_path, capsys):
    """`report campus --output FILE [--breakdown power|cost]`, as `report profile|sweep --output`;
    the older --power-output/--cost-output stay as aliases."""
    response = tmp_path / "campus.json"
    assert main(["estimate", "campus", "--hardware", "gb200", "--power-watts", "1.2e9", "--json"]) == 0
    response.write_text(capsys.readouterr().out)
    assert main(["report", "campus", str(response), "--output", str(tmp_path / "power.svg")]) == 0
    assert main(["report", "campus", str(response), "--output", str(tmp_path / "cost.svg"), "--breakdown", "cost"]) == 0
    assert (
        main(
            [
                "report",
                "campus",
                str(response),
                "--power-output",
                str(tmp_path / "p.svg"),
                "--cost-output",
                str(tmp_path / "c.svg"),
            ]
        )
        == 0
    )
    assert all((tmp_path / name).stat().st_size > 0 for name in ("power.svg", "cost.svg", "p.svg", "c.svg"))
    assert (
        "capital cost" in (tmp_path / "cost.svg").read_text()
        and "watts per accelerator" in (tmp_path / "power.svg").read_text()
    )
    capsys.readouterr()
    assert main(["report", "campus", str(response)]) == 2
    assert "--output" in capsys.readouterr().err


def test_report_profile_reads_the_serve_and_bench_store_and_says_where_it_looked(tmp_path, monkeypatch, capsys):
    """profiles/ID is looked up where `flopwatt serve` and `flopwatt bench` keep profiles
    ($FLOPWATT_DATA_DIR here); a miss names that store and how to pick another."""
    from flopwatt.bench.store import ProfileStore, database_path

    monkeypatch.setenv("FLOPWATT_DATA_DIR", str(tmp_path))
    assert main(["report", "profile", "profiles/nope", "--output", str(tmp_path / "r.png")]) == 2
    error = capsys.readouterr().err
    assert str(database_path(tmp_path)) in error and "--data-dir" in error
    ProfileStore(database_path(tmp_path))  # an empty store: now the miss is the profile, not the store
    assert main(["report", "profile", "profiles/nope", "--output", str(tmp_path / "r.png")]) == 2
    error = capsys.readouterr().err
    assert str(database_path(tmp_path)) in error and "FLOPWATT_DATA_DIR" in error and "no such profile" in error


def _chart_commands(tmp_path) -> dict[str, list[str]]:
    """Every command that draws a chart, with inputs that draw one (the output added by the test)."""
    base = write_training_request(tmp_path / "base.json", preset="llama-3.1-8b", accelerators=8, training_tokens=10**9)
    points = tmp_path / "points.jsonl"
    points.write_text('{"wall_clock_seconds": 86400, "cost_usd": 10}\n')
    campus = tmp_path / "campus.json"
    assert main(["estimate", "campus", "--hardware", "h100-sxm", "--accelerators", "1000", "--json"]) == 0
    return {
        "sweep": ["sweep", "--request", str(base), "--chart"],
        "estimate campus": ["estimate", "campus", "--hardware", "h100-sxm", "--accelerators", "1000", "--chart-power"],
        "report campus": ["report", "campus", str(campus), "--output"],
        "report sweep": ["report", "sweep", str(points), "--output"],
        "report serving-load": [
            *("report", "serving-load", "--model", "llama-3.1-8b", "--hardware", "h100-sxm"),
            *("--max-concurrency", "2", "--output"),
        ],
        "report profile": ["report", "profile", "bench/results/h100-sxm-quick.json", "--output"],
    }


@pytest.mark.parametrize(
    "command",
    ["sweep", "estimate campus", "report campus", "report sweep", "report serving-load", "report profile"],
)
def test_a_chart_that_cannot_be_written_is_one_line(command, tmp_path, capsys, monkeypatch):
    """A chart path whose folder is a regular file (unwritable even for root): one line naming
    the chart file, exit 2; savefig's OSError once escaped every chart-drawing command."""
    import pathlib

    monkeypatch.chdir(pathlib.Path(__file__).resolve().parents[3])  # bench/results/ is relative to the root
    commands = _chart_commands(tmp_path)
    (tmp_path / "campus.json").write_text(capsys.readouterr().out)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    chart = blocker / "chart.png"
    assert main([*commands[command], str(chart)]) == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error and error.count("\n") == 1 and str(chart) in error


@pytest.mark.parametrize(
    "command",
    [
        ["estimate", "training", "--request"],
        ["estimate", "campus", "--request"],
        ["sweep", "--request"],
        ["rank", "--request"],
        ["report", "campus", "--output", "c.png"],
        ["report", "profile", "--output", "r.png"],
        ["bench", "import"],
    ],
)
def test_an_input_file_that_is_not_utf8_is_one_line(command, tmp_path, capsys, monkeypatch):
    """A binary file given where JSON/YAML is read: one line naming it, exit 2; read_text's
    UnicodeDecodeError is a ValueError, not the OSError these commands caught, and escaped."""
    monkeypatch.setenv("FLOPWATT_DATA_DIR", str(tmp_path / "data"))
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    argv = [*command[:2], str(binary), *command[2:]] if command[0] == "report" else [*command, str(binary)]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error and error.count("\n") == 1 and str(binary) in error and "UTF-8" in error


@pytest.mark.parametrize(
    "command",
    [
        ["bench", "list"],
        ["bench", "export", "--output", "out.json"],
        ["report", "profile", "profiles/nope", "--output", "r.png"],
        ["validate", "--local", "--profile-id", "nope"],
        [*TRAINING, "--profile", "nope"],
    ],
)
@pytest.mark.parametrize("damage", ["not a database", "data dir is a file"])
def test_a_profile_store_that_cannot_be_opened_is_one_line(command, damage, tmp_path, capsys, monkeypatch):
    """A database file that is not SQLite, or a --data-dir that is a regular file: one line
    naming the store, exit 2, as `flopwatt serve` says it; the other commands that open the store
    ended in a sqlite3.DatabaseError or FileExistsError traceback."""
    from flopwatt.bench.store import database_path

    monkeypatch.chdir(tmp_path)
    data_dir = tmp_path / "data"
    if damage == "not a database":
        data_dir.mkdir()
        database_path(data_dir).write_bytes(b"this is not a SQLite file" * 400)
    else:
        data_dir.write_text("")
    assert main([*command, "--data-dir", str(data_dir)]) == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error and error.count("\n") == 1
    if damage == "not a database" or command[0] in ("bench", "validate"):  # the others only read an existing store
        assert f"cannot open the profile store {database_path(data_dir)}" in error


@pytest.mark.parametrize("ids", [[], ["profiles/0123456789abcdef"]])
def test_export_from_a_new_data_dir_refuses_and_creates_nothing(ids, tmp_path, capsys):
    """`bench export --data-dir NEW --output NEW/all.json` created NEW and an empty database,
    then wrote a bundle of no profiles there with exit 0. Nothing to export is an error now, and
    the data directory is only read."""
    new = tmp_path / "new"
    assert main(["bench", "export", *ids, "--data-dir", str(new), "--output", str(new / "all.json")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no profile store" in error and "nothing written" in error
    assert not new.exists()


def test_export_says_so_for_an_empty_store_an_unknown_id_and_a_missing_output_folder(tmp_path, capsys):
    """Every way an export cannot hold the profiles asked for is one line, exit 2, no file."""
    from flopwatt.bench.shipped_profiles import shipped_profile_texts

    data = str(tmp_path / "data")
    assert main(["bench", "list", "--data-dir", data]) == 0  # an empty store
    output = tmp_path / "all.json"
    assert main(["bench", "export", "--data-dir", data, "--output", str(output)]) == 2
    assert "holds no profiles" in capsys.readouterr().err and not output.exists()
    assert main(["bench", "import", "--shipped", "--data-dir", data]) == 0
    assert main(["bench", "export", "profiles/0123456789abcdef", "--data-dir", data, "--output", str(output)]) == 2
    assert "not found" in capsys.readouterr().err and not output.exists()
    missing = tmp_path / "missing" / "all.json"  # refused, as charts and `bench --output` refuse it
    assert main(["bench", "export", "--data-dir", data, "--output", str(missing)]) == 2
    assert f"--output: cannot write {missing}" in capsys.readouterr().err and not missing.parent.exists()
    assert main(["bench", "export", "--data-dir", data, "--output", str(output)]) == 0
    assert len(json.loads(output.read_text())["profiles"]) == len(shipped_profile_texts())


@pytest.mark.parametrize(
    ("command", "named"),
    [
        (["rank", "--request", "{base}", "--limit", "99999999999999999999"], "--limit"),
        (["report", "serving-load", *("--model", "llama-3.1-8b", "--hardware", "h100-sxm"), "--accelerators"], None),
        (["report", "serving-load", *("--model", "llama-3.1-8b", "--hardware", "h100-sxm"), "--input-tokens"], None),
        (["report", "serving-load", *("--model", "llama-3.1-8b", "--hardware", "h100-sxm"), "--output-tokens"], None),
    ],
)
def test_integers_past_int32_are_one_line_naming_the_flag(command, named, tmp_path, capsys):
    """Integers put straight into int32 request fields (rank's limit, serving-load's counts):
    protobuf's ValueError was a traceback; now one line naming the flag, exit 2."""
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"model": {"presetId": "llama-3.1-8b"}, "hardwareId": "h100-sxm"}))
    argv = [part.replace("{base}", str(base)) for part in command]
    if named is None:  # serving-load: the flag is the last part, its value follows
        named = argv[-1]
        argv += ["99999999999", "--output", str(tmp_path / "load.png")]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error and error.count("\n") == 1 and named in error


@pytest.mark.parametrize("timeout", ["inf", "1e400", "1e12", "nan", "0", "-1"])
def test_health_refuses_a_timeout_grpc_cannot_wait(timeout, capsys):
    """`health --timeout inf` (or 1e12) made gRPC's deadline overflow: the call failed at once
    with DEADLINE_EXCEEDED and a SERVING server was reported unhealthy (exit 1). Refused before
    connecting: one line naming --timeout, exit 2."""
    assert main(["health", "--address", "127.0.0.1:1", "--timeout", timeout]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--timeout" in error


@pytest.mark.parametrize(
    ("address", "environ", "named"),
    [
        ("localhost:70000", {}, "--address"),  # gRPC took it modulo 65536: port 4464
        ("127.0.0.1:65536", {}, "--address"),
        ("localhost:-1", {}, "--address"),  # ... and this as 65535
        ("localhost:0", {}, "--address"),
        ("[::1]:70000", {}, "--address"),
        ("dns:///localhost:99999", {}, "--address"),
        ("localhost:http", {}, "--address"),
        (None, {"FLOPWATT_HEALTH_ADDRESS": "localhost:70000"}, "FLOPWATT_HEALTH_ADDRESS"),
        (None, {"FLOPWATT_PORT": "70000"}, "FLOPWATT_PORT"),
    ],
)
def test_health_refuses_a_port_out_of_range_before_connecting(address, environ, named, capsys, monkeypatch):
    """`health --address localhost:70000` probed port 4464 (gRPC wraps the port around) and
    reported whatever answered there. Refused before any channel opens: one line naming where
    the address came from and the range, exit 2."""
    import grpc

    def no_connection(*args, **kwargs):
        raise AssertionError("a channel was opened for an address that was refused")

    monkeypatch.setattr(grpc, "insecure_channel", no_connection)
    monkeypatch.delenv("FLOPWATT_HEALTH_ADDRESS", raising=False)
    monkeypatch.delenv("FLOPWATT_PORT", raising=False)
    for variable, value in environ.items():
        monkeypatch.setenv(variable, value)
    assert main(["health", *(["--address", address] if address else [])]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and named in error and "between 1 and 65535" in error


def test_health_checks_ports_only_where_a_target_has_them():
    from flopwatt.service.ports import check_target, target_ports

    assert target_ports("unix:/run/flopwatt.sock") == [] and target_ports("localhost") == []
    assert target_ports("ipv4:10.0.0.1:50051,10.0.0.2:50052") == ["50051", "50052"]
    assert check_target("[::1]:50051", "--address") == "[::1]:50051"


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("bad.yaml", "a: [\n", "line 2, column 1"),
        ("bad.yml", "a: b\n  c: d: e\n", "mapping values are not allowed here at line 2"),
        ("unknown.json", '{"bogusField": 1}', 'no field named "bogusField"'),
    ],
)
@pytest.mark.parametrize("command", [["sweep"], ["estimate", "training"], ["estimate", "campus"]])
def test_a_malformed_request_file_is_one_line(name, text, words, command, tmp_path, capsys):
    """YAML errors quote the line with a caret under it and protobuf's ParseError lists the
    fields on a second line: both reached the terminal over several lines. Now one line that
    keeps the problem and where it is."""
    path = tmp_path / name
    path.write_text(text)
    assert main([*command, "--request", str(path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and str(path) in error and words in error


def test_report_campus_of_another_message_is_one_line(tmp_path, capsys):
    response = tmp_path / "other.json"
    response.write_text('{"x": 1}')
    assert main(["report", "campus", str(response), "--output", str(tmp_path / "c.png")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "not an EstimateCampusResponse" in error
