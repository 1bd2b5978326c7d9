"""A bounded memo for values derived from an unhashable object, keyed by a name and the object's identity.

Why identity: catalog entries (HardwareSpec holds a mapping), hardware models (may hold NumPy
arrays) and grpc method handlers are not hashable, but each is loaded or registered once and then
passed around as the same object. A value derived from such an object is reused only while the
caller passes that very object; a different one under the same name (a reloaded catalog, a test's
own entry, a replaced handler) is rebuilt and replaces the old entry, so nothing stale is served.
The memo keeps a reference to the object, so its id cannot be reused while the entry lives.
"""

from __future__ import annotations

from typing import Callable, Generic, Hashable, TypeVar

Value = TypeVar("Value")


class IdentityMemo(Generic[Value]):
    """`get(key, owner, build)`: build() once per (key, owner identity); at most `max_entries` keys."""

    def __init__(self, max_entries: int) -> None:
        self._entries: dict[Hashable, tuple[object, Value]] = {}
        self._max_entries = max_entries

    def get(self, key: Hashable, owner: object, build: Callable[[], Value]) -> Value:
        entry = self._entries.get(key)
        if entry is not None and entry[0] is owner:
            return entry[1]
        value = build()
        if len(self._entries) < self._max_entries or key in self._entries:
            self._entries[key] = (owner, value)
        return value

    def clear(self) -> None:
        self._entries.clear()
