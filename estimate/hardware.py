"""Calibrated hardware: the catalog's datasheet numbers, optionally replaced by a measured profile.

`HardwareModel` answers the questions the step-time model asks — how long does this GEMM take,
this attention kernel, these bytes of elementwise traffic, this collective — for scalar or array
inputs. In datasheet mode the GEMM efficiency is a smooth size-dependent fraction of the peak
(its ceiling published per accelerator, its shape fitted on vTrain single-node rows, see
`constants.py` and `fitted_constants.py`); with a profile, the measured efficiency
map is interpolated instead (inverse-distance weighting in log-shape space).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flopwatt.estimate import fitted_constants
from flopwatt.estimate.accelerator_power import BoundSeconds, PowerLevels
from flopwatt.estimate.catalog.entries import HardwareSpec
from flopwatt.estimate.constants import (
    BYTES_PER_ELEMENT_BY_PRECISION,
    DEFAULT_GEMM_MAX_FRACTION_OF_PEAK,
    DEFAULT_GRAPH_LAUNCH_OVERHEAD_SECONDS,
    DEFAULT_LAUNCH_OVERHEAD_SECONDS,
    FLASH_ATTENTION_FRACTION_OF_PEAK,
    GEMM_MAX_FRACTION_OF_PEAK_BY_HARDWARE,
    IDLE_POWER_FRACTION_OF_TDP,
    INTRA_NODE_COLLECTIVE_EFFICIENCY,
    INTRA_NODE_COLLECTIVE_EFFICIENCY_BY_HARDWARE,
    INTRA_NODE_COLLECTIVE_LATENCY_SECONDS,
    MEMORY_BANDWIDTH_FRACTION_OF_DATASHEET,
    MEMORY_BANDWIDTH_FRACTION_OF_DATASHEET_BY_HARDWARE,
    SCALE_OUT_COLLECTIVE_EFFICIENCY,
    SCALE_OUT_COLLECTIVE_LATENCY_SECONDS,
    SERVING_COMPUTE_BOUND_POWER_FRACTION_OF_TDP,
    SERVING_IDLE_POWER_FRACTION_OF_TDP,
    SERVING_MEMORY_BOUND_POWER_FRACTION_OF_TDP,
    TRAINING_POWER_FRACTION_OF_TDP,
)
from flopwatt.estimate.measured_profile import MeasuredProfile
from flopwatt.estimate.memo import IdentityMemo
from flopwatt.estimate.numeric import as_float, clip, maximum, minimum, where
from flopwatt.estimate.scalar_roofline import at_least_one, gemm_roofline_seconds, ring_numbers, ring_seconds

# FLOP per operand element loaded at full bandwidth on the accelerator and precision the GEMM shape
# was fitted on (vTrain: A100 SXM4 80 GB fp16, 312 TFLOP/s × 2 B over 2,039 GB/s; NVIDIA A100
# datasheet 2021).
GEMM_FIT_OPS_PER_ELEMENT = 312e12 * 2.0 / 2.039e12
# Formats whose training runs keep attention at ATTENTION_PRECISION_OF_LOW_PRECISION_TRAINING.
LOW_PRECISION_FORMATS = ("fp8", "fp4")
ATTENTION_PRECISION_OF_LOW_PRECISION_TRAINING = "bf16"

ArrayLike = Any
# Inverse-distance weighting power in log2-shape space for the measured GEMM map: 4 makes the
# nearest measured shapes dominate (an interpolation choice, not a fitted value).
IDW_POWER = 4.0
_FLOAT64 = np.float64


class ScaleOutUnavailableError(ValueError):
    """A plan spans more accelerators than one scale-up domain (node, or TPU pod) on hardware
    with no published bandwidth between domains: collectives across it have no rate to be timed
    at (TPU v3/v4: Google publishes no per-chip data-center-network bandwidth). The API edge
    names `accelerator_count`."""

    def __init__(self, hw: "HardwareModel", accelerator_count: int) -> None:
        super().__init__(
            f"{accelerator_count} accelerators span more than one {hw.name} scale-up domain of {hw.accelerators_per_node}, "
            f"and no bandwidth between domains is published for it: at most {hw.accelerators_per_node} (one pod or node)"
        )
        self.limit = hw.accelerators_per_node


def check_scale_out(hw: "HardwareModel", accelerator_count: int) -> None:
    """Refuse a cluster larger than one scale-up domain where the scale-out bandwidth is unknown
    (0): every collective crossing domains would take infinite time and the estimate NaN."""
    if accelerator_count > hw.accelerators_per_node and not hw.scale_out_bandwidth_bytes_per_second > 0:
        raise ScaleOutUnavailableError(hw, accelerator_count)


@dataclass(frozen=True)
class CalibrationValue:
    """One number the estimate used, with unit and meaning (becomes a `Quantity` at the edge)."""

    name: str
    value: float
    unit: str
    description: str


def transfer_seconds(message_bytes: ArrayLike, bandwidth: ArrayLike) -> ArrayLike:
    """`message_bytes / bandwidth`, with a zero bandwidth (a link the catalog lists as absent,
    e.g. a TPU pod slice's scale-out, 0 B/s) giving inf for bytes to move and 0 for none.

    Why guarded here rather than warnings silenced: the planner prices every candidate plan, so
    plans that cross a missing link are routine, and NumPy's divide-by-zero RuntimeWarning for
    each of them reached the server's stderr. inf is what the plain division gave; the planner
    rejects such plans as before."""
    has_link = bandwidth > 0
    return where(has_link, message_bytes / where(has_link, bandwidth, 1.0), where(message_bytes > 0, np.inf, 0.0))


@dataclass(frozen=True)
class MeasuredGemmMap:
    """Measured GEMM rates at (m, n, k) points of one precision."""

    log_shapes: np.ndarray  # (P, 3) log2 of m, n, k
    log_rates: np.ndarray  # (P,) log of FLOP/s

    def rate(self, m: ArrayLike, n: ArrayLike, k: ArrayLike) -> np.ndarray:
        query = np.log2(np.stack(np.broadcast_arrays(as_float(m), as_float(n), as_float(k)), axis=-1))
        distance_sq = np.sum((query[..., None, :] - self.log_shapes) ** 2, axis=-1)
        weights = 1.0 / (distance_sq + 1e-9) ** (IDW_POWER / 2.0)
        return np.exp(np.sum(weights * self.log_rates, axis=-1) / np.sum(weights, axis=-1))


@dataclass(frozen=True)
class HardwareModel:
    """What the estimator knows about one accelerator at one precision."""

    hardware_id: str
    name: str
    precision: str
    peak_flops_per_second: float  # datasheet dense peak at `precision` (MFU denominator)
    sustained_gemm_flops_per_second: float  # best large-GEMM rate: published mamf fraction or measured
    memory_bytes: float
    memory_bandwidth_bytes_per_second: float  # sustained (measured, or datasheet × fitted fraction)
    intra_node_bus_bandwidth_bytes_per_second: float  # achievable collective busbw in the node
    scale_out_bandwidth_bytes_per_second: float  # achievable per accelerator across nodes
    accelerators_per_node: int
    tdp_watts: float
    launch_overhead_seconds: float
    graph_launch_overhead_seconds: float
    idle_watts: float | None = None  # measured; None in datasheet mode
    load_watts: float | None = None  # measured under GEMM load at `precision`
    memory_bound_watts: float | None = None  # measured streaming memory (the profile's memory-bound window)
    attention_flops_per_second: float | None = None  # measured attention rate
    gemm_map: MeasuredGemmMap | None = None
    calibration_kind: str = "datasheet"  # or "measured_profile"
    calibration_source: str = ""
    calibration_date: str = ""
    profile_name: str = ""
    calibration_values: tuple[CalibrationValue, ...] = field(default_factory=tuple)
    # GEMM dimension at which one factor of the efficiency shape reaches ½ (elements); datasheet
    # mode scales the A100-fitted value by this accelerator's ops:byte ratio (`gemm_half_efficiency_dimension`).
    gemm_half_efficiency_dimension_elements: float = fitted_constants.GEMM_HALF_EFFICIENCY_DIMENSION
    # Peak the fused attention kernel runs at: FP8/FP4 training keeps attention in bf16
    # (Transformer Engine: FP8 dot-product attention is opt-in, NVTE_FP8_DPA=0 by default, 2024).
    attention_peak_flops_per_second: float | None = None  # None: peak_flops_per_second

    @property
    def bytes_per_element(self) -> float:
        return BYTES_PER_ELEMENT_BY_PRECISION[self.precision]

    # --- compute -------------------------------------------------------------------------------

    def gemm_efficiency(self, m: ArrayLike, n: ArrayLike, k: ArrayLike) -> ArrayLike:
        """Fraction of the sustained large-GEMM rate a GEMM of this shape reaches.

        Datasheet mode: each dimension x contributes x / (x + half), the shape of tile/wave
        under-utilisation of small dimensions (`half` fitted on A100, `fitted_constants.py`, and carried to
        other accelerators by their ops:byte ratio, `gemm_half_efficiency_dimension`).
        """
        return self._size_curve(as_float(m), as_float(n), as_float(k))

    def _size_curve(self, m: ArrayLike, n: ArrayLike, k: ArrayLike) -> ArrayLike:
        """gemm_efficiency of dimensions already converted by as_float (the roofline has them)."""
        half = self.gemm_half_efficiency_dimension_elements
        return (m / (m + half)) * (n / (n + half)) * (k / (k + half))

    def gemm_seconds(self, m: ArrayLike, n: ArrayLike, k: ArrayLike, batch: ArrayLike = 1.0) -> ArrayLike:
        """Time of `batch` GEMMs of shape (m×k)·(k×n): the slower of compute (through the
        efficiency map) and memory traffic (operands read once, result written once)."""
        return self._gemm_roofline_seconds(m, n, k, batch, size_curve_on_m=True)

    def decode_gemm_seconds(self, m: ArrayLike, n: ArrayLike, k: ArrayLike, batch: ArrayLike = 1.0) -> ArrayLike:
        """Time of `batch` decode GEMMs (m×k)·(k×n) with m = tokens in flight (skinny): the roofline,
        the slower of compute and memory traffic, the weights read once at sustained bandwidth.

        Unlike `gemm_seconds`, compute does not pay the size curve's m factor: that factor (fitted
        on training GEMMs, m = thousands of tokens) rates a matrix-vector product at m/(m + half)
        of the ceiling, ≈ 2 TFLOP/s on an H100 at m = 1, which would make batch-1 decode
        compute-bound at twice the weight-streaming time, while a GEMV runs at the memory roofline
        (NVIDIA Deep Learning Performance Guide, "GPU Performance Background", 2023: a GEMM whose
        arithmetic intensity is below FLOP/s ÷ bandwidth is memory-limited). The n and k factors
        (waves of output tiles, the reduction loop) still apply. A measured GEMM map is used as
        measured: its small-m points already include their memory time."""
        return self._gemm_roofline_seconds(m, n, k, batch, size_curve_on_m=False)

    def gemm_work(self, m: ArrayLike, n: ArrayLike, k: ArrayLike, batch: ArrayLike = 1.0) -> BoundSeconds:
        """`gemm_seconds`, held by the unit that bounds it (the power model's input)."""
        return BoundSeconds.roofline(*self._gemm_roofline_parts(m, n, k, batch, size_curve_on_m=True))

    def decode_gemm_work(self, m: ArrayLike, n: ArrayLike, k: ArrayLike, batch: ArrayLike = 1.0) -> BoundSeconds:
        """`decode_gemm_seconds`, held by the unit that bounds it: at decode batch sizes a
        projection's weights take longer to stream than its FLOPs to compute (memory-bound); at
        hundreds of sequences on an H100 it turns compute-bound."""
        return BoundSeconds.roofline(*self._gemm_roofline_parts(m, n, k, batch, size_curve_on_m=False))

    def _gemm_roofline_seconds(
        self, m: ArrayLike, n: ArrayLike, k: ArrayLike, batch: ArrayLike, size_curve_on_m: bool
    ) -> ArrayLike:
        """max(FLOPs ÷ rate, (m·k + k·n + m·n) elements ÷ sustained bandwidth)."""
        seconds = gemm_roofline_seconds(self, m, n, k, batch, size_curve_on_m)  # numbers: Python floats, same values
        if seconds is not None:
            return _FLOAT64(seconds)
        return maximum(*self._gemm_roofline_parts(m, n, k, batch, size_curve_on_m))

    def _gemm_roofline_parts(
        self, m: ArrayLike, n: ArrayLike, k: ArrayLike, batch: ArrayLike, size_curve_on_m: bool
    ) -> tuple[ArrayLike, ArrayLike]:
        """(compute seconds, memory seconds) of the roofline: FLOPs ÷ rate and (m·k + k·n + m·n)
        elements ÷ sustained bandwidth; the datasheet rate is the sustained ceiling × the size
        curve, with or without its m factor."""
        m, n, k = maximum(as_float(m), 1.0), maximum(as_float(n), 1.0), maximum(as_float(k), 1.0)
        flops = 2.0 * m * n * k * batch
        if self.gemm_map is not None:
            rate = self.gemm_map.rate(m, n, k)
        else:
            half = self.gemm_half_efficiency_dimension_elements
            efficiency = self._size_curve(m, n, k) if size_curve_on_m else (n / (n + half)) * (k / (k + half))
            rate = self.sustained_gemm_flops_per_second * efficiency
        traffic = (m * k + k * n + m * n) * self.bytes_per_element * batch
        return flops / rate, traffic / self.memory_bandwidth_bytes_per_second

    def attention_seconds(
        self,
        flops: ArrayLike,
        sequence_length: ArrayLike,
        head_dim: ArrayLike,
        fraction_of_peak: ArrayLike = FLASH_ATTENTION_FRACTION_OF_PEAK,
    ) -> ArrayLike:
        """Fused (flash) attention kernel time for `flops` actually executed (`fraction_of_peak`:
        the kernel's sustained share of peak in datasheet mode, e.g. a stack's FlashAttention-2
        on Hopper; a measured attention rate replaces it)."""
        if self.attention_flops_per_second is not None:
            return flops / self.attention_flops_per_second
        # Datasheet: the kernel's sustained fraction of peak, shrunk like a GEMM for short
        # sequences (the kernel tiles the sequence dimension).
        seq = as_float(sequence_length)
        half = self.gemm_half_efficiency_dimension_elements
        peak = self.attention_peak_flops_per_second or self.peak_flops_per_second
        rate = peak * fraction_of_peak * seq / (seq + half)
        return flops / rate

    def memory_seconds(self, traffic_bytes: ArrayLike) -> ArrayLike:
        """Time of bandwidth-bound work moving `traffic_bytes` (read + write)."""
        return traffic_bytes / self.memory_bandwidth_bytes_per_second

    # --- communication -------------------------------------------------------------------------

    def collective_bus_bandwidth(self, group_size: ArrayLike, group_stride: ArrayLike) -> ArrayLike:
        """Bus bandwidth of a ring over `group_size` ranks spaced `group_stride` apart.

        Inside one node the ring runs over the scale-up links; when it spans nodes, each node's
        share of the group (g ranks) drives g NICs in parallel channels (NCCL), so the ring moves
        at min(scale-up, g × per-accelerator scale-out) (nccl-tests multi-node busbw, 2021-2023).
        """
        group_size = as_float(group_size)
        per_node = self.accelerators_per_node
        span = group_size * group_stride
        spans_nodes = span > per_node
        ranks_per_node = clip(per_node / maximum(group_stride, 1.0), 1.0, group_size)
        across = minimum(
            self.intra_node_bus_bandwidth_bytes_per_second, ranks_per_node * self.scale_out_bandwidth_bytes_per_second
        )
        return where(spans_nodes, across, self.intra_node_bus_bandwidth_bytes_per_second)

    def collective_latency(self, group_size: ArrayLike, group_stride: ArrayLike) -> ArrayLike:
        spans_nodes = as_float(group_size) * group_stride > self.accelerators_per_node
        return where(spans_nodes, SCALE_OUT_COLLECTIVE_LATENCY_SECONDS, INTRA_NODE_COLLECTIVE_LATENCY_SECONDS)

    def all_reduce_seconds(
        self, message_bytes: ArrayLike, group_size: ArrayLike, group_stride: ArrayLike = 1.0
    ) -> ArrayLike:
        """Ring all-reduce: 2(n−1)/n of the message over the bus bandwidth, plus latency; 0 for n = 1."""
        numbers = ring_numbers(self, message_bytes, group_size, group_stride)  # Python floats, same values
        if numbers is not None:
            message, size, stride = numbers
            return _FLOAT64(ring_seconds(self, 2.0 * (size - 1.0) / at_least_one(size) * message, size, stride))
        n = as_float(group_size)
        moved = 2.0 * (n - 1.0) / maximum(n, 1.0) * message_bytes
        seconds = transfer_seconds(moved, self.collective_bus_bandwidth(n, group_stride)) + self.collective_latency(
            n, group_stride
        )
        return where(n > 1, seconds, 0.0)

    def all_gather_seconds(
        self, message_bytes: ArrayLike, group_size: ArrayLike, group_stride: ArrayLike = 1.0
    ) -> ArrayLike:
        """Ring all-gather or reduce-scatter of a `message_bytes` result: (n−1)/n of it."""
        numbers = ring_numbers(self, message_bytes, group_size, group_stride)  # Python floats, same values
        if numbers is not None:
            message, size, stride = numbers
            return _FLOAT64(ring_seconds(self, (size - 1.0) / at_least_one(size) * message, size, stride))
        n = as_float(group_size)
        moved = (n - 1.0) / maximum(n, 1.0) * message_bytes
        seconds = transfer_seconds(moved, self.collective_bus_bandwidth(n, group_stride)) + self.collective_latency(
            n, group_stride
        )
        return where(n > 1, seconds, 0.0)

    def group_ranks_per_node(self, group_size: ArrayLike, group_stride: ArrayLike = 1.0) -> ArrayLike:
        """Ranks of a `group_size` group, `group_stride` apart, that share one node (at least 1,
        at most the group): consecutive groups (stride 1) fill a node, strided ones spread out."""
        n = as_float(group_size)
        per_node = self.accelerators_per_node
        return minimum(maximum(np.floor(per_node / maximum(as_float(group_stride), 1.0)), 1.0), n)

    def all_to_all_seconds(
        self, message_bytes: ArrayLike, group_size: ArrayLike, group_stride: ArrayLike = 1.0
    ) -> ArrayLike:
        """All-to-all of a `message_bytes` buffer per rank over `group_size` ranks `group_stride` apart.

        Unlike a ring, an all-to-all cannot spread a rank's traffic over its node's other NICs:
        every byte for a rank on another node leaves through this accelerator's own scale-out
        link (one NIC per GPU on DGX/HGX nodes), and the bytes for ranks on the same node go over
        the scale-up links. With r of the n ranks on this node, (n − r)/n of the buffer crosses
        the NIC and (r − 1)/n stays on the node; the two tiers are charged one after the other
        (DeepSeek-V3 §3.2.1 forwards IB-received tokens over NVLink, so they queue on the same
        rank). The ring bus bandwidth, min(NVLink × 0.77, r × NIC), overstated the off-node rate
        r-fold (issue 11 item 2: a 470 MB DeepSeek-V3 dispatch at EP256 took 1.4 ms, ≥ 9.1 ms
        at 50 GB/s)."""
        n = as_float(group_size)
        ranks_on_node = self.group_ranks_per_node(n, group_stride)
        off_node = (n - ranks_on_node) / maximum(n, 1.0) * message_bytes
        on_node = (ranks_on_node - 1.0) / maximum(n, 1.0) * message_bytes
        seconds = (
            transfer_seconds(off_node, self.scale_out_bandwidth_bytes_per_second)
            + transfer_seconds(on_node, self.intra_node_bus_bandwidth_bytes_per_second)
            + self.collective_latency(n, group_stride)
        )
        return where(n > 1, seconds, 0.0)

    def point_to_point_seconds(self, message_bytes: ArrayLike, crosses_nodes: ArrayLike) -> ArrayLike:
        """One send between pipeline stages."""
        bandwidth = where(
            crosses_nodes, self.scale_out_bandwidth_bytes_per_second, self.intra_node_bus_bandwidth_bytes_per_second
        )
        latency = where(crosses_nodes, SCALE_OUT_COLLECTIVE_LATENCY_SECONDS, INTRA_NODE_COLLECTIVE_LATENCY_SECONDS)
        return transfer_seconds(message_bytes, bandwidth) + latency

    # --- power ---------------------------------------------------------------------------------

    def power_watts(self, busy_fraction: ArrayLike) -> ArrayLike:
        """Mean accelerator power when a fraction `busy_fraction` of the time runs kernels: the
        training (and campus) power model; serving uses `serving_power_levels`.

        Measured: idle + (load − idle) × busy. Datasheet: from an idle floor (a fraction of TDP)
        up to TDP × the measured training fraction (76 %) at full busy."""
        busy = clip(busy_fraction, 0.0, 1.0)
        if self.idle_watts is not None and self.load_watts is not None:
            return self.idle_watts + (self.load_watts - self.idle_watts) * busy
        loaded = self.tdp_watts * TRAINING_POWER_FRACTION_OF_TDP
        idle = self.tdp_watts * IDLE_POWER_FRACTION_OF_TDP
        return idle + (loaded - idle) * busy

    @property
    def has_measured_power(self) -> bool:
        return self.idle_watts is not None and self.load_watts is not None

    def serving_power_levels(self) -> PowerLevels:
        """Idle, compute-bound and memory-bound power for serving (accelerator_power.py).

        Measured: the profile's idle, GEMM load (at this precision) and memory-bound windows; a
        profile without a memory-bound window (measured before the probe had one) puts memory-bound
        work at the same share of its GEMM dynamic power as the H100 measurement does (0.75,
        `memory_bound_dynamic_share`). Datasheet: the H100 measurement's fractions of TDP."""
        if self.has_measured_power:
            memory = self.memory_bound_watts
            if memory is None:
                memory = self.idle_watts + (self.load_watts - self.idle_watts) * memory_bound_dynamic_share()
            return PowerLevels(self.idle_watts, self.load_watts, memory)
        return PowerLevels(
            self.tdp_watts * SERVING_IDLE_POWER_FRACTION_OF_TDP,
            self.tdp_watts * SERVING_COMPUTE_BOUND_POWER_FRACTION_OF_TDP,
            self.tdp_watts * SERVING_MEMORY_BOUND_POWER_FRACTION_OF_TDP,
        )

    def serving_power_watts(self, work: BoundSeconds) -> ArrayLike:
        """Mean serving power over `work` (each second at the power of the unit bounding it)."""
        return self.serving_power_levels().power_watts(work)


def memory_bound_dynamic_share() -> float:
    """Memory-bound dynamic power over GEMM dynamic power in the H100 measurement of 2026-11-28:
    (554.1 − 127.9) / (699.2 − 127.9) ≈ 0.75 (constants.SERVING_*_POWER_FRACTION_OF_TDP)."""
    idle = SERVING_IDLE_POWER_FRACTION_OF_TDP
    return (SERVING_MEMORY_BOUND_POWER_FRACTION_OF_TDP - idle) / (SERVING_COMPUTE_BOUND_POWER_FRACTION_OF_TDP - idle)


def gemm_max_fraction_of_peak(hardware_id: str, precision: str) -> float:
    """Published best sustained GEMM rate over the datasheet peak (mamf-finder), else the default.

    fp16 shares bf16's tensor-core path; an accelerator or precision with no published figure
    gets `DEFAULT_GEMM_MAX_FRACTION_OF_PEAK` (see constants.py for the sources)."""
    by_precision = GEMM_MAX_FRACTION_OF_PEAK_BY_HARDWARE.get(hardware_id, {})
    key = "bf16" if precision == "fp16" else precision
    return by_precision.get(key, DEFAULT_GEMM_MAX_FRACTION_OF_PEAK)


def memory_bandwidth_fraction(hardware_id: str) -> float:
    """Sustained (copy) HBM bandwidth over the datasheet figure: the accelerator's own published
    measurement where it departs from the STREAM default (constants.py), else the default."""
    return MEMORY_BANDWIDTH_FRACTION_OF_DATASHEET_BY_HARDWARE.get(hardware_id, MEMORY_BANDWIDTH_FRACTION_OF_DATASHEET)


def intra_node_collective_efficiency(hardware_id: str) -> float:
    """Large all-reduce bus bandwidth over the datasheet scale-up bandwidth: the accelerator's own
    published nccl/rccl-tests figure where it departs from the default, else the default."""
    return INTRA_NODE_COLLECTIVE_EFFICIENCY_BY_HARDWARE.get(hardware_id, INTRA_NODE_COLLECTIVE_EFFICIENCY)


def gemm_half_efficiency_dimension(
    peak_flops_per_second: float, memory_bandwidth_bytes_per_second: float, bytes_per_element: float
) -> float:
    """The fitted half-efficiency dimension carried from the accelerator it was fitted on to this one.

    A GEMM saturates the tensor cores once each operand element is reused often enough to hide its
    memory traffic, so the dimensions needed grow with the accelerator's ops:byte ratio (NVIDIA
    Deep Learning Performance Guide, "GPU Performance Background", 2023: math-limited when the
    arithmetic intensity exceeds peak FLOP/s ÷ bandwidth). Counted per operand *element* (×
    bytes per element) because the shape is in elements: A100 fp16 306, H100 SXM bf16 591 and
    fp8 591 FLOP per element. The shape `x/(x + half)` was fitted on A100 fp16 (`fitted_constants.py`),
    so `half` scales by the ratio: an H100 needs ~1.9× the GEMM size of an A100 to reach the
    same fraction of its ceiling. Equal to the fitted value on the fit's own accelerator, so the
    A100 validation is unchanged."""
    ops_per_element = peak_flops_per_second * bytes_per_element / memory_bandwidth_bytes_per_second
    return fitted_constants.GEMM_HALF_EFFICIENCY_DIMENSION * ops_per_element / GEMM_FIT_OPS_PER_ELEMENT


def datasheet_hardware_model(spec: HardwareSpec, precision: str) -> HardwareModel:
    """Hardware model from datasheet numbers and the documented default efficiencies."""
    peak = spec.peak_for(precision)
    gemm_fraction = gemm_max_fraction_of_peak(spec.id, precision)
    sustained = peak * gemm_fraction
    memory_fraction = memory_bandwidth_fraction(spec.id)
    collective_efficiency = intra_node_collective_efficiency(spec.id)
    bandwidth = spec.memory_bandwidth_bytes_per_second * memory_fraction
    intra = spec.intra_node_bandwidth_bytes_per_second * collective_efficiency
    scale_out = spec.scale_out_bandwidth_bytes_per_second * SCALE_OUT_COLLECTIVE_EFFICIENCY
    source = "; ".join(f"{s.citation} ({s.date})" for s in spec.sources) or f"catalog entry {spec.id}"
    half = gemm_half_efficiency_dimension(
        peak, spec.memory_bandwidth_bytes_per_second, BYTES_PER_ELEMENT_BY_PRECISION[precision]
    )
    values = (
        CalibrationValue("peak_flops_per_second", peak, "flops_per_second", f"datasheet dense {precision} peak"),
        CalibrationValue(
            "sustained_gemm_flops_per_second",
            sustained,
            "flops_per_second",
            f"peak × {gemm_fraction:.3f}, the published mamf-finder ceiling (constants.GEMM_MAX_FRACTION_OF_PEAK_BY_HARDWARE)",
        ),
        CalibrationValue(
            "gemm_half_efficiency_dimension",
            half,
            "elements",
            f"GEMM efficiency per dimension x: x/(x + this); {fitted_constants.GEMM_HALF_EFFICIENCY_DIMENSION:.1f} fitted on A100 "
            f"({fitted_constants.FIT_PROVENANCE}) × this accelerator's ops:byte ratio / A100's",
        ),
        CalibrationValue(
            "memory_bandwidth_bytes_per_second",
            bandwidth,
            "bytes_per_second",
            f"datasheet × {memory_fraction:.3f} (sustained copy fraction, constants.MEMORY_BANDWIDTH_FRACTION_OF_DATASHEET"
            "[_BY_HARDWARE])",
        ),
        CalibrationValue(
            "intra_node_bus_bandwidth_bytes_per_second",
            intra,
            "bytes_per_second",
            f"datasheet scale-up bandwidth × {collective_efficiency:.3f} (nccl/rccl-tests busbw)",
        ),
        CalibrationValue(
            "scale_out_bandwidth_bytes_per_second",
            scale_out,
            "bytes_per_second",
            f"datasheet scale-out bandwidth × {SCALE_OUT_COLLECTIVE_EFFICIENCY} (nccl-tests busbw)",
        ),
        CalibrationValue(
            "launch_overhead_seconds", DEFAULT_LAUNCH_OVERHEAD_SECONDS, "seconds", "default kernel launch overhead"
        ),
        CalibrationValue("tdp_watts", spec.tdp_watts, "watts", "datasheet TDP"),
    )
    return HardwareModel(
        hardware_id=spec.id,
        name=spec.name,
        precision=precision,
        peak_flops_per_second=peak,
        sustained_gemm_flops_per_second=sustained,
        memory_bytes=float(spec.memory_bytes),
        memory_bandwidth_bytes_per_second=bandwidth,
        intra_node_bus_bandwidth_bytes_per_second=intra,
        scale_out_bandwidth_bytes_per_second=scale_out,
        accelerators_per_node=int(spec.accelerators_per_node),
        tdp_watts=float(spec.tdp_watts),
        launch_overhead_seconds=DEFAULT_LAUNCH_OVERHEAD_SECONDS,
        graph_launch_overhead_seconds=DEFAULT_GRAPH_LAUNCH_OVERHEAD_SECONDS,
        calibration_kind="datasheet",
        calibration_source=source,
        calibration_date=max((s.date for s in spec.sources), default=""),
        calibration_values=values,
        gemm_half_efficiency_dimension_elements=half,
        attention_peak_flops_per_second=spec.peak_for(ATTENTION_PRECISION_OF_LOW_PRECISION_TRAINING)
        if precision in LOW_PRECISION_FORMATS
        and ATTENTION_PRECISION_OF_LOW_PRECISION_TRAINING in spec.peak_flops_per_second
        else None,
    )


def _gemm_map_from_profile(profile: MeasuredProfile, precision: str) -> MeasuredGemmMap | None:
    points = profile.gemm_points.get(precision, ())
    if not points:
        return None
    shapes = np.log2(np.array([[p.m, p.n, p.k] for p in points], dtype=float))
    rates = np.log(np.array([p.flops_per_second for p in points], dtype=float))
    return MeasuredGemmMap(log_shapes=shapes, log_rates=rates)


def profiled_hardware_model(
    spec: HardwareSpec, precision: str, profile: MeasuredProfile, profile_name: str
) -> HardwareModel:
    """Datasheet model with every number the profile measured replaced by the measurement.

    Raises ValueError (the API edge names the field) when the profile has nothing usable at
    `precision`: a profile without a GEMM ceiling cannot calibrate a step-time estimate."""
    base = datasheet_hardware_model(spec, precision)
    matmul = profile.matmul_flops_per_second.get(precision)
    if matmul is None:
        raise ValueError(f"profile {profile_name} has no measured {precision} matmul ceiling")
    memory = profile.memory_bytes_per_second
    bandwidth = memory.get("copy") or memory.get("triad") or base.memory_bandwidth_bytes_per_second
    launch = profile.launch_overhead_seconds or base.launch_overhead_seconds
    graph_launch = profile.launch_overhead_graph_seconds or base.graph_launch_overhead_seconds
    attention = profile.attention_flops_per_second.get(precision)
    idle = profile.idle_watts
    load = profile.load_watts.get(f"gemm_{precision}")
    measured_power = idle is not None and load is not None
    memory_bound = profile.memory_bound_watts if measured_power else None
    measured_busbw = profile.all_reduce_bus_bytes_per_second
    intra = max(measured_busbw) if measured_busbw else base.intra_node_bus_bandwidth_bytes_per_second
    gemm_map = _gemm_map_from_profile(profile, precision)
    source = f"profile of {profile.host} ({profile.device_name}), benchmark {profile.benchmark_version}, torch {profile.torch_version}"
    values = [
        CalibrationValue(
            "peak_flops_per_second",
            base.peak_flops_per_second,
            "flops_per_second",
            f"datasheet dense {precision} peak (MFU denominator)",
        ),
        CalibrationValue(
            "sustained_gemm_flops_per_second", matmul, "flops_per_second", f"measured {precision} matmul ceiling"
        ),
        CalibrationValue(
            "memory_bandwidth_bytes_per_second", bandwidth, "bytes_per_second", "measured device copy bandwidth"
        ),
        CalibrationValue("launch_overhead_seconds", launch, "seconds", "measured empty-kernel launch overhead"),
        CalibrationValue(
            "gemm_map_points",
            float(0 if gemm_map is None else len(gemm_map.log_rates)),
            "count",
            "measured GEMM shapes interpolated (0: fitted size model scaled to the measured ceiling)",
        ),
        CalibrationValue(
            "intra_node_bus_bandwidth_bytes_per_second",
            intra,
            "bytes_per_second",
            "measured all-reduce busbw" if measured_busbw else "datasheet × nccl-tests efficiency",
        ),
    ]
    if attention is not None:
        values.append(
            CalibrationValue("attention_flops_per_second", attention, "flops_per_second", "measured attention ceiling")
        )
    if measured_power:
        values.append(CalibrationValue("idle_watts", idle, "watts", "measured idle power (NVML)"))
        values.append(
            CalibrationValue("load_watts", load, "watts", f"measured power under {precision} GEMM load (NVML)")
        )
    if memory_bound is not None:
        values.append(
            CalibrationValue(
                "memory_bound_watts",
                memory_bound,
                "watts",
                f"measured power streaming memory ({profile.memory_bound_window} window, NVML)",
            )
        )
    return HardwareModel(
        hardware_id=spec.id,
        name=spec.name,
        precision=precision,
        peak_flops_per_second=base.peak_flops_per_second,
        sustained_gemm_flops_per_second=matmul,
        memory_bytes=base.memory_bytes,
        memory_bandwidth_bytes_per_second=bandwidth,
        intra_node_bus_bandwidth_bytes_per_second=intra,
        scale_out_bandwidth_bytes_per_second=base.scale_out_bandwidth_bytes_per_second,
        accelerators_per_node=base.accelerators_per_node,
        tdp_watts=base.tdp_watts,
        launch_overhead_seconds=launch,
        graph_launch_overhead_seconds=graph_launch,
        idle_watts=idle if load is not None else None,
        load_watts=load if idle is not None else None,
        memory_bound_watts=memory_bound,
        attention_flops_per_second=attention,
        gemm_map=gemm_map,
        gemm_half_efficiency_dimension_elements=base.gemm_half_efficiency_dimension_elements,
        attention_peak_flops_per_second=base.attention_peak_flops_per_second,
        calibration_kind="measured_profile",
        calibration_source=source,
        calibration_date=profile.created_time,
        profile_name=profile_name,
        calibration_values=tuple(values),
    )


# Catalog entries × precisions: a few hundred at most; the bound only guards a caller that
# builds specs on the fly.
MAX_SHARED_DATASHEET_MODELS = 512
_SHARED_DATASHEET_MODELS: IdentityMemo[HardwareModel] = IdentityMemo(MAX_SHARED_DATASHEET_MODELS)


def shared_datasheet_hardware_model(spec: HardwareSpec, precision: str) -> HardwareModel:
    """`datasheet_hardware_model(spec, precision)`, built once per catalog entry and precision.

    Safe to share: it is a pure function of the spec and the precision, and HardwareModel is
    frozen. The spec (a dataclass holding a mapping, so unhashable) is matched by identity
    (memo.py): the catalog loads each entry once, and another spec object with the same id is
    rebuilt rather than served a stale model. Saves ~20 µs per estimate."""
    return _SHARED_DATASHEET_MODELS.get((spec.id, precision), spec, lambda: datasheet_hardware_model(spec, precision))
