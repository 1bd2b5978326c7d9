"""The `flopwatt estimate` and `flopwatt validate` commands, in-process."""

import json

from flopwatt.service.cli import main


def test_estimate_training_json(capsys):
    code = main(
        [
            "estimate",
            "training",
            "--model",
            "llama-3.1-405b",
            "--hardware",
            "h100-sxm",
            "--accelerators",
            "16384",
            "--tokens",
            "15.6e12",
            "--sequence-length",
            "8192",
            "--global-batch",
            "2048",
            "--json",
        ]
    )
    assert code == 0
    response = json.loads(capsys.readouterr().out)
    assert response["acceleratorHours"] > 1e7 and response["fitsInMemory"]


def test_estimate_inference_from_yaml_file(tmp_path, capsys):
    path = tmp_path / "request.yaml"
    path.write_text(
        "model: {presetId: llama-3.1-70b}\nhardwareId: h100-sxm\nacceleratorCount: 8\ninputTokens: 1024\noutputTokens: 256\n"
    )
    assert main(["estimate", "inference", "--request", str(path)]) == 0
    out = capsys.readouterr().out
    assert "time per output token" in out and "assumptions:" in out


def _training_flags(*extra: str, accelerators: str = "8", sequence_length: str = "8192") -> list[str]:
    """`estimate training` of Llama 3.1 8B on H100s for 1e9 tokens, plus `extra` flags."""
    return [
        "estimate",
        "training",
        "--model",
        "llama-3.1-8b",
        "--hardware",
        "h100-sxm",
        "--accelerators",
        accelerators,
        "--tokens",
        "1e9",
        "--sequence-length",
        sequence_length,
        *extra,
    ]


def test_estimate_reports_bad_input_in_one_line(capsys):
    code = main(_training_flags(accelerators="0", sequence_length="4096"))
    assert code == 2
    assert "--accelerators: must be positive" in capsys.readouterr().err


def test_validate_prints_tables_and_json(capsys):
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    assert "vtrain-multi" in out
    assert "serving calibration" in out and "amd-rocm-performance-results" in out and "target ≤ 15 %" in out
    assert "energy per output token vs ML.ENERGY" in out
    # both fitted engine parameters, with their fit data (the printed row names the sources)
    assert "host µs/seq/step" in out
    fitted = next(line for line in out.splitlines() if line.startswith("vllm: "))
    assert "vllm-ci-performance-benchmark" in fitted and "azure-ai-benchmarking-guide" in fitted
    assert main(["validate", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert {d["name"] for d in document["datasets"]} >= {"megatron-selene", "vtrain-single", "vtrain-multi"}
    serving = document["serving_calibration"]
    assert serving["committed_matches_fresh_fit"]
    assert {e["source"] for e in serving["sources"]} >= {
        "amd-rocm-performance-results",
        "azure-ai-benchmarking-guide",
        "vllm-ci-performance-benchmark",
    }
    assert any(r["row"].startswith("azure-ai-benchmarking-guide/") for r in serving["rows"])
    (vllm,) = serving["parameters"]
    assert vllm["per_sequence_step_seconds"] > 0 and 0 < vllm["value"] < 1 and len(vllm["sources"]) == 3
    energy = serving["mlenergy_comparison"]
    assert len(energy["rows"]) >= 30 and energy["assumed_input_tokens"] > 0
    assert all(
        r["measured_joules_per_output_token"] > 0 < r["predicted_joules_per_output_token"] for r in energy["rows"]
    )

    assert all(
        {"physics_mape_percent", "cross_validated_mape_percent", "target_met"} <= set(e) for e in serving["sources"]
    )


def test_estimate_reads_a_profile_flopwatt_bench_stored_in_the_data_directory(tmp_path, capsys):
    """The committed H100 profile, imported as a user would, calibrates an in-process estimate."""
    import pathlib

    from flopwatt.bench.profile import content_id

    profile_path = pathlib.Path(__file__).resolve().parents[2] / "bench" / "results" / "h100-sxm-quick.json"
    profile_id = content_id(json.loads(profile_path.read_text()))
    assert main(["bench", "import", str(profile_path), "--data-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(_training_flags("--profile", profile_id, "--data-dir", str(tmp_path), "--json")) == 0
    response = json.loads(capsys.readouterr().out)
    calibration = {a["name"]: a for a in response["assumptions"]}["calibration"]
    assert calibration["origin"] == "profile" and profile_id in calibration["value"]
    assert main(_training_flags("--profile", f"profiles/{profile_id}", "--data-dir", str(tmp_path), "--json")) == 0


def test_estimate_with_an_unknown_profile_says_not_found_and_creates_no_database(tmp_path, capsys):
    empty = tmp_path / "data"
    assert main(_training_flags("--profile", "0123456789abcdef", "--data-dir", str(empty))) == 2
    assert "not found" in capsys.readouterr().err
    assert not empty.exists()


def test_a_small_run_prints_energy_and_carbon_in_units_that_show_them(capsys):
    assert main(_training_flags()) == 0
    out = capsys.readouterr().out
    energy = next(line for line in out.splitlines() if line.startswith("accelerator energy"))
    carbon = next(line for line in out.splitlines() if line.startswith("CO2e"))
    wall = next(line for line in out.splitlines() if line.startswith("wall clock"))
    assert energy.endswith(" kWh") and float(energy.split()[-2].replace(",", "")) > 0, energy
    assert carbon.endswith(" kg") and float(carbon.split()[-2].replace(",", "")) > 0, carbon
    assert wall.endswith(" hours"), wall


def test_bench_import_shipped_stores_the_profiles_that_ship_with_flopwatt(tmp_path, capsys):
    from flopwatt.bench.shipped_profiles import shipped_profile_texts

    assert main(["bench", "import", "--shipped", "--data-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(shipped_profile_texts()) >= 2
    assert all(line.startswith("profiles/") and "H100" in line for line in lines)
    assert main(["bench", "list", "--shipped", "--data-dir", str(tmp_path)]) == 2
    assert "--shipped goes with import" in capsys.readouterr().err
