"""Wire encoding of SweepColumns straight from NumPy arrays.

Why by hand: building the message from Python lists (`tolist()` then a copy into the protobuf
runtime) costs about 0.8 µs per point, more than evaluating the point. A packed repeated field is
only a tag, a length and the values back to back (little-endian 8-byte doubles, one byte per
bool, base-128 varints for int64), so NumPy writes the exact bytes the protobuf encoder would,
and one parse turns them into the message: ~10× faster, and the same message (a test compares
it with the list-built one).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from flopwatt.v1 import estimator_pb2

_FIELDS = estimator_pb2.SweepColumns.DESCRIPTOR.fields_by_name
_WIRE_TYPE_LENGTH_DELIMITED = 2
_MAX_VARINT_BYTES = 10


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def _field(name: str, payload: bytes) -> bytes:
    """One packed field: tag, payload length, payload (an empty field is left out, as protobuf does)."""
    if not payload:
        return b""
    return _varint((_FIELDS[name].number << 3) | _WIRE_TYPE_LENGTH_DELIMITED) + _varint(len(payload)) + payload


def varints(values: np.ndarray) -> bytes:
    """Base-128 varints of non-negative integers, vectorised (7 bits per byte, high bit: more)."""
    unsigned = np.asarray(values).astype(np.uint64)
    lengths = np.ones(len(unsigned), np.int64)
    for k in range(1, _MAX_VARINT_BYTES):
        lengths += unsigned >= (np.uint64(1) << np.uint64(7 * k))
    out = np.zeros(int(lengths.sum()), np.uint8)
    starts = np.cumsum(lengths) - lengths
    for k in range(int(lengths.max(initial=0))):
        has = lengths > k
        low = ((unsigned[has] >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8)
        out[starts[has] + k] = low | ((lengths[has] > k + 1).astype(np.uint8) << 7)
    return out.tobytes()


def encode_columns(
    index: np.ndarray,
    doubles: Mapping[str, np.ndarray],
    bools: Mapping[str, np.ndarray],
    infeasible_index: np.ndarray,
    infeasible_reason: list[str],
) -> estimator_pb2.SweepColumns:
    """A SweepColumns message from its arrays: `doubles` and `bools` map field names to columns
    (a 2-D array is written row-major, as axis_values is)."""
    parts = [_field("index", varints(index)), _field("infeasible_index", varints(infeasible_index))]
    parts.extend(_field(name, np.ascontiguousarray(values, dtype="<f8").tobytes()) for name, values in doubles.items())
    parts.extend(_field(name, np.asarray(values, dtype=np.uint8).tobytes()) for name, values in bools.items())
    message = estimator_pb2.SweepColumns.FromString(b"".join(parts))
    message.infeasible_reason.extend(infeasible_reason)  # few strings: the ordinary way
    return message
