"""Domain errors: raised anywhere below the API edge, turned into rich gRPC statuses by the
error interceptor (service/interceptors/errors.py). Pure Python: no grpc import here, so the
estimation model and the benchmark store can raise them without depending on the transport.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    catalog id is NOT_FOUND); any other exception unchanged. The estimator raises its own
    exceptions because it knows nothing of gRPC; the API edge translates them here."""
    from flopwatt.estimate.catalog import CatalogLookupError

    if isinstance(error, CatalogLookupError):
        return NotFound(error.resource_type, error.name)
    return error
