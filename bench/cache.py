"""Cache flushing between timed calls, so a reused operand never comes from L2/LLC.

GPU: zero a buffer of at least 256 MiB before each timed call (mamf-finder and
triton.testing.do_bench both do this; 256 MiB covers Hopper's 50-60 MB L2 and MI300X's 256 MB
Infinity Cache — anchors-microbench §1, §7.4, read 2026-11). CPU: write a buffer of 4× the
last-level cache (the BabelStream/NERSC-10 "≥ 4× the largest cache" rule). StreamingGemv runs
a decode GEMV over rotating weight copies instead: the state a decode step's own GEMVs leave
behind for the small operators between them.
"""

from __future__ import annotations

from pathlib import Path

GPU_FLUSH_BYTES_MINIMUM = 256 * 1024**2  # mamf-finder / triton do_bench, see module docstring
CACHE_MULTIPLE_FOR_FLUSH = 4  # BabelStream / NERSC-10 run rule: ≥ 4× the largest cache
CPU_LLC_BYTES_FALLBACK = 32 * 1024**2  # used when sysfs says nothing; a common server L3 (2026)
SYSFS_CPU_CACHE = Path("/sys/devices/system/cpu/cpu0/cache")


def parse_cache_size(text: str) -> int:
    """sysfs writes sizes like "32768K" or "1M"."""
    text = text.strip().upper()
    multiplier = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(text[-1:], 1)
    digits = text[:-1] if text[-1:] in "KMG" else text
    return int(digits) * multiplier


def cpu_last_level_cache_bytes(sysfs: Path = SYSFS_CPU_CACHE) -> int:
    """Size of the largest cache level of cpu0 from sysfs, or the fallback when unreadable."""
    best = 0
    for index in sorted(sysfs.glob("index*")):
        try:
            best = max(best, parse_cache_size((index / "size").read_text()))
        except (OSError, ValueError):
            continue
    return best or CPU_LLC_BYTES_FALLBACK


def gpu_l2_cache_bytes() -> int:
    import torch

    return int(getattr(torch.cuda.get_device_properties(torch.cuda.current_device()), "L2_cache_size", 0))


def flush_bytes(device: str) -> int:
    """Bytes a CacheFlusher writes on `device`: enough that nothing from before stays cached."""
    if device == "cuda":
        return max(GPU_FLUSH_BYTES_MINIMUM, CACHE_MULTIPLE_FOR_FLUSH * gpu_l2_cache_bytes())
    return CACHE_MULTIPLE_FOR_FLUSH * cpu_last_level_cache_bytes()


class CacheFlusher:
    """Writes a buffer larger than the last-level cache; call it before each timed call."""

    def __init__(self, device: str) -> None:
        import torch

        size = flush_bytes(device)
        self.size_bytes = size
        self._buffer = torch.empty(size // 4, dtype=torch.int32, device=device)

    def __call__(self) -> None:
        self._buffer.zero_()


class StreamingGemv:
    """A projection GEMM (`rows` tokens through an `n` × `k` linear layer, x · Wᵀ: a GEMV at a
    decode batch, a GEMM at a training micro-batch) on the next of several weight copies of
    `size_bytes` in all, once per call: what a step runs between its small operators (the layer's
    projections), with what it does to the caches (the weights streamed from memory when
    `size_bytes` exceeds the last-level cache) and to the core (the GEMM library's code and
    threads). A plain read of the same bytes does not do it: the small
    operators timed after one stayed near their back-to-back times (see
    bench/workload_suite.stream_bytes_before)."""

    def __init__(self, device: str, rows: int, n: int, k: int, size_bytes: int, dtype_name: str = "float32") -> None:
        import torch

        dtype = getattr(torch, dtype_name)
        element = torch.empty((), dtype=dtype).element_size()
        copies = max(1, -(-size_bytes // (n * k * element)))
        self.size_bytes = copies * n * k * element
        self._weights = [torch.ones(n, k, dtype=dtype, device=device) for _ in range(copies)]
        self._input = torch.ones(rows, k, dtype=dtype, device=device)
        self._next = 0

    def __call__(self) -> None:
        import torch.nn.functional as functional

        self._next = (self._next + 1) % len(self._weights)
        functional.linear(self._input, self._weights[self._next])
