"""Elements merged from wire.py's encoding equal messages built field by field, byte for byte."""

import dataclasses
import math

import pytest

from flopwatt.estimate.assumptions import Assumption
from flopwatt.service.api import wire
from flopwatt.v1 import estimator_pb2

VALUES = {
    "zero": 0.0,
    "negative_zero": -0.0,
    "tiny": 5e-324,
    "large": 1.7976931348623157e308,
    "not_finite": math.inf,
    "nan": math.nan,
    "n" * 200: 1.5,  # a name longer than one varint byte
    "": 2.0,
    "énergie": -3.25,
}


@pytest.mark.parametrize("unit", ["seconds", "", "µs" * 100])
def test_quantity_elements_match_add(unit):
    expected = estimator_pb2.EstimateTrainingResponse()
    for name, value in VALUES.items():
        expected.breakdown.energy.add(name=name, value=value, unit=unit)
    merged = estimator_pb2.EstimateTrainingResponse()
    number = wire.field_number(merged.breakdown, "energy")
    merged.breakdown.MergeFromString(wire.quantity_elements(number, VALUES, unit))
    assert merged.SerializeToString(deterministic=True) == expected.SerializeToString(deterministic=True)


def test_assumption_elements_match_add():
    items = [
        Assumption("model", "llama", "preset", "x" * 5000),
        Assumption("", "", "", ""),
        Assumption("précision", "bf16", "default", "unspecified precision means bf16"),
    ]
    expected = estimator_pb2.EstimateTrainingResponse()
    for a in items:
        expected.assumptions.add(name=a.name, value=a.value, origin=a.origin, source=a.source)
    merged = estimator_pb2.EstimateTrainingResponse(total_flops=1.0)
    merged.MergeFromString(wire.assumption_elements(wire.field_number(merged, "assumptions"), items))
    merged.ClearField("total_flops")
    assert merged.SerializeToString(deterministic=True) == expected.SerializeToString(deterministic=True)


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**21, 2**63])
def test_varint(value):
    from google.protobuf.internal import decoder

    assert decoder._DecodeVarint(wire.varint(value), 0) == (value, len(wire.varint(value)))


def test_assumption_elements_kept_on_the_object_equal_the_uncached_encoding():
    """The bytes kept on each object are assumption_element's, for repeated objects, equal but
    distinct objects and another field number; the object still equals, hashes and prints as
    one without them."""
    shared = Assumption("precision", "bf16", "default", "unspecified precision means bf16")
    items = [shared, Assumption("a", "1", "default", "s"), shared, Assumption("a", "1", "default", "s")]
    for number in (14, 3, 14):
        expected = b"".join(wire.assumption_element.__wrapped__(number, a) for a in items)
        assert wire.assumption_elements(number, items) == expected
        assert wire.assumption_elements(number, items) == expected
    fresh = Assumption("precision", "bf16", "default", "unspecified precision means bf16")
    assert shared == fresh and hash(shared) == hash(fresh) and repr(shared) == repr(fresh)
    assert dataclasses.asdict(shared) == dataclasses.asdict(fresh)
