"""The in-range fast paths of request validation add exactly what the per-field checks add."""

import itertools
import math

import pytest

from flopwatt.service.api import request_bounds
from flopwatt.service.api.request_bounds import Violations, all_within, check_model_spec
from flopwatt.v1 import common_pb2

VALUES = [0, 1, 7, -1, 10**12, 2**62, 0.5, -0.0, math.nan, math.inf]


@pytest.mark.parametrize("maximum", [0, 1, 10**12])
def test_all_within_means_integer_adds_nothing(maximum):
    for values in itertools.product(VALUES, repeat=2):
        v = Violations()
        for value in values:
            v.integer("x", value, maximum=maximum)
        if all_within(values, (maximum, maximum)):
            assert not v.items, values


def test_check_model_spec_violations_unchanged():
    spec = common_pb2.ModelSpec(preset_id="llama-3.1-8b", layer_count=-3, hidden_size=2**31 - 1, vocab_size=5)
    fast = Violations()
    check_model_spec(spec, "model", fast)
    slow = Violations()
    for name, path, maximum in request_bounds._model_spec_paths("model"):
        slow.integer(path, getattr(spec, name), maximum=maximum)
    assert fast.items == slow.items and len(fast.items) == 2
    clean = Violations()
    check_model_spec(common_pb2.ModelSpec(preset_id="llama-3.1-8b", layer_count=32), "model", clean)
    assert not clean.items
