"""What the API handlers need from the rest of the service, passed in rather than imported,
so handlers stay testable without a server and the model stays free of storage concerns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

# Returns the JSON document of a stored hardware profile given "profiles/{id}" or a bare id;
# raises flopwatt.service.errors.NotFound when there is none.
ProfileDocumentLookup = Callable[[str], Mapping[str, Any]]


def _no_profiles(name: str) -> Mapping[str, Any]:
    from flopwatt.service.errors import NotFound

    raise NotFound("profile", name)


@dataclass(frozen=True)
class ApiDependencies:
    """Shared collaborators of the API handlers."""

    profile_document: ProfileDocumentLookup = _no_profiles
