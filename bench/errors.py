"""Exceptions of the benchmark core (bench never imports the service's error types; the
service maps these at its edge: cancelled → CANCELLED run, unavailable device → FAILED_PRECONDITION)."""


class BenchmarkError(Exception):
    """Base class of benchmark-core errors."""


class BenchmarkCancelled(BenchmarkError):
    """`should_cancel()` returned True; the run stopped between two measurements."""


class DeviceUnavailable(BenchmarkError):
    """The requested device (e.g. "cuda") is not present on this host."""


class ProfileFormatError(BenchmarkError, ValueError):
    """A profile document (or file) is malformed; the message names the field and the problem."""

    def __init__(self, field: str, problem: str, source: str | None = None) -> None:
        self.field = field
        self.problem = problem
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{field}: {problem}")
