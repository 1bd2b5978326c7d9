"""Serving accelerator power from the work a step does: each second draws the power of the unit bounding it.

Why not idle + (load − idle) × busy: that form (still training's, `HardwareModel.power_watts`)
draws one "load" power for any kernel, the GEMM window's measured watts or, on the datasheet
path, TDP × 0.76, a *node-level* training figure (Brookhaven: 76 % of a 10.2 kW DGX). Serving
spends its step in kernels bounded by different units: decode's projections at small batches
and its KV-cache reads stream memory, prefill's GEMMs and the large-batch projections saturate
the tensor cores. The two draw different power, and both were measured on an H100 SXM
(bench/results/h100-sxm-full-2026-11-28.json, `power`): 699 W under a bf16 GEMM (all five GEMM
precisions 691-709 W, at the 700 W `sw_power_cap`), 554 W streaming memory (Numba triad fp64 at
3.0 TB/s, SM clock not throttled), 128 W idle with the clocks up. So power rises with the running
batch as the step's share of compute-bound work (prefill chunks, larger GEMMs) grows, which is
what the ML.ENERGY leaderboard measures (8B on one H100: 486 W at batch 8, 690 W from batch 192),
and what the busy-fraction form, falling with the batch, did not.

The form, three measured powers and the step's time shares:

    P = P_idle + (P_compute − P_idle)·s_compute + (P_memory − P_idle)·s_memory

with s_compute, s_memory the shares of the step's seconds whose time the roofline sets by compute
and by memory traffic (`BoundSeconds.roofline`: a part is compute-bound when its FLOPs at the
sustained rate take at least as long as its bytes at the sustained bandwidth). Everything else
draws idle power: host time between steps, launch gaps, and collectives (no window measured what a
collective draws, so they stay where the busy-fraction form had them).

Why time shares rather than energy per unit of work (idle + J/FLOP × FLOP/s + J/byte × bytes/s,
capped at TDP): each measured power *is* the mean power of a window in which one unit bounds
the time, so a second of the same kind of work draws it as measured, with three parameters a
reader can check against the windows; the estimator already knows each part's seconds and which
unit sets them; and the per-unit-of-work form needs the FLOPs and bytes of parts the model only
knows as time (the engine's decode realisation, the fitted host time) plus a cap the GEMM window
already sits at (idle + dynamic J/FLOP × the bf16 ceiling is 787 W on the H100, above its 700 W
TDP). The time-share form
keeps a part slowed by the decode realisation in its unit: the realisation stands for kernels
running below the roofline as much as for gaps, and the gaps the model does know (host time) are
idle.

Parameters: with a measured profile that has the windows, its own idle, GEMM (at the estimate's
precision) and memory-bound (`power.memory_bound_window`) watts; without a profile, the H100
measurement as fractions of TDP (constants.SERVING_*_POWER_FRACTION_OF_TDP) applied to the
accelerator's TDP, a stated assumption for any other accelerator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flopwatt.estimate.numeric import maximum, where

ArrayLike = Any


@dataclass(frozen=True)
class BoundSeconds:
    """Seconds of accelerator time split by the unit that bounds them (arrays allowed)."""

    compute_bound_seconds: ArrayLike = 0.0
    memory_bound_seconds: ArrayLike = 0.0
    idle_seconds: ArrayLike = 0.0  # host, launch gaps, collectives: idle power

    @classmethod
    def roofline(cls, compute_seconds: ArrayLike, memory_seconds: ArrayLike) -> BoundSeconds:
        """A kernel's max(compute, memory) time, all of it in the unit that sets it (ties: compute)."""
        seconds = maximum(compute_seconds, memory_seconds)
        compute_bound = compute_seconds >= memory_seconds
        return cls(where(compute_bound, seconds, 0.0), where(compute_bound, 0.0, seconds))

    @classmethod
    def memory_bound(cls, seconds: ArrayLike) -> BoundSeconds:
        return cls(memory_bound_seconds=seconds)

    @classmethod
    def compute_bound(cls, seconds: ArrayLike) -> BoundSeconds:
        return cls(compute_bound_seconds=seconds)

    @classmethod
    def idle(cls, seconds: ArrayLike) -> BoundSeconds:
        return cls(idle_seconds=seconds)

    @property
    def seconds(self) -> ArrayLike:
        return self.compute_bound_seconds + self.memory_bound_seconds + self.idle_seconds

    def __add__(self, other: BoundSeconds) -> BoundSeconds:
        return BoundSeconds(
            self.compute_bound_seconds + other.compute_bound_seconds,
            self.memory_bound_seconds + other.memory_bound_seconds,
            self.idle_seconds + other.idle_seconds,
        )

    def scaled(self, factor: ArrayLike) -> BoundSeconds:
        return BoundSeconds(
            self.compute_bound_seconds * factor, self.memory_bound_seconds * factor, self.idle_seconds * factor
        )

    def per(self, divisor: ArrayLike) -> BoundSeconds:
        """Every part divided by `divisor` (a realisation, tokens per step)."""
        return BoundSeconds(
            self.compute_bound_seconds / divisor, self.memory_bound_seconds / divisor, self.idle_seconds / divisor
        )

    def rescaled_to(self, seconds: ArrayLike) -> BoundSeconds:
        """The same shares over `seconds` (a part timed another way, e.g. measured, keeps the unit
        the roofline gave it); all memory-bound when this holds no time."""
        total = self.seconds
        has_time = total > 0
        factor = seconds / where(has_time, total, 1.0)
        return BoundSeconds(
            where(has_time, self.compute_bound_seconds * factor, 0.0),
            where(has_time, self.memory_bound_seconds * factor, seconds),
            where(has_time, self.idle_seconds * factor, 0.0),
        )


def total_seconds(parts: dict[str, BoundSeconds]) -> BoundSeconds:
    """The sum of a breakdown's parts."""
    total = BoundSeconds()
    for part in parts.values():
        total = total + part
    return total


@dataclass(frozen=True)
class PowerLevels:
    """Mean accelerator power while each unit bounds the time, and idle (watts; arrays allowed)."""

    idle_watts: ArrayLike
    compute_bound_watts: ArrayLike
    memory_bound_watts: ArrayLike

    def power_watts(self, work: BoundSeconds) -> ArrayLike:
        """Mean power over `work`: idle plus each unit's dynamic power × its share of the time
        (idle power when the work holds no time)."""
        total = work.seconds
        span = where(total > 0, total, 1.0)
        compute_share = work.compute_bound_seconds / span
        memory_share = work.memory_bound_seconds / span
        return (
            self.idle_watts
            + (self.compute_bound_watts - self.idle_watts) * compute_share
            + (self.memory_bound_watts - self.idle_watts) * memory_share
        )

    def busy_for(self, work: BoundSeconds, busy_fraction: ArrayLike) -> ArrayLike:
        """Mean power of an instance that runs `work`'s mix a `busy_fraction` of the time and idles
        the rest (a disaggregated prefill instance at utilisation ρ)."""
        return self.idle_watts + (self.power_watts(work) - self.idle_watts) * busy_fraction
