"""Repeated message elements of a response written as protobuf wire bytes and merged in one parse.

Why: building a message from keyword arguments costs ~1 µs in the upb runtime (argument parsing,
a field lookup by name and a copy per string), and a fixed-plan training response appends ~56
of them (25 Assumptions, 31 breakdown Quantities): ~10 % of the estimate (issue 14 item 23).
Their constant parts (an assumption whole, a quantity's name and unit) are encoded once and kept;
per response only the values are packed, and `message.MergeFromString` appends every element in
one C call. Merging appends to repeated fields exactly as `add` does, and the response is
serialized from the parsed message, so its bytes are those the `add` calls gave (checked by
tests/unit/service/test_api_response_caching.py against empty caches, and by test_wire.py).
"""

from __future__ import annotations

import functools
import struct
from typing import Iterable, Mapping

from flopwatt.estimate.assumptions import Assumption
from flopwatt.v1 import common_pb2

_LENGTH_DELIMITED = 2  # wire type of messages and strings
_FIXED64 = 1  # wire type of doubles
# Kept encodings: assumptions (most are constants of the catalog, stacks and goodput model
# shared by every request; ~300 B each) and quantity name/unit parts (a fixed set of names).
MAX_ENCODED_ELEMENTS = 4096
_QUANTITY_FIELDS = common_pb2.Quantity.DESCRIPTOR.fields_by_name
_pack_double = struct.Struct("<d").pack


def varint(value: int) -> bytes:
    """Protobuf's base-128 varint of a non-negative int."""
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def tag(field_number: int, wire_type: int) -> bytes:
    return varint(field_number << 3 | wire_type)


def length_delimited(field_number: int, payload: bytes) -> bytes:
    """A string or message field: its tag, length and payload."""
    return tag(field_number, _LENGTH_DELIMITED) + varint(len(payload)) + payload


def field_number(message_type, field: str) -> int:
    """The number of `field` in a message class or instance."""
    return message_type.DESCRIPTOR.fields_by_name[field].number


@functools.lru_cache(maxsize=MAX_ENCODED_ELEMENTS)
def assumption_element(number: int, assumption: Assumption) -> bytes:
    """One element of a repeated Assumption field `number`."""
    body = common_pb2.Assumption(
        name=assumption.name, value=assumption.value, origin=assumption.origin, source=assumption.source
    ).SerializeToString()
    return length_delimited(number, body)


# Where an Assumption keeps its own encoded element: (field number, bytes) in its instance dict
# (quick_init records have one; the key is not a field, so equality, hashing, repr and
# dataclasses.asdict / replace ignore it). Why on the object: the estimators share one object
# per constant assumption (catalog, stack, goodput defaults, precision), so a response's ~25
# assumptions are found without the dataclass's Python `__hash__` that assumption_element's
# cache key costs (~0.25 µs each), and a per-request object's bytes go with it (a table by
# `id` kept those objects alive: thousands of them, which slowed inference estimates ~5 %).
_ENCODED = "_wire_element"


def assumption_elements(number: int, items: Iterable[Assumption]) -> bytes:
    """The elements of repeated Assumption field `number`, one per item, in order (the bytes
    assumption_element gives, kept on each object for the next response)."""
    parts = []
    for assumption in items:
        state = assumption.__dict__
        kept = state.get(_ENCODED)
        if kept is None or kept[0] != number:
            kept = state[_ENCODED] = (number, assumption_element(number, assumption))
        parts.append(kept[1])
    return b"".join(parts)


@functools.lru_cache(maxsize=MAX_ENCODED_ELEMENTS)
def _quantity_parts(number: int, name: str, unit: str) -> tuple[bytes, bytes]:
    """The bytes of a Quantity element of field `number` before and after its 8-byte value."""
    name_field = length_delimited(_QUANTITY_FIELDS["name"].number, name.encode())
    value_tag = tag(_QUANTITY_FIELDS["value"].number, _FIXED64)
    unit_field = length_delimited(_QUANTITY_FIELDS["unit"].number, unit.encode())
    body_length = len(name_field) + len(value_tag) + 8 + len(unit_field)
    return tag(number, _LENGTH_DELIMITED) + varint(body_length) + name_field + value_tag, unit_field


@functools.lru_cache(maxsize=MAX_ENCODED_ELEMENTS)
def _quantity_layout(number: int, names: tuple[str, ...], unit: str) -> tuple[struct.Struct, list[bytes | None]]:
    """How a run of Quantity elements with these names is packed: a Struct whose format
    alternates the constant bytes between two values (one element's unit and the next one's tag,
    length and name) with a double, and the argument list with the constants in place and a
    None where each value goes."""
    constants: list[bytes] = []
    tail = b""
    for name in names:
        head, next_tail = _quantity_parts(number, name, unit)
        constants.append(tail + head)
        tail = next_tail
    constants.append(tail)
    layout = "<" + "".join(f"{len(constant)}sd" for constant in constants[:-1]) + f"{len(tail)}s"
    arguments: list[bytes | None] = [None] * (2 * len(names) + 1)
    arguments[0::2] = constants
    return struct.Struct(layout), arguments


def quantity_elements(number: int, values: Mapping[str, float], unit: str) -> bytes:
    """Quantity elements (name, value, unit; no description) of a repeated field `number`, in
    one `pack` call: the per-element work is a slice assignment, not a cache lookup, a pack and
    a concatenation per value. The double is the one `float(value)` gives (`pack` converts as
    `float` does)."""
    layout, template = _quantity_layout(number, tuple(values), unit)
    arguments = template.copy()
    arguments[1::2] = values.values()
    return layout.pack(*arguments)
