"""Domain errors: raised anywhere below the API edge, turned into rich gRPC statuses by the
error interceptor (service/interceptors/errors.py). Pure Python: no grpc import here, so the
estimation model and the benchmark store can raise them without depending on the transport.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

# Longest client-supplied value echoed back in an error (UTF-8 bytes, not characters): a status
# travels in HTTP/2 headers that gRPC caps at 16 KiB in all, and an id of 1000 × U+1F525 (4 KB
# of UTF-8, 12 KB once percent-encoded in grpc-message) once pushed a NOT_FOUND past the cap,
# so the client got RESOURCE_EXHAUSTED "Stream removed" instead.
MAX_ECHO_BYTES = 120
ELLIPSIS = "..."


def truncate_utf8(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` of UTF-8 (ellipsis included when cut), never inside a
    character. Measured in bytes because headers are: 40 emoji are 160 bytes, 40 ASCII 40."""
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text
    return encoded[: max(0, max_bytes - len(ELLIPSIS))].decode("utf-8", "ignore") + ELLIPSIS


def echo(text: str, max_bytes: int = MAX_ECHO_BYTES) -> str:
    """A client's string quoted for an error message, truncated first (see MAX_ECHO_BYTES)."""
    return repr(truncate_utf8(text, max_bytes))


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request: `field` is the request field path, e.g. "model.layer_count"."""

    field: str
    description: str


class ServiceError(Exception):
    """Base class; `reason` is the UPPER_SNAKE ErrorInfo reason sent to clients."""

    reason = "ERROR"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason:
            self.reason = reason


class InvalidArgument(ServiceError):
    """Bad input; carries the field violations (INVALID_ARGUMENT with BadRequest details)."""

    reason = "INVALID_ARGUMENT"

    def __init__(self, violations: list[FieldViolation] | FieldViolation, message: str | None = None) -> None:
        if isinstance(violations, FieldViolation):
            violations = [violations]
        if not violations:
            raise ValueError("InvalidArgument needs at least one field violation")
        self.violations = list(violations)
        summary = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(message or f"invalid request: {summary}")

    @classmethod
    def field(cls, field: str, description: str) -> "InvalidArgument":
        return cls([FieldViolation(field, description)])


class NotFound(ServiceError):
    """An unknown id or resource name (NOT_FOUND)."""

    reason = "NOT_FOUND"

    def __init__(self, resource_type: str, name: str, message: str | None = None) -> None:
        self.resource_type = resource_type
        self.name = truncate_utf8(name, MAX_ECHO_BYTES)  # sent back in ResourceInfo
        super().__init__(message or f"{resource_type} {echo(name)} not found")


class FailedPrecondition(ServiceError):
    """The system is not in a state to do this (e.g. no CUDA device for device=cuda)."""

    reason = "FAILED_PRECONDITION"


class ResourceExhausted(ServiceError):
    """A bound was hit: the benchmark queue is full, a grid is too large."""

    reason = "RESOURCE_EXHAUSTED"


class DataLoss(ServiceError):
    """Stored data is damaged and cannot be served (a corrupted profile store)."""

    reason = "DATA_LOSS"


class Unavailable(ServiceError):
    """The server cannot take this now but another replica (or this one later) can: it is
    draining for shutdown. Clients retry UNAVAILABLE, which is what a drain wants."""

    reason = "UNAVAILABLE"


class Aborted(ServiceError):
    """Concurrency conflict, e.g. the device is busy with another run."""

    reason = "ABORTED"


class Unimplemented(ServiceError):
    """A capability that is not built yet."""

    reason = "UNIMPLEMENTED"


class Unauthenticated(ServiceError):
    """Missing or malformed credentials."""

    reason = "UNAUTHENTICATED"


class PermissionDenied(ServiceError):
    """Credentials present but not good for this call."""

    reason = "PERMISSION_DENIED"


def from_domain(error: BaseException) -> BaseException:
    """The service error for an estimator exception that has a deliberate status (an unknown
    catalog id is NOT_FOUND, inputs that cannot form a scenario INVALID_ARGUMENT naming their
    fields); any other exception unchanged. The estimator raises its own exceptions because it
    knows nothing of gRPC; the API edge translates them here."""
    from flopwatt.bench.store import StoreDamaged
    from flopwatt.estimate.catalog import CatalogLookupError
    from flopwatt.estimate.scenario_errors import ScenarioError

    if isinstance(error, StoreDamaged):  # the server's path and SQLite's words stay in its log
        what = f"profile {echo(error.profile_id)}" if error.profile_id else "the profile store"
        return DataLoss(
            f"{what} is damaged in the server's database and cannot be read; the operator must recover the store "
            '(docs/benchmark-runs.md, "A damaged database"); no new benchmark runs are accepted until then',
            reason="PROFILE_STORE_DAMAGED",
        )
    if isinstance(error, CatalogLookupError):
        return NotFound(error.resource_type, error.name)
    if isinstance(error, ScenarioError):
        return InvalidArgument([FieldViolation(p.field, p.description) for p in error.problems])
    return error


@contextlib.contextmanager
def domain_errors() -> Iterator[None]:
    """Raise the service error of any estimator error raised inside (see from_domain)."""
    try:
        yield
    except (LookupError, ValueError) as error:
        translated = from_domain(error)
        if translated is error:
            raise
        raise translated from None
