"""Closed loop (issue 13 item 3): run a real, randomly initialised decoder-only model and time it.

The model (bench/closed_loop_model.py: a Llama-like transformer in plain PyTorch, multi-head or
grouped-query attention) is built from plain numbers (`ClosedLoopModel`), so this module needs
nothing from the estimator. It runs on the CPU or on a CUDA device (`device`), in its dtype.
Three measurements, each the median of `timed_steps` after untimed warm-up, timed by the bench
harness (bench/harness.py: on the CPU `perf_counter_ns` around each step; on CUDA a pair of CUDA
events on the stream around each step, the host synchronising once per chunk of steps, so the
host's launch time counts only where the device waits for it). The harness warms up at least
once, so a step runs max(1, `warmup_steps`) untimed times.

- `measure_training`: one optimizer step (forward, cross-entropy loss, backward, AdamW step,
  zero_grad) in one process.
- `measure_ddp_training`: the same step under DistributedDataParallel on `ddp_world_size` ranks
  spawned on this host (rendezvous on 127.0.0.1): gloo processes sharing the CPU, or one CUDA
  device per rank over NCCL (`ddp_unavailable_reason` says when there are too few); the time
  is the slowest rank's median.
- `measure_decode`: greedy decoding with a preallocated KV cache: a prefill of `decode_context`
  tokens per sequence, then `decode_tokens` single-token steps at `decode_batch` sequences;
  the time is seconds per decode step (one token for every sequence in the batch).

With a `StepPowerMeter` (bench/closed_loop_power.py), the training and decode steps each then
hold one NVML power window (≥ 5 s) after their timed steps: `power_window` in their results.

The caller (flopwatt validate --local) predicts the same steps with the estimator and compares.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path
from typing import Callable

from flopwatt.bench.closed_loop_model import (
    DEVICES,
    SEED,
    ClosedLoopModel,
    build_model,
    decode_mid_context,
    decode_warmup_steps,
    kv_caches,
    training_memory_bytes,
)
from flopwatt.bench.closed_loop_power import POWER_CHECKS, StepPowerMeter, cycling_step
from flopwatt.bench.local_ranks import run_local_ranks

__all__ = ["ClosedLoopModel", "build_model"]  # re-exported: the model's home is closed_loop_model
DDP_BACKEND = {"cpu": "gloo", "cuda": "nccl"}


def _check_device(device: str) -> None:
    if device not in DEVICES:
        raise ValueError(f"device: expected one of {DEVICES}, got {device!r}")


def _batch(config: ClosedLoopModel, rank: int = 0, device: str = "cpu"):
    import torch

    generator = torch.Generator().manual_seed(SEED + rank)
    shape = (config.micro_batch_size, config.sequence_length + 1)
    tokens = torch.randint(0, config.vocab_size, shape, generator=generator).to(device)
    return tokens[:, :-1], tokens[:, 1:]


def _train_step(model, optimizer, inputs, targets, vocab_size: int):
    """One optimizer step; its loss (a device tensor: reading it would synchronise)."""
    import torch.nn.functional as F

    logits = model(inputs)
    loss = F.cross_entropy(logits.float().reshape(-1, vocab_size), targets.reshape(-1))
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def timed_seconds(
    run: Callable[[], object], check: Callable[[], None], device: str, warmup_steps: int, timed_steps: int
) -> list[float]:
    """Seconds of each of `timed_steps` calls of `run` after max(1, `warmup_steps`) untimed
    ones, through the bench harness (`check` runs once after the warm-up, as a kernel's
    verification does: a step that went wrong is never reported as timed)."""
    from flopwatt.bench.harness import Harness, MeasurementPlan
    from flopwatt.kernels.workload import Workload

    workload = Workload("closed_loop", "", {}, 0.0, 0.0, device, run, check)
    plan = MeasurementPlan(warmup_iterations=warmup_steps, samples=timed_steps, max_seconds=math.inf)
    measurement = Harness(device).measure(workload, plan)
    if measurement.error:
        raise RuntimeError(f"closed loop on {device}: {measurement.error}")
    return measurement.samples_seconds


def _training_step(
    model, config: ClosedLoopModel, rank: int, tensor_device: str
) -> tuple[Callable[[], None], Callable[[], None]]:
    """(one optimizer step of `model`, its check): AdamW (torch's default implementation for the
    device) on the batch of `rank` on `tensor_device`; the check raises VerificationError when
    the last loss is not finite."""
    import torch

    from flopwatt.kernels.workload import VerificationError

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    inputs, targets = _batch(config, rank, tensor_device)
    last_loss = []

    def run() -> None:
        last_loss[:] = [_train_step(model, optimizer, inputs, targets, config.vocab_size)]

    def check() -> None:
        loss = float(last_loss[0])
        if not math.isfinite(loss):
            raise VerificationError(f"training step: the loss is {loss}")

    return run, check


def _training_seconds(
    model, config: ClosedLoopModel, rank: int, device: str, tensor_device: str | None = None
) -> list[float]:
    """The timed optimizer steps of `model` on `device` ("cpu" or "cuda"; the batch on
    `tensor_device`, default `device`)."""
    run, check = _training_step(model, config, rank, tensor_device or device)
    return timed_seconds(run, check, device, config.warmup_steps, config.timed_steps)


def _summary(seconds: list[float], **extra) -> dict:
    return {"median_seconds": statistics.median(seconds), "samples_seconds": seconds, **extra}


def _memory_fields(config: ClosedLoopModel, device: str) -> dict:
    """On CUDA, the step's peak allocated bytes beside `training_memory_bytes`' count (a check
    of the count that chose the micro-batch); nothing on the CPU."""
    if device != "cuda":
        return {}
    import torch

    return {
        "peak_memory_bytes": int(torch.cuda.max_memory_allocated()),
        "estimated_memory_bytes": training_memory_bytes(config),
    }


def measure_training(config: ClosedLoopModel, device: str = "cpu", power: StepPowerMeter | None = None) -> dict:
    """Median seconds of one optimizer step (forward, backward, AdamW) in this process; with
    `power`, then the same step held for one power window (`power_window`: closed_loop_power)."""
    import torch

    _check_device(device)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    model = build_model(config, device)
    run, check = _training_step(model, config, 0, device)
    seconds = timed_seconds(run, check, device, config.warmup_steps, config.timed_steps)
    extra = {"threads": torch.get_num_threads()} if device == "cpu" else {"device": device}
    result = _summary(
        seconds,
        **extra,
        parameters=sum(p.numel() for p in model.parameters()),
        **_memory_fields(config, device),  # before the power window: the timed steps' peak
    )
    if power is not None:
        result["power_window"] = power.measure("training step", run, check, statistics.median(seconds), device)
    return result


def _ddp_steps(rank: int, output: str, config: ClosedLoopModel, threads: int, device: str) -> None:
    """The timed DDP steps of one rank (a `run_local_ranks` body); rank 0 writes the result.
    On CUDA rank r runs on device r (run_local_ranks set it) and DDP's NCCL all-reduce is
    ordered before the optimizer step on the timed stream."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    world_size = config.ddp_world_size
    if device == "cuda":
        rank_device = f"cuda:{rank}"
        model = DistributedDataParallel(build_model(config, rank_device), device_ids=[rank])
    else:
        torch.set_num_threads(threads)
        rank_device = "cpu"
        model = DistributedDataParallel(build_model(config))
    dist.barrier()
    seconds = _training_seconds(model, config, rank, device, rank_device)
    median = torch.tensor([statistics.median(seconds)], dtype=torch.float64, device=rank_device)
    dist.all_reduce(median, op=dist.ReduceOp.MAX)  # the step ends when the slowest rank's does
    # every rank must hold the same weights after the steps: DDP averaged the gradients
    with torch.no_grad():
        checksum = sum(p.double().sum() for p in model.parameters()).reshape(1)
    gathered = [torch.zeros_like(checksum) for _ in range(world_size)]
    dist.all_gather(gathered, checksum)
    if rank == 0:
        threads_field = {"threads_per_rank": threads} if device == "cpu" else {"devices": world_size}
        Path(output).write_text(
            json.dumps(
                {
                    "median_seconds": float(median.item()),
                    "samples_seconds": seconds,
                    "world_size": world_size,
                    "backend": DDP_BACKEND[device],
                    **threads_field,
                    "replicas_identical": len({float(g.item()) for g in gathered}) == 1,
                }
            )
        )


def ddp_threads_per_rank(world_size: int) -> int:
    """The host's cores split between the ranks (at least one each): they share one CPU."""
    import torch

    return max(1, torch.get_num_threads() // world_size)


def ddp_unavailable_reason(config: ClosedLoopModel, device: str, visible_devices: int | None = None) -> str | None:
    """Why the DDP check cannot run here, or None: on CUDA each rank needs its own device
    (`visible_devices`: default torch.cuda.device_count()); gloo ranks share the CPU."""
    _check_device(device)
    if device == "cpu":
        return None
    if visible_devices is None:
        import torch

        visible_devices = torch.cuda.device_count()
    if visible_devices < config.ddp_world_size:
        return f"DDP over NCCL needs {config.ddp_world_size} CUDA devices (one per rank), {visible_devices} visible"
    return None


def measure_ddp_training(config: ClosedLoopModel, device: str = "cpu") -> dict:
    """Median seconds of one DDP optimizer step over `ddp_world_size` ranks on this host, each
    rank `micro_batch_size` sequences: gloo processes with the host's threads split between them,
    or NCCL with one CUDA device per rank."""
    reason = ddp_unavailable_reason(config, device)
    if reason:
        raise ValueError(f"ddp_world_size: {reason}")
    threads = ddp_threads_per_rank(config.ddp_world_size)
    output = run_local_ranks(config.ddp_world_size, DDP_BACKEND[device], _ddp_steps, config, threads, device)
    return json.loads(output)


def synchronized_seconds(started: float, device: str) -> float:
    """perf_counter seconds since `started`, read after the device has finished its queued work."""
    if device == "cuda":
        import torch

        torch.cuda.synchronize()
    return time.perf_counter() - started


def decode_step_and_check(
    model, caches: list, state: dict, config: ClosedLoopModel
) -> tuple[Callable[[], None], Callable[[], None]]:
    """`measure_decode`'s step and its check (shared with bench.diagnostics.decode_dispatch, so the
    diagnostic times the very step the closed loop times). The step is one greedy token for
    every sequence: from `state["token"]` (batch × 1) at cache position `state["position"]`,
    which it advances; the check raises VerificationError when the tokens left the vocabulary."""
    from flopwatt.kernels.workload import VerificationError

    def step() -> None:
        state["token"] = model(state["token"], caches, state["position"])[:, -1:].argmax(-1)
        state["position"] += 1

    def check() -> None:
        token = state["token"]
        if token.shape != (config.decode_batch, 1) or not bool(((token >= 0) & (token < config.vocab_size)).all()):
            raise VerificationError(f"decode step: tokens {tuple(token.shape)} outside the vocabulary")

    return step, check


def measure_decode(config: ClosedLoopModel, device: str = "cpu", power: StepPowerMeter | None = None) -> dict:
    """Seconds per decode step (one new token for each of `decode_batch` sequences) with a KV
    cache holding `decode_context` prompt tokens plus the tokens generated so far; with `power`,
    then the same step held for one power window at the timed steps' cache positions
    (`power_window`: closed_loop_power.cycling_step says why the positions cycle)."""
    import torch

    _check_device(device)
    model = build_model(config, device).eval()
    b = config.decode_batch
    warmup = decode_warmup_steps(config)
    generator = torch.Generator().manual_seed(SEED)
    prompt = torch.randint(0, config.vocab_size, (b, config.decode_context), generator=generator).to(device)
    state = {"position": config.decode_context}
    first, end = config.decode_context + warmup, config.decode_context + warmup + config.decode_tokens
    with torch.inference_mode():
        caches = kv_caches(config, b, end, device)
        started = time.perf_counter()
        state["token"] = model(prompt, caches, 0)[:, -1:].argmax(-1)
        prefill = synchronized_seconds(started, device)
        step, check = decode_step_and_check(model, caches, state, config)
        seconds = timed_seconds(step, check, device, warmup, config.decode_tokens)
        context_end = state["position"]
        window = None
        if power is not None:
            cycled = cycling_step(step, state, first, end)
            window = power.measure("decode step", cycled, check, statistics.median(seconds), device)
    result = _summary(seconds, batch=b, context_start=first, context_end=context_end, prefill_seconds=prefill)
    if window is not None:
        measured = "skipped" not in window
        result["power_window"] = {**window, "cache_positions": [first, end - 1]} if measured else window
    return result


GEMM_OPS = frozenset({"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"})
ATTENTION_MARK = "scaled_dot_product"
LOSS_OPS = frozenset(
    {
        "aten::cross_entropy_loss",
        "aten::log_softmax",
        "aten::_log_softmax",
        "aten::_log_softmax_backward_data",
        "aten::nll_loss",
        "aten::nll_loss_forward",
        "aten::nll_loss_nd",
        "aten::nll_loss_backward",
    }
)
OPTIMIZER_MARK = "Optimizer.step#"
OPERATOR_GROUPS = ("gemm", "lm_head", "attention", "loss", "optimizer", "other")


def _operator_group(event, vocab_size: int) -> str:
    """The chart's group of one profiled op: what it runs under (the optimizer step, the loss)
    or what it is (a GEMM, with the LM head's told apart by the vocabulary dimension; SDPA)."""
    parent = event
    while parent is not None:
        if parent.name.startswith(OPTIMIZER_MARK):
            return "optimizer"
        if parent.name in LOSS_OPS:
            return "loss"
        parent = parent.cpu_parent
    if event.name in GEMM_OPS:
        shapes = [tuple(shape) for shape in (event.input_shapes or []) if shape]
        return "lm_head" if any(vocab_size in shape for shape in shapes) else "gemm"
    if ATTENTION_MARK in event.name:
        return "attention"
    return "other"


def _self_seconds(event, device: str) -> float:
    """An op's own time: on the CPU its host self time; on CUDA the device time of the kernels
    it launched itself (kernel rows, which have no host time, are skipped: their time is
    already their launching op's)."""
    if device == "cpu":
        return event.self_cpu_time_total * 1e-6
    if str(getattr(event, "device_type", "")).endswith("CPU"):
        microseconds = getattr(event, "self_device_time_total", None)
        if microseconds is None:  # torch < 2.4 named it for CUDA
            microseconds = getattr(event, "self_cuda_time_total", 0.0)
        return microseconds * 1e-6
    return 0.0


def profile_step(step, vocab_size: int, repeats: int = 2, device: str = "cpu") -> dict:
    """One step's time by operator group under torch.profiler (ops' self time, averaged over
    `repeats` steps after one untimed; on CUDA the device time of each op's kernels): `seconds`
    by group, with the step's wall time not inside any op (Python, dispatch; on CUDA the device
    idle between kernels) counted as `other`, and `wall_seconds` of the profiled steps. The
    profiler adds a little to each op: compare shares, or scale to the unprofiled median."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    step()
    synchronized_seconds(0.0, device)
    with profile(activities=activities, record_shapes=True) as profiler:
        started = time.perf_counter()
        for _ in range(repeats):
            step()
        wall = synchronized_seconds(started, device) / repeats
    seconds = {group: 0.0 for group in OPERATOR_GROUPS}
    for event in profiler.events():
        seconds[_operator_group(event, vocab_size)] += _self_seconds(event, device) / repeats
    inside = sum(seconds.values())
    seconds["other"] += max(0.0, wall - inside)
    return {"seconds": seconds, "wall_seconds": wall}


def profile_training(config: ClosedLoopModel, device: str = "cpu") -> dict:
    """`profile_step` of the training step (`measure_training`'s model, batch and optimizer)."""
    import torch

    model = build_model(config, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    inputs, targets = _batch(config, 0, device)
    return profile_step(
        lambda: _train_step(model, optimizer, inputs, targets, config.vocab_size), config.vocab_size, device=device
    )


def profile_decode(config: ClosedLoopModel, device: str = "cpu") -> dict:
    """`profile_step` of one decode step at the timed steps' mid-loop cache length (`measure_decode`)."""
    import torch

    model = build_model(config, device).eval()
    b = config.decode_batch
    position = decode_mid_context(config)
    with torch.inference_mode():
        caches = kv_caches(config, b, position + 1, device, fill=torch.randn)
        token = torch.randint(0, config.vocab_size, (b, 1), generator=torch.Generator().manual_seed(SEED)).to(device)
        return profile_step(lambda: model(token, caches, position)[:, -1:].argmax(-1), config.vocab_size, device=device)


def run_closed_loop(
    config: ClosedLoopModel,
    checks: tuple[str, ...] = ("training_step", "ddp_training_step", "decode_step"),
    device: str = "cpu",
    power: StepPowerMeter | None = None,
) -> dict:
    """Every requested measurement on `device`, keyed by check name; with `power`, the training
    and decode steps each also hold one power window after their timed steps."""
    runners = {
        "training_step": measure_training,
        "ddp_training_step": measure_ddp_training,
        "decode_step": measure_decode,
    }
    unknown = set(checks) - set(runners)
    if unknown:
        raise ValueError(f"checks: unknown {sorted(unknown)}; expected some of {sorted(runners)}")
    _check_device(device)

    def measure(name: str) -> dict:
        if power is not None and name in POWER_CHECKS:
            return runners[name](config, device, power)
        return runners[name](config, device)

    return {name: measure(name) for name in checks}


def profile_closed_loop(config: ClosedLoopModel, checks: tuple[str, ...], device: str = "cpu") -> dict:
    """Per-operator-group breakdowns (`profile_step`) of the training and decode steps among
    `checks` (the DDP step is not profiled: its ranks are other processes)."""
    profilers = {"training_step": profile_training, "decode_step": profile_decode}
    return {name: profilers[name](config, device) for name in checks if name in profilers}


def median_of_rounds(rounds: list[dict]) -> dict:
    """The closed loop's checks over several interleaved rounds: each check keeps the round whose
    median is the median over the rounds (its samples and details; the lesser of the middle two
    for an even count) and lists every round's median in `round_medians_seconds` (why the median:
    bench.workload_suite.median_of_rounds); a `power_window`, measured in one round only, is
    kept whichever round the timings come from."""
    from flopwatt.bench.workload_suite import median_round

    if not rounds:
        raise ValueError("rounds: need at least one closed-loop result")
    merged = {}
    for name in rounds[0]:
        results = [r[name] for r in rounds if name in r]
        medians = [result["median_seconds"] for result in results]
        chosen = dict(results[median_round(medians)])
        chosen["round_medians_seconds"] = medians
        chosen.pop("power_window", None)
        windows = [result["power_window"] for result in results if "power_window" in result]
        if windows:  # measured in one round: it stays whichever round's timings are kept
            chosen["power_window"] = windows[-1]
        merged[name] = chosen
    return merged
