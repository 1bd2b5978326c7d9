"""Is the closed loop's eager decode step bound by host dispatch rather than by the GPU?

Question (bench/results/README.md, 2026-11-28, H100 SXM): the Llama-3.2-1B-class decode step
(bf16, batch 8, context ~2051, eager PyTorch) measured 7.2 / 7.8 ms median per step, its samples
moving between ~7.2 and ~4.1 ms regimes inside one round, while the operator table predicted
5.8 / 4.4 ms and the profiler gave GEMM kernels 1.07 ms of an 8.5 ms profiled step. Hypothesis:
the step is bound by the host (Python module calls, ATen dispatch and ~500 kernel launches at
10-15 µs each), not by the device. Each number below tells the two apart:

- `wall_seconds`: per step, perf_counter around the step and a device synchronise (the host
  cannot run ahead); `host_issue_seconds`: the same steps, the clock read before that synchronise
  (what the host spends issuing the step). Host-bound: about equal (`host_issue_over_wall` ≈ 1).
- `harness_seconds`: the closed loop's own method (bench.closed_loop.timed_seconds: CUDA events,
  one synchronise per chunk), so the 7.2 ms can be recognised here.
- `profile`: kernels, ATen ops (all, and those called from Python) and kernel-launch API calls per
  step, and the summed device kernel time per step (the GPU-busy floor), from torch.profiler.
- `cuda_graph`: the same forward captured once in a CUDA graph and replayed: the device's time
  for the step without host dispatch (or why it could not be captured).
- `launch`: the profile's empty-launch cost, plain and in a graph (kernels/launch.py through the
  suite's launch plan), to price the kernels per step.

Runtime on an H100, estimated from the 2026-11-28 numbers: torch import and CUDA context ~5 s;
building the 1.5 B-parameter model on the device and its random KV cache (sized for up to 400
warm-up steps) ~3 s; a 2 s warm-up (≥ 8 steps); 3 rounds × (32 paired + 33 harness) steps at
≤ 10 ms ≈ 2 s; the profiler's 1 + 4 steps and the parsing of its ~5 × 1000 events ≤ 10 s; the
graph's 3 warm-up steps, capture and 96 replays ≤ 2 s; the launch probes (quick plan, ≤ 2 s
each) ≤ 4 s: ≤ 28 s, 40 s with margin. On the CPU `--small` runs in about 5 s.

Usage:  python -m flopwatt.bench.diagnostics.decode_dispatch [--device cuda] [--output FILE.json]
        [--small | --preset NAME] [--rounds 3] [--steps 32]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from typing import Callable

from flopwatt.bench.closed_loop_model import (
    DEFAULT_DTYPE,
    DEFAULT_PRESET,
    DEVICES,
    PRESETS,
    SEED,
    ClosedLoopModel,
    build_model,
    kv_caches,
)

DEFAULT_ROUNDS = 3
DEFAULT_STEPS_PER_ROUND = 32
# Warm-up: at least WARMUP_STEPS and, on CUDA, WARMUP_SECONDS (the closed loop's first round on
# the H100 ran at a 47 ms median over its 32 steps, later rounds at 7.2 and 4.5 ms), at most
# WARMUP_MAX_STEPS (the KV cache is sized for them).
WARMUP_STEPS = 8
WARMUP_SECONDS = {"cpu": 0.0, "cuda": 2.0}
WARMUP_MAX_STEPS = 400
PROFILED_STEPS = 4
GRAPH_WARMUP_STEPS = 3  # on a side stream before capture, as torch.cuda.graph's docs ask
# Launch kinds the profiler records on the host for one kernel launch (runtime and driver API).
LAUNCH_API_MARK = "LaunchKernel"
# A model small enough for a unit test to run the whole diagnostic on the CPU in seconds.
SMALL_MODEL = ClosedLoopModel(
    layer_count=2,
    hidden_size=64,
    attention_head_count=4,
    kv_head_count=2,
    ffn_hidden_size=128,
    vocab_size=256,
    decode_batch=2,
    decode_context=32,
)


def diagnostic_model(device: str, preset: str | None = None, small: bool = False) -> ClosedLoopModel:
    """The closed loop's default model on `device` (its preset in its dtype, as `flopwatt validate
    --local` picks them), another preset, or SMALL_MODEL in the device's dtype."""
    if small:
        return replace(SMALL_MODEL, dtype=DEFAULT_DTYPE[device])
    name = preset or DEFAULT_PRESET[device]
    if name not in PRESETS:
        raise ValueError(f"preset: expected one of {sorted(PRESETS)}, got {name!r}")
    return replace(PRESETS[name], dtype=DEFAULT_DTYPE[device])


def synchronize(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def seconds_summary(samples: list[float]) -> dict:
    """Median, p10, p90 (bench.stats) and every sample, in seconds."""
    from flopwatt.bench.stats import summarize

    stats = summarize(samples)
    return {"median": stats["median"], "p10": stats["p10"], "p90": stats["p90"], "samples": samples}


def paired_step_seconds(step: Callable[[], object], device: str, steps: int) -> tuple[list[float], list[float]]:
    """(host issue, wall) seconds of each of `steps` calls: the device idle before each, the
    clock read once when `step` returns (nothing waited for the device) and once after a
    synchronise, so the two samples of a step are of the same step."""
    host, wall = [], []
    for _ in range(steps):
        synchronize(device)
        started = time.perf_counter()
        step()
        issued = time.perf_counter()
        synchronize(device)
        finished = time.perf_counter()
        host.append(issued - started)
        wall.append(finished - started)
    return host, wall


def profile_counts(step: Callable[[], object], device: str, steps: int = PROFILED_STEPS) -> dict:
    """Per step, under torch.profiler (after one untimed step): device kernels (memory copies and
    sets counted apart), ATen ops (all, nested included, and those not inside another ATen op,
    i.e. called from Python), kernel-launch API calls, and the summed device kernel seconds. The
    profiler slows the host, so `profiled_wall_seconds` is above the unprofiled wall."""
    from torch.profiler import ProfilerActivity, profile

    from flopwatt.bench.closed_loop import synchronized_seconds

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    step()
    synchronize(device)
    with profile(activities=activities) as profiler:
        started = time.perf_counter()
        for _ in range(steps):
            step()
        wall = synchronized_seconds(started, device)
    counts = {"kernels": 0, "memory_operations": 0, "aten_ops": 0, "python_aten_ops": 0, "launch_calls": 0}
    kernel_microseconds = 0.0
    for event in profiler.events():
        on_host = str(getattr(event, "device_type", "")).endswith("CPU")
        if getattr(event, "is_user_annotation", False):
            continue  # a record_function range mirrored on the device timeline, not a kernel
        if not on_host:
            if event.name.startswith(("Memcpy", "Memset")):
                counts["memory_operations"] += 1
            else:
                counts["kernels"] += 1
                kernel_microseconds += event.time_range.elapsed_us()
        elif event.name.startswith("aten::"):
            counts["aten_ops"] += 1
            parent = event.cpu_parent
            if parent is None or not parent.name.startswith("aten::"):
                counts["python_aten_ops"] += 1
        elif LAUNCH_API_MARK in event.name:
            counts["launch_calls"] += 1
    result: dict = {"steps": steps, "profiled_wall_seconds": wall / steps}
    result.update({f"{name}_per_step": count / steps for name, count in counts.items()})
    result["device_kernel_seconds_per_step"] = kernel_microseconds * 1e-6 / steps if device == "cuda" else None
    return result


def launch_seconds(device: str) -> dict:
    """The profile's launch-overhead ceilings (seconds per launch, plain and, on CUDA, replayed
    from a graph), measured as the suites measure them: kernels/launch.py through the quick
    suite's launch plan, reduced by bench.profile.derive_ceilings."""
    from flopwatt.bench.harness import Harness
    from flopwatt.bench.profile import derive_ceilings
    from flopwatt.bench.suite_config import suite_config
    from flopwatt.kernels.launch import build_launch

    config = suite_config("quick", device)
    harness = Harness(device)
    results = [harness.measure(build_launch(config.launches_per_call, device), config.launch_plan).to_result()]
    if device == "cuda":
        workload = build_launch(config.launches_per_call, device, use_graph=True)
        results.append(harness.measure(workload, config.launch_plan).to_result())
    ceilings = derive_ceilings(results)
    return {
        "plain_seconds_per_launch": ceilings.get("launch_overhead_seconds"),
        "graph_seconds_per_launch": ceilings.get("launch_overhead_graph_seconds"),
    }


def graph_replay(model, caches: list, token, position: int, device: str, rounds: int, steps: int) -> dict:
    """The decode forward at cache position `position` captured in a CUDA graph (static token
    buffer, the KV cache tensors themselves) and replayed `rounds` × `steps` times: the device's
    time for the step with no host dispatch. The position is a Python int baked into the
    captured slices, so every replay rewrites cache slot `position` and attends over
    `position` + 1 tokens (the eager step's work at that position; the eager step's advancing
    position would need a device-side position tensor). Skipped with the reason on the CPU or
    when capture fails."""
    if device != "cuda":
        return {"skipped": "CUDA graphs need a CUDA device"}
    import torch

    try:
        static_token = token.clone()

        def forward() -> None:
            static_token.copy_(model(static_token, caches, position)[:, -1:].argmax(-1))

        side_stream = torch.cuda.Stream()
        side_stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side_stream):
            for _ in range(GRAPH_WARMUP_STEPS):
                forward()
        torch.cuda.current_stream().wait_stream(side_stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            forward()
        static_token.copy_(token)
        graph.replay()
        eager = model(token, caches, position)[:, -1:].argmax(-1)
        matches = bool(torch.equal(static_token, eager))
        host, wall = [], []
        for _ in range(rounds):
            round_host, round_wall = paired_step_seconds(graph.replay, device, steps)
            host += round_host
            wall += round_wall
    except Exception as error:  # reported, not raised: the other sections still stand
        return {"skipped": f"capture or replay failed: {type(error).__name__}: {str(error)[:300]}"}
    return {
        "position": position,
        "replay_wall_seconds": seconds_summary(wall),
        "replay_host_issue_seconds": seconds_summary(host),
        "first_replay_matches_eager_step": matches,
    }


def reading(document: dict) -> str:
    """One sentence from the numbers: how much of the synchronised step the host's issuing and
    the device's kernels take, and what a graph replay leaves."""
    wall = document["wall_seconds"]["median"]
    parts = [f"host issue {document['host_issue_over_wall']:.0%} of the synchronised step ({wall * 1e3:.2f} ms)"]
    kernel_seconds = document["profile"]["device_kernel_seconds_per_step"]
    if kernel_seconds is not None:
        parts.append(f"device kernels {kernel_seconds / wall:.0%}")
    replay = document["cuda_graph"].get("replay_wall_seconds")
    if replay:
        parts.append(f"a graph replay {replay['median'] * 1e3:.2f} ms ({replay['median'] / wall:.0%})")
    if document["device_kind"] == "cpu":
        return f"{'; '.join(parts)} (on the CPU torch runs each op before returning: host issue is the step)"
    bound = "host-bound" if document["host_issue_over_wall"] >= 0.8 else "not host-bound"
    return f"{'; '.join(parts)}: {bound} (host issue ≥ 80 % of the step reads as host-bound)"


def warm_up(step: Callable[[], object], device: str) -> int:
    """Run `step` until WARMUP_STEPS and WARMUP_SECONDS[device] have both passed (at most
    WARMUP_MAX_STEPS); the steps run."""
    started = time.perf_counter()
    count = 0
    while count < WARMUP_MAX_STEPS:
        step()
        count += 1
        if count >= WARMUP_STEPS and time.perf_counter() - started >= WARMUP_SECONDS[device]:
            break
    synchronize(device)
    return count


def run_diagnostic(
    config: ClosedLoopModel,
    device: str,
    rounds: int = DEFAULT_ROUNDS,
    steps: int = DEFAULT_STEPS_PER_ROUND,
) -> dict:
    """Every section for `config`'s decode step on `device`; one JSON-ready dict."""
    import torch

    from flopwatt.bench.closed_loop import decode_step_and_check, timed_seconds

    if device not in DEVICES:
        raise ValueError(f"device: expected one of {DEVICES}, got {device!r}")
    if rounds < 1 or steps < 1:
        raise ValueError(f"rounds and steps: must be ≥ 1, got {rounds} and {steps}")
    started = time.perf_counter()
    model = build_model(config, device).eval()
    batch = config.decode_batch
    # Every eager step advances the cache position; the graph replays one fixed position.
    eager_steps = WARMUP_MAX_STEPS + rounds * (2 * steps + 1) + 1 + PROFILED_STEPS
    capacity = config.decode_context + eager_steps + GRAPH_WARMUP_STEPS + 1
    generator = torch.Generator().manual_seed(SEED)
    document: dict = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "device_kind": device,
        "torch": torch.__version__,
    }
    document["config"] = config.as_dict()
    with torch.inference_mode():
        caches = kv_caches(config, batch, capacity, device, fill=torch.randn)
        state = {
            "token": torch.randint(0, config.vocab_size, (batch, 1), generator=generator).to(device),
            "position": config.decode_context,
        }
        step, check = decode_step_and_check(model, caches, state, config)
        warmup_steps = warm_up(step, device)
        check()
        context_start = state["position"]
        host, wall, harness, round_medians = [], [], [], []
        for _ in range(rounds):
            round_host, round_wall = paired_step_seconds(step, device, steps)
            host += round_host
            wall += round_wall
            round_medians.append(statistics.median(round_wall))
            harness += timed_seconds(step, check, device, 0, steps)
        check()
        document.update(
            rounds=rounds,
            steps_per_round=steps,
            warmup_steps=warmup_steps,
            context_start=context_start,
            wall_seconds=seconds_summary(wall),
            wall_round_medians_seconds=round_medians,
            host_issue_seconds=seconds_summary(host),
            harness_seconds=seconds_summary(harness),
        )
        document["host_issue_over_wall"] = statistics.median(h / w for h, w in zip(host, wall))
        document["profile"] = profile_counts(step, device)
        kernels = document["profile"]["kernels_per_step"]
        document["host_issue_seconds_per_kernel"] = (
            document["host_issue_seconds"]["median"] / kernels if kernels else None
        )
        document["launch"] = launch_seconds(device)
        document["context_end"] = state["position"]
        document["cuda_graph"] = graph_replay(model, caches, state["token"], state["position"], device, rounds, steps)
    document["reading"] = reading(document)
    document["diagnostic_seconds"] = time.perf_counter() - started
    return document


def table(document: dict) -> list[str]:
    """The short table printed last (medians in ms; p10-p90 beside them)."""

    def row(name: str, summary: dict | None) -> str:
        if not summary:
            return f"{name:34s} -"
        return (
            f"{name:34s} {summary['median'] * 1e3:8.3f} ms  "
            f"(p10 {summary['p10'] * 1e3:.3f}, p90 {summary['p90'] * 1e3:.3f})"
        )

    profile, graph, launch = document["profile"], document["cuda_graph"], document["launch"]
    kernel_seconds = profile["device_kernel_seconds_per_step"]
    lines = [
        f"decode dispatch on {document['device']}: batch {document['config']['decode_batch']}, "
        f"context {document['context_start']}-{document['context_end']}, "
        f"{document['rounds']} x {document['steps_per_round']} steps",
        row("wall per step (synchronised)", document["wall_seconds"]),
        row("host issue per step", document["host_issue_seconds"]),
        row("closed-loop harness per step", document["harness_seconds"]),
        f"{'host issue / wall (median)':34s} {document['host_issue_over_wall']:8.2f}",
        f"{'kernels / ATen ops (Python) / step':34s} {profile['kernels_per_step']:8.0f} / "
        f"{profile['aten_ops_per_step']:.0f} ({profile['python_aten_ops_per_step']:.0f})",
        f"{'device kernel time per step':34s} "
        + (f"{kernel_seconds * 1e3:8.3f} ms" if kernel_seconds is not None else "       - (no device)"),
        row("CUDA graph replay per step", graph.get("replay_wall_seconds")),
    ]
    if "skipped" in graph:
        lines.append(f"{'':34s} graph skipped: {graph['skipped']}")
    plain, in_graph = launch["plain_seconds_per_launch"], launch["graph_seconds_per_launch"]
    lines.append(
        f"{'empty launch, plain / graph':34s} "
        + (f"{plain * 1e6:8.2f} us" if plain else "       -")
        + (f" / {in_graph * 1e6:.2f} us" if in_graph else "")
    )
    lines.append(document["reading"])
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=DEVICES, default="cuda")
    parser.add_argument("--output", help="also write the JSON here")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--small", action="store_true", help="a tiny model (tests)")
    group.add_argument("--preset", choices=sorted(PRESETS), help="default: the closed loop's for the device")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS_PER_ROUND, help="timed steps per round")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.steps < 1:
        parser.error("--rounds and --steps must be ≥ 1")
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("decode_dispatch: --device cuda needs a CUDA GPU (torch sees none)", file=sys.stderr)
        return 2
    config = diagnostic_model(args.device, args.preset, args.small)
    document = run_diagnostic(config, args.device, args.rounds, args.steps)
    text = json.dumps(document, indent=1)
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(text)
    else:
        print(text)
    print("\n".join(table(document)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
