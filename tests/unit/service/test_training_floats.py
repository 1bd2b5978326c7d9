"""training._floats gives what the per-value _f conversion gave: same names, order, floats."""

import math

import numpy as np

from flopwatt.service.api.training import _f, _floats


def _expected(values, leave_out=()):
    return {k: _f(v) for k, v in values.items() if k not in leave_out}


def test_scalars_and_arrays_convert_as_f():
    cases = [
        {"total": np.float64(3.5), "a": 1, "b": np.int64(7), "busy_fraction": np.bool_(True), "c": -0.0},
        {"a": np.array([2.5, 3.0]), "total": 1.0, "b": np.float64(math.nan)},
        {"a": np.float32(1.1), "b": np.array(4.0)},
        {},
    ]
    for values in cases:
        for leave_out in ((), ("total",), ("total", "busy_fraction")):
            got = _floats(values, leave_out)
            want = _expected(values, leave_out)
            assert list(got) == list(want)
            assert all(type(v) is float for v in got.values())
            assert [np.float64(v).tobytes() for v in got.values()] == [np.float64(v).tobytes() for v in want.values()]
