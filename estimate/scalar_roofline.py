"""Python-float fast paths of HardwareModel's GEMM roofline and ring collectives, for numbers.

Why: a fixed-plan training estimate times ~8 GEMMs and ~5 ring collectives one number at a time,
and through the vectorised helpers (`numeric.py`) each costs ~10 helper calls on NumPy scalars:
about a quarter of `estimate_training_run` (issue 14 item 23). These functions compute the same
formulas with the same IEEE double operations in the same order on Python floats, so the values
are bit-identical to the array path's; `hardware.py` calls them only when every input, and every
hardware quantity they read, is a number (Monte Carlo scales the hardware with arrays), and turns
their result into the NumPy scalar the array path returns.

They decline (None) wherever Python and NumPy would part ways: a zero divisor (Python raises where
NumPy gives inf or NaN) and a measured GEMM map (interpolated in NumPy). Each `maximum`, `minimum`,
`clip` and `where` of the array path appears here as the comparison `numeric.py` uses for it
(NaN propagates the same way, ties pick the same operand).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from flopwatt.estimate.constants import INTRA_NODE_COLLECTIVE_LATENCY_SECONDS, SCALE_OUT_COLLECTIVE_LATENCY_SECONDS
from flopwatt.estimate.numeric import NUMBER_TYPES

if TYPE_CHECKING:
    from flopwatt.estimate.hardware import HardwareModel

ArrayLike = Any


def at_least_one(x: float) -> float:
    """numeric.maximum(x, 1.0) of a Python float: NaN propagates, 1.0 on a tie."""
    return x if (x > 1.0 or x != x) else 1.0


def gemm_roofline_seconds(
    hw: HardwareModel, m: ArrayLike, n: ArrayLike, k: ArrayLike, batch: ArrayLike, size_curve_on_m: bool
) -> float | None:
    """HardwareModel._gemm_roofline_seconds, maximum(compute seconds, memory seconds), as a Python
    float; None for an array input or hardware quantity, a measured GEMM map, or a zero divisor."""
    if not (
        type(m) in NUMBER_TYPES
        and type(n) in NUMBER_TYPES
        and type(k) in NUMBER_TYPES
        and type(batch) in NUMBER_TYPES
        and hw.gemm_map is None
        and type(hw.sustained_gemm_flops_per_second) in NUMBER_TYPES
        and type(hw.memory_bandwidth_bytes_per_second) in NUMBER_TYPES
        and type(hw.gemm_half_efficiency_dimension_elements) in NUMBER_TYPES
    ):
        return None
    # maximum(as_float(x), 1.0) each, inlined (at_least_one): ~25 calls an estimate
    m, n, k, batch = float(m), float(n), float(k), float(batch)
    m = m if (m > 1.0 or m != m) else 1.0
    n = n if (n > 1.0 or n != n) else 1.0
    k = k if (k > 1.0 or k != k) else 1.0
    half = hw.gemm_half_efficiency_dimension_elements
    try:
        flops = 2.0 * m * n * k * batch
        if size_curve_on_m:
            efficiency = (m / (m + half)) * (n / (n + half)) * (k / (k + half))
        else:
            efficiency = (n / (n + half)) * (k / (k + half))
        rate = hw.sustained_gemm_flops_per_second * efficiency
        traffic = (m * k + k * n + m * n) * hw.bytes_per_element * batch
        compute, memory = flops / rate, traffic / hw.memory_bandwidth_bytes_per_second
    except ArithmeticError:  # a zero divisor: NumPy's inf or NaN is the answer
        return None
    return compute if (compute > memory or compute != compute) else memory  # numeric.maximum


def ring_numbers(
    hw: HardwareModel, message_bytes: ArrayLike, group_size: ArrayLike, group_stride: ArrayLike
) -> tuple[float, float, float] | None:
    """(message, group size, stride) as Python floats when they and the hardware's collective
    bandwidths are numbers (`ring_seconds` reads those), else None."""
    if (
        type(message_bytes) in NUMBER_TYPES
        and type(group_size) in NUMBER_TYPES
        and type(group_stride) in NUMBER_TYPES
        and type(hw.intra_node_bus_bandwidth_bytes_per_second) in NUMBER_TYPES
        and type(hw.scale_out_bandwidth_bytes_per_second) in NUMBER_TYPES
        and type(hw.accelerators_per_node) in NUMBER_TYPES
    ):
        return float(message_bytes), float(group_size), float(group_stride)
    return None


def ring_seconds(hw: HardwareModel, moved: float, n: float, stride: float) -> float:
    """transfer_seconds(moved, collective_bus_bandwidth(n, stride)) + collective_latency(n, stride),
    and 0 when n ≤ 1 or NaN, as the array path's `where(n > 1, seconds, 0.0)`."""
    if not n > 1:
        return 0.0
    per_node = hw.accelerators_per_node
    intra = hw.intra_node_bus_bandwidth_bytes_per_second
    if n * stride > per_node:  # the ring spans nodes
        # clip(per_node / maximum(stride, 1.0), 1.0, n), n > 1 so not NaN
        ranks = per_node / at_least_one(stride)
        if ranks == ranks:
            raised = 1.0 if ranks < 1.0 else ranks
            ranks = n if n < raised else raised
        across = ranks * hw.scale_out_bandwidth_bytes_per_second
        bandwidth = intra if (intra < across or intra != intra) else across  # minimum(intra, across)
        latency = SCALE_OUT_COLLECTIVE_LATENCY_SECONDS
    else:
        bandwidth = intra
        latency = INTRA_NODE_COLLECTIVE_LATENCY_SECONDS
    # transfer_seconds: no link (0 B/s, or NaN) moves nothing in 0 s and something in inf
    transfer = moved / bandwidth if bandwidth > 0 else (math.inf if moved > 0 else 0.0)
    return transfer + latency
