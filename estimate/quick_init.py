"""A faster `__init__` for the frozen dataclasses built on every estimate.

Why: a frozen dataclass's generated `__init__` sets each field through `object.__setattr__`
(~150 ns a field, the price of refusing assignment afterwards), and a fixed-plan training
estimate builds ~20 such records (plan, scenario, step time, memory, costs, the estimate itself:
~150 fields), ~35 µs of the ~0.35 ms it costs (issue 14 item 23). `quick_init` replaces that
`__init__` with one of the same signature that fills the instance `__dict__` in one update: the
same fields with the same values, so equality, hashing, `repr`, `dataclasses.replace` / `fields`
/ `asdict`, pickling and the refusal of later assignment (the class's own `__setattr__`) are
unchanged. tests/unit/estimate/test_quick_init.py compares it with the generated `__init__`.

Only plain frozen dataclasses qualify (checked when the decorator runs): no `__slots__` (no
instance dict to fill), no `InitVar` and no `__post_init__` (none of the records needs them).
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import TypeVar

T = TypeVar("T", bound=type)

_MISSING = dataclasses.MISSING


class _Factory:
    """Default of a parameter whose field has a default_factory (the factory runs per call)."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def quick_init(cls: T) -> T:
    """`cls` (a frozen dataclass, decorated after `@dataclass(frozen=True)`) with the fast
    `__init__` described in the module docstring."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        raise TypeError(f"{cls.__name__}: quick_init applies to frozen dataclasses")
    if "__slots__" in cls.__dict__ or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: quick_init needs an instance __dict__ and no __post_init__")
    namespace: dict[str, object] = {"_FACTORY": _FACTORY}
    positional: list[str] = []
    keyword_only: list[str] = []
    values: list[str] = []
    for field in dataclasses.fields(cls):
        name = field.name
        has_factory = field.default_factory is not _MISSING
        if has_factory:
            namespace[f"_factory_{name}"] = field.default_factory
        if not field.init:
            if has_factory:
                values.append(f"{name!r}: _factory_{name}()")
            elif field.default is not _MISSING:
                namespace[f"_default_{name}"] = field.default
                values.append(f"{name!r}: _default_{name}")
            continue  # no default: the generated __init__ leaves it unset too
        if has_factory:
            parameter = f"{name}=_FACTORY"
            values.append(f"{name!r}: _factory_{name}() if {name} is _FACTORY else {name}")
        elif field.default is not _MISSING:
            namespace[f"_default_{name}"] = field.default
            parameter = f"{name}=_default_{name}"
            values.append(f"{name!r}: {name}")
        else:
            parameter = name
            values.append(f"{name!r}: {name}")
        (keyword_only if field.kw_only else positional).append(parameter)
    signature = ", ".join(["self", *positional, *(["*", *keyword_only] if keyword_only else [])])
    source = f"def __init__({signature}):\n    self.__dict__.update({{{', '.join(values)}}})\n"
    exec(source, namespace)  # noqa: S102 - the source is built above from the field names only
    init = namespace["__init__"]
    if list(inspect.signature(init).parameters) != list(inspect.signature(cls.__init__).parameters):
        raise TypeError(f"{cls.__name__}: quick_init handles fields only (an InitVar is not one)")
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    init.__annotations__ = dict(cls.__init__.__annotations__)
    cls.__init__ = init
    return cls
