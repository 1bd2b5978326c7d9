"""An input or default an estimate rests on, so every response can explain itself."""

from __future__ import annotations

from dataclasses import dataclass

from flopwatt.estimate.quick_init import quick_init

ORIGINS = ("request", "default", "derived", "preset", "profile", "datasheet", "fitted")


@quick_init
@dataclass(frozen=True)
class Assumption:
    """`origin` is one of ORIGINS; `source` cites the figure (with a date) or explains it."""

    name: str
    value: str
    origin: str
    source: str
