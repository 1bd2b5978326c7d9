"""The CLI's user-facing errors: one line and exit status 2, never a traceback."""

from __future__ import annotations

import contextlib
from typing import Iterator


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2, no traceback."""


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the service's domain errors (bad field, unknown id, unmet precondition) raised by an
    in-process handler into one-line CliErrors: every command that calls the API code uses this,
    so none of them leaks a traceback for an error the server would answer with a status."""
    from flopwatt.estimate.catalog import CatalogLookupError
    from flopwatt.service.errors import InvalidArgument, ServiceError

    try:
        yield
    except CatalogLookupError as error:
        raise CliError(str(error)) from None
    except InvalidArgument as error:
        raise CliError("; ".join(f"{v.field}: {v.description}" for v in error.violations)) from None
    except ServiceError as error:
        raise CliError(error.message) from None
