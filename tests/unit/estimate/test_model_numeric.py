"""The scalar fast paths of estimate/numeric.py give NumPy's exact value and scalar type."""

import itertools
import math
import warnings

import numpy as np
import pytest

from flopwatt.estimate import numeric

SPECIAL = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    3.0,
    1e308,
    -1e308,
    5e-324,
    math.inf,
    -math.inf,
    math.nan,
    -math.nan,
    2,
    0,
    True,
    False,
    np.float64(-0.0),
    np.float64(7.25),
    np.int64(3),
    np.bool_(True),
]


def _same(fast, reference) -> None:
    """Bit-identical value (signed zero and NaN included) and the same NumPy scalar kind."""
    reference = reference[()] if isinstance(reference, np.ndarray) and reference.ndim == 0 else reference
    assert type(fast) is type(reference), (fast, reference)
    assert np.asarray(fast).tobytes() == np.asarray(reference).tobytes(), (fast, reference)


# Pairs with a float (integer-only pairs take NumPy's own path: its result is an integer).
FLOAT_PAIRS = [(a, b) for a, b in itertools.product(SPECIAL, repeat=2) if isinstance(a, float) or isinstance(b, float)]


@pytest.mark.parametrize("a,b", FLOAT_PAIRS)
def test_maximum_minimum_match_numpy(a, b):
    _same(numeric.maximum(a, b), np.maximum(a, b))
    _same(numeric.minimum(a, b), np.minimum(a, b))


@pytest.mark.parametrize("value", SPECIAL)
def test_clip_where_isfinite_as_float_as_bool_match_numpy(value):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for lower, upper in itertools.product(
            (0.0, -0.0, 1.0, -math.inf, math.nan, -math.nan), (0.0, -0.0, 1.0, 8.0, math.inf, math.nan)
        ):
            _same(numeric.clip(float(value), lower, upper), np.clip(float(value), lower, upper))
        _same(numeric.isfinite(value), np.isfinite(value))
        for other in (0.0, -0.0, 2.5, math.nan):
            _same(numeric.where(bool(value), float(value), other), np.where(bool(value), float(value), other))
            _same(numeric.where(np.bool_(value), other, 1), np.where(np.bool_(value), other, 1))
    _same(numeric.as_float(value), np.asarray(value, float))
    _same(numeric.as_bool(value), np.asarray(value, bool))
    assert numeric.any_true(np.asarray(value, bool)[()]) == bool(np.any(np.asarray(value, bool)))


@pytest.mark.parametrize("value", [*SPECIAL, 2**63 - 1, -(2**63), 2**63, 2**70, -(2**64)])
def test_as_array_gives_what_operations_on_the_0d_array_give(value):
    fast, array = numeric.as_array(value), np.asarray(value)
    if type(value) is int and not -(2**63) <= value < 2**63:  # not an int64: NumPy's own 0-d array
        assert isinstance(fast, np.ndarray) and fast.dtype == array.dtype and fast.tolist() == value
        return
    _same(fast, array)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if array.dtype != object:
            for other in (2, 2.5, True, np.int64(3)):
                _same(fast == other, array == other)
                _same(fast * other, array * other)


def test_arrays_take_numpy_path_unchanged():
    values = np.array([-1.0, -0.0, 0.0, 0.25, 2.0, np.inf, np.nan])
    np.testing.assert_array_equal(numeric.maximum(values, 0.0), np.maximum(values, 0.0))
    np.testing.assert_array_equal(numeric.minimum(1.0, values), np.minimum(1.0, values))
    np.testing.assert_array_equal(numeric.clip(values, 0.0, 1.0), np.clip(values, 0.0, 1.0))
    np.testing.assert_array_equal(numeric.where(values > 0, values, -values), np.where(values > 0, values, -values))
    np.testing.assert_array_equal(numeric.isfinite(values), np.isfinite(values))
    assert numeric.as_array(values) is values and numeric.as_array([1, 2]).tolist() == [1, 2]
    assert numeric.as_float([1, 2]).dtype == np.float64 and numeric.as_bool([0, 3]).tolist() == [False, True]
    assert numeric.any_true(values > 1.5) and not numeric.any_true(values > np.inf)


def test_scalar_division_by_zero_stays_numpy_semantics():
    """Fast-path results are NumPy scalars, so x / 0 gives inf (with NumPy's warning), as the
    0-d arrays did, instead of raising ZeroDivisionError."""
    with np.errstate(divide="ignore"):
        assert 1.0 / numeric.maximum(0.0, -1.0) == math.inf
        assert 1.0 / numeric.where(True, 0.0, 1.0) == math.inf
        assert 1.0 / numeric.as_float(0) == math.inf
