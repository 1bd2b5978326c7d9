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


def stored_profile_lookup(open_store: Callable[[], Any]) -> ProfileDocumentLookup:
    """A lookup over a profile store (anything with `get(profile_id)` raising LookupError).

    Why a store factory rather than a store: the CLI's estimate commands must not create a data
    directory or database for a user who never asked for a profile, so the store is opened on the
    first lookup; the server passes a factory of the store it already opened."""
    from flopwatt.service.errors import NotFound

    def lookup(name: str) -> Mapping[str, Any]:
        profile_id = name.removeprefix("profiles/")
        try:
            return open_store().get(profile_id)
        except LookupError:
            raise NotFound("profile", name) from None

    return lookup


@dataclass(frozen=True)
class ApiDependencies:
    """Shared collaborators of the API handlers."""

    profile_document: ProfileDocumentLookup = _no_profiles
