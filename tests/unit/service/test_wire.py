"""Elements merged from wire.py's encoding equal messages built field by field, byte for byte."""

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


def test_assumption_elements_by_identity_equal_the_uncached_encoding(monkeypatch):
    """The identity table gives the bytes assumption_element gives, for repeated objects, equal
    but distinct objects, and after the table is emptied when full."""
    monkeypatch.setattr(wire, "MAX_ENCODED_ELEMENTS", 3)
    shared = Assumption("precision", "bf16", "default", "unspecified precision means bf16")
    items = [shared, Assumption("a", "1", "default", "s"), shared, Assumption("a", "1", "default", "s")]
    number = wire.field_number(estimator_pb2.EstimateTrainingResponse, "assumptions")
    expected = b"".join(wire.assumption_element.__wrapped__(number, a) for a in items)
    for _ in range(3):  # a fresh object per round: the table fills and is emptied
        assert wire.assumption_elements(number, items) == expected
        assert wire.assumption_elements(number, [*items, Assumption("b", "2", "c", "d")]) == (
            expected + wire.assumption_element.__wrapped__(number, Assumption("b", "2", "c", "d"))
        )
    assert len(wire._BY_IDENTITY[number]) <= 3
