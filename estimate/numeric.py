"""NumPy helpers with a scalar fast path, for the vectorised numeric core.

Why: the core (`training.py`, `step_time.py`, `memory.py`, `hardware.py`, ...) is written once
for arrays (sweeps, the planner and Monte Carlo pass arrays) and is called with plain numbers
for a single estimate. On numbers, `np.asarray` makes 0-d arrays and every ufunc on them pays
NumPy's dispatch (~0.5-2 µs each, ~4 µs for `np.clip`), which made a fixed-plan estimate cost
~0.6 ms. These helpers return the *same value and the same NumPy scalar type* that the NumPy
call returns for scalar inputs (`np.float64`, `np.bool_`), computed by Python's own IEEE double
arithmetic, and delegate to NumPy unchanged whenever any input is an array. So:

- results are bit-identical (tests/unit/estimate/test_model_numeric.py compares every helper with NumPy
  on signed zeros, infinities and NaN; the byte-identical response test covers the whole path);
- the array path is NumPy's own, so sweeps and Monte Carlo are untouched;
- the branch is on the *type* of the inputs (scalar or array), never on array values.

Scalars stay NumPy scalars (not Python floats) so a division by zero still gives inf/NaN with
NumPy's warning rather than raising ZeroDivisionError.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

ArrayLike = Any

# Exact types taken by the fast path (type(x) in a set is cheaper than isinstance with a tuple).
_FLOAT_TYPES = frozenset({float, np.float64})
_NUMBER_TYPES = frozenset({float, int, bool, np.float64, np.int64, np.bool_})
# The same set for the modules with their own Python-float fast path (scalar_roofline.py).
NUMBER_TYPES = _NUMBER_TYPES
_BOOL_TYPES = frozenset({bool, np.bool_})
_FLOAT64 = np.float64
_BOOL = np.bool_
_TRUE, _FALSE = np.True_, np.False_


def as_float(value: ArrayLike) -> ArrayLike:
    """`np.asarray(value, float)`, as an `np.float64` scalar when `value` is a number (an
    `np.float64` is returned as is: it is immutable)."""
    kind = type(value)
    if kind is _FLOAT64:
        return value
    if kind in _NUMBER_TYPES:
        return _FLOAT64(value)
    return np.asarray(value, float)


# np.asarray of a Python int in this range has dtype int64 (outside it, uint64 or object).
_INT64_RANGE = range(-(2**63), 2**63)


def as_array(value: ArrayLike) -> ArrayLike:
    """`np.asarray(value)`, as the NumPy scalar of the dtype it would have when `value` is a
    number: every operation on a 0-d array returns that scalar anyway, so results are the same,
    without the array's dispatch (~1 µs per operation; plan fields are read this way ~10 times
    per estimate)."""
    kind = type(value)
    if kind is _FLOAT64 or kind is np.int64 or kind is _BOOL:
        return value
    if kind is int and value in _INT64_RANGE:
        return np.int64(value)
    if kind is float:
        return _FLOAT64(value)
    if kind is bool:
        return _BOOL(value)
    return np.asarray(value)


def as_bool(value: ArrayLike) -> ArrayLike:
    """`np.asarray(value, bool)`, as an `np.bool_` scalar when `value` is a number (so `~` is
    logical negation, as on the array)."""
    if type(value) in _NUMBER_TYPES:
        return _BOOL(value)
    return np.asarray(value, bool)


# The checks below are inlined rather than shared through a helper: they run ~300 times per
# estimate, and a Python call costs as much as the check.


def where(condition: ArrayLike, if_true: ArrayLike, if_false: ArrayLike) -> ArrayLike:
    """`np.where(condition, if_true, if_false)`; an np.float64 when all three are scalars and
    NumPy's result would be float (at least one branch a float). The condition is tested by
    identity (NumPy's two booleans are singletons, as are Python's), the commonest case (an
    np.float64 chosen) first: ~60 calls per training estimate."""
    if condition is _TRUE or condition is True:
        chosen, other = if_true, if_false
    elif condition is _FALSE or condition is False:
        chosen, other = if_false, if_true
    else:
        return np.where(condition, if_true, if_false)
    kind, other_kind = type(chosen), type(other)
    if kind is _FLOAT64:
        if other_kind in _NUMBER_TYPES:
            return chosen  # an np.float64 is immutable: as is
    elif kind in _NUMBER_TYPES and other_kind in _NUMBER_TYPES and (kind is float or other_kind in _FLOAT_TYPES):
        return _FLOAT64(chosen)
    return np.where(condition, if_true, if_false)


def maximum(a: ArrayLike, b: ArrayLike) -> ArrayLike:
    """`np.maximum(a, b)`: NaN propagates; on a tie (±0) the second argument wins, as in NumPy."""
    ta, tb = type(a), type(b)
    if ta in _NUMBER_TYPES and tb in _NUMBER_TYPES and (ta in _FLOAT_TYPES or tb in _FLOAT_TYPES):
        chosen = a if (a > b or a != a) else b
        return chosen if type(chosen) is _FLOAT64 else _FLOAT64(chosen)
    return np.maximum(a, b)


def minimum(a: ArrayLike, b: ArrayLike) -> ArrayLike:
    """`np.minimum(a, b)`: NaN propagates; on a tie (±0) the second argument wins, as in NumPy."""
    ta, tb = type(a), type(b)
    if ta in _NUMBER_TYPES and tb in _NUMBER_TYPES and (ta in _FLOAT_TYPES or tb in _FLOAT_TYPES):
        chosen = a if (a < b or a != a) else b
        return chosen if type(chosen) is _FLOAT64 else _FLOAT64(chosen)
    return np.minimum(a, b)


def clip(value: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> ArrayLike:
    """`np.clip(value, lower, upper)`. NumPy's clip loop differs from minimum(maximum()) on
    ties and NaN: a NaN bound wins (lower first), then a NaN value; on a tie the value is kept
    (so clip(-0.0, 0.0, 1.0) is -0.0). Checked bit for bit in tests/unit/estimate/test_model_numeric.py."""
    tv, tl, tu = type(value), type(lower), type(upper)
    if (
        tv in _NUMBER_TYPES
        and tl in _NUMBER_TYPES
        and tu in _NUMBER_TYPES
        and (tv in _FLOAT_TYPES or tl in _FLOAT_TYPES or tu in _FLOAT_TYPES)
    ):
        if lower != lower:
            return _FLOAT64(lower)
        if upper != upper:
            return _FLOAT64(upper)
        if value != value:
            return _FLOAT64(value)
        raised = lower if value < lower else value
        return _FLOAT64(upper if upper < raised else raised)
    return np.clip(value, lower, upper)


def isfinite(value: ArrayLike) -> ArrayLike:
    """`np.isfinite(value)`, an `np.bool_` for a number."""
    if type(value) in _NUMBER_TYPES:
        return _BOOL(math.isfinite(value))
    return np.isfinite(value)


def any_true(condition: ArrayLike) -> bool:
    """`bool(np.any(condition))` without NumPy's reduction machinery for a scalar."""
    if type(condition) in _BOOL_TYPES:
        return bool(condition)
    return bool(np.any(condition))
