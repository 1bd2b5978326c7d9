"""Domain errors: raised anywhere below the API edge, turned into rich gRPC statuses by the
error interceptor (service/interceptors/errors.py). Pure Python: no grpc import here, so the
estimation model and the benchmark store can raise them without depending on the transport.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator


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
        self.name = name
        super().__init__(message or f"{resource_type} {name!r} not found")


class FailedPrecondition(ServiceError):
    """The system is not in a state to do this (e.g. no CUDA device for device=cuda)."""

    reason = "FAILED_PRECONDITION"


class ResourceExhausted(ServiceError):
    """A bound was hit: the benchmark queue is full, a grid is too large."""

    reason = "RESOURCE_EXHAUSTED"


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
    from flopwatt.estimate.catalog import CatalogLookupError
    from flopwatt.estimate.scenario_errors import ScenarioError

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
