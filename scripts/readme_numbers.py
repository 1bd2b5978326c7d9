#!/usr/bin/env python3
"""The README's numbers, regenerated from the commands that print them.

    python scripts/readme_numbers.py --write            rewrite every estimate region of README.md
    python scripts/readme_numbers.py --check            exit 1 naming each region that drifted
    python scripts/readme_numbers.py --write --measure  also re-measure the machine-dependent regions

A region is the text between `<!-- begin: NAME -->` and `<!-- end: NAME -->` in README.md, and
REGIONS below says which `flopwatt` command produces it: a console block shows the command and
what it prints (verbatim, only the assumption lines left out), a prose region fills a sentence
with numbers read from the same command's `--json` output. Why one script: the estimator's
physics keeps moving, and numbers copied into the README by hand drifted from what the commands
printed (campus sustained FLOP/s, decode at batch 1, the validation table); now one command
rewrites them all and tests/integration/test_readme_examples.py runs `--check`.

Estimates are deterministic and machine-independent, so they are checked exactly. Benchmark
figures are not: regions in MEASURED name the machine and the command that measured them, are
skipped by `--check` (listed as "skipped (machine-dependent)") and rewritten only by `--measure`.
The commands run in-process (no server), so the check takes seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import math
import platform
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
REGION = re.compile(r"(<!-- begin: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- end: (?P=name) -->)", re.S)

TRAINING = "estimate training --model llama-3.1-405b --hardware h100-sxm --accelerators 16384 --tokens 1.56e13 --sequence-length 8192"
INFERENCE = "estimate inference --model llama-3.1-70b --hardware h100-sxm --accelerators 8 --input-tokens 1024 --output-tokens 512"
INFERENCE_BATCH_1 = INFERENCE + " --batch-size 1"
CAMPUS = "estimate campus --hardware gb200 --power-watts 1.2e9"
CAMPUS_PUE_14 = CAMPUS + " --pue 1.4"
CONTRACT = "estimate campus --hardware gb200 --budget-usd 38e9 --term-years 7 --price-per-hour 3"
CONTRACT_SAMPLES = CONTRACT + " --samples 2000 --seed 1"
CONTRACT_OWNED = "estimate campus --hardware gb200 --budget-usd 38e9 --term-years 7"
NATIONAL = "estimate campus --hardware h100-sxm --users 1e7 --model llama-3.1-70b --precision fp8"
NATIONAL_405B = "estimate campus --hardware gb200 --users 1e7 --model llama-3.1-405b --precision fp8"
NATIONAL_PEAK_3 = NATIONAL + " --peak-to-average 3"
VALIDATE = "validate"
BENCH_CPU = "bench --device cpu --suite quick --no-store"

# Published figures the prose compares with (not outputs of flopwatt; sources in docs/).
META_405B_H100_HOURS = 30.84e6  # Llama 3 herd paper, all stages, TP8 × PP16
EPOCH_CAPEX_USD_PER_IT_WATT = 38.0  # Epoch AI, GB200 campus capex per watt of IT capacity
EPOCH_ENERGY_USD_PER_IT_GW_YEAR = 0.6e9  # Epoch AI, electricity of a 1 GW site per year


class Runner:
    """Runs `flopwatt ARGS` in-process once per command line and keeps what it printed."""

    def __init__(self) -> None:
        self._printed: dict[str, str] = {}

    def text(self, command: str) -> str:
        if command not in self._printed:
            from flopwatt.service.cli import main

            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = main(shlex.split(command))
            if status:
                raise SystemExit(f"flopwatt {command} exited {status}: {err.getvalue().strip()}")
            self._printed[command] = out.getvalue()
        return self._printed[command]

    def json(self, command: str) -> dict:
        return json.loads(self.text(command + " --json"))


def console(command: str, output: str, keep: Callable[[str], bool] = lambda line: True, omitted: str = "") -> str:
    """A console block: the command as typed, then the lines it printed that `keep` accepts."""
    lines = output.rstrip("\n").splitlines()
    kept = [line for line in lines if keep(line)]
    tail = [f"[… {omitted}]"] if omitted and len(kept) < len(lines) else []
    return "\n".join(["```console", f"$ flopwatt {command}", *kept, *tail, "```"]) + "\n"


def sections(output: str, *names: str) -> str:
    """The first block of an estimate's table output plus the named sections ("decode-step breakdown:")."""
    blocks = output.rstrip("\n").split("\n\n")
    chosen = [blocks[0]] + [block for block in blocks[1:] if block.split("\n", 1)[0].rstrip(":") in names]
    return "\n\n".join(chosen) + "\n"


def not_assumption(line: str) -> bool:
    return not line.startswith("  [")


def prose(text: str) -> str:
    """A paragraph wrapped at the README's width (long code spans stay whole)."""
    import textwrap

    return textwrap.fill(text, width=100, break_long_words=False, break_on_hyphens=False) + "\n"


def assumption(response: dict, name: str) -> str:
    return next(a["value"] for a in response["assumptions"] if a["name"] == name)


def percent(value: float, digits: int = 0) -> str:
    """Signed percentage with a real minus sign, as the README writes it."""
    return f"{value:+.{digits}f} %".replace("-", "−")


# --- the regions -------------------------------------------------------------------------------


def training_block(run: Runner) -> str:
    return console(TRAINING, sections(run.text(TRAINING)), omitted="step-time breakdown, assumptions and their sources")


def training_prose(run: Runner) -> str:
    r = run.json(TRAINING)
    p = r["parallelism"]
    hours = r["acceleratorHours"]
    validated = next(row for row in run.json(VALIDATE)["whole_runs"]["runs"] if row["run"] == "llama-3.1-405b")
    pipeline = "no pipeline" if p.get("pipelineParallelSize", 1) == 1 else f"PP {p['pipelineParallelSize']}"
    tokens = p["globalBatchSize"] * 8192
    return prose(
        f"The planner picks TP {p['tensorParallelSize']} × CP {p.get('contextParallelSize', 1)} × DP {p['dataParallelSize']} "
        f"(ZeRO-{p.get('zeroStage', 0)}, {pipeline}) and a {p['globalBatchSize']:,}-sequence ({tokens / 1e6:.1f} M-token) batch: "
        f"{hours / 1e6:.1f} M H100-hours, where Meta published {META_405B_H100_HOURS / 1e6:.2f} M for its TP8 × PP16 plan and all "
        f"its stages ({percent((hours / META_405B_H100_HOURS - 1) * 100)}); at Meta's published plan the whole-run check in "
        f"`flopwatt validate` gives {percent(validated['hours_error_percent'], 1)}."
    )


def inference_block(run: Runner) -> str:
    return console(
        INFERENCE, sections(run.text(INFERENCE)), omitted="decode-step breakdown, assumptions and their sources"
    )


def inference_batch_1_block(run: Runner) -> str:
    output = sections(run.text(INFERENCE_BATCH_1), "decode-step breakdown")
    return console(INFERENCE_BATCH_1, output, omitted="assumptions and their sources")


def campus_block(run: Runner) -> str:
    return console(CAMPUS, run.text(CAMPUS), not_assumption, omitted="assumptions and their sources")


def campus_prose(run: Runner) -> str:
    r, at_14 = run.json(CAMPUS), run.json(CAMPUS_PUE_14)
    capex = float(r["totalCapitalCost"]["units"])
    energy = float(r["annualEnergyCost"]["units"])
    it_gw = r["itPowerWatts"] / 1e9
    epoch_capex, epoch_energy = EPOCH_CAPEX_USD_PER_IT_WATT * it_gw * 1e9, EPOCH_ENERGY_USD_PER_IT_GW_YEAR * it_gw
    gap = max(abs(capex / epoch_capex - 1), abs(energy / epoch_energy - 1)) * 100
    building = (
        next(q["value"] for q in r["capitalCost"] if q["name"] == "building_power_cooling") / r["facilityPowerWatts"]
    )
    gpu_price = float(assumption(r, "capital_costs.accelerator_usd").replace(",", ""))
    return prose(
        f"flopwatt's {int(r['acceleratorCount']):,} fills a 1.2 GW facility budget at PUE {float(assumption(r, 'pue')):.1f} to the "
        f"last rack at nameplate power; the announced counts imply 2.7–3.0 kW per GPU at the meter, i.e. a PUE near 1.4 "
        f"and/or headroom (N+1 power trains, non-IT loads, GB300 racks) — with `--pue 1.4` flopwatt gives "
        f"{int(at_14['acceleratorCount']):,}. Capex: Epoch AI estimates about ${EPOCH_CAPEX_USD_PER_IT_WATT:.0f} B per GW of GB200 IT "
        f"capacity and ${EPOCH_ENERGY_USD_PER_IT_GW_YEAR / 1e9:.1f} B of electricity a year for a 1 GW site; for "
        f"{it_gw:.2f} GW of IT flopwatt's ${capex / 1e9:.1f} B and ${energy / 1e9:.2f} B are within {math.ceil(gap)} % "
        f"(our building share, ${building:.1f}/W after Bernstein 2025, is above Epoch's; our GPU price, "
        f"${gpu_price / 1e3:.0f} k, below list)."
    )


def contract_block(run: Runner) -> str:
    def keep(line: str) -> bool:
        return not_assumption(line) or "contract_accelerator_hours" in line

    return console(CONTRACT, run.text(CONTRACT), keep, omitted="the other assumptions and their sources")


def contract_prose(run: Runner) -> str:
    r, sampled, owned = run.json(CONTRACT), run.json(CONTRACT_SAMPLES), run.json(CONTRACT_OWNED)
    hours = float(assumption(r, "contract_accelerator_hours").split()[0].replace(",", ""))
    fleet = sampled["intervals"]["accelerator_count"]
    owned_hours = float(assumption(owned, "contract_accelerator_hours").split()[0].replace(",", ""))
    term_twh = r["annualEnergyJoules"] / 3.6e15 * 7
    return prose(
        f"At an assumed $3 per GB200-hour the contract buys {hours / 1e9:.1f} billion accelerator-hours: a reserved fleet of "
        f"about {round(int(r['acceleratorCount']), -3):,} GB200 for seven years drawing {r['facilityPowerWatts'] / 1e6:,.0f} MW, "
        f"{term_twh:.0f} TWh over the term. Add `--samples 2000 --seed 1` for Monte Carlo intervals (fleet p5–p95: "
        f"{fleet['p5'] / 1e3:,.0f}k–{fleet['p95'] / 1e3:,.0f}k with the hour price uncertain); without `--price-per-hour` the "
        f"owner's TCO (${38e9 / owned_hours:.2f} per hour) gives {int(owned['acceleratorCount']):,} GPUs."
    )


def national_block(run: Runner) -> str:
    def keep(line: str) -> bool:
        return not_assumption(line) or "] demand." in line or "] utilization" in line

    return console(NATIONAL, run.text(NATIONAL), keep, omitted="the site's assumptions and their sources")


def national_prose(run: Runner) -> str:
    r, big, peaky = run.json(NATIONAL), run.json(NATIONAL_405B), run.json(NATIONAL_PEAK_3)

    def usd(money: dict) -> float:
        return float(money.get("units", 0)) + money.get("nanos", 0) / 1e9

    plan, big_plan = r["demandPlan"], big["demandPlan"]
    serving = plan["servingPlan"]
    return prose(
        f"Ten million people sending five requests a day is {plan['averageRequestRatePerSecond']:,.0f} requests/s on "
        f"average and {plan['peakRequestRatePerSecond']:,.0f} at the busiest hour. The SLO planner serves Llama 3.1 70B in "
        f"FP8 on TP {serving['tensorParallelSize']} replicas of at most {serving['maxRunningBatchSize']} sequences "
        f"({plan['replicaRequestsPerSecond']:.2f} requests/s each); {serving['replicas']:,} of them keep 99 % of requests "
        f"out of the queue at the peak ({plan['peakUtilization']:.0%} of their capacity), "
        f"{int(r['acceleratorCount']):,} H100 in whole nodes, a site provisioned for {r['facilityPowerWatts'] / 1e6:.1f} MW, "
        f"busy {plan['averageUtilization']:.0%} of the time on average. The owner's cost is "
        f"${usd(plan['costPerUserPerMonth']):.3f} per user per month (amortised hardware and building plus electricity; "
        f"no staff or software), {plan['annualEnergyPerUserKwh']:.2f} kWh per user per year. A busier peak "
        f"(`--peak-to-average 3`) takes {int(peaky['acceleratorCount']):,} H100; a larger model "
        f"(`--model llama-3.1-405b --hardware gb200`) takes {int(big['acceleratorCount']):,} GB200 "
        f"({int(big['rackCount'])} NVL72 racks, {big['facilityPowerWatts'] / 1e6:.1f} MW) at "
        f"${usd(big_plan['costPerUserPerMonth']):.2f} per user per month."
    )


def validation_table(run: Runner) -> str:
    v = run.json(VALIDATE)
    sets = {d["name"]: d for d in v["datasets"]}
    anchors = [a for a in v["scale_anchors"]["anchors"] if a["scored"]]
    mlperf = [a for a in v["mlperf_training"]["rows"] if a["scored"]]
    foundry = v["llm_foundry_mpt"]
    foundry_rows = [a for a in foundry["rows"] if a["scored"]]
    pessimistic = sum(1 for a in foundry_rows if a["step_time_error_percent"] > 0)
    optimistic = (
        "all optimistic"
        if not pessimistic
        else ("all but one optimistic" if pessimistic == 1 else f"{len(foundry_rows) - pessimistic} optimistic")
    )
    runs = [a for a in v["whole_runs"]["runs"] if a["scored"]]
    whole = v["whole_runs"]["median_absolute_hours_error_percent"]
    rows = [
        (
            "Megatron-LM on Selene (Korthikanti 2022, Table 5)",
            sets["megatron-selene"]["rows"],
            f"{sets['megatron-selene']['mean_absolute_percentage_error']:.1f} % mean",
            "≤ 5 %",
        ),
        (
            "vTrain single node, held-out odd rows (A100)",
            sets["vtrain-single (held-out)"]["rows"],
            f"{sets['vtrain-single (held-out)']['mean_absolute_percentage_error']:.1f} % MAPE",
            "≤ 8 %",
        ),
        (
            "vTrain multi-node, 64–512 A100 (nothing fitted)",
            sets["vtrain-multi"]["rows"],
            f"{sets['vtrain-multi']['mean_absolute_percentage_error']:.1f} % MAPE",
            "≤ 14 %",
        ),
        (
            "H100 at scale: Llama 3 405B on 8k/16k GPUs (Table 4), Megatron-Bridge 8B/70B/405B (CP2)",
            len(anchors),
            f"{v['scale_anchors']['scored_mean_absolute_percentage_error']:.1f} % MAPE",
            "—",
        ),
        (
            "MLPerf Training step times on 256–11,616 H100, FP8 (NVIDIA result logs): GPT-3 175B, Llama 3.1 405B (CP2)",
            len(mlperf),
            f"{v['mlperf_training']['scored_mean_absolute_percentage_error']:.1f} % MAPE",
            "—",
        ),
        (
            "MosaicML llm-foundry MPT 125M–70B, FSDP at TP1, A100/H100, 512–65,536 tokens (physics alone)",
            len(foundry_rows),
            f"{foundry['scored_mean_absolute_percentage_error']:.1f} % MAPE, {optimistic}",
            "—",
        ),
        *(
            (
                f"stack calibration, leave-one-source-out: {e['source']} ({e['rows']} rows; {e['uncalibrated_mape_percent']:.1f} % "
                "with the physics alone)",
                e["rows"],
                f"{e['cross_validated_mape_percent']:.1f} % MAPE (in-sample {e['in_sample_mape_percent']:.1f} %)",
                "≤ 12 %" + ("" if e["cross_validated_mape_percent"] <= 12 else " (missed)") if e["rows"] >= 10 else "—",
            )
            for e in v["stack_calibration"]["sources"]
            if e["hardware_id"] == "all"
        ),
        (
            "training intervals p5–p95, published rows out of sample (stack calibration's CV folds)",
            sum(e["rows"] for e in v["stack_calibration"]["sources"] if e["hardware_id"] == "all"),
            f"{v['stack_calibration']['interval_coverage_p5_p95'] * 100:.0f} % covered",
            "80–95 %",
        ),
        (
            "published whole runs, accelerator-hours (Llama 2/3.1, BLOOM, DeepSeek-V3)",
            len(runs),
            f"{whole:.1f} % median",
            "≤ 15 %" + ("" if whole <= 15 else " (missed)"),
        ),
        *serving_rows(v["serving_calibration"]),
    ]
    lines = ["| data set | rows | error | target (DESIGN §7) |", "|---|---|---|---|"]
    lines += [f"| {name} | {count} | {error} | {target} |" for name, count, error, target in rows]
    return "\n".join(lines) + "\n"


SERVING_METRIC_NAMES = {
    "throughput": "output tokens/s",
    "batch_latency": "static-batch latency",
    "ttft_median": "median TTFT, 1-100 clients",
    "tpot_median": "median TPOT, 1-100 clients",
}


def serving_rows(serving: dict) -> list[tuple[str, int, str, str]]:
    """One row per serving source and metric: leave-one-source-out for the fitted (offline) sources,
    out of sample for the online ones (never fitted), and the ML.ENERGY energy comparison."""
    online = {row["row"].split("/")[0] for row in serving["rows"] if row["interface"] == "online"}
    rows = []
    for e in serving["sources"]:
        if e["hardware_id"] != "all" or e["source"].startswith("all"):
            continue
        kind = "online, never fitted" if e["source"] in online else "leave-one-source-out"
        error = f"{e['cross_validated_mape_percent']:.1f} % MAPE"
        if e["source"] not in online:
            error += f" (in-sample {e['in_sample_mape_percent']:.1f} %)"
        rows.append(
            (
                f"serving, {kind}: {e['source']}, {SERVING_METRIC_NAMES[e['metric']]} "
                f"({e['physics_mape_percent']:.1f} % with the physics alone)",
                e["rows"],
                error,
                f"≤ {e['target_percent']:.0f} %" + ("" if e["target_met"] else " (missed)"),
            )
        )
    energy = serving["mlenergy_comparison"]
    rows.append(
        (
            "energy per output token vs the ML.ENERGY leaderboard, H100, vLLM (a comparison, never fitted)",
            len(energy["rows"]),
            f"{energy['median_abs_error_percent']:.1f} % median (tokens/s "
            f"{energy['median_abs_throughput_error_percent']:.1f} %, power {energy['median_abs_power_error_percent']:.1f} %)",
            "—",
        )
    )
    return rows


def validation_prose(run: Runner) -> str:
    runs = {a["run"]: a for a in run.json(VALIDATE)["whole_runs"]["runs"]}
    unpublished = [runs[name] for name in ("llama-2-70b", "llama-2-13b", "llama-2-7b", "llama-3.1-70b")]
    short = sorted(-a["hours_error_percent"] for a in unpublished)
    # The MFU the published hours imply: the predicted MFU scaled by predicted ÷ published hours.
    implied = sorted(
        a["model_flops_utilization"] * a["predicted_accelerator_hours"] / a["published_accelerator_hours"] * 100
        for a in unpublished
    )
    foundry = run.json(VALIDATE)["llm_foundry_mpt"]["by_sequence_length"]
    return prose(
        f"The whole-run miss is explained row by row in [docs/estimation.md](docs/estimation.md). Every plan field and goodput "
        f"figure a run's own publications state is a fixed input: Llama 3.1 405B ({percent(runs['llama-3.1-405b']['hours_error_percent'], 1)}, "
        f"Meta's published > 90 % effective training time as its goodput) "
        f"and BLOOM ({percent(runs['bloom-176b']['hours_error_percent'], 1)}, full recompute and micro-batch 2 as BigScience ran it) "
        f"are within about 20 %; DeepSeek-V3 at its published 64-way expert parallelism over 8 nodes is "
        f"{percent(runs['deepseek-v3']['hours_error_percent'], 1)} on its published framework (`hai-llm`: a token dispatched once "
        f"per node in FP8 and the all-to-all hidden by DualPipe, as DeepSeek documents; errors that partly cancel, "
        f"see the doc), where Megatron-Core's default per-expert all-to-all, unoverlapped, would take longer than the GEMMs. "
        f"The runs whose GPU counts and plans are not published (Llama 2, Llama 3.1 70B) "
        f"come out {short[0]:.0f}–{short[-1]:.0f} % short, because their published hours imply {implied[0]:.0f}–{implied[-1]:.0f} % MFU "
        f"where the step model predicts more. The llm-foundry table shows the step model is itself optimistic in that FSDP/TP1 "
        f"regime on 2023 software ({percent(foundry['4096']['mean_signed_percent'])} on average at Llama 2's 4K tokens, "
        f"{percent(foundry['32768']['mean_signed_percent'])} at 32K), which accounts for part of those misses. Each stack's "
        f"compute realisation is fitted on the step tables above (leave-one-source-out rows), never on a whole run."
    )


def cpu_name() -> str:
    """The CPU model (/proc/cpuinfo on Linux), so a measured figure names the machine it came from."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bench_cpu(run: Runner) -> str:
    """Measured: the quick CPU suite on this host (about a minute on 2 cores)."""
    import os

    load = os.getloadavg()[0]  # shared cores measure less: say how busy they were
    document = run.json(BENCH_CPU)["profile"]
    gemm = document["ceilings"]["matmul_flops_per_second"]["fp32"]
    triad = document["ceilings"]["memory_bytes_per_second"]["triad"]
    cores = len(os.sched_getaffinity(0))
    return prose(
        f"On {cores} cores of {cpu_name()} (no GPU, load average {load:.1f} when it started, {datetime.date.today():%Y-%m-%d}; measured with "
        f"`flopwatt {BENCH_CPU}`; machine-dependent, so not checked by the tests) the quick suite took "
        f"{document.get('duration_seconds', 0):.0f} s and measured {gemm / 1e9:.0f} GFLOP/s fp32 GEMM and "
        f"{triad / 1e9:.1f} GB/s STREAM triad."
    )


MEASURED_PROFILES = ROOT / "bench" / "results"


def h100_profiles(run: Runner) -> str:
    """The committed H100 full profile's ceilings (bench/results/, never edited): exact, so checked.
    The 2026-11-28 one: the first with Numba STREAM rows and a memory-bound power window."""
    full = json.loads((MEASURED_PROFILES / "h100-sxm-full-2026-11-28.json").read_text())
    gemm = full["ceilings"]["matmul_flops_per_second"]
    attention = full["ceilings"]["attention_flops_per_second"]
    memory = full["ceilings"]["memory_bytes_per_second"]
    power = full["power"]
    load_bf16 = power["load_watts"]["gemm_bf16"]
    load_memory = power["load_watts"][power["memory_bound_window"]]
    return prose(
        f"Measured on a lent {full['device']['name']} on {full['created_time'][:10]} (driver "
        f"{full['environment']['driver']}, torch {full['environment']['torch']}; "
        f"`bench/results/`, committed as written): the full suite ({full['duration_seconds']:.0f} s) found "
        f"{gemm['bf16'] / 1e12:.0f} TFLOP/s bf16, {gemm['fp8'] / 1e12:.0f} fp8, {gemm['tf32'] / 1e12:.0f} tf32 and "
        f"{gemm['fp32'] / 1e12:.1f} fp32 GEMM, {attention['bf16'] / 1e12:.0f} TFLOP/s bf16 attention forward, "
        f"{memory['copy'] / 1e12:.2f} TB/s device copy, Numba STREAM triad {memory['triad'] / 1e12:.2f} and "
        f"read {memory['read'] / 1e12:.2f} TB/s, "
        f"{full['ceilings']['host_to_device_bytes_per_second'] / 1e9:.0f} GB/s pinned host-to-device, "
        f"{full['ceilings']['launch_overhead_graph_seconds'] * 1e6:.1f} µs per kernel in a CUDA graph, "
        f"{power['idle_watts']:.0f} W idle, {load_bf16:.0f} W under bf16 GEMM load and {load_memory:.0f} W "
        "streaming memory. Use one in an "
        "estimate with `flopwatt bench import --shipped` (the profiles that ship with flopwatt) and then "
        "`flopwatt estimate training ... --profile ID` (the id `bench import` prints; `--data-dir` as for `bench`)."
    )


@dataclass(frozen=True)
class Region:
    render: Callable[[Runner], str] | None  # None: measured by hand (the region says how)
    measured: bool = False  # machine-dependent: skipped by --check, rewritten only with --measure


REGIONS: dict[str, Region] = {
    "training": Region(training_block),
    "training-prose": Region(training_prose),
    "inference": Region(inference_block),
    "inference-batch-1": Region(inference_batch_1_block),
    "campus-1.2gw": Region(campus_block),
    "campus-1.2gw-prose": Region(campus_prose),
    "campus-contract": Region(contract_block),
    "campus-contract-prose": Region(contract_prose),
    "campus-national": Region(national_block),
    "campus-national-prose": Region(national_prose),
    "validation-table": Region(validation_table),
    "validation-prose": Region(validation_prose),
    "bench-cpu-quick": Region(bench_cpu, measured=True),
    "h100-profiles": Region(h100_profiles),
    # Written by hand from `python bench/service_benchmarks/sweep_throughput.py` (it needs a server for
    # the gRPC figure); listed so that --check names it as skipped rather than unknown.
    "sweep-throughput": Region(None, measured=True),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the regions of README.md")
    mode.add_argument("--check", action="store_true", help="exit 1 when a region differs from what its command prints")
    parser.add_argument(
        "--measure", action="store_true", help="with --write: also re-run the machine-dependent benchmarks"
    )
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)

    text = args.readme.read_text()
    found = [match.group("name") for match in REGION.finditer(text)]
    unknown = sorted(set(found) - set(REGIONS))
    missing = sorted(set(REGIONS) - set(found))
    if unknown or missing:
        print(f"README regions unknown to this script: {unknown}; regions with no markers in the README: {missing}")
        return 1
    run = Runner()
    drifted: list[str] = []

    def replace(match: re.Match) -> str:
        name, body = match.group("name"), match.group("body")
        region = REGIONS[name]
        if region.measured and (region.render is None or not (args.write and args.measure)):
            print(
                f"{name}: skipped (machine-dependent{'; measured by hand, see the region' if region.render is None else ''})"
            )
            return match.group(0)
        fresh = region.render(run)
        if fresh != body:
            drifted.append(name)
            print(f"{name}: {'rewritten' if args.write else 'DRIFTED'}")
            if args.check:
                import difflib

                diff = difflib.unified_diff(
                    body.splitlines(), fresh.splitlines(), "README.md", "what the command prints", lineterm=""
                )
                print("".join(f"    {line}\n" for line in diff))
        else:
            print(f"{name}: up to date")
        return match.group(1) + fresh + match.group(4)

    new_text = REGION.sub(replace, text)
    if args.write:
        if new_text != text:
            args.readme.write_text(new_text)
        return 0
    if drifted:
        print(
            f"\n{len(drifted)} region(s) differ from what their commands print: run `python scripts/readme_numbers.py --write`"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
