"""Resolves an RPC to the plain function that implements it, or UNIMPLEMENTED when the module
that implements it is not part of this build. Servicers stay thin: decode nothing, decide nothing."""

from __future__ import annotations

import importlib
from typing import Any, Callable

from flopwatt.service import errors


def resolve(rpc_name: str, module: str, function: str) -> Callable[..., Any]:
    """`flopwatt.service.api.<module>.<function>`, or a function raising Unimplemented."""
    module_name = f"flopwatt.service.api.{module}"
    try:
        implementation = getattr(importlib.import_module(module_name), function)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
    else:
        return implementation

    def unimplemented(*_args: Any, **_kwargs: Any) -> Any:
        raise errors.Unimplemented(f"{rpc_name} is not implemented in this build of flopwatt")

    return unimplemented
