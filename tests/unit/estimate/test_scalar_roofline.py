"""The Python-float fast paths of the GEMM roofline and ring collectives (estimate/scalar_roofline.py)
give the array path's exact values: the same shapes and groups timed as numbers and as one-element
arrays (which never take the fast path) agree bit for bit, special values included."""

import dataclasses
import itertools
import math
import warnings

import numpy as np
import pytest

from flopwatt.estimate.catalog import get_hardware
from flopwatt.estimate.hardware import datasheet_hardware_model

SIZES = [0.0, -0.0, 0.5, 1.0, 3.0, 127.0, 8192.0, 1e12, math.inf, math.nan, 7, np.float64(4096.0), np.int64(53)]
GROUPS = [0.0, 1.0, 1, 2.0, 3.0, 8.0, 16, 72.0, 1024.0, np.float64(128.0), math.inf, math.nan]
STRIDES = [0.0, 0.5, 1.0, 1, 4.0, 8.0, 64.0, np.float64(16.0), math.nan]
MESSAGES = [0.0, 1.0, 3.5e9, np.float64(2.5e8), math.inf, math.nan]


def _hardware():
    h100 = datasheet_hardware_model(get_hardware("h100-sxm"), "bf16")
    return [
        h100,
        datasheet_hardware_model(get_hardware("h100-sxm"), "fp8"),
        datasheet_hardware_model(get_hardware("a100-80gb"), "bf16"),
        datasheet_hardware_model(get_hardware("tpu-v5p"), "bf16"),
        # a missing scale-out link, a zero rate and bandwidth: the divisors the fast path declines
        dataclasses.replace(h100, scale_out_bandwidth_bytes_per_second=0.0),
        dataclasses.replace(h100, sustained_gemm_flops_per_second=0.0, memory_bandwidth_bytes_per_second=0.0),
    ]


def _same(fast, array_result) -> None:
    assert type(fast) is np.float64, fast
    assert np.asarray(fast).tobytes() == np.asarray(array_result).reshape(-1)[:1].tobytes()[:8], (fast, array_result)


def _one(x):
    return np.array([x], dtype=float)


@pytest.mark.parametrize("hw", _hardware(), ids=lambda hw: f"{hw.hardware_id}-{hw.precision}")
def test_gemm_seconds_match_the_array_path(hw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for m, n, k in itertools.product(SIZES, repeat=3):
            for batch in (1.0, 3, np.float64(0.5)):
                _same(hw.gemm_seconds(m, n, k, batch), hw.gemm_seconds(_one(m), _one(n), _one(k), _one(batch)))
                _same(
                    hw.decode_gemm_seconds(m, n, k, batch),
                    hw.decode_gemm_seconds(_one(m), _one(n), _one(k), _one(batch)),
                )


@pytest.mark.parametrize("hw", _hardware(), ids=lambda hw: f"{hw.hardware_id}-{hw.precision}")
def test_ring_collectives_match_the_array_path(hw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for message, n, stride in itertools.product(MESSAGES, GROUPS, STRIDES):
            _same(
                hw.all_reduce_seconds(message, n, stride), hw.all_reduce_seconds(_one(message), _one(n), _one(stride))
            )
            _same(
                hw.all_gather_seconds(message, n, stride), hw.all_gather_seconds(_one(message), _one(n), _one(stride))
            )
