"""The last check of every estimate before it is answered: no NaN or infinity in any float, and
no count or amount past its field's 64-bit integer.

Input bounds (request_bounds.py and each handler's `_validate`) are what keep estimates finite;
this walk is the net under them. A response that still holds a non-finite number means a bound
is missing: it is logged with the fields and answered FAILED_PRECONDITION naming them, a
deliberate status a client can act on (shrink the inputs), never an OK carrying `Infinity`.
"""

from __future__ import annotations

import functools
import logging
import math
import operator

import numpy as np
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from flopwatt.service.errors import FailedPrecondition

LOG = logging.getLogger(__name__)
_FLOAT_TYPES = frozenset({FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT})
# Field paths listed in the status message; the rest are counted (the status must stay small).
MAX_FIELDS_NAMED = 5
# Largest value of an int64 field (memory bytes, step counts, Money units).
INT64_MAX = 2**63 - 1
# Largest value of an int32 field (batch sizes).
INT32_MAX = 2**31 - 1


@functools.lru_cache(maxsize=None)  # one entry per message type of the API: a fixed, small set
def _holds_floats(descriptor: Descriptor) -> bool:
    """Whether messages of this type can hold a float anywhere (so the walk skips the many
    Assumption and Source messages, which hold only strings: estimates must stay ~1 ms)."""
    return any(_field_holds_floats(field, (descriptor,)) for field in descriptor.fields)


def _field_holds_floats(field: FieldDescriptor, seen: tuple[Descriptor, ...]) -> bool:
    if field.type in _FLOAT_TYPES:
        return True
    if field.message_type is None or field.message_type in seen:
        return False
    return any(_field_holds_floats(inner, (*seen, field.message_type)) for inner in field.message_type.fields)


# How a float-holding field is walked (see _walk_plan). _VALUE_MESSAGES: repeated messages whose
# only float is one scalar field (Quantity.value: ~40 per EstimateTraining response), read in one
# pass over the list instead of one recursive _all_finite call per message.
_FLOAT, _FLOATS, _MESSAGE, _MESSAGES, _FLOAT_MAP, _MESSAGE_MAP, _VALUE_MESSAGES = range(7)


@functools.lru_cache(maxsize=None)  # per message type, like _holds_floats
def _walk_plan(descriptor: Descriptor) -> tuple[tuple[str, int, operator.attrgetter | None], ...]:
    """The fields of `descriptor` that can hold a float, each with how to walk it: decided once
    per type, so the walk itself only reads values (a descriptor lookup per field per response
    cost ~250 µs on EstimateTraining's ~0.8 ms; this walk a fraction of that)."""
    plan = []
    for field in descriptor.fields:
        if field.type in _FLOAT_TYPES:
            plan.append((field.name, _FLOATS if field.is_repeated else _FLOAT, None))
        elif field.message_type is not None and _holds_floats(field.message_type):
            if field.message_type.GetOptions().map_entry:
                floats = field.message_type.fields_by_name["value"].type in _FLOAT_TYPES
                plan.append((field.name, _FLOAT_MAP if floats else _MESSAGE_MAP, None))
            elif field.is_repeated and (value := _single_float_field(field.message_type)) is not None:
                plan.append((field.name, _VALUE_MESSAGES, value))
            else:
                plan.append((field.name, _MESSAGES if field.is_repeated else _MESSAGE, None))
    return tuple(plan)


@functools.lru_cache(maxsize=None)  # per message type, like _holds_floats
def _single_float_field(descriptor: Descriptor) -> operator.attrgetter | None:
    """A getter of the one scalar float field when that is all `descriptor` can hold a float in
    (decided from the fields themselves, not _walk_plan, so recursive types cannot loop)."""
    floats = [field for field in descriptor.fields if field.type in _FLOAT_TYPES]
    nested = any(field.message_type is not None and _holds_floats(field.message_type) for field in descriptor.fields)
    if len(floats) == 1 and not floats[0].is_repeated and not nested:
        return operator.attrgetter(floats[0].name)
    return None


@functools.lru_cache(maxsize=None)  # per message type, like _walk_plan
def _fast_plan(
    descriptor: Descriptor,
) -> tuple[operator.attrgetter | None, tuple[tuple[str, int, operator.attrgetter | None], ...]]:
    """_walk_plan with the scalar float fields read together: a getter of all of them (one C
    call returning a tuple; None when fewer than two) and the rest of the plan. A training
    response has ten such fields, each a loop step of the walk otherwise."""
    plan = _walk_plan(descriptor)
    scalars = [name for name, kind, _ in plan if kind == _FLOAT]
    if len(scalars) < 2:
        return None, plan
    return operator.attrgetter(*scalars), tuple(entry for entry in plan if entry[1] != _FLOAT)


def _all_finite(message: Message) -> bool:
    """Whether every float in `message` is finite: the fast pass every response takes (no
    paths built); `nonfinite_fields` names the culprits only when this says no."""
    scalars, plan = _fast_plan(message.DESCRIPTOR)
    if scalars is not None and not all(map(math.isfinite, scalars(message))):
        return False
    for name, kind, read_value in plan:
        value = getattr(message, name)
        if kind == _FLOAT:
            finite = math.isfinite(value)
        elif kind == _FLOATS:
            finite = all(map(math.isfinite, value))
        elif kind == _MESSAGE:
            finite = _all_finite(value)
        elif kind == _VALUE_MESSAGES:
            finite = all(map(math.isfinite, map(read_value, value)))
        elif kind == _MESSAGES:
            finite = all(map(_all_finite, value))
        elif kind == _FLOAT_MAP:
            finite = all(map(math.isfinite, value.values()))
        else:
            finite = all(map(_all_finite, value.values()))
        if not finite:
            return False
    return True


def nonfinite_fields(message: Message, prefix: str = "") -> list[str]:
    """Paths of every NaN or infinite float in `message`, e.g. `capital_cost[4].value`."""
    found: list[str] = []
    for name, kind, _ in _walk_plan(message.DESCRIPTOR):
        value = getattr(message, name)
        path = prefix + name
        if kind == _FLOAT:
            if not math.isfinite(value):
                found.append(path)
        elif kind == _FLOATS:
            found += [f"{path}[{i}]" for i, item in enumerate(value) if not math.isfinite(item)]
        elif kind == _MESSAGE:
            found += nonfinite_fields(value, f"{path}.")
        elif kind in (_MESSAGES, _VALUE_MESSAGES):
            for i, item in enumerate(value):
                found += nonfinite_fields(item, f"{path}[{i}].")
        elif kind == _FLOAT_MAP:
            found += [f"{path}[{key!r}]" for key, item in value.items() if not math.isfinite(item)]
        else:
            for key, item in value.items():
                found += nonfinite_fields(item, f"{path}[{key!r}].")
    return found


def int64(value: float, field: str) -> int:
    """`value` for an int64 response field; FAILED_PRECONDITION naming `field` when it does not
    fit (protobuf would raise ValueError "Value out of range", an INTERNAL). Each input within
    its bound can still multiply out past 2^63: 10^15 parameters × 10^17 tokens at 10^6 USD per
    accelerator-hour cost 10^25 USD."""
    value = float(value)
    if not math.isfinite(value) or abs(value) > INT64_MAX:
        raise not_representable([field])
    return int(value)


def int32(value: float, field: str) -> int:
    """`value` for an int32 response field, as `int64` does for int64 fields: a KV cache of a few
    bytes per sequence (a 1-layer model of latent rank 1) holds billions of sequences, and
    protobuf raised "Value out of range" (INTERNAL) setting max_batch_size."""
    value = float(value)
    if not math.isfinite(value) or abs(value) > INT32_MAX:
        raise not_representable([field])
    return int(value)


def ensure_finite_columns(columns: dict[str, np.ndarray], rpc_name: str) -> None:
    """The same check for outputs still in arrays (SweepTraining's chunks): one vectorised test
    per column instead of a walk of thousands of point messages."""
    bad = [name for name, values in columns.items() if values.dtype.kind == "f" and not np.isfinite(values).all()]
    if bad:
        raise not_representable(bad, rpc_name)


def ensure_finite(response: Message, rpc_name: str) -> Message:
    """`response` unchanged when every float in it is finite; else FAILED_PRECONDITION naming
    the output fields (logged: it means an input bound is missing)."""
    if _all_finite(response):
        return response
    raise not_representable(nonfinite_fields(response), rpc_name)


def not_representable(fields: list[str], rpc_name: str = "an estimate") -> FailedPrecondition:
    """The error for outputs that no field can carry (logged: an input bound is missing)."""
    named = ", ".join(fields[:MAX_FIELDS_NAMED]) + (
        f" and {len(fields) - MAX_FIELDS_NAMED} more" if len(fields) > MAX_FIELDS_NAMED else ""
    )
    LOG.error("%s produced outputs outside their fields' range (%s): an input bound is missing", rpc_name, named)
    return FailedPrecondition(
        f"the inputs take the estimate outside the representable range ({named}); use smaller or more typical values",
        reason="ESTIMATE_NOT_FINITE",
    )
