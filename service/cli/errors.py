"""The CLI's user-facing errors: one line and exit status 2, never a traceback."""

from __future__ import annotations

import contextlib
from typing import Iterator, Mapping


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2, no traceback."""


def field_label(field: str, flags: Mapping[str, str]) -> str:
    """How an error names a request field: the flag the user typed for it (or for the field it is
    part of: `slo.time_to_first_token.nanos` is --ttft-ms), the typed flags under it for a
    whole-message field (`slo`), else the field itself (it came from a request file)."""
    owners = [path for path in flags if field == path or field.startswith(path + ".")]
    if owners:
        return flags[max(owners, key=len)]
    below = sorted(flag for path, flag in flags.items() if path.startswith(field + "."))
    return f"{' and '.join(below)} ({field})" if below else field


@contextlib.contextmanager
def user_errors(flags: Mapping[str, str] | None = None) -> Iterator[None]:
    """Turn the service's domain errors (bad field, unknown id, unmet precondition) raised by an
    in-process handler into one-line CliErrors: every command that calls the API code uses this,
    so none of them leaks a traceback for an error the server would answer with a status. `flags`
    ({field path: flag}, request_file.typed_flags) names a field by the flag the user typed."""
    from flopwatt.estimate.catalog import CatalogLookupError
    from flopwatt.service.errors import InvalidArgument, ServiceError

    try:
        yield
    except CatalogLookupError as error:
        raise CliError(str(error)) from None
    except InvalidArgument as error:
        raise CliError(
            "; ".join(f"{field_label(v.field, flags or {})}: {v.description}" for v in error.violations)
        ) from None
    except ServiceError as error:
        raise CliError(error.message) from None
