"""Bounded memos: for values derived from an unhashable object, keyed by a name and the object's
identity (IdentityMemo); and for pure functions of a value that is hashable unless it holds arrays
(`memoised_when_hashable`).

Why identity: catalog entries (HardwareSpec holds a mapping), hardware models (may hold NumPy
arrays) and grpc method handlers are not hashable, but each is loaded or registered once and then
passed around as the same object. A value derived from such an object is reused only while the
caller passes that very object; a different one under the same name (a reloaded catalog, a test's
own entry, a replaced handler) is rebuilt and replaces the old entry, so nothing stale is served.
The memo keeps a reference to the object, so its id cannot be reused while the entry lives.
"""

from __future__ import annotations

import functools
from typing import Callable, Generic, Hashable, TypeVar

Value = TypeVar("Value")
Argument = TypeVar("Argument")
_NOTHING = object()  # no argument yet


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


def memoised_when_hashable(max_entries: int) -> Callable[[Callable[[Argument], Value]], Callable[[Argument], Value]]:
    """Decorator: an lru_cache of `max_entries` for a pure function of one frozen dataclass, called
    uncached when the argument is not hashable (a model architecture whose fields are NumPy
    arrays: a vectorised sweep or Monte Carlo). Why: estimates derive the same numbers from the
    same scalar architecture on every request (parameter counts, architecture terms). The
    wrapper's `cache_clear` empties the cache.

    The last hashable argument and its value are also kept by identity: the same object again
    (a preset's architecture, resolved once per catalog entry) skips hashing the dataclass's
    fields (~0.4 µs, three times per training estimate)."""

    def decorate(function: Callable[[Argument], Value]) -> Callable[[Argument], Value]:
        cached = functools.lru_cache(maxsize=max_entries)(function)
        last: list[tuple[object, object]] = [(_NOTHING, None)]  # one (argument, value) tuple, replaced whole

        @functools.wraps(function)
        def memoised(argument: Argument) -> Value:
            previous, value = last[0]
            if previous is argument:
                return value  # type: ignore[return-value]
            try:
                value = cached(argument)
            except TypeError:  # unhashable: array-valued fields
                return function(argument)
            last[0] = (argument, value)
            return value

        def cache_clear() -> None:
            last[0] = (_NOTHING, None)
            cached.cache_clear()

        memoised.cache_clear = cache_clear  # type: ignore[attr-defined]
        return memoised

    return decorate
